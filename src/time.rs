//! Sleeps and timeouts: seconds as Python writes them, the clock, the timer set.
//!
//! # Why a `BTreeMap`
//!
//! The original keeps `(expiration, item)` pairs in a `heapq` and cancels a
//! timeout with `list.remove` followed by `heapify`: O(n) for every I/O wait or
//! queue operation that completes before its timeout. A busy server sets and
//! cancels a timeout per request, so cancel must be cheap. The timers here are a
//! `BTreeMap` keyed by `(deadline, sequence number)`:
//!
//! - insert, cancel and pop-earliest are all O(log n), and a cancelled timer is
//!   really gone (no tombstones piling up until their deadline);
//! - the sequence number, taken from one per-thread counter, makes every key
//!   unique and makes equal deadlines fire in the order they were set, as
//!   DESIGN.md §2 asks; it stays unique when managers merge their timers.
//!
//! # The clock
//!
//! Deadlines are read from a [`Clock`]: the real monotonic clock (`Instant`,
//! where the original used wall-clock time), or a manual one whose time stands
//! still until it is advanced, for deterministic tests of sleeps and timeouts.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// A span of time given the way the caller likes to write it: a [`Duration`],
/// or seconds as a number, as Python code does (`sleep(0.5)`, `timeout=5`).
///
/// Implemented for `Duration`, `f64`, `f32`, `i32`, `i64`, `u32` and `u64`, so
/// that `sleep(1)`, `sleep(0.25)` and `sleep(Duration::from_millis(250))` all
/// work.
pub trait IntoSeconds {
    /// The span as [`Seconds`].
    fn into_seconds(self) -> Seconds;
}

/// A span of time that may still be invalid (negative, NaN); each operation
/// decides what it accepts, and a bad value becomes an `Err` at the `yield`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Seconds(f64);

impl IntoSeconds for Duration {
    fn into_seconds(self) -> Seconds {
        Seconds(self.as_secs_f64())
    }
}

impl IntoSeconds for Seconds {
    fn into_seconds(self) -> Seconds {
        self
    }
}

macro_rules! seconds_from_number {
    ($($t:ty),*) => {$(
        impl IntoSeconds for $t {
            fn into_seconds(self) -> Seconds {
                Seconds(self as f64)
            }
        }
    )*};
}
seconds_from_number!(f64, f32, i32, i64, u32, u64);

/// The longest span a deadline is set to; longer ones are clamped so that
/// `Instant` arithmetic cannot overflow (about 31 years: "never", in practice).
const LONGEST: Duration = Duration::from_secs(1 << 30);

impl Seconds {
    /// As a timeout: zero or negative means "already due", which fires at the
    /// next timeout check, as in the original. NaN is an error.
    pub(crate) fn timeout(self) -> Result<Duration> {
        if self.0.is_nan() {
            return Err(Error::invalid("'timeout' must be a number, not NaN"));
        }
        Ok(Duration::try_from_secs_f64(self.0.max(0.0)).map_or(LONGEST, |d| d.min(LONGEST)))
    }

    /// As a sleep: it must be greater than zero (the original's `ValueError`).
    pub(crate) fn sleep(self) -> Result<Duration> {
        if self.0.is_nan() || self.0 <= 0.0 {
            return Err(Error::invalid("'seconds' must be greater than 0"));
        }
        self.timeout()
    }
}

/// The time source of a [`TaskManager`](crate::TaskManager).
///
/// [`Clock::real`] is the monotonic clock. [`Clock::manual`] is virtual time:
/// it stands still until [`advance`](Clock::advance)d, and whenever the manager
/// would otherwise sleep until a deadline, it jumps to that deadline at once.
/// Tests of sleeps and timeouts then run in microseconds and always in the same
/// order (the idea of tokio's paused clock).
///
/// ```
/// #![feature(coroutines)]
/// use multitask::{sleep, wait, Clock, Task, TaskManager};
/// use std::time::Duration;
///
/// let clock = Clock::manual();
/// let tm = TaskManager::with_clock(clock.clone());
/// let start = clock.now();
/// tm.add(Task::new(#[coroutine] move |_| {
///     wait!(sleep(3600))?; // an hour, passed in no time at all
///     Ok(())
/// }));
/// tm.run().unwrap();
/// assert_eq!(clock.now() - start, Duration::from_secs(3600));
/// ```
#[derive(Clone, Debug, Default)]
pub struct Clock {
    /// `None`: real time. `Some`: the manual clock's current reading.
    manual: Option<Rc<Cell<Instant>>>,
}

impl Clock {
    /// The real monotonic clock (the default).
    pub fn real() -> Clock {
        Clock { manual: None }
    }

    /// A manual clock, starting at the current real time and standing still.
    pub fn manual() -> Clock {
        Clock {
            manual: Some(Rc::new(Cell::new(Instant::now()))),
        }
    }

    /// True for a clock made by [`Clock::manual`].
    pub fn is_manual(&self) -> bool {
        self.manual.is_some()
    }

    /// The current time.
    pub fn now(&self) -> Instant {
        match &self.manual {
            Some(now) => now.get(),
            None => Instant::now(),
        }
    }

    /// Moves a manual clock forward by `by`. Tasks whose deadlines have passed
    /// are woken at the manager's next timeout check. A real clock cannot be
    /// moved: this does nothing there.
    pub fn advance(&self, by: Duration) {
        if let Some(now) = &self.manual {
            // Far past any deadline the manager sets (they are clamped to
            // `LONGEST`): saturate rather than overflow `Instant`.
            let by = by.min(LONGEST * 2);
            now.set(now.get().checked_add(by).unwrap_or(now.get()));
        }
    }

    /// Waits for `span`: really for the real clock, by jumping for a manual one.
    pub(crate) fn sleep(&self, span: Duration) {
        match &self.manual {
            Some(_) => self.advance(span),
            None => std::thread::sleep(span),
        }
    }

    /// `now + span`, saturating far in the future.
    pub(crate) fn deadline(&self, span: Duration) -> Instant {
        let now = self.now();
        now.checked_add(span).unwrap_or(now + LONGEST)
    }
}

/// Where a timer sits in [`Timers`]: the key to cancel it with.
pub(crate) type TimerKey = (Instant, u64);

thread_local! {
    /// One counter per thread, so keys stay unique when managers merge.
    static NEXT_SEQ: Cell<u64> = const { Cell::new(0) };
}

/// The pending timeouts of one manager, earliest first.
pub(crate) struct Timers<T> {
    map: BTreeMap<TimerKey, T>,
}

impl<T> Timers<T> {
    pub(crate) fn new() -> Self {
        Timers { map: BTreeMap::new() }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Sets a timer; equal deadlines fire in the order they were set.
    pub(crate) fn insert(&mut self, deadline: Instant, what: T) -> TimerKey {
        let seq = NEXT_SEQ.with(|s| {
            let seq = s.get();
            s.set(seq + 1);
            seq
        });
        self.map.insert((deadline, seq), what);
        (deadline, seq)
    }

    /// Cancels a timer. O(log n).
    pub(crate) fn cancel(&mut self, key: TimerKey) -> Option<T> {
        self.map.remove(&key)
    }

    /// The earliest deadline, if any.
    pub(crate) fn earliest(&self) -> Option<Instant> {
        self.map.first_key_value().map(|(k, _)| k.0)
    }

    /// Removes and returns the earliest timer, with its key, if it is due at `now`.
    pub(crate) fn pop_expired(&mut self, now: Instant) -> Option<(TimerKey, T)> {
        let entry = self.map.first_entry()?;
        (entry.key().0 <= now).then(|| entry.remove_entry())
    }

    /// Takes every timer out, earliest first.
    pub(crate) fn drain(&mut self) -> Vec<T> {
        std::mem::take(&mut self.map).into_values().collect()
    }

    /// Takes over all of `other`'s timers (keys are unique per thread).
    pub(crate) fn append(&mut self, other: &mut Timers<T>) {
        self.map.append(&mut other.map);
    }
}
