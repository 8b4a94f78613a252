//! Sleeps and timeouts: seconds as Python writes them, the clock, the timer set.
//!
//! # Why a binary heap with lazy deletion
//!
//! The original keeps `(expiration, item)` pairs in a `heapq` and cancels a
//! timeout with `list.remove` followed by `heapify`: O(n) for every I/O wait or
//! queue operation that completes before its timeout. A busy server sets and
//! cancels a timeout per request, so cancel must be cheap; a program that
//! starts 100,000 sleepers at once inserts 100,000 timers in one pass before
//! any timer check, so insert must be cheap too, and popping them in order
//! cache-friendly.
//!
//! The timers here are a binary heap of 16-byte elements over a slab of
//! entries:
//!
//! - insert is a heap push: O(1) on average for random deadlines (most new
//!   elements sift up a level or two), O(log n) at worst;
//! - cancel is O(1): it empties the timer's slab entry, and its heap element
//!   stays behind as a tombstone, dropped when it reaches the top; when
//!   tombstones outnumber live timers the heap is rebuilt without them (O(n),
//!   amortised O(1) per cancel), so memory stays within twice the live timers;
//! - pop is O(log n); each element is one `u128` (deadline in ns, rank, slot),
//!   so a comparison is one wide integer compare and four elements share a
//!   cache line;
//! - the rank, from a counter of the set, makes equal deadlines fire in the
//!   order they were set (DESIGN.md §2); a key names its slab slot and the
//!   timer's id (from one per-thread sequence number), so a stale key finds
//!   nothing, and keys of merged managers are still found (see
//!   [`Timers::append`]).
//!
//! Measured against the `BTreeMap` keyed by `(deadline, sequence number)`
//! that this module had before, and against a hierarchical timing wheel like
//! tokio's (six levels of 64 slots, 1 ms ticks, doubly linked slot lists in a
//! slab: O(1) insert and cancel), with `cargo bench -p multitask-bench --bench
//! timers` (`bench/benches/timers.rs`; method in BENCHMARKS.md). Instructions
//! per timer under cachegrind (exact), and ns per timer (median of 7
//! interleaved rounds on a shared 2-core machine, 2026-12-02):
//!
//! | structure | bulk: insert 100,000 random 0..100 ms, pop all in order | server: set, cancel before it fires, 1,000 outstanding |
//! |---|---|---|
//! | this heap | **701** instructions, 236 ns | 709 instructions, 61 ns |
//! | `BTreeMap` (before) | 1,052, 218 ns | 1,199, 153 ns |
//! | wheel, tokio's way | 793, 253 ns | **523**, 32 ns |
//! | wheel with an exact `earliest` | 879, 309 ns | 681, 63 ns |
//!
//! (Each figure includes the benchmark's own loop: drawing deadlines, checking
//! the order, a `VecDeque` of keys.) The tokio-style wheel is the cheapest for
//! the server, but its `earliest` is only a lower bound (the start of the
//! earliest occupied slot, up to 63 ms early at level 1): the manager sleeps
//! until the earliest deadline (§2), so it would wake early, find nothing, and
//! make passes the original does not. Giving the wheel an exact `earliest`
//! means moving its cursor ahead whenever no timer is ready, after which
//! timers set before the cursor go to a heap anyway: that costs it its lead
//! (681 against 709 for the server) and more in bulk (879 against 701). The
//! heap is the cheapest structure that keeps the contract, by 20% in bulk
//! (the case of 100,000 sleepers), and within 4% of the exact wheel for the
//! server; it is also the smallest (16 bytes a timer in the heap, none in
//! lists).
//!
//! # The clock
//!
//! Deadlines are read from a [`Clock`]: the real monotonic clock (`Instant`,
//! where the original used wall-clock time), or a manual one whose time stands
//! still until it is advanced, for deterministic tests of sleeps and timeouts.

use std::cell::Cell;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::num::NonZeroU32;
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
    /// A positive span under a nanosecond (`1e-10`, which Python accepts)
    /// sleeps one: it must not round down to the zero that is refused.
    pub(crate) fn sleep(self) -> Result<Duration> {
        if self.0.is_nan() || self.0 <= 0.0 {
            return Err(Error::invalid("'seconds' must be greater than 0"));
        }
        Ok(self.timeout()?.max(Duration::from_nanos(1)))
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

/// Where a timer sits in [`Timers`]: the key to cancel it with. Eight bytes
/// (`Option<TimerKey>` too), so a waiting task carries its timeout cheaply.
///
/// `id` is the low 32 bits of the timer's sequence number (never zero), which
/// is unique on the thread: a key whose timer fired or was cancelled finds its
/// slot empty or holding another id. It would take four billion timers set on
/// one thread while an old key is held for its id to come round again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TimerKey {
    slot: u32,
    id: NonZeroU32,
}

thread_local! {
    /// One counter per thread, so sequence numbers (and key ids) stay unique
    /// when managers merge.
    static NEXT_SEQ: Cell<u64> = const { Cell::new(1) };
}

/// The next sequence number on this thread.
fn next_seq() -> u64 {
    NEXT_SEQ.with(|s| {
        let seq = s.get();
        s.set(seq + 1);
        seq
    })
}

/// The sequence number the next timer set on this thread will have: every
/// timer set from now on has one at least this high.
pub(crate) fn mark() -> u64 {
    NEXT_SEQ.with(|s| s.get())
}

/// The key id of a sequence number: its low 32 bits, zero mapped to one
/// below (so ids stay non-zero for `Option<TimerKey>` to fit in eight bytes).
fn id_of(seq: u64) -> NonZeroU32 {
    NonZeroU32::new(seq as u32).unwrap_or(NonZeroU32::MAX)
}

/// How far before the first timer of the process deadlines are counted
/// from (2^62 ns, about 146 years): far enough that no clock reading a
/// program can make lies before it, near enough that 2^64 ns still reach
/// past `LONGEST`.
const BEFORE: Duration = Duration::from_nanos(1 << 62);

/// The instant the heap counts deadlines from, the same for every set of the
/// process (so merged sets compare).
fn base() -> Instant {
    static BASE: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *BASE.get_or_init(|| {
        let now = Instant::now();
        now.checked_sub(BEFORE).unwrap_or(now)
    })
}

/// One heap element, packed in a `u128` so that a comparison is one wide
/// integer compare: the deadline in ns since [`base`] (high 64 bits), the
/// timer's rank among equal deadlines (32 bits), its slot (low 32 bits).
/// `Reverse`d, so that `BinaryHeap` (a max-heap) yields the earliest first.
type Due = Reverse<u128>;

/// Packs a heap element.
fn due(ns: u64, rank: u32, slot: u32) -> Due {
    Reverse((ns as u128) << 64 | (rank as u128) << 32 | slot as u128)
}

/// The rank and the slot of a heap element.
fn unpack(d: &Due) -> (u64, u32, u32) {
    ((d.0 >> 64) as u64, (d.0 >> 32) as u32, d.0 as u32)
}

/// A slab slot: a live timer (`what` is `Some`) or a free slot.
struct Entry<T> {
    /// The sequence number of the timer that holds (or last held) the slot:
    /// the order it was set in on the thread, and its key's id.
    seq: u64,
    /// The deadline in ns since [`base`].
    ns: u64,
    /// Its rank in the heap (see [`Timers::renumber`]).
    rank: u32,
    /// Set when the timer came in by [`Timers::append`]: its key names a slot
    /// of the other set, and `moved` maps its id to this slot.
    moved: bool,
    what: Option<T>,
}

/// Heaps with fewer elements than this are never compacted.
const COMPACT_FLOOR: usize = 64;

/// The pending timeouts of one manager, earliest first.
///
/// Invariants:
/// - every live timer has exactly one element in `heap`, whose rank is its
///   entry's; an element whose entry is free or has another rank is a
///   tombstone (a cancelled timer), skipped and dropped when met;
/// - ranks are unique among the elements of `heap` and grow with the order
///   the timers were set in (`next_rank` only grows; `renumber`, at a merge or
///   when it would overflow, gives the live timers new ones in their order
///   and drops every tombstone);
/// - the top of `heap` is live, or `heap` is empty (`settle` restores it after
///   every removal), so [`earliest`](Timers::earliest) needs no `&mut`;
/// - `heap.len() <= 2 * live + COMPACT_FLOOR`: tombstones never outnumber
///   live timers by more than the floor (`cancel` compacts);
/// - `free` lists exactly the slots whose `what` is `None`;
/// - `moved` maps the id of every live timer that came in by `append` to its
///   slot, and nothing else.
pub(crate) struct Timers<T> {
    heap: BinaryHeap<Due>,
    slab: Vec<Entry<T>>,
    free: Vec<u32>,
    live: usize,
    next_rank: u32,
    base: Instant,
    moved: HashMap<NonZeroU32, u32>,
}

impl<T> Timers<T> {
    /// An empty set.
    pub(crate) fn new() -> Self {
        Timers {
            heap: BinaryHeap::new(),
            slab: Vec::new(),
            free: Vec::new(),
            live: 0,
            next_rank: 0,
            base: base(),
            moved: HashMap::new(),
        }
    }

    /// True if no timer is pending.
    pub(crate) fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// How many timers are pending.
    pub(crate) fn len(&self) -> usize {
        self.live
    }

    /// Sets a timer; equal deadlines fire in the order they were set. O(1)
    /// on average for random deadlines (a heap push), O(log n) at worst.
    pub(crate) fn insert(&mut self, deadline: Instant, what: T) -> TimerKey {
        if self.next_rank == u32::MAX {
            self.renumber();
        }
        let seq = next_seq();
        let ns = deadline
            .saturating_duration_since(self.base)
            .as_nanos()
            .min(u64::MAX as u128) as u64;
        let slot = self.place(seq, ns, what, false);
        TimerKey { slot, id: id_of(seq) }
    }

    /// Puts a timer in a free slot (or a new one) and its element on the heap.
    fn place(&mut self, seq: u64, ns: u64, what: T, moved: bool) -> u32 {
        let rank = self.next_rank;
        self.next_rank += 1;
        let entry = Entry {
            seq,
            ns,
            rank,
            moved,
            what: Some(what),
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slab[slot as usize] = entry;
                slot
            }
            None => {
                self.slab.push(entry);
                (self.slab.len() - 1) as u32
            }
        };
        self.heap.push(due(ns, rank, slot));
        self.live += 1;
        slot
    }

    /// Gives every live timer a new rank, in (deadline, order set) order, and
    /// rebuilds the heap without tombstones. O(n log n); at a merge, and
    /// once every four billion timers.
    fn renumber(&mut self) {
        let mut live: Vec<u32> = (0..self.slab.len() as u32)
            .filter(|&slot| self.slab[slot as usize].what.is_some())
            .collect();
        live.sort_by_key(|&slot| (self.slab[slot as usize].ns, self.slab[slot as usize].seq));
        let mut heap = Vec::with_capacity(live.len());
        for (rank, &slot) in live.iter().enumerate() {
            let entry = &mut self.slab[slot as usize];
            entry.rank = rank as u32;
            heap.push(due(entry.ns, entry.rank, slot));
        }
        self.next_rank = live.len() as u32;
        self.heap = BinaryHeap::from(heap);
    }

    /// The slot of `key`'s timer, if it is still pending.
    fn find(&self, key: TimerKey) -> Option<u32> {
        let at = |slot: u32| {
            self.slab
                .get(slot as usize)
                .is_some_and(|e| e.what.is_some() && id_of(e.seq) == key.id)
        };
        if at(key.slot) {
            return Some(key.slot);
        }
        self.moved.get(&key.id).copied().filter(|&slot| at(slot))
    }

    /// Empties a live slot and returns its timer.
    fn take(&mut self, slot: u32) -> T {
        let entry = &mut self.slab[slot as usize];
        let what = entry.what.take().expect("a live slot");
        if entry.moved {
            entry.moved = false;
            self.moved.remove(&id_of(entry.seq));
        }
        self.free.push(slot);
        self.live -= 1;
        what
    }

    /// True if `due` is a live timer's element (not a tombstone).
    fn is_live(&self, due: &Due) -> bool {
        let (_, rank, slot) = unpack(due);
        let entry = &self.slab[slot as usize];
        entry.rank == rank && entry.what.is_some()
    }

    /// Drops tombstones from the top of the heap, so that the top is live.
    fn settle(&mut self) {
        while let Some(top) = self.heap.peek() {
            if self.is_live(top) {
                break;
            }
            self.heap.pop();
        }
    }

    /// Cancels a timer: O(1) (it only marks its element a tombstone), plus an
    /// O(n) compaction, amortised O(1), whenever tombstones outnumber live
    /// timers. `None` if the timer already fired or was cancelled.
    pub(crate) fn cancel(&mut self, key: TimerKey) -> Option<T> {
        let slot = self.find(key)?;
        let what = self.take(slot);
        if self.heap.len() > 2 * self.live + COMPACT_FLOOR {
            let heap = std::mem::take(&mut self.heap);
            let live: Vec<Due> = heap.into_vec().into_iter().filter(|d| self.is_live(d)).collect();
            self.heap = BinaryHeap::from(live);
        } else {
            self.settle();
        }
        Some(what)
    }

    /// Cancels a timer and says how long it had left at `now` (zero if it
    /// was due); `None` if it already fired or was cancelled.
    pub(crate) fn cancel_remaining(&mut self, key: TimerKey, now: Instant) -> Option<Duration> {
        let slot = self.find(key)?;
        let deadline = self.instant(self.slab[slot as usize].ns);
        self.cancel(key)?;
        Some(deadline.saturating_duration_since(now))
    }

    /// The instant `ns` after [`base`].
    fn instant(&self, ns: u64) -> Instant {
        self.base + Duration::from_nanos(ns)
    }

    /// The earliest deadline, if any.
    pub(crate) fn earliest(&self) -> Option<Instant> {
        self.heap.peek().map(|top| self.instant(unpack(top).0))
    }

    /// Removes and returns the earliest timer, with its key, if it is due at
    /// `now`. O(log n).
    #[allow(dead_code)] // the manager uses `pop_expired_before`; the tests and the timers bench this
    pub(crate) fn pop_expired(&mut self, now: Instant) -> Option<(TimerKey, T)> {
        self.pop_expired_before(now, u64::MAX)
    }

    /// As [`pop_expired`](Timers::pop_expired), but only a timer set before
    /// [`mark`] was taken: step 2 fires the timers due when it began, and a
    /// timer set while it fires them (a deadline put off) waits for the next
    /// step 2 even if it is due. Such a timer must not be due before `now`
    /// (the manager sets it at the clock's reading, `now` or later): set
    /// last, it then sorts after every timer due before it, and the heap's
    /// top is the only one to check.
    pub(crate) fn pop_expired_before(&mut self, now: Instant, mark: u64) -> Option<(TimerKey, T)> {
        let (ns, _, slot) = unpack(self.heap.peek()?);
        if self.instant(ns) > now || self.slab[slot as usize].seq >= mark {
            return None;
        }
        self.heap.pop();
        let id = id_of(self.slab[slot as usize].seq);
        let what = self.take(slot);
        self.settle();
        Some((TimerKey { slot, id }, what))
    }

    /// Takes every timer out, earliest first.
    pub(crate) fn drain(&mut self) -> Vec<T> {
        self.renumber();
        let order = std::mem::take(&mut self.heap).into_sorted_vec();
        // `into_sorted_vec` is ascending by `Reverse`: latest first.
        let all = order
            .iter()
            .rev()
            .filter_map(|d| self.slab[unpack(d).2 as usize].what.take());
        let all = all.collect();
        *self = Timers::new();
        all
    }

    /// Takes over all of `other`'s timers, in their order. Their keys name
    /// `other`'s slots: each moved timer's id is recorded in `moved`, where
    /// [`cancel`](Timers::cancel) looks when the slot a key names does not
    /// hold it. Merges are rare; a set that never absorbed one never looks.
    pub(crate) fn append(&mut self, other: &mut Timers<T>) {
        self.append_some(other, |_| true);
        *other = Timers::new();
    }

    /// Takes over those of `other`'s timers that `pick` picks, as
    /// [`append`](Timers::append) does (their keys cancel them here); the
    /// others stay in `other`. O(n log n) in both sets' sizes.
    pub(crate) fn append_some(&mut self, other: &mut Timers<T>, mut pick: impl FnMut(&T) -> bool) {
        for slot in 0..other.slab.len() as u32 {
            let entry = &other.slab[slot as usize];
            if !entry.what.as_ref().is_some_and(&mut pick) {
                continue;
            }
            let (seq, ns) = (entry.seq, entry.ns);
            let what = other.take(slot);
            let here = self.place(seq, ns, what, true);
            self.moved.insert(id_of(seq), here);
        }
        other.renumber(); // drops the tombstones left there
        self.renumber();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pops everything due by `now`, in order.
    fn fire(t: &mut Timers<u32>, now: Instant) -> Vec<u32> {
        std::iter::from_fn(|| t.pop_expired(now).map(|(_, v)| v)).collect()
    }

    #[test]
    fn equal_deadlines_fire_in_the_order_set_and_earlier_ones_first() {
        let (mut t, now) = (Timers::new(), Instant::now());
        let later = now + Duration::from_millis(5);
        for v in [1, 2, 3] {
            t.insert(later, v);
        }
        t.insert(now, 0);
        assert_eq!(t.earliest(), Some(now));
        assert_eq!(fire(&mut t, now), [0]);
        assert_eq!(fire(&mut t, later), [1, 2, 3]);
        assert!(t.is_empty());
    }

    #[test]
    fn a_timer_set_after_the_mark_waits_for_the_next_check() {
        let (mut t, now) = (Timers::new(), Instant::now());
        t.insert(now - Duration::from_millis(1), 1);
        let m = mark();
        t.insert(now, 2); // due too, but set after the mark
        assert_eq!(t.pop_expired_before(now, m).map(|(_, v)| v), Some(1));
        assert_eq!(t.pop_expired_before(now, m).map(|(_, v)| v), None);
        assert_eq!(fire(&mut t, now), [2]);
    }

    #[test]
    fn append_some_moves_the_picked_timers_whose_keys_still_cancel_them() {
        let (mut from, mut to, now) = (Timers::new(), Timers::new(), Instant::now());
        let at = |ms| now + Duration::from_millis(ms);
        let keys: Vec<TimerKey> = [(3, 30), (1, 11), (2, 20), (1, 10)]
            .into_iter()
            .map(|(ms, v)| from.insert(at(ms), v))
            .collect();
        to.insert(at(2), 99);
        to.append_some(&mut from, |v| *v % 10 == 0); // 30, 20 and 10
        assert_eq!((from.len(), to.len()), (1, 4));
        assert_eq!(to.cancel(keys[2]), Some(20), "a moved timer's key cancels it");
        assert_eq!(to.cancel(keys[1]), None, "one not moved is not here");
        assert_eq!(fire(&mut to, at(5)), [10, 99, 30]);
        assert_eq!(fire(&mut from, at(5)), [11]);
    }

    #[test]
    fn cancel_takes_a_timer_once_and_stale_keys_find_nothing() {
        let (mut t, now) = (Timers::new(), Instant::now());
        let a = t.insert(now, 1);
        let b = t.insert(now, 2);
        assert_eq!(t.cancel(a), Some(1));
        assert_eq!(t.cancel(a), None);
        let c = t.insert(now, 3); // reuses `a`'s slot, with another id
        assert_eq!(t.cancel(a), None);
        assert_eq!(t.len(), 2);
        assert_eq!(t.cancel_remaining(b, now), Some(Duration::ZERO));
        assert_eq!(fire(&mut t, now), [3]);
        assert_eq!(t.cancel(c), None);
    }

    #[test]
    fn tombstones_stay_bounded_by_the_live_timers() {
        let (mut t, now) = (Timers::new(), Instant::now());
        let far = now + Duration::from_secs(60);
        let mut keys: std::collections::VecDeque<TimerKey> = (0..100).map(|i| t.insert(far, i)).collect();
        for i in 0..10_000 {
            keys.push_back(t.insert(far + Duration::from_micros(i), i as u32));
            t.cancel(keys.pop_front().unwrap()).unwrap();
            assert!(t.heap.len() <= 2 * t.len() + COMPACT_FLOOR);
        }
        assert_eq!(t.len(), 100);
    }

    #[test]
    fn merged_timers_keep_their_order_and_their_keys() {
        let now = Instant::now();
        let (mut a, mut b) = (Timers::new(), Timers::new());
        let ka = a.insert(now, 1);
        let kb = b.insert(now, 2); // same slot number as `ka`, in the other set
        let kb2 = b.insert(now, 3);
        a.append(&mut b);
        assert!(b.is_empty());
        assert_eq!(a.cancel(kb), Some(2));
        assert_eq!(a.cancel(kb), None);
        assert_eq!(a.len(), 2);
        let mut c = Timers::new();
        c.append(&mut a); // merged twice: the first keys still work
        assert_eq!(c.cancel(ka), Some(1));
        assert_eq!(fire(&mut c, now), [3]);
        assert_eq!(c.cancel(kb2), None);
        assert!(c.moved.is_empty());
    }

    #[test]
    fn ranks_that_would_overflow_are_renumbered_in_order() {
        let (mut t, now) = (Timers::new(), Instant::now());
        t.next_rank = u32::MAX - 2;
        let keys: Vec<TimerKey> = (0..6).map(|v| t.insert(now, v)).collect();
        t.cancel(keys[1]);
        assert!(t.next_rank < 10);
        assert_eq!(fire(&mut t, now), [0, 2, 3, 4, 5]);
    }

    #[test]
    fn drain_gives_every_live_timer_earliest_first() {
        let (mut t, now) = (Timers::new(), Instant::now());
        t.insert(now + Duration::from_millis(2), 2);
        let k = t.insert(now, 9);
        t.insert(now + Duration::from_millis(1), 1);
        t.cancel(k);
        assert_eq!(t.drain(), [1, 2]);
        assert!(t.is_empty() && t.earliest().is_none());
    }
}
