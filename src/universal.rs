//! `UniversalQueue<T>`: a queue between threads, used by tasks (as
//! operations) and by plain threads (as blocking calls) alike: curio's
//! `UniversalQueue`.
//!
//! # Why it is built this way
//!
//! [`Queue`](crate::Queue) is a handle to a `RefCell`: it serves the tasks of
//! one thread, and costs no lock. Passing work between managers on several
//! threads, or between a manager and a thread pool, needs a `Send + Sync`
//! queue whose waiters may sleep in different ways: a task in its manager's
//! epoll, a plain thread on a condition variable. So the state is one
//! `Mutex`: the items, and the waiting *tasks* as remote waits (`remote.rs`:
//! each a `Completer` that, once given an item, wakes the task's manager
//! through its `mio::Waker`); waiting *threads* sleep on two `Condvar`s.
//!
//! The hand-off rules are the [`Queue`](crate::Queue)'s (DESIGN.md §2): a get
//! takes the head, and a waiting putter's item moves into the queue; a put
//! goes straight to the first waiting getter if there is one. Every item is
//! delivered exactly once: a hand-off to a task that has just timed out (or
//! whose manager is gone) fails atomically, and the item goes to the next
//! getter, or stays in the queue. A task's get or put that completes at once
//! still resumes at its manager's next pass, as every operation does.
//!
//! A task waiting on it counts as waiting for I/O (another thread may put at
//! any time): `run()` keeps running, asleep in epoll, where a task waiting
//! on an empty [`Queue`](crate::Queue) with no timeout would let it return.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::op::{Op, Operation};
use crate::remote::{lock, Completer, Keep, RemoteWait};

struct State<T> {
    items: VecDeque<T>,
    maxsize: usize,
    /// Tasks waiting to get (the queue is then empty).
    getters: VecDeque<Completer>,
    /// Tasks waiting to put, with their items (the queue is then full).
    putters: VecDeque<(Completer, T)>,
}

impl<T> State<T> {
    fn is_full(&self) -> bool {
        self.maxsize > 0 && self.items.len() >= self.maxsize
    }
}

struct Shared<T> {
    state: Mutex<State<T>>,
    /// Threads waiting to get.
    not_empty: Condvar,
    /// Threads waiting to put.
    not_full: Condvar,
}

/// A FIFO queue between threads: `put` and `get` work from a task of any
/// manager (as operations) and from a plain thread (blocking), as curio's
/// `UniversalQueue`.
///
/// Cloning gives another handle to the same queue; it is `Send + Sync` for
/// items that are `Send`. With a `maxsize` greater than zero, `put` waits
/// while the queue is full.
///
/// | curio | Rust |
/// |---|---|
/// | `q = UniversalQueue(maxsize=2)` | `let q = UniversalQueue::with_maxsize(2);` |
/// | `item = await q.get()` (in a task) | `let item = wait!(q.get())?;` |
/// | `await q.put(item)` (in a task) | `wait!(q.put(item))?;` |
/// | `item = q.get()` (in a thread) | `let item = q.get_blocking();` |
/// | `q.put(item)` (in a thread) | `q.put_blocking(item);` |
///
/// ```
/// #![feature(coroutines)]
/// use multitask::{wait, TaskManager, UniversalQueue};
///
/// let queue = UniversalQueue::new();
/// let producer = {
///     let queue = queue.clone();
///     std::thread::spawn(move || {
///         for i in 0..3 {
///             queue.put_blocking(i); // a plain thread
///         }
///     })
/// };
/// multitask::task! {
///     fn consumer(queue: UniversalQueue<i32>) -> Vec<i32> {
///         let mut got = Vec::new();
///         for _ in 0..3 {
///             let item = wait!(queue.get())?; // a task: the manager sleeps in epoll meanwhile
///             got.push(item);
///         }
///         got
///     }
///
///     fn main_task(queue: UniversalQueue<i32>) {
///         assert_eq!(wait!(consumer(queue))?, [0, 1, 2]);
///     }
/// }
/// let tm = TaskManager::new();
/// tm.add(main_task(queue));
/// tm.run().unwrap();
/// producer.join().unwrap();
/// ```
pub struct UniversalQueue<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Clone for UniversalQueue<T> {
    fn clone(&self) -> Self {
        UniversalQueue {
            shared: self.shared.clone(),
        }
    }
}

impl<T: Send + 'static> Default for UniversalQueue<T> {
    fn default() -> Self {
        UniversalQueue::new()
    }
}

impl<T> std::fmt::Debug for UniversalQueue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = lock(&self.shared.state);
        f.debug_struct("UniversalQueue")
            .field("len", &state.items.len())
            .field("maxsize", &state.maxsize)
            .finish()
    }
}

/// A task's completer given a `T`, or the `T` back if its task no longer waits.
fn hand<T: Send + 'static>(completer: Completer, item: T) -> std::result::Result<(), T> {
    completer.complete(Ok(Box::new(item))).map_err(|payload| {
        *payload
            .expect("given back as it was given")
            .downcast::<T>()
            .expect("given back as it was given")
    })
}

impl<T: Send + 'static> UniversalQueue<T> {
    /// An empty, unbounded queue.
    pub fn new() -> UniversalQueue<T> {
        UniversalQueue::with_maxsize(0)
    }

    /// An empty queue holding at most `maxsize` items; 0 means unbounded.
    pub fn with_maxsize(maxsize: usize) -> UniversalQueue<T> {
        UniversalQueue {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    items: VecDeque::new(),
                    maxsize,
                    getters: VecDeque::new(),
                    putters: VecDeque::new(),
                }),
                not_empty: Condvar::new(),
                not_full: Condvar::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        lock(&self.shared.state)
    }

    /// The number of items in the queue.
    pub fn len(&self) -> usize {
        self.lock().items.len()
    }

    /// True when the queue holds no item.
    pub fn is_empty(&self) -> bool {
        self.lock().items.is_empty()
    }

    /// True when a `put` would wait; never for an unbounded queue.
    pub fn is_full(&self) -> bool {
        self.lock().is_full()
    }

    /// Takes the head, moving a waiting task putter's item in (or waking a
    /// waiting thread putter). Putters whose tasks gave up are dropped into `dead`.
    fn take_head(&self, state: &mut State<T>, dead: &mut Vec<T>) -> Option<T> {
        let item = state.items.pop_front()?;
        while let Some((putter, next)) = state.putters.pop_front() {
            // A putter that gave up (a timeout) did not put: its item is dropped.
            match putter.complete(Ok(Box::new(()))) {
                Ok(()) => {
                    state.items.push_back(next);
                    break;
                }
                Err(_) => dead.push(next),
            }
        }
        self.shared.not_full.notify_one();
        Some(item)
    }

    /// Puts `item`: to the first waiting task getter, or into the queue
    /// (waking a waiting thread getter). Gives it back if the queue is full.
    fn put_now(&self, state: &mut State<T>, mut item: T) -> std::result::Result<(), T> {
        while let Some(getter) = state.getters.pop_front() {
            match hand(getter, item) {
                Ok(()) => return Ok(()),
                Err(back) => item = back, // that task timed out: the next one
            }
        }
        if state.is_full() {
            return Err(item);
        }
        state.items.push_back(item);
        self.shared.not_empty.notify_one();
        Ok(())
    }

    /// Yielded, resumes the task with the next item, once there is one
    /// (from a task of any manager, or a thread). `.timeout(t)` gives up
    /// after `t` with [`Error::Timeout`]; an item is never lost to a getter
    /// that gave up.
    pub fn get(&self) -> Op<T> {
        let queue = self.clone();
        Op::new(Operation::Remote(RemoteWait::new::<T>(move |completer, graveyard| {
            let mut dead = Vec::new();
            let mut state = queue.lock();
            match queue.take_head(&mut state, &mut dead) {
                Some(item) => {
                    let _ = hand(completer, item); // a fresh wait: it cannot have given up
                }
                None => {
                    while state.getters.front().is_some_and(|g| !g.is_waiting()) {
                        state.getters.pop_front();
                    }
                    state.getters.push_back(completer);
                }
            }
            drop(state);
            graveyard.push(Box::new(queue)); // it may be the last handle: the items are the user's
            keep(dead)
        })))
    }

    /// Yielded, resumes the task once `item` is in the queue (or handed to a
    /// getter). `.timeout(t)` gives up after `t` with [`Error::Timeout`], and
    /// the item is then not put.
    pub fn put(&self, item: T) -> Op<()> {
        let queue = self.clone();
        Op::new(Operation::Remote(RemoteWait::new::<()>(move |completer, graveyard| {
            let mut state = queue.lock();
            match queue.put_now(&mut state, item) {
                Ok(()) => {
                    let _ = completer.complete(Ok(Box::new(())));
                }
                Err(item) => {
                    let mut dead = Vec::new();
                    while state.putters.front().is_some_and(|(p, _)| !p.is_waiting()) {
                        dead.extend(state.putters.pop_front().map(|(_, item)| item));
                    }
                    state.putters.push_back((completer, item));
                    drop(state);
                    graveyard.push(Box::new(queue)); // it may be the last handle: the items are the user's
                    return keep(dead);
                }
            }
            drop(state);
            graveyard.push(Box::new(queue));
            None
        })))
    }

    /// From a plain thread: takes the next item, waiting for one. (In a task,
    /// yield [`get`](UniversalQueue::get) instead: this would block the
    /// whole manager.)
    pub fn get_blocking(&self) -> T {
        self.get_blocking_until(None).expect("no deadline: never times out")
    }

    /// From a plain thread: takes the next item, waiting at most `timeout`
    /// for one (then [`Error::Timeout`]).
    ///
    /// ```
    /// use multitask::UniversalQueue;
    /// use std::time::Duration;
    ///
    /// let q = UniversalQueue::new();
    /// q.put_blocking("a");
    /// assert_eq!((q.len(), q.is_empty(), q.is_full()), (1, false, false));
    /// assert_eq!(q.get_blocking_timeout(Duration::from_millis(1)).unwrap(), "a");
    /// assert!(q.get_blocking_timeout(Duration::from_millis(1)).unwrap_err().is_timeout());
    /// ```
    pub fn get_blocking_timeout(&self, timeout: Duration) -> Result<T> {
        self.get_blocking_until(Some(Instant::now() + timeout))
    }

    fn get_blocking_until(&self, deadline: Option<Instant>) -> Result<T> {
        let mut dead = Vec::new();
        let mut state = self.lock();
        let result = loop {
            if let Some(item) = self.take_head(&mut state, &mut dead) {
                // The wake-up this thread took may have been for an item
                // that is still there (a task putter's, moved in): passed on
                // to the next thread getter, or it would sleep beside it.
                if !state.items.is_empty() {
                    self.shared.not_empty.notify_one();
                }
                break Ok(item);
            }
            state = match wait(&self.shared.not_empty, state, deadline) {
                Some(state) => state,
                None => return Err(Error::Timeout),
            };
        };
        drop(state);
        drop(dead);
        result
    }

    /// From a plain thread: puts `item`, waiting while the queue is full.
    pub fn put_blocking(&self, item: T) {
        if self.put_blocking_until(item, None).is_err() {
            unreachable!("no deadline: never times out");
        }
    }

    /// From a plain thread: puts `item`, waiting at most `timeout` for room;
    /// on [`Error::Timeout`] the item is given back.
    ///
    /// ```
    /// use multitask::UniversalQueue;
    /// use std::time::Duration;
    ///
    /// let q = UniversalQueue::with_maxsize(1);
    /// q.put_blocking(1);
    /// let (item, error) = q.put_blocking_timeout(2, Duration::from_millis(1)).unwrap_err();
    /// assert_eq!((item, error.is_timeout()), (2, true));
    /// assert_eq!(q.get_blocking(), 1);
    /// ```
    pub fn put_blocking_timeout(&self, item: T, timeout: Duration) -> std::result::Result<(), (T, Error)> {
        self.put_blocking_until(item, Some(Instant::now() + timeout))
    }

    fn put_blocking_until(&self, mut item: T, deadline: Option<Instant>) -> std::result::Result<(), (T, Error)> {
        let mut state = self.lock();
        loop {
            match self.put_now(&mut state, item) {
                Ok(()) => {
                    // The wake-up this thread took may have been for room that
                    // is still there (its item went straight to a task
                    // getter): passed on to the next thread putter.
                    if !state.is_full() {
                        self.shared.not_full.notify_one();
                    }
                    return Ok(());
                }
                Err(back) => item = back,
            }
            state = match wait(&self.shared.not_full, state, deadline) {
                Some(state) => state,
                None => return Err((item, Error::Timeout)),
            };
        }
    }
}

/// Waits on `condvar` until notified or `deadline`; `None` once it has passed.
fn wait<'a, S>(condvar: &Condvar, state: MutexGuard<'a, S>, deadline: Option<Instant>) -> Option<MutexGuard<'a, S>> {
    let relock = |r: std::sync::LockResult<MutexGuard<'a, S>>| r.unwrap_or_else(|p| p.into_inner());
    match deadline {
        None => Some(relock(condvar.wait(state))),
        Some(deadline) => {
            let left = deadline.checked_duration_since(Instant::now())?;
            let (state, _) = condvar.wait_timeout(state, left).unwrap_or_else(|p| p.into_inner());
            Some(state)
        }
    }
}

/// Items of putters that gave up, kept until the get is over: dropped
/// outside the manager's borrow (they are the caller's values).
fn keep<T: 'static>(dead: Vec<T>) -> Keep {
    (!dead.is_empty()).then(|| Box::new(dead) as Box<dyn std::any::Any>)
}
