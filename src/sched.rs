//! The scheduler's state that queues and fd waits need: the run queue, the
//! timers, the parked tasks, and the graveyard.
//!
//! # Why this layer exists
//!
//! A queue get, a sleep and an fd wait each end the same way: the task is
//! parked or enqueued, perhaps with a timer. Keeping those few structures
//! here, below `queue.rs` and `reactor.rs`, lets both use them without
//! knowing of each other or of the `TaskManager` that drives a pass
//! (`manager.rs`), which sits on top of all three.
//!
//! # Invariants
//!
//! - A waiting task has a timer iff it waits with a timeout; waking it cancels
//!   the timer, and a timer that fires removes the waiter from its list.
//! - No user `Drop` runs while the manager's state is borrowed: values the
//!   manager drops on a task's behalf (a timed-out put's item, a finished
//!   `fd_action` closure, a queue's last handle) go to the graveyard, which
//!   `manager.rs` empties after the borrow ends.

use std::any::Any;
use std::collections::VecDeque;
use std::os::fd::RawFd;
use std::time::Duration;

use crate::op::Input;
use crate::park::{Key, Parking};
use crate::queue_state::QueueTimeout;
use crate::task::Stack;
use crate::time::{Clock, TimerKey, Timers};

/// What to do when a timer fires.
pub(crate) enum Expiry {
    /// A sleeper: wake it with `()`.
    Sleep(Key),
    /// A queue get or put: withdraw it, wake it with `Timeout`.
    Queue(QueueTimeout),
    /// An fd wait (its fd and its number there): withdraw it, wake it with `Timeout`.
    Io(RawFd, u64),
}

/// The run queue, the timers and the parked tasks of one manager (or of a set
/// of merged ones).
pub(crate) struct State {
    pub(crate) clock: Clock,
    /// Runnable tasks, each holding what its `yield` evaluates to.
    pub(crate) runq: VecDeque<Stack>,
    /// Sleepers and queue waiters.
    pub(crate) parked: Parking<Stack>,
    pub(crate) timers: Timers<Expiry>,
    /// Values whose `Drop` is the user's and may call the manager: dropped
    /// only once the state is no longer borrowed.
    pub(crate) graveyard: Vec<Box<dyn Any>>,
}

impl State {
    pub(crate) fn new(clock: Clock) -> State {
        State {
            clock,
            runq: VecDeque::new(),
            parked: Parking::new(),
            timers: Timers::new(),
            graveyard: Vec::new(),
        }
    }

    /// Appends a task to the run queue.
    pub(crate) fn enqueue(&mut self, mut stack: Stack, input: Input) {
        stack.set_input(input);
        self.runq.push_back(stack);
    }

    pub(crate) fn has_runnable(&self) -> bool {
        !self.runq.is_empty()
    }

    /// Parks a waiting task.
    pub(crate) fn park(&mut self, stack: Stack) -> Key {
        self.parked.park(stack)
    }

    /// Gives the parked task `key` a timeout that fires as `expiry`.
    pub(crate) fn time_parked(&mut self, key: Key, timeout: Duration, expiry: Expiry) {
        let timer = self.set_timer(timeout, expiry);
        if let Some(parked) = self.parked.get_mut(key) {
            parked.set_timer(timer);
        }
    }

    /// Sets a timer `timeout` from now.
    pub(crate) fn set_timer(&mut self, timeout: Duration, expiry: Expiry) -> TimerKey {
        self.timers.insert(self.clock.deadline(timeout), expiry)
    }

    /// Enqueues a task whose wait is over, cancelling its timeout.
    pub(crate) fn ready(&mut self, mut stack: Stack, input: Input) {
        if let Some(timer) = stack.take_timer() {
            self.timers.cancel(timer);
        }
        self.enqueue(stack, input);
    }

    /// True if `key` is a task parked in this manager.
    pub(crate) fn owns(&mut self, key: Key) -> bool {
        self.parked.get_mut(key).is_some()
    }

    /// Moves a parked task to the run queue with `input`, cancelling its
    /// timeout. Gives `input` back if no such task is parked here.
    pub(crate) fn wake(&mut self, key: Key, input: Input) -> std::result::Result<(), Input> {
        match self.parked.unpark(key) {
            Some(stack) => {
                self.ready(stack, input);
                Ok(())
            }
            None => Err(input),
        }
    }

    /// How long step 1 or 2 may block: not at all if tasks are runnable, else
    /// until the earliest timeout or the caller's `timeout`; `None` is forever.
    pub(crate) fn wait_time(&self, timeout: Option<Duration>) -> Option<Duration> {
        if self.has_runnable() {
            return Some(Duration::ZERO);
        }
        match self.timers.earliest() {
            Some(deadline) => {
                let until = deadline.saturating_duration_since(self.clock.now());
                Some(timeout.map_or(until, |t| t.min(until)))
            }
            None => timeout,
        }
    }

    /// How long step 1's poll may block. On a manual clock, time jumps to a
    /// deadline in step 2 instead of passing in the poll.
    pub(crate) fn poll_time(&self, timeout: Option<Duration>) -> Option<Duration> {
        if self.clock.is_manual() && !self.timers.is_empty() {
            return Some(Duration::ZERO);
        }
        self.wait_time(timeout)
    }

    /// Takes over another manager's state (`merge`).
    pub(crate) fn absorb(&mut self, mut other: State) {
        self.runq.append(&mut other.runq);
        self.timers.append(&mut other.timers);
        let parked = std::mem::replace(&mut other.parked, Parking::new());
        self.parked.absorb(parked);
        self.graveyard.append(&mut other.graveyard);
    }
}
