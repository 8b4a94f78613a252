//! `Queue<T>`: a FIFO queue for passing items between tasks.
//!
//! # How it is built
//!
//! A `Queue<T>` is a cheap handle (`Rc`) to an untyped state (`queue_state.rs`):
//! the items, already the [`Value`]s they will be handed over as, and two FIFO
//! lists of waiting tasks, getters and putters (a putter keeps its item beside
//! its key). This file builds the get and put operations and performs them
//! when a task yields one (the original does that in its `TaskManager`).
//!
//! The original keeps the waiter lists in the manager, in a dict keyed by the
//! queue; keeping them in the queue spares a hash lookup per operation. Each
//! manager still serves only its own waiters (a key names its manager), so a
//! queue shared by unrelated managers behaves as in the original.
//!
//! # The hand-off order (DESIGN.md §2), done at the moment a task yields
//!
//! - get, queue empty: the getter waits (FIFO), with its timeout if any.
//! - get, item available: take it, enqueue the getter with it; if a putter
//!   waits, move its item into the queue and enqueue that putter.
//! - put, queue full: the putter waits (FIFO), with its timeout if any.
//! - put, room: append, enqueue the putter; if a getter waits, hand it the
//!   head of the queue and enqueue it.
//!
//! Even an operation that completes at once sends the task to the back of the
//! run queue: nothing continues in place.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::marker::PhantomData;
use std::rc::Rc;
use std::time::Duration;

use crate::op::{nothing, Op, Operation, QueueSide, QueueWait};
use crate::park::{self, Key, Parking};
use crate::queue_state::{Class, Matcher, QueueCore, QueueState, Side};
use crate::sched::{Parked, State, Waiting};
use crate::task::Stack;
use crate::value::Value;

/// A multi-producer, multi-consumer FIFO queue for exchanging items between tasks.
///
/// Cloning gives another handle to the same queue. With a `maxsize` greater
/// than zero, `put` waits while the queue is full.
///
/// | Python | Rust |
/// |---|---|
/// | `q = Queue()` | `let q = Queue::new();` |
/// | `q = Queue(maxsize=2)` | `let q = Queue::with_maxsize(2);` |
/// | `q = Queue([1, 2], maxsize=2)` | `let q = Queue::with_contents([1, 2], 2);` |
/// | `len(q)`, `q.empty()`, `q.full()` | `q.len()`, `q.is_empty()`, `q.is_full()` |
/// | `item = (yield q.get(timeout=5))` | `let item = wait!(q.get().timeout(5))?;` |
/// | `yield q.put(item)` | `wait!(q.put(item))?;` |
///
/// ```
/// #![feature(coroutines)]
/// use multitask::{wait, Queue, Task, TaskManager};
///
/// let queue = Queue::with_maxsize(1);
/// let (tx, rx) = (queue.clone(), queue.clone());
/// let tm = TaskManager::new();
/// tm.add(Task::new(#[coroutine] move |_| {
///     for i in 0..3 {
///         wait!(tx.put(i))?; // waits while the queue is full
///     }
///     Ok(())
/// }));
/// tm.add(Task::new(#[coroutine] move |_| {
///     let mut got = vec![];
///     for _ in 0..3 {
///         let item = wait!(rx.get())?;
///         got.push(item);
///     }
///     assert_eq!(got, [0, 1, 2]);
///     Ok(())
/// }));
/// tm.run().unwrap();
/// assert!(queue.is_empty());
/// ```
pub struct Queue<T> {
    core: QueueCore,
    items: PhantomData<T>,
}

impl<T: 'static> Queue<T> {
    /// An empty, unbounded queue.
    pub fn new() -> Queue<T> {
        Queue::with_contents([], 0)
    }

    /// An empty queue holding at most `maxsize` items; 0 means unbounded.
    pub fn with_maxsize(maxsize: usize) -> Queue<T> {
        Queue::with_contents([], maxsize)
    }

    /// A queue holding `contents` at first, and at most `maxsize` items (0 means
    /// unbounded): Python's `Queue(contents, maxsize)`. The initial contents may
    /// exceed `maxsize`, as in the original.
    pub fn with_contents(contents: impl IntoIterator<Item = T>, maxsize: usize) -> Queue<T> {
        let items: VecDeque<Value> = contents.into_iter().map(Value::item).collect();
        Queue {
            core: QueueState::new_core(items, maxsize),
            items: PhantomData,
        }
    }

    /// The number of items in the queue (Python's `len(queue)`).
    pub fn len(&self) -> usize {
        self.core.borrow().items.len()
    }

    /// True when the queue holds no item (Python's `empty()`).
    pub fn is_empty(&self) -> bool {
        self.core.borrow().items.is_empty()
    }

    /// True when a `put` would wait (Python's `full()`); never for an unbounded queue.
    pub fn is_full(&self) -> bool {
        self.core.borrow().is_full()
    }

    /// The most items the queue holds; 0 means unbounded.
    pub fn maxsize(&self) -> usize {
        self.core.borrow().maxsize()
    }

    /// Yielded, resumes the task with the next item, once there is one.
    pub fn get(&self) -> Op<T> {
        Op::new(Operation::QueueGet(QueueWait {
            queue: self.core.clone(),
            side: QueueSide::Get,
            timeout: None,
        }))
    }

    /// Yielded, resumes the task with the first item for which `predicate`
    /// holds, once there is one: the port of `SmartQueue.get(criteria=...)`
    /// (theintencity's p2p-sip and rtclite). The other items stay in the
    /// queue, in order. Takes a [`timeout`](Op::timeout).
    ///
    /// DESIGN.md §2's rules hold: the task goes to the back of the run queue
    /// even when an item matches at once, and taking an item from a full
    /// queue lets the first waiting putter in. Waiting `get_matching`s are
    /// offered each new item in the order they began to wait; a plain `get`
    /// waits only on an empty queue and takes a new item first.
    ///
    /// The predicate is the caller's code: the manager calls it with its
    /// state not borrowed (right after the pass's operation that changed the
    /// queue, before any other task runs), so it may do anything but hold
    /// the queue borrowed; a panic in it is the getter's `Error::Panic`.
    ///
    /// ```
    /// #![feature(coroutines)]
    /// use multitask::{wait, Queue, Task, TaskManager};
    ///
    /// let q = Queue::with_contents([1, 4, 3, 6], 0);
    /// let tm = TaskManager::new();
    /// let (q2, q3) = (q.clone(), q.clone());
    /// tm.add(Task::new(#[coroutine] move |_| {
    ///     assert_eq!(wait!(q2.get_matching(|n: &i32| *n % 2 == 0))?, 4);
    ///     assert_eq!(wait!(q2.get_matching(|n: &i32| *n > 10))?, 12); // waits for the put below
    ///     Ok(())
    /// }));
    /// tm.add(Task::new(#[coroutine] move |_| {
    ///     wait!(q3.put(12))?;
    ///     Ok(())
    /// }));
    /// tm.run().unwrap();
    /// assert_eq!(q.len(), 3); // 1, 3, 6
    /// ```
    pub fn get_matching(&self, mut predicate: impl FnMut(&T) -> bool + 'static) -> Op<T> {
        let matcher = move |item: &Value| item.downcast_ref::<T>().is_some_and(&mut predicate);
        Op::new(Operation::QueueGet(QueueWait {
            queue: self.core.clone(),
            side: QueueSide::Match(Rc::new(RefCell::new(matcher))),
            timeout: None,
        }))
    }

    /// Yielded, resumes the task once `item` is in the queue.
    pub fn put(&self, item: T) -> Op<()> {
        Op::new(Operation::QueuePut(QueueWait {
            queue: self.core.clone(),
            side: QueueSide::Put(Value::item(item)),
            timeout: None,
        }))
    }
}

impl<T: 'static> Default for Queue<T> {
    fn default() -> Queue<T> {
        Queue::new()
    }
}

impl<T> Clone for Queue<T> {
    fn clone(&self) -> Queue<T> {
        Queue {
            core: self.core.clone(),
            items: PhantomData,
        }
    }
}

impl<T: 'static> FromIterator<T> for Queue<T> {
    /// An unbounded queue holding the items.
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> Queue<T> {
        Queue::with_contents(items, 0)
    }
}

impl<T> fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let core = self.core.borrow();
        f.debug_struct("Queue")
            .field("len", &core.items.len())
            .field("maxsize", &core.maxsize())
            .finish()
    }
}

/// Performs a get or put for the task `stack` that just yielded it.
/// Inlined into the operation path (see `manager.rs`, `run_due`).
#[inline(always)]
pub(crate) fn perform(op: QueueWait, state: &mut State, stack: Stack) {
    let QueueWait {
        queue: core,
        side,
        timeout,
    } = op;
    match side {
        QueueSide::Get => hand_off(&core, None, timeout, state, stack),
        QueueSide::Put(item) => hand_off(&core, Some(item), timeout, state, stack),
        // Parked at once: its predicate is called once the borrow ends.
        QueueSide::Match(matcher) => {
            wait(state, stack, &core, timeout, Waiter::Match(matcher));
            state.to_match.push(core.clone());
        }
    }
    if Rc::strong_count(&core) == 1 {
        // The operation held the queue's last handle: the items left in it
        // are the user's, dropped once the manager is no longer borrowed.
        state.graveyard.push(Box::new(core));
    }
}

/// DESIGN.md §2's hand-off rules, for the get (no item) or put of `item`.
fn hand_off(core: &QueueCore, item: Option<Value>, timeout: Option<Duration>, state: &mut State, stack: Stack) {
    let mut q = core.borrow_mut();
    // Waiters of managers dropped since they parked are let go of as they are
    // met (at the front, and before the waiter served): a long-lived queue
    // must not keep them, nor their items.
    // A dead getter holds nothing; a dead putter's item is the user's. The
    // list a waiter is served from below is cleaned by that `take_first`.
    let serves_putter = item.is_none() && !q.items.is_empty();
    let serves_getter = item.is_some() && !q.is_full();
    let (parked, graveyard) = (&state.parked, &mut state.graveyard);
    if !serves_getter {
        q.getters.drop_dead_front(|key| class(parked, *key), drop);
    }
    if !serves_putter {
        if let Some(rare) = q.rare.get() {
            rare.putters.drop_dead_front(
                |(key, _)| class(parked, *key),
                |(_, item)| graveyard.push(Box::new(item)),
            );
        }
    }
    match item {
        None if q.items.is_empty() => {
            drop(q);
            wait(state, stack, core, timeout, Waiter::Get);
        }
        None => {
            let item = q.items.pop_front().expect("checked non-empty");
            state.enqueue(stack, Ok(item));
            let (parked, graveyard) = (&mut state.parked, &mut state.graveyard);
            let putter = q.rare.get().and_then(|rare| {
                rare.putters.take_first(
                    #[inline(always)]
                    |(key, _)| claim(parked, *key),
                    |(_, item)| graveyard.push(Box::new(item)),
                )
            });
            if let Some(((_, item), putter)) = putter {
                q.items.push_back(item);
                state.resume(putter, nothing());
            }
            if q.rare.has_matchers() {
                state.to_match.push(core.clone());
            }
        }
        Some(item) if q.is_full() => {
            drop(q);
            wait(state, stack, core, timeout, Waiter::Put(item));
        }
        Some(item) => {
            state.enqueue(stack, nothing());
            match q.getters.take_first(
                #[inline(always)]
                |key| claim(&mut state.parked, *key),
                drop,
            ) {
                // A getter waits only on an empty queue: the item goes
                // straight to it (the queue's head, were there one).
                Some((_, getter)) => {
                    let item = match q.items.pop_front() {
                        Some(head) => {
                            q.items.push_back(item);
                            head
                        }
                        None => item,
                    };
                    state.resume(getter, Ok(item));
                }
                None => {
                    q.items.push_back(item);
                    if q.rare.has_matchers() {
                        state.to_match.push(core.clone());
                    }
                }
            }
        }
    }
}

/// After a merge: each queue that the merged manager's parked tasks wait
/// on is served as a put or a get would serve it. Waiters of two managers
/// were kept apart on it (a put of one left its item for the other's getter
/// to find at its next operation); they are one manager's now, and a getter
/// waits only on an empty queue, a putter only on a full one (DESIGN.md §2).
pub(crate) fn settle_after_merge(state: &mut State) {
    let mut cores: Vec<QueueCore> = Vec::new();
    for (_, parked) in state.parked.iter() {
        if let Waiting::Queue { core, .. } = &parked.waiting {
            if !cores.iter().any(|c| Rc::ptr_eq(c, core)) {
                cores.push(core.clone());
            }
        }
    }
    for core in cores {
        settle(&core, state);
    }
}

/// Moves waiting putters' items in while there is room, and hands items to
/// waiting getters while there are both, FIFO, as DESIGN.md §2's hand-offs do.
fn settle(core: &QueueCore, state: &mut State) {
    let mut q = core.borrow_mut();
    loop {
        while !q.is_full() {
            let (parked, graveyard) = (&mut state.parked, &mut state.graveyard);
            let putter = q.rare.get().and_then(|rare| {
                rare.putters.take_first(
                    |(key, _)| claim(parked, *key),
                    |(_, item)| graveyard.push(Box::new(item)),
                )
            });
            let Some(((_, item), putter)) = putter else { break };
            q.items.push_back(item);
            state.resume(putter, nothing());
        }
        if q.items.is_empty() {
            break;
        }
        let Some((_, getter)) = q.getters.take_first(|key| claim(&mut state.parked, *key), drop) else {
            break;
        };
        let item = q.items.pop_front().expect("checked non-empty");
        state.resume(getter, Ok(item));
    }
    if q.rare.has_matchers() && !q.items.is_empty() {
        state.to_match.push(core.clone());
    }
}

/// Takes the waiter `key` out of the parking lot if it is this manager's;
/// else says whose it is: another live manager's, or a dropped one's.
/// Inlined into the operation path (see `manager.rs`, `run_due`).
#[inline(always)]
fn claim(parked: &mut Parking<Parked>, key: Key) -> Result<Parked, Class> {
    parked.unpark(key).ok_or_else(|| elsewhere(key))
}

/// Whose a waiter not parked in this manager is: another live manager's,
/// or a dropped one's.
fn elsewhere(key: Key) -> Class {
    if park::is_live(key) {
        Class::Other
    } else {
        Class::Dead
    }
}

/// Whose the waiter `key` is. The thread's set of live managers is looked at
/// only for a waiter that is not this manager's (the usual case is one slab
/// lookup).
fn class(parked: &Parking<Parked>, key: Key) -> Class {
    if parked.get(key).is_some() {
        Class::Mine
    } else {
        elsewhere(key)
    }
}

/// What a parked queue waiter is.
enum Waiter {
    Get,
    Put(Value),
    Match(Matcher),
}

/// Parks the task as a getter, a putter (with its item) or a matcher. The
/// first waiter parked in this manager is served first: waiters of an
/// unrelated manager stay for that manager, as the original keeps each
/// manager's queue waits apart.
fn wait(state: &mut State, stack: Stack, core: &QueueCore, timeout: Option<Duration>, waiter: Waiter) {
    state.park_timed(
        stack,
        |key| {
            let mut q = core.borrow_mut();
            let (seq, side) = match waiter {
                Waiter::Get => (q.getters.push(key), Side::Get),
                Waiter::Put(item) => (q.rare.make().putters.push((key, item)), Side::Put),
                Waiter::Match(matcher) => (q.rare.make().matchers.push((key, matcher)), Side::Match),
            };
            Waiting::Queue {
                core: core.clone(),
                seq,
                side,
            }
        },
        timeout,
    );
}

/// A matcher's number and predicate, picked under the borrow to be asked
/// outside it.
pub(crate) type Asked = Vec<(u64, Matcher)>;

/// Step one of serving `get_matching`s (under the borrow): this manager's
/// waiting matchers, in order; those of dropped managers are let go of.
pub(crate) fn matchers(core: &QueueCore, state: &mut State) -> Asked {
    let q = core.borrow();
    let mut mine = Vec::new();
    let mut dead = Vec::new();
    for (seq, (key, matcher)) in q.rare.matchers() {
        match class(&state.parked, *key) {
            Class::Mine => mine.push((seq, matcher.clone())),
            Class::Dead => dead.push(seq),
            Class::Other => {}
        }
    }
    drop(q);
    let mut q = core.borrow_mut();
    for seq in dead {
        if let Some((_, matcher)) = q.rare.get().and_then(|rare| rare.matchers.take(seq)) {
            state.graveyard.push(Box::new(matcher));
        }
    }
    mine
}

/// What a matcher's predicate found: the index of the item it takes, or the
/// panic it raised.
pub(crate) type Picked = Vec<(u64, std::result::Result<usize, String>)>;

/// Step two (no manager borrowed): asks each matcher, in order, for the
/// first item it accepts among those no earlier matcher took.
pub(crate) fn pick(core: &QueueCore, asked: Asked) -> Picked {
    // The items are lent out while the predicates run, so that the queue is
    // not borrowed: a predicate may cancel a task waiting on this very queue
    // (its wait is withdrawn from the queue's lists). Meanwhile the queue
    // reads as empty to a getter, which parks (a predicate may run a pass)
    // and is served by `hand_picked` once the items are back, and as full as
    // it is to a putter (the lent items are counted: `QueueState::is_full`).
    let (items, maxsize) = {
        let mut q = core.borrow_mut();
        let items = std::mem::take(&mut q.items);
        let maxsize = q.maxsize;
        q.maxsize = maxsize.saturating_sub(items.len());
        q.rare.make().lending.get_or_insert(maxsize);
        (items, maxsize)
    };
    let mut taken = vec![false; items.len()];
    let mut picked = Vec::new();
    for (seq, matcher) in asked {
        let Ok(mut predicate) = matcher.try_borrow_mut() else {
            continue;
        };
        for (i, item) in items.iter().enumerate().filter(|(i, _)| !taken[*i]) {
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| predicate(item))) {
                Ok(false) => continue,
                Ok(true) => {
                    taken[i] = true;
                    picked.push((seq, Ok(i)));
                }
                Err(panic) => picked.push((seq, Err(crate::task::panic_message(panic)))),
            }
            break;
        }
    }
    let mut q = core.borrow_mut();
    q.maxsize = maxsize;
    let rare = q.rare.make();
    if rare.lending == Some(maxsize) {
        rare.lending = None; // the outermost lending is over
    }
    let mut items = items;
    items.append(&mut q.items);
    q.items = items;
    drop(q);
    picked
}

/// Step three (under the borrow): hands each matcher the item it picked,
/// enqueueing it, then lets waiting putters into the room made (§2); if
/// that brought new items, the queue is served again.
pub(crate) fn hand_picked(core: &QueueCore, picked: Picked, state: &mut State) {
    let mut q = core.borrow_mut();
    let mut slots: Vec<Option<Value>> = q.items.drain(..).map(Some).collect();
    let mut handed = 0;
    // An item picked for a matcher that is gone stays in the queue: the
    // matchers still waiting are asked again about it (below).
    let mut returned = false;
    for (seq, pick) in picked {
        // Withdrawn meanwhile (a predicate may cancel a task): skip it.
        let Some((key, matcher)) = q.rare.get().and_then(|rare| rare.matchers.take(seq)) else {
            returned |= pick.is_ok();
            continue;
        };
        state.graveyard.push(Box::new(matcher));
        let (input, slot) = match pick {
            Ok(i) => match slots.get_mut(i).and_then(Option::take) {
                Some(item) => (Ok(item), i),
                None => continue,
            },
            Err(panic) => (Err(crate::error::Error::Panic(panic)), usize::MAX),
        };
        let ok = input.is_ok();
        match state.wake(key, input) {
            Ok(()) => handed += ok as usize,
            // Not parked here after all (a predicate cleared the manager):
            // the item goes back where it was, the queue's order kept.
            Err(Ok(item)) => {
                slots[slot] = Some(item);
                returned = true;
            }
            Err(Err(_)) => {}
        }
    }
    let rest: VecDeque<Value> = slots.into_iter().flatten().collect();
    let mut back = std::mem::replace(&mut q.items, rest);
    q.items.append(&mut back);
    // A getter that came while the items were lent out to the predicates
    // (one may run a pass of the manager) parked on what looked empty: it is
    // served now, since a getter never waits on a queue with items.
    while !q.items.is_empty() {
        let Some((_, getter)) = q.getters.take_first(|key| claim(&mut state.parked, *key), drop) else {
            break;
        };
        let item = q.items.pop_front().expect("checked non-empty");
        state.resume(getter, Ok(item));
        handed += 1;
    }
    let mut moved = false;
    while handed > 0 && !q.is_full() {
        let (parked, graveyard) = (&mut state.parked, &mut state.graveyard);
        let dead = |(_, item): (Key, Value)| graveyard.push(Box::new(item));
        let putter = q
            .rare
            .get()
            .and_then(|rare| rare.putters.take_first(|(key, _)| claim(parked, *key), dead));
        let Some(((_, item), putter)) = putter else {
            break;
        };
        q.items.push_back(item);
        state.resume(putter, nothing());
        handed -= 1;
        moved = true;
    }
    if (moved || returned) && q.rare.has_matchers() {
        state.to_match.push(core.clone());
    }
}
