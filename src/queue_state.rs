//! The shared state of a [`Queue`](crate::Queue): its items and its waiters.
//!
//! # Why it is apart from `queue.rs`
//!
//! Three layers hold a queue's state: the operations (`op.rs`: a get or put
//! names its queue), the timers (`sched.rs`: a timeout names the waiter to
//! withdraw), and the hand-offs (`queue.rs`, which builds the operations and
//! performs them). Kept here, below all three, the state is plain data that
//! each can name without importing the others.
//!
//! A queue is untyped at this level: the items are already the [`Value`]s they
//! will be handed over as, so the manager needs no generic code and no virtual
//! call. The waiter lists hold parking [`Key`]s, not tasks (see `park.rs`).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use crate::park::Key;
use crate::value::Value;

/// A queue's waiters of one kind, FIFO. Each has a number, taken in order
/// from one per-thread counter, so a timeout finds its waiter by binary
/// search; it leaves a hole (`None`) rather than shifting the rest, and holes
/// at the front go at once, the others when they outnumber the waiters. So
/// withdrawing is O(log n), and 100,000 waiters timing out together cost
/// O(n) in all, not O(n²).
pub(crate) struct Waiters<W> {
    list: VecDeque<(u64, Option<W>)>,
    live: usize,
}

/// Whose a waiter is, as the manager serving a queue sees it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// Parked in this manager: it may be served.
    Mine,
    /// Its manager was dropped: let go of it.
    Dead,
    /// Another live manager's: left for that manager.
    Other,
}

thread_local! {
    static NEXT_SEQ: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

impl<W> Default for Waiters<W> {
    fn default() -> Waiters<W> {
        Waiters::new()
    }
}

impl<W> Waiters<W> {
    pub(crate) fn new() -> Waiters<W> {
        Waiters {
            list: VecDeque::new(),
            live: 0,
        }
    }

    /// Adds a waiter at the back; gives its number.
    /// Inlined into the operation path (see `manager.rs`, `run_due`).
    #[inline(always)]
    pub(crate) fn push(&mut self, waiter: W) -> u64 {
        let seq = NEXT_SEQ.with(|n| {
            let seq = n.get();
            n.set(seq + 1);
            seq
        });
        if self.list.capacity() == 0 {
            // A queue of one task's own (a reply slot) has one waiter at a
            // time: room for one, not the four a first push would make.
            self.list.reserve_exact(1);
        }
        self.list.push_back((seq, Some(waiter)));
        self.live += 1;
        seq
    }

    /// Takes out the first waiter that `claim` claims, with what it claimed
    /// it for: `claim` says `Err(Class::Other)` of a waiter to leave where it
    /// is, and `Err(Class::Dead)` of one to take out and give to `dead`.
    /// (The manager's `claim` unparks the waiter's task: one slab lookup
    /// tells whose it is and takes it.)
    pub(crate) fn take_first<P>(
        &mut self,
        mut claim: impl FnMut(&W) -> Result<P, Class>,
        mut dead: impl FnMut(W),
    ) -> Option<(W, P)> {
        // The usual case first: the front waiter is claimed, and leaves no hole.
        let mut start = 0;
        if let Some((_, Some(w))) = self.list.front() {
            match claim(w) {
                Ok(claimed) => {
                    let (_, w) = self.list.pop_front().expect("a front waiter");
                    self.live -= 1;
                    self.tidy();
                    return w.map(|w| (w, claimed));
                }
                Err(Class::Dead) => {
                    if let Some(w) = self.hole(0) {
                        dead(w);
                    }
                }
                Err(_) => {}
            }
            start = 1;
        }
        let mut found = None;
        for i in start..self.list.len() {
            let Some(w) = self.list[i].1.as_ref() else { continue };
            match claim(w) {
                Ok(claimed) => {
                    found = self.hole(i).map(|w| (w, claimed));
                    break;
                }
                Err(Class::Dead) => {
                    if let Some(w) = self.hole(i) {
                        dead(w);
                    }
                }
                Err(_) => {}
            }
        }
        self.tidy();
        found
    }

    /// Takes out the `Dead` waiters at the front, and gives them to `dead`.
    /// (Inlined: most calls find the list empty.)
    #[inline]
    pub(crate) fn drop_dead_front(&mut self, mut class: impl FnMut(&W) -> Class, mut dead: impl FnMut(W)) {
        if self.list.is_empty() {
            return;
        }
        while let Some((_, Some(w))) = self.list.front() {
            if class(w) != Class::Dead {
                break;
            }
            if let Some(w) = self.hole(0) {
                dead(w);
            }
            self.tidy();
        }
    }

    /// Takes out the waiter number `seq`, if it is still here.
    pub(crate) fn take(&mut self, seq: u64) -> Option<W> {
        let i = self.list.binary_search_by_key(&seq, |(s, _)| *s).ok()?;
        let waiter = self.hole(i);
        self.tidy();
        waiter
    }

    /// Takes every waiter out, in order.
    pub(crate) fn take_all(&mut self) -> Vec<W> {
        self.live = 0;
        self.list.drain(..).filter_map(|(_, w)| w).collect()
    }

    /// Takes the first waiter out, if any.
    pub(crate) fn pop_first(&mut self) -> Option<W> {
        let i = self.list.iter().position(|(_, w)| w.is_some())?;
        let waiter = self.hole(i);
        self.tidy();
        waiter
    }

    /// The waiters with their numbers, in order.
    pub(crate) fn numbered(&self) -> impl Iterator<Item = (u64, &W)> {
        self.list.iter().filter_map(|(seq, w)| Some((*seq, w.as_ref()?)))
    }

    /// How many wait.
    pub(crate) fn len(&self) -> usize {
        self.live
    }

    /// Takes waiter `i` out, leaving a hole.
    fn hole(&mut self, i: usize) -> Option<W> {
        let waiter = self.list[i].1.take()?;
        self.live -= 1;
        Some(waiter)
    }

    /// Drops the holes at the front, and all of them once they outnumber the waiters.
    fn tidy(&mut self) {
        while self.list.front().is_some_and(|(_, w)| w.is_none()) {
            self.list.pop_front();
        }
        if self.list.len() > 2 * self.live + 8 {
            self.list.retain(|(_, w)| w.is_some());
        }
    }
}

/// A waiter list most queues never use: putters wait only on a full bounded
/// queue, matchers only for `get_matching`. Allocated at its first waiter
/// (and kept), so that an idle queue, such as a task's own reply slot, takes
/// 8 bytes for it instead of 40. Its methods are those of [`Waiters`] that
/// the queue calls on it; on a list never used they do nothing.
pub(crate) struct Rare<W>(Option<Box<Waiters<W>>>);

impl<W> Rare<W> {
    pub(crate) fn new() -> Rare<W> {
        Rare(None)
    }

    /// Adds a waiter at the back; gives its number.
    pub(crate) fn push(&mut self, waiter: W) -> u64 {
        self.0.get_or_insert_with(|| Box::new(Waiters::new())).push(waiter)
    }

    /// See [`Waiters::take_first`].
    pub(crate) fn take_first<P>(
        &mut self,
        claim: impl FnMut(&W) -> Result<P, Class>,
        dead: impl FnMut(W),
    ) -> Option<(W, P)> {
        self.0.as_mut()?.take_first(claim, dead)
    }

    /// See [`Waiters::drop_dead_front`].
    #[inline]
    pub(crate) fn drop_dead_front(&mut self, class: impl FnMut(&W) -> Class, dead: impl FnMut(W)) {
        if let Some(waiters) = self.0.as_mut() {
            waiters.drop_dead_front(class, dead);
        }
    }

    /// See [`Waiters::take`].
    pub(crate) fn take(&mut self, seq: u64) -> Option<W> {
        self.0.as_mut()?.take(seq)
    }

    /// The waiters with their numbers, in order.
    pub(crate) fn numbered(&self) -> impl Iterator<Item = (u64, &W)> {
        self.0.iter().flat_map(|waiters| waiters.numbered())
    }

    /// How many wait.
    pub(crate) fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |waiters| waiters.len())
    }
}

/// A `get_matching` predicate, over the queue's untyped items. It is user
/// code: called only while no manager is borrowed (`queue::pick`), through
/// its own `RefCell`, with the queue borrowed shared.
pub(crate) type Matcher = Rc<RefCell<dyn FnMut(&Value) -> bool>>;

/// Which list of a queue a waiter is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    Get,
    Put,
    /// A `get_matching`.
    Match,
}

pub(crate) struct QueueState {
    pub(crate) items: VecDeque<Value>,
    /// 0 means unbounded, as in the original.
    pub(crate) maxsize: usize,
    pub(crate) getters: Waiters<Key>,
    pub(crate) putters: Rare<(Key, Value)>,
    pub(crate) matchers: Rare<(Key, Matcher)>,
}

impl QueueState {
    pub(crate) fn new(items: VecDeque<Value>, maxsize: usize) -> QueueState {
        QueueState {
            items,
            maxsize,
            getters: Waiters::new(),
            putters: Rare::new(),
            matchers: Rare::new(),
        }
    }

    pub(crate) fn is_full(&self) -> bool {
        self.maxsize > 0 && self.items.len() >= self.maxsize
    }
}
