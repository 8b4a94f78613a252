//! The parking lot: where tasks live while they wait.
//!
//! # Why tasks are parked in the manager, under keys
//!
//! A runnable task is owned by the run queue. A task waiting on a queue could
//! be owned by the queue's waiter list, but a task often holds a handle to the
//! very queue it waits on: that would be an `Rc` cycle, and dropping the
//! manager would leak the task and everything it owns. So tasks that sleep or
//! wait on a queue are owned here, by their manager, and the waiter lists and
//! timers hold only a [`Key`]. (A task waiting on an fd is owned by the fd
//! table, which is the manager's too: `io.rs`.) Dropping the manager drops
//! every parked task with it (unless a task holds a handle to its own manager:
//! that cycle is broken by `TaskManager::clear`).
//!
//! # Why keys carry a segment id
//!
//! `TaskManager::merge` moves one manager's tasks into another, but keys of
//! the merged manager's tasks are held by queues the manager does not know of.
//! Rather than re-key them, the merged manager's slab moves over whole, as a
//! new *segment*, and keys name their segment by an id that is unique on the
//! thread. A key of a manager that was dropped (or is not merged with this one)
//! is simply not found. Almost every manager has one segment, so a lookup is a
//! comparison and an index.

use std::cell::Cell;

use crate::task::Stack;

/// Names a parked task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Key {
    segment: u32,
    index: u32,
}

thread_local! {
    /// 32 bits keep a key at 8 bytes (a queue waiter's cost). A thread would
    /// have to make four billion managers before an id came round again.
    static NEXT_SEGMENT: Cell<u32> = const { Cell::new(0) };
}

struct Segment {
    id: u32,
    slots: Vec<Option<Stack>>,
    /// Indices of empty slots, reused before the slab grows.
    free: Vec<u32>,
}

impl Segment {
    fn new() -> Segment {
        let id = NEXT_SEGMENT.with(|n| {
            let id = n.get();
            n.set(id.wrapping_add(1));
            id
        });
        Segment {
            id,
            slots: Vec::new(),
            free: Vec::new(),
        }
    }
}

/// All parked tasks of one manager. New tasks go to the first segment.
pub(crate) struct Parking {
    segments: Vec<Segment>,
    len: usize,
}

impl Parking {
    pub(crate) fn new() -> Parking {
        Parking {
            segments: vec![Segment::new()],
            len: 0,
        }
    }

    /// How many tasks are parked.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn park(&mut self, parked: Stack) -> Key {
        let segment = &mut self.segments[0];
        let index = match segment.free.pop() {
            Some(index) => {
                segment.slots[index as usize] = Some(parked);
                index
            }
            None => {
                segment.slots.push(Some(parked));
                (segment.slots.len() - 1) as u32
            }
        };
        self.len += 1;
        Key {
            segment: segment.id,
            index,
        }
    }

    fn segment(&mut self, key: Key) -> Option<&mut Segment> {
        self.segments.iter_mut().find(|s| s.id == key.segment)
    }

    pub(crate) fn get_mut(&mut self, key: Key) -> Option<&mut Stack> {
        self.segment(key)?.slots.get_mut(key.index as usize)?.as_mut()
    }

    /// Takes the task out; `None` if the key is not (or no longer) here.
    pub(crate) fn unpark(&mut self, key: Key) -> Option<Stack> {
        let segment = self.segment(key)?;
        let parked = segment.slots.get_mut(key.index as usize)?.take()?;
        segment.free.push(key.index);
        self.len -= 1;
        Some(parked)
    }

    /// Takes over another manager's parked tasks; their keys stay valid.
    pub(crate) fn absorb(&mut self, other: Parking) {
        self.len += other.len;
        self.segments.extend(other.segments);
    }
}
