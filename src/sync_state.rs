//! The shared state of an [`Event`](crate::Event) and a
//! [`Semaphore`](crate::Semaphore): a flag or a count, and a FIFO of waiters.
//!
//! # Why it is apart from `event.rs` and `semaphore.rs`
//!
//! As with a queue (`queue_state.rs`), three layers name this state: the
//! operations (`op.rs`, erased), the parked waiters and their timeouts
//! (`sched.rs`), and the waits performed (`wait.rs`). The public types, whose
//! `set` and `release` wake tasks from anywhere, sit above the manager.
//! Waiters are parking [`Key`]s in a numbered FIFO ([`Waiters`]), so a timeout
//! or a cancel withdraws one in O(log n).

use std::cell::{Cell, RefCell};

use crate::park::Key;
use crate::queue_state::Waiters;

/// An event's flag and the tasks waiting for it to be set.
#[derive(Default)]
pub(crate) struct EventCore {
    pub(crate) set: Cell<bool>,
    pub(crate) waiters: RefCell<Waiters<Key>>,
}

/// A semaphore's free permits and the tasks waiting for one.
///
/// Invariant: `permits > 0` only while no task waits (a release with waiters
/// hands its permit to the first of them instead).
pub(crate) struct SemaphoreCore {
    pub(crate) permits: Cell<usize>,
    pub(crate) waiters: RefCell<Waiters<Key>>,
}
