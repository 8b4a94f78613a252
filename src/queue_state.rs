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
use crate::pool::Pooled;
use crate::value::Value;

/// A queue's shared state, as its handles, operations and waiters hold it.
/// In the pool (`pool.rs`): one is made per task where each task has a
/// reply slot of its own.
pub(crate) type QueueCore = Rc<RefCell<QueueState>, Pooled>;

/// A queue's waiters of one kind, FIFO, numbered in order from one
/// per-thread counter.
///
/// Most lists never hold more than one waiter at a time (a task's own reply
/// slot, an event one task waits for), so the first is kept inline: such a
/// list allocates nothing, and costs 24 bytes in its queue. Once two wait
/// at once the list becomes a [`List`], boxed, and stays one.
pub(crate) struct Waiters<W>(Repr<W>);

enum Repr<W> {
    /// No waiter, and never two at once.
    Empty,
    /// One waiter, its number and itself.
    One(u64, W),
    /// Two waited at once, at some point.
    Many(Box<List<W>>),
}

/// The general list of [`Waiters`]. A timeout finds its waiter by binary
/// search on the numbers; it leaves a hole (`None`) rather than shifting the
/// rest, and holes at the front go at once, the others when they outnumber
/// the waiters. So withdrawing is O(log n), and 100,000 waiters timing out
/// together cost O(n) in all, not O(n²).
struct List<W> {
    list: VecDeque<(u64, Option<W>)>,
    /// The waiters in `list` that are not holes.
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

/// The next waiter number of this thread.
#[inline(always)]
fn next_seq() -> u64 {
    NEXT_SEQ.with(|n| {
        let seq = n.get();
        n.set(seq + 1);
        seq
    })
}

impl<W> Default for Waiters<W> {
    fn default() -> Waiters<W> {
        Waiters::new()
    }
}

impl<W> Waiters<W> {
    pub(crate) fn new() -> Waiters<W> {
        Waiters(Repr::Empty)
    }

    /// Adds a waiter at the back; gives its number.
    /// Inlined into the operation path (see `manager.rs`, `run_due`).
    #[inline(always)]
    pub(crate) fn push(&mut self, waiter: W) -> u64 {
        let seq = next_seq();
        match &mut self.0 {
            Repr::Empty => self.0 = Repr::One(seq, waiter),
            Repr::Many(list) => list.push(seq, waiter),
            Repr::One(..) => self.grow(seq, waiter),
        }
        seq
    }

    /// The second waiter at once: the inline one and `waiter` move to a list.
    #[cold]
    fn grow(&mut self, seq: u64, waiter: W) {
        let Repr::One(first_seq, first) = std::mem::replace(&mut self.0, Repr::Empty) else {
            unreachable!("grow is called on a list of one")
        };
        let mut list = Box::new(List {
            list: VecDeque::with_capacity(4),
            live: 0,
        });
        list.push(first_seq, first);
        list.push(seq, waiter);
        self.0 = Repr::Many(list);
    }

    /// Takes the inline waiter out (the list is left empty).
    fn take_one(&mut self) -> Option<W> {
        match std::mem::replace(&mut self.0, Repr::Empty) {
            Repr::One(_, w) => Some(w),
            other => {
                self.0 = other;
                None
            }
        }
    }

    /// Takes out the first waiter that `claim` claims, with what it claimed
    /// it for: `claim` says `Err(Class::Other)` of a waiter to leave where it
    /// is, and `Err(Class::Dead)` of one to take out and give to `dead`.
    /// (The manager's `claim` unparks the waiter's task: one slab lookup
    /// tells whose it is and takes it.)
    #[inline(always)]
    pub(crate) fn take_first<P>(
        &mut self,
        mut claim: impl FnMut(&W) -> Result<P, Class>,
        dead: impl FnMut(W),
    ) -> Option<(W, P)> {
        match &mut self.0 {
            Repr::Empty => None,
            Repr::One(_, w) => match claim(w) {
                Ok(claimed) => self.take_one().map(|w| (w, claimed)),
                Err(Class::Dead) => {
                    self.take_one().map(dead);
                    None
                }
                Err(_) => None,
            },
            Repr::Many(list) => list.take_first(claim, dead),
        }
    }

    /// Takes out the `Dead` waiters at the front, and gives them to `dead`.
    /// (Inlined: most calls find the list empty.)
    #[inline]
    pub(crate) fn drop_dead_front(&mut self, mut class: impl FnMut(&W) -> Class, dead: impl FnMut(W)) {
        match &mut self.0 {
            Repr::Empty => {}
            Repr::One(_, w) => {
                if class(w) == Class::Dead {
                    self.take_one().map(dead);
                }
            }
            Repr::Many(list) => list.drop_dead_front(class, dead),
        }
    }

    /// Takes out the waiter number `seq`, if it is still here.
    pub(crate) fn take(&mut self, seq: u64) -> Option<W> {
        match &mut self.0 {
            Repr::Empty => None,
            Repr::One(s, _) if *s == seq => self.take_one(),
            Repr::One(..) => None,
            Repr::Many(list) => list.take(seq),
        }
    }

    /// Takes every waiter out, in order.
    pub(crate) fn take_all(&mut self) -> Vec<W> {
        match &mut self.0 {
            Repr::Many(list) => list.take_all(),
            _ => self.take_one().into_iter().collect(),
        }
    }

    /// Takes the first waiter out, if any.
    pub(crate) fn pop_first(&mut self) -> Option<W> {
        match &mut self.0 {
            Repr::Many(list) => list.pop_first(),
            _ => self.take_one(),
        }
    }

    /// The waiters with their numbers, in order.
    pub(crate) fn numbered(&self) -> impl Iterator<Item = (u64, &W)> {
        let (one, many) = match &self.0 {
            Repr::Empty => (None, None),
            Repr::One(seq, w) => (Some((*seq, w)), None),
            Repr::Many(list) => (None, Some(list.list.iter())),
        };
        one.into_iter().chain(
            many.into_iter()
                .flatten()
                .filter_map(|(seq, w)| Some((*seq, w.as_ref()?))),
        )
    }

    /// How many wait.
    pub(crate) fn len(&self) -> usize {
        match &self.0 {
            Repr::Empty => 0,
            Repr::One(..) => 1,
            Repr::Many(list) => list.live,
        }
    }
}

impl<W> List<W> {
    fn push(&mut self, seq: u64, waiter: W) {
        self.list.push_back((seq, Some(waiter)));
        self.live += 1;
    }

    /// As [`Waiters::take_first`].
    fn take_first<P>(
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

    /// As [`Waiters::drop_dead_front`].
    fn drop_dead_front(&mut self, mut class: impl FnMut(&W) -> Class, mut dead: impl FnMut(W)) {
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

    /// As [`Waiters::take`].
    fn take(&mut self, seq: u64) -> Option<W> {
        let i = self.list.binary_search_by_key(&seq, |(s, _)| *s).ok()?;
        let waiter = self.hole(i);
        self.tidy();
        waiter
    }

    /// As [`Waiters::take_all`].
    fn take_all(&mut self) -> Vec<W> {
        self.live = 0;
        self.list.drain(..).filter_map(|(_, w)| w).collect()
    }

    /// As [`Waiters::pop_first`].
    fn pop_first(&mut self) -> Option<W> {
        let i = self.list.iter().position(|(_, w)| w.is_some())?;
        let waiter = self.hole(i);
        self.tidy();
        waiter
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

/// The waiter lists most queues never use: putters wait only on a full
/// bounded queue, matchers only for `get_matching`. Made at the first such
/// waiter (and kept), so that an idle queue, such as a task's own reply
/// slot, takes 8 bytes for both.
pub(crate) struct Rare(Option<Box<RareLists>>);

/// The lists of [`Rare`], once made.
#[derive(Default)]
pub(crate) struct RareLists {
    pub(crate) putters: Waiters<(Key, Value)>,
    pub(crate) matchers: Waiters<(Key, Matcher)>,
    /// The queue's own `maxsize` while items are lent out to `get_matching`
    /// predicates (`queue::pick`), which lowers the field by their count.
    pub(crate) lending: Option<usize>,
}

impl Rare {
    /// The lists, if a waiter ever used one.
    pub(crate) fn get(&mut self) -> Option<&mut RareLists> {
        self.0.as_deref_mut()
    }

    /// The lists, made at the first waiter.
    pub(crate) fn make(&mut self) -> &mut RareLists {
        self.0.get_or_insert_with(Box::default)
    }

    /// The waiting matchers with their numbers, in order.
    pub(crate) fn matchers(&self) -> impl Iterator<Item = (u64, &(Key, Matcher))> {
        self.0.iter().flat_map(|lists| lists.matchers.numbered())
    }

    /// True if a matcher waits.
    pub(crate) fn has_matchers(&self) -> bool {
        self.0.as_ref().is_some_and(|lists| lists.matchers.len() > 0)
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
    /// How many items it holds at most: `usize::MAX` for the original's 0
    /// (unbounded), so that [`is_full`](QueueState::is_full) is one
    /// comparison; lower by their count while items are lent out.
    pub(crate) maxsize: usize,
    pub(crate) getters: Waiters<Key>,
    /// The putters and the matchers.
    pub(crate) rare: Rare,
}

impl QueueState {
    /// A queue's core, holding `items`.
    pub(crate) fn new_core(items: VecDeque<Value>, maxsize: usize) -> QueueCore {
        Rc::new_in(RefCell::new(QueueState::new(items, maxsize)), Pooled)
    }

    fn new(items: VecDeque<Value>, maxsize: usize) -> QueueState {
        QueueState {
            items,
            maxsize: if maxsize == 0 { usize::MAX } else { maxsize },
            getters: Waiters::new(),
            rare: Rare(None),
        }
    }

    /// True if a put would wait: one comparison (see [`maxsize`](QueueState::maxsize)).
    pub(crate) fn is_full(&self) -> bool {
        self.items.len() >= self.maxsize
    }

    /// The `maxsize` the queue was made with (0: unbounded).
    pub(crate) fn maxsize(&self) -> usize {
        let lending = self.rare.0.as_ref().and_then(|lists| lists.lending);
        match lending.unwrap_or(self.maxsize) {
            usize::MAX => 0,
            bounded => bounded,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Class, Waiters};

    /// Each of the waiters, in order.
    fn all(w: &Waiters<char>) -> Vec<char> {
        w.numbered().map(|(_, c)| *c).collect()
    }

    #[test]
    fn one_waiter_inline_then_a_list_in_order() {
        let mut w = Waiters::new();
        let a = w.push('a');
        assert_eq!((w.len(), all(&w)), (1, vec!['a']));
        assert_eq!(w.take(a + 1), None, "another number finds nothing");
        assert_eq!(w.take(a), Some('a'));
        assert_eq!((w.len(), all(&w)), (0, vec![]));
        // Two at once: a list, which keeps their order and their numbers.
        let b = w.push('b');
        let c = w.push('c');
        let d = w.push('d');
        assert!(b < c && c < d);
        assert_eq!((w.len(), all(&w)), (3, vec!['b', 'c', 'd']));
        assert_eq!(w.take(c), Some('c'));
        assert_eq!(w.take(c), None);
        assert_eq!(w.pop_first(), Some('b'));
        assert_eq!(w.take_all(), vec!['d']);
        assert_eq!(w.len(), 0);
        w.push('e');
        assert_eq!(all(&w), vec!['e']);
    }

    #[test]
    fn take_first_skips_others_and_lets_go_of_the_dead() {
        let claim = |c: &char| match c {
            'x' => Err(Class::Other),
            'd' => Err(Class::Dead),
            _ => Ok(c.to_ascii_uppercase()),
        };
        // Inline: another manager's waiter stays, a dead one goes.
        let mut dead = Vec::new();
        let mut w = Waiters::new();
        w.push('x');
        assert_eq!(w.take_first(claim, |c| dead.push(c)), None);
        assert_eq!(all(&w), vec!['x']);
        let mut w = Waiters::new();
        w.push('d');
        assert_eq!(w.take_first(claim, |c| dead.push(c)), None);
        assert_eq!((w.len(), &dead[..]), (0, &['d'][..]));
        let mut w = Waiters::new();
        w.push('a');
        assert_eq!(w.take_first(claim, |c| dead.push(c)), Some(('a', 'A')));
        assert_eq!(w.len(), 0);
        // A list: the first claimed one, past the others; the dead met on the way go.
        let mut w = Waiters::new();
        for c in ['x', 'd', 'b', 'c'] {
            w.push(c);
        }
        assert_eq!(w.take_first(claim, |c| dead.push(c)), Some(('b', 'B')));
        assert_eq!(all(&w), vec!['x', 'c']);
        assert_eq!(dead, vec!['d', 'd']);
        w.drop_dead_front(|_| Class::Mine, |c| dead.push(c));
        assert_eq!(all(&w), vec!['x', 'c']);
    }
}
