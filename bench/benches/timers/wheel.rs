//! A hierarchical timing wheel in the manner of tokio's
//! (`tokio/src/runtime/time/wheel`), measured against the heap of src/time.rs.
//!
//! Six levels of 64 slots; a level-0 slot is one 1 ms tick, a level-L slot
//! spans 64^L ticks. A timer waits in a slot of the lowest level whose
//! current block holds both the wheel's cursor and its tick, in a doubly
//! linked list threaded through a slab: insert and cancel are O(1). When no
//! timer is ready, the cursor jumps to the start of the earliest occupied slot
//! and that slot's timers move down a level, or, once their tick is reached,
//! to `ready`.
//!
//! Unlike tokio, multitask must fire timers in exact deadline order, equal
//! deadlines in the order set (DESIGN.md §2): so timers whose tick the cursor
//! has reached wait in `ready`, a binary heap on `(deadline, seq)` with lazy
//! deletion. The cursor moves only when `pop_expired` is asked about a time
//! past the start of the earliest occupied slot, as tokio's does; until then
//! `earliest` gives that slot's start, a lower bound (a manager would wake up
//! to a few times early, once per level, before the exact deadline is known).
//! `Wheel<T, true>` is the variant with an exact `earliest`, which the
//! manager needs (it sleeps until the earliest deadline, DESIGN.md §2): it
//! moves the cursor ahead whenever `ready` runs empty (see `settle`).
//!
//! Invariants:
//! - a live timer is either in `ready` (its `level` is `READY`, its tick is at
//!   or before `cursor`) or linked in exactly one slot (its tick after
//!   `cursor`, in the block of `cursor` at the level above its own);
//! - `occupied[l]` has bit `s` set iff slot `(l, s)` has a timer;
//! - `ready`'s top is live, or `ready` is empty.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

const LEVELS: usize = 6;
const BITS: u32 = 6;
const SLOTS: u64 = 64;
/// No node: the end of a list.
const NIL: u32 = u32::MAX;
/// The `level` of a timer in `ready`.
const READY: u8 = u8::MAX;
/// The ticks the wheel spans (64^6 ms, about two years); later deadlines clamp.
const SPAN: u64 = 1 << (BITS * LEVELS as u32);

/// A timer's key: its node and its sequence number (unique on the wheel).
#[derive(Clone, Copy, Debug)]
pub struct Key {
    node: u32,
    seq: u64,
}

struct Node<T> {
    deadline: Instant,
    tick: u64,
    seq: u64,
    prev: u32,
    next: u32,
    level: u8,
    slot: u8,
    what: Option<T>,
}

/// The pending timers, earliest first.
pub struct Wheel<T, const EXACT: bool> {
    base: Instant,
    cursor: u64,
    heads: [[u32; SLOTS as usize]; LEVELS],
    occupied: [u64; LEVELS],
    nodes: Vec<Node<T>>,
    free: Vec<u32>,
    ready: BinaryHeap<Reverse<(Instant, u64, u32)>>,
    live: usize,
    seq: u64,
}

/// The level at which a timer due at `tick` waits while the cursor is at `cursor`.
fn level_for(cursor: u64, tick: u64) -> usize {
    let masked = (cursor ^ tick) | (SLOTS - 1);
    let significant = 63 - masked.leading_zeros();
    ((significant / BITS) as usize).min(LEVELS - 1)
}

impl<T, const EXACT: bool> Wheel<T, EXACT> {
    /// An empty wheel whose tick 0 is now.
    pub fn new() -> Self {
        Wheel {
            base: Instant::now(),
            cursor: 0,
            heads: [[NIL; SLOTS as usize]; LEVELS],
            occupied: [0; LEVELS],
            nodes: Vec::new(),
            free: Vec::new(),
            ready: BinaryHeap::new(),
            live: 0,
            seq: 0,
        }
    }

    /// The 1 ms tick of `deadline`, clamped into the wheel's span.
    fn tick(&self, deadline: Instant) -> u64 {
        let ms = deadline.saturating_duration_since(self.base).as_millis() as u64;
        ms.min(self.cursor + SPAN - 1)
    }

    /// Sets a timer; equal deadlines fire in the order they were set. O(1).
    pub fn insert(&mut self, deadline: Instant, what: T) -> Key {
        self.seq += 1;
        let node = Node {
            deadline,
            tick: self.tick(deadline),
            seq: self.seq,
            prev: NIL,
            next: NIL,
            level: READY,
            slot: 0,
            what: Some(what),
        };
        let index = match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = node;
                i
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        self.live += 1;
        self.place(index);
        self.settle();
        Key {
            node: index,
            seq: self.seq,
        }
    }

    /// Puts a node in `ready` or links it into its slot, relative to the cursor.
    fn place(&mut self, index: u32) {
        let n = &self.nodes[index as usize];
        if n.tick <= self.cursor {
            self.ready.push(Reverse((n.deadline, n.seq, index)));
            self.nodes[index as usize].level = READY;
            return;
        }
        let level = level_for(self.cursor, n.tick);
        let slot = ((n.tick >> (BITS * level as u32)) & (SLOTS - 1)) as usize;
        let head = self.heads[level][slot];
        if head != NIL {
            self.nodes[head as usize].prev = index;
        }
        let n = &mut self.nodes[index as usize];
        (n.prev, n.next, n.level, n.slot) = (NIL, head, level as u8, slot as u8);
        self.heads[level][slot] = index;
        self.occupied[level] |= 1 << slot;
    }

    /// Unlinks a node from its slot's list.
    fn unlink(&mut self, index: u32) {
        let n = &self.nodes[index as usize];
        let (prev, next, level, slot) = (n.prev, n.next, n.level as usize, n.slot as usize);
        match prev {
            NIL => self.heads[level][slot] = next,
            p => self.nodes[p as usize].next = next,
        }
        if next != NIL {
            self.nodes[next as usize].prev = prev;
        }
        if self.heads[level][slot] == NIL {
            self.occupied[level] &= !(1 << slot);
        }
    }

    /// Empties a live node and returns its timer.
    fn take(&mut self, index: u32) -> T {
        let what = self.nodes[index as usize].what.take().expect("a live node");
        self.free.push(index);
        self.live -= 1;
        what
    }

    /// Cancels a timer. O(1).
    pub fn cancel(&mut self, key: Key) -> Option<T> {
        let n = self.nodes.get(key.node as usize)?;
        if n.seq != key.seq || n.what.is_none() {
            return None;
        }
        if n.level != READY {
            self.unlink(key.node);
        }
        let what = self.take(key.node);
        self.drop_dead();
        self.settle();
        Some(what)
    }

    /// Drops cancelled timers from the top of `ready`.
    fn drop_dead(&mut self) {
        while let Some(Reverse((_, seq, index))) = self.ready.peek() {
            let n = &self.nodes[*index as usize];
            if n.seq == *seq && n.what.is_some() {
                return;
            }
            self.ready.pop();
        }
    }

    /// With `EXACT`, keeps a timer in `ready` whenever any is pending, so that
    /// `earliest` is exact: while `ready` is empty, the cursor jumps ahead to
    /// the earliest occupied slot (even past the present), and timers set
    /// before the cursor then go to `ready` directly.
    fn settle(&mut self) {
        while EXACT && self.ready.is_empty() {
            let Some((level, slot, start)) = self.next_slot() else {
                return;
            };
            self.advance(level, slot, start);
        }
    }

    /// The earliest occupied slot: its level, its slot number, and the tick
    /// its range starts at.
    fn next_slot(&self) -> Option<(usize, u64, u64)> {
        let level = (0..LEVELS).find(|&l| self.occupied[l] != 0)?;
        let shift = BITS * level as u32;
        let now_slot = (self.cursor >> shift) & (SLOTS - 1);
        let rotated = self.occupied[level].rotate_right(now_slot as u32);
        let slot = (rotated.trailing_zeros() as u64 + now_slot) & (SLOTS - 1);
        let level_range = 1u64 << (shift + BITS);
        let mut start = (self.cursor & !(level_range - 1)) + (slot << shift);
        if start < self.cursor {
            start += level_range;
        }
        Some((level, slot, start))
    }

    /// Moves the cursor to the start of a slot and spreads that slot's
    /// timers to lower levels or to `ready`.
    fn advance(&mut self, level: usize, slot: u64, start: u64) {
        self.cursor = start;
        let mut index = std::mem::replace(&mut self.heads[level][slot as usize], NIL);
        self.occupied[level] &= !(1 << slot);
        while index != NIL {
            let next = self.nodes[index as usize].next;
            self.place(index);
            index = next;
        }
    }

    /// The instant a tick starts.
    fn instant(&self, tick: u64) -> Instant {
        self.base + Duration::from_millis(tick)
    }

    /// The earliest deadline when a timer is ready; otherwise the start of the
    /// earliest occupied slot (a lower bound). `None` if no timer is pending.
    pub fn earliest(&self) -> Option<Instant> {
        match self.ready.peek() {
            Some(Reverse((deadline, _, _))) => Some(*deadline),
            None => self.next_slot().map(|(_, _, start)| self.instant(start)),
        }
    }

    /// Removes and returns the earliest timer if it is due at `now`,
    /// advancing the wheel through every slot that starts by then.
    pub fn pop_expired(&mut self, now: Instant) -> Option<T> {
        loop {
            if let Some(&Reverse((deadline, _, index))) = self.ready.peek() {
                if deadline > now {
                    return None;
                }
                self.ready.pop();
                let what = self.take(index);
                self.drop_dead();
                self.settle();
                return Some(what);
            }
            let (level, slot, start) = self.next_slot()?;
            if self.instant(start) > now {
                return None;
            }
            self.advance(level, slot, start);
        }
    }
}
