//! The parking lot: a slab where waiting things live, named by [`Key`]s.
//!
//! # Why waiting tasks are parked in the manager, under keys
//!
//! A runnable task is owned by the run queue. A task waiting on a queue could
//! be owned by the queue's waiter list, but a task often holds a handle to the
//! very queue it waits on: that would be an `Rc` cycle, and dropping the
//! manager would leak the task and everything it owns. So waiting tasks are
//! owned by their manager, in a `Parking`, and the waiter lists and timers
//! hold only a [`Key`]. The manager keeps two: sleepers and queue waiters
//! (`sched.rs`), and fd waiters with their action (`reactor.rs`).
//!
//! # Why keys carry a generation
//!
//! A key may outlive its entry: a queue's waiter list or an fd's FIFO is not
//! searched when a waiter leaves by a timeout (that would make withdrawing
//! O(n)); its key just goes stale there and is skipped when met. A slot is
//! reused by a later waiter, so each slot counts its occupants: a stale key's
//! generation no longer matches, and it finds nothing.
//!
//! # Why keys carry a segment id
//!
//! `TaskManager::merge` moves one manager's waiters into another, but their
//! keys are held by queues and timers the manager does not know of. Rather
//! than re-key them, the merged manager's slab moves over whole, as a new
//! *segment*, and keys name their segment by an id unique on the thread. A key
//! of a manager that was dropped (or is not merged with this one) is simply not
//! found. Almost every manager has one segment, so a lookup is a comparison and
//! an index.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;

/// Names a parked entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Key {
    pub(crate) segment: u32,
    index: u32,
    generation: u32,
}

thread_local! {
    /// A thread would have to make four billion lots before an id came round.
    static NEXT_SEGMENT: Cell<u32> = const { Cell::new(0) };
    /// The ids of the segments alive on this thread: a key whose segment is
    /// not here belongs to a manager that was dropped (see `is_live`).
    static LIVE: RefCell<HashSet<u32>> = RefCell::new(HashSet::new());
}

/// True if `key`'s manager (its segment) is alive on this thread. A queue
/// uses it to let go of the waiters, and the items, of dropped managers.
pub(crate) fn is_live(key: Key) -> bool {
    LIVE.try_with(|live| live.borrow().contains(&key.segment))
        .unwrap_or(false)
}

struct Slot<T> {
    generation: u32,
    entry: Option<T>,
}

struct Segment<T> {
    id: u32,
    slots: Vec<Slot<T>>,
    /// Indices of empty slots, reused before the slab grows.
    free: Vec<u32>,
}

impl<T> Segment<T> {
    fn new() -> Segment<T> {
        let id = NEXT_SEGMENT.with(|n| {
            let id = n.get();
            n.set(id.wrapping_add(1));
            id
        });
        let _ = LIVE.try_with(|live| live.borrow_mut().insert(id));
        Segment {
            id,
            slots: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<T> Drop for Segment<T> {
    fn drop(&mut self) {
        let _ = LIVE.try_with(|live| live.borrow_mut().remove(&self.id));
    }
}

/// All parked entries of one manager. New entries go to the first segment.
pub(crate) struct Parking<T> {
    segments: Vec<Segment<T>>,
    len: usize,
}

impl<T> Parking<T> {
    pub(crate) fn new() -> Parking<T> {
        Parking {
            segments: vec![Segment::new()],
            len: 0,
        }
    }

    /// How many entries are parked.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Parks the entry `make` builds knowing its key (a waiter that must be
    /// listed under its key before it is complete).
    pub(crate) fn park_with(&mut self, make: impl FnOnce(Key) -> T) -> Key {
        let segment = &mut self.segments[0];
        let index = match segment.free.pop() {
            Some(index) => index,
            None => {
                segment.slots.push(Slot {
                    generation: 0,
                    entry: None,
                });
                (segment.slots.len() - 1) as u32
            }
        };
        let slot = &mut segment.slots[index as usize];
        let key = Key {
            segment: segment.id,
            index,
            generation: slot.generation,
        };
        slot.entry = Some(make(key));
        self.len += 1;
        key
    }

    fn slot(&mut self, key: Key) -> Option<&mut Slot<T>> {
        let segment = self.segments.iter_mut().find(|s| s.id == key.segment)?;
        segment
            .slots
            .get_mut(key.index as usize)
            .filter(|s| s.generation == key.generation)
    }

    pub(crate) fn get(&self, key: Key) -> Option<&T> {
        let segment = self.segments.iter().find(|s| s.id == key.segment)?;
        let slot = segment.slots.get(key.index as usize)?;
        (slot.generation == key.generation)
            .then_some(slot.entry.as_ref())
            .flatten()
    }

    pub(crate) fn get_mut(&mut self, key: Key) -> Option<&mut T> {
        self.slot(key)?.entry.as_mut()
    }

    /// Takes the entry out; `None` if the key is not (or no longer) here.
    #[inline]
    pub(crate) fn unpark(&mut self, key: Key) -> Option<T> {
        let segment = self.segments.iter_mut().find(|s| s.id == key.segment)?;
        let slot = segment
            .slots
            .get_mut(key.index as usize)
            .filter(|s| s.generation == key.generation)?;
        let entry = slot.entry.take()?;
        slot.generation = slot.generation.wrapping_add(1);
        segment.free.push(key.index);
        self.len -= 1;
        Some(entry)
    }

    /// Every entry with its key, segment by segment.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (Key, &T)> {
        self.segments.iter().flat_map(|segment| {
            segment.slots.iter().enumerate().filter_map(move |(index, slot)| {
                let key = Key {
                    segment: segment.id,
                    index: index as u32,
                    generation: slot.generation,
                };
                slot.entry.as_ref().map(|entry| (key, entry))
            })
        })
    }

    /// The ids of this lot's segments.
    pub(crate) fn segment_ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.segments.iter().map(|s| s.id)
    }

    /// Takes every entry out (their keys all go stale).
    pub(crate) fn drain(&mut self) -> Vec<T> {
        self.len = 0;
        let mut all = Vec::new();
        for segment in &mut self.segments {
            for (index, slot) in segment.slots.iter_mut().enumerate() {
                if let Some(entry) = slot.entry.take() {
                    slot.generation = slot.generation.wrapping_add(1);
                    segment.free.push(index as u32);
                    all.push(entry);
                }
            }
        }
        all
    }

    /// Takes over another lot's entries; their keys stay valid.
    pub(crate) fn absorb(&mut self, other: Parking<T>) {
        self.len += other.len;
        self.segments.extend(other.segments);
    }
}
