//! The timer set multitask had before the heap: a `BTreeMap` keyed by
//! `(deadline, sequence number)` (src/time.rs up to f494fa9), kept here to be
//! measured against. Insert, cancel and pop are O(log n); a cancelled timer
//! is really gone.

use std::collections::BTreeMap;
use std::time::Instant;

/// A timer's key: its deadline and its sequence number, unique in the set.
pub type Key = (Instant, u64);

/// The pending timers, earliest first. Invariant: keys are unique (`seq`
/// only grows).
pub struct Timers<T> {
    map: BTreeMap<Key, T>,
    seq: u64,
}

impl<T> Timers<T> {
    /// An empty set.
    pub fn new() -> Self {
        Timers {
            map: BTreeMap::new(),
            seq: 0,
        }
    }

    /// Sets a timer; equal deadlines fire in the order they were set.
    pub fn insert(&mut self, deadline: Instant, what: T) -> Key {
        self.seq += 1;
        self.map.insert((deadline, self.seq), what);
        (deadline, self.seq)
    }

    /// Cancels a timer. O(log n).
    pub fn cancel(&mut self, key: Key) -> Option<T> {
        self.map.remove(&key)
    }

    /// The earliest deadline, if any.
    pub fn earliest(&self) -> Option<Instant> {
        self.map.first_key_value().map(|(k, _)| k.0)
    }

    /// Removes and returns the earliest timer if it is due at `now`.
    pub fn pop_expired(&mut self, now: Instant) -> Option<T> {
        let entry = self.map.first_entry()?;
        (entry.key().0 <= now).then(|| entry.remove())
    }
}
