//! `TaskManager`: the run queue, the trampoline, `run`/`run_next`/`merge`.
//!
//! # The run cycle (DESIGN.md §2)
//!
//! The run queue is a FIFO of `(task, input)`, where the input is what the
//! task's `yield` evaluates to (a value or an error). `run_next` does, in order:
//!
//! 1. **I/O** — if any task waits on an fd, poll once: without blocking when
//!    tasks are runnable, otherwise until the earliest timeout, the caller's
//!    timeout, or forever. Ready waiters are enqueued (`io.rs`).
//! 2. **Timeouts** — if any are pending and nothing is runnable, sleep until the
//!    earliest (bounded by the caller's timeout); then enqueue every expired
//!    one, earliest first: a sleeper with `()`, any other waiter with `Timeout`.
//! 3. **Tasks** — run exactly the tasks queued when this step starts, each until
//!    its next `yield`; whatever they enqueue runs in the next `run_next`.
//!
//! # Invariants
//!
//! - A task is in exactly one place: the run queue (runnable), the parking lot
//!   (sleeping or waiting on a queue; see `park.rs`), the fd table (waiting on
//!   an fd) or its list of waits already over (`io.rs`), or being resumed by
//!   step 3 (then it is in none). All of them belong to the manager.
//! - The manager's state is never borrowed while a task runs, so a task may
//!   call `add`, `merge` or `has_*` on any manager handle. A panic in a task is
//!   caught around `resume` and becomes that task's error (`task.rs`).
//! - No user `Drop` runs while the state is borrowed either: values the
//!   manager drops on a task's behalf (a timed-out put's item, a finished
//!   `fd_action` closure) go to the graveyard, emptied after the borrow ends.
//!   The one user code run under the borrow is an fd action (`io.rs`).
//! - A waiting task has a timer iff it waits with a timeout; waking it cancels
//!   the timer, and a timer that fires removes the waiter from its list.

use std::any::Any;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::time::Duration;

use log::{debug, trace};

use crate::error::{Error, Result};
use crate::io::Io;
use crate::op::Operation;
use crate::park::{Key, Parking};
use crate::queue::QueueTimeout;
use crate::task::{nothing, Input, Stack, Step, Task};
use crate::time::{Clock, Timers};

/// Runs a set of cooperating tasks within one thread (Python's `TaskManager`).
///
/// A handle: clones share the same manager, so tasks can hold one to `add`
/// new tasks. Most programs use the per-thread default manager through
/// [`add`](crate::add) and [`run`](crate::run) instead.
///
/// ```
/// #![feature(coroutines)]
/// use multitask::{wait, Task, TaskManager};
///
/// fn printer(message: &'static str) -> Task {
///     Task::new(#[coroutine] move |_| {
///         for _ in 0..2 {
///             println!("{message}");
///             wait!();
///         }
///         Ok(())
///     })
/// }
///
/// let tm = TaskManager::new();
/// tm.add(printer("hello"));
/// tm.add(printer("goodbye"));
/// tm.run().unwrap(); // hello, goodbye, hello, goodbye
/// assert!(!tm.has_runnable());
/// ```
#[derive(Clone)]
pub struct TaskManager {
    node: Rc<RefCell<Node>>,
}

/// A manager is either the owner of its state, or was merged into another
/// and forwards to it (as the original's merged managers share structures).
/// There is one `Node` per manager: boxing the state would only add a pointer
/// hop to every access.
#[allow(clippy::large_enum_variant)]
enum Node {
    Root(State),
    Merged(TaskManager),
}

/// What to do when a timer fires.
pub(crate) enum Expiry {
    /// A sleeper: wake it with `()`.
    Sleep(Key),
    /// A queue get or put: withdraw it, wake it with `Timeout`.
    Queue(QueueTimeout),
    /// An fd wait on this fd (the waiter holds the timer's key): withdraw it,
    /// wake it with `Timeout`.
    Io(RawFd),
}

impl From<QueueTimeout> for Expiry {
    fn from(timeout: QueueTimeout) -> Expiry {
        Expiry::Queue(timeout)
    }
}

/// Everything one manager (or a set of merged ones) holds.
pub(crate) struct State {
    pub(crate) clock: Clock,
    /// Runnable tasks, each holding what its `yield` evaluates to.
    runq: VecDeque<Stack>,
    parked: Parking,
    timers: Timers<Expiry>,
    pub(crate) io: Io,
    /// Values whose `Drop` is the user's and may call the manager: dropped
    /// only once the state is no longer borrowed (see `TaskManager::with`).
    pub(crate) graveyard: Vec<Box<dyn Any>>,
}

impl State {
    fn new(clock: Clock) -> State {
        State {
            clock,
            runq: VecDeque::new(),
            parked: Parking::new(),
            timers: Timers::new(),
            io: Io::new(),
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

    /// Parks a waiting task; with a timeout, sets a timer whose expiry `expiry`
    /// makes from the task's key.
    pub(crate) fn park(&mut self, stack: Stack, timeout: Option<Duration>, expiry: impl FnOnce(Key) -> Expiry) -> Key {
        let key = self.parked.park(stack);
        if let Some(timeout) = timeout {
            let timer = self.timers.insert(self.clock.deadline(timeout), expiry(key));
            if let Some(parked) = self.parked.get_mut(key) {
                parked.set_timer(timer);
            }
        }
        key
    }

    /// Sets a timeout for a task about to wait outside the parking lot.
    pub(crate) fn set_timeout(&mut self, stack: &mut Stack, timeout: Duration, expiry: Expiry) {
        stack.set_timer(self.timers.insert(self.clock.deadline(timeout), expiry));
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

    /// Takes the graveyard's contents, if any, to drop outside the borrow.
    fn take_dead(&mut self) -> Option<Vec<Box<dyn Any>>> {
        (!self.graveyard.is_empty()).then(|| std::mem::take(&mut self.graveyard))
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

    /// Step 2: sleep if nothing is runnable, then fire every expired timer.
    ///
    /// With fds waited on, step 1's poll has already blocked as long as it
    /// should (it returns early only for an event); sleeping again here would
    /// leave the fds unwatched. A manual clock still jumps.
    fn handle_timeouts(&mut self, timeout: Option<Duration>) {
        let may_sleep = !self.has_runnable() && (self.clock.is_manual() || !self.io.has_waits());
        if let Some(wait) = self.wait_time(timeout).filter(|w| may_sleep && !w.is_zero()) {
            self.clock.sleep(wait);
        }
        let now = self.clock.now();
        while let Some((timer, expiry)) = self.timers.pop_expired(now) {
            let (task, input) = match expiry {
                Expiry::Sleep(key) => {
                    trace!("sleeper woken");
                    (self.parked.unpark(key), nothing())
                }
                Expiry::Queue(wait) => {
                    debug!("queue wait timed out");
                    let key = wait.withdraw(&mut self.graveyard);
                    (self.parked.unpark(key), Err(Error::Timeout))
                }
                Expiry::Io(fd) => {
                    debug!("wait on fd {fd} timed out");
                    (self.io.withdraw(fd, timer, &mut self.graveyard), Err(Error::Timeout))
                }
            };
            if let Some(mut task) = task {
                task.take_timer(); // it just fired
                self.enqueue(task, input);
            }
        }
    }

    /// Handles what a task yielded (step 3).
    fn perform(&mut self, mut stack: Stack, operation: Operation) {
        match operation {
            Operation::Yield => self.enqueue(stack, nothing()),
            Operation::Value(value) => self.enqueue(stack, Ok(value)),
            Operation::Child(child) => {
                stack.push(child.0);
                trace!("child task started, depth {}", stack.depth());
                self.enqueue(stack, nothing());
            }
            Operation::Sleep(span) => {
                self.park(stack, Some(span), Expiry::Sleep);
            }
            Operation::QueueGet(wait) | Operation::QueuePut(wait) => wait.perform(self, stack),
            Operation::FdReady(wait) | Operation::FdAction(wait) => crate::io::perform(self, stack, wait),
            Operation::Invalid(error) => self.enqueue(stack, Err(error)),
        }
    }

    /// Takes over another manager's state (`merge`).
    fn absorb(&mut self, mut other: State) {
        self.runq.append(&mut other.runq);
        self.timers.append(&mut other.timers);
        let parked = std::mem::replace(&mut other.parked, Parking::new());
        self.parked.absorb(parked);
        self.io.absorb(&mut other.io);
    }
}

impl TaskManager {
    /// A new manager on the real clock.
    pub fn new() -> TaskManager {
        TaskManager::with_clock(Clock::real())
    }

    /// A new manager reading time from `clock`; see [`Clock::manual`] for
    /// deterministic tests of sleeps and timeouts.
    pub fn with_clock(clock: Clock) -> TaskManager {
        TaskManager {
            node: Rc::new(RefCell::new(Node::Root(State::new(clock)))),
        }
    }

    /// The clock this manager reads time from.
    pub fn clock(&self) -> Clock {
        self.with(|s| s.clock.clone())
    }

    /// The handle that owns the state: this one, or the one it was merged into.
    fn root(&self) -> TaskManager {
        let mut manager = self.clone();
        loop {
            let next = match &*manager.node.borrow() {
                Node::Root(_) => None,
                Node::Merged(into) => Some(into.clone()),
            };
            match next {
                Some(next) => manager = next,
                None => return manager,
            }
        }
    }

    /// Runs `f` on the state. Never called while a task runs (see the invariants).
    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        if let Node::Root(state) = &mut *self.node.borrow_mut() {
            return f(state);
        }
        self.root().with(f)
    }

    /// Adds a new task to the back of the run queue. It runs in the next
    /// pass, never in the one that added it. Its return value is dropped; an
    /// error it returns leaves [`run`](TaskManager::run) as `Err`.
    pub fn add<T: 'static>(&self, task: Task<T>) {
        trace!("task added");
        self.with(|s| s.enqueue(Stack::new(task.coro), nothing()));
    }

    /// Calls [`run_next`](TaskManager::run_next) while any task is runnable,
    /// waiting for I/O, or waiting on a timeout. A task waiting on a queue with
    /// no timeout does not keep it running: it stays parked, and a later `run`
    /// resumes it if something puts an item.
    ///
    /// A top-level task's error stops the run and is returned; every other
    /// task stays where it was, so calling `run` again carries on.
    pub fn run(&self) -> Result<()> {
        while self.has_runnable() || self.has_io_waits() || self.has_timeouts() {
            self.run_next(None)?;
        }
        Ok(())
    }

    /// One run cycle: handle ready I/O, handle expired timeouts, then run every
    /// task that was runnable when the pass began.
    ///
    /// With nothing runnable, it blocks until some waiting task can run, but no
    /// longer than `timeout` (`None`: as long as it takes).
    pub fn run_next(&self, timeout: Option<Duration>) -> Result<()> {
        let (polled, dead) = self.with(|s| {
            let polled = if s.io.has_waits() {
                crate::io::poll(s, timeout)
            } else {
                Ok(())
            };
            if !s.timers.is_empty() {
                s.handle_timeouts(timeout);
            }
            (polled, s.take_dead())
        });
        drop(dead);
        polled?;
        let count = self.with(|s| {
            if s.has_runnable() {
                s.io.note_activity();
            }
            s.runq.len()
        });
        for _ in 0..count {
            let Some(mut stack) = self.with(|s| s.runq.pop_front()) else {
                break;
            };
            match stack.resume() {
                // A bare yield goes straight to the back of the run queue: the
                // general path below costs a third of a switch more.
                // (`resume` left `()` as its next input already.)
                Step::Yielded(Operation::Yield) => self.with(|s| s.runq.push_back(stack)),
                Step::Yielded(operation) => {
                    let dead = self.with(|s| {
                        s.perform(stack, operation);
                        s.take_dead()
                    });
                    drop(dead);
                }
                Step::Done(result) => {
                    // A child finished: its parent resumes with the result,
                    // one pass later. A task finished: that is all.
                    if stack.pop() {
                        self.with(|s| s.enqueue(stack, result));
                    } else if let Err(error) = result {
                        debug!("task failed: {error}");
                        return Err(error);
                    } else {
                        trace!("task finished");
                    }
                }
            }
        }
        Ok(())
    }

    /// True if any task is in the run queue.
    pub fn has_runnable(&self) -> bool {
        self.with(|s| s.has_runnable())
    }

    /// True if any task waits on a file descriptor.
    pub fn has_io_waits(&self) -> bool {
        self.with(|s| s.io.has_waits())
    }

    /// True if any task waits with a timeout, or sleeps.
    pub fn has_timeouts(&self) -> bool {
        self.with(|s| !s.timers.is_empty())
    }

    /// Merges `other` into this manager: afterwards both handles (and all
    /// their clones) share one state, so either runs the combined task set.
    /// `other`'s runnable tasks go after this one's, in their order. Merging
    /// a manager with itself, or twice, does nothing.
    pub fn merge(&self, other: &TaskManager) {
        let (into, from) = (self.root(), other.root());
        if Rc::ptr_eq(&into.node, &from.node) {
            return;
        }
        let taken = std::mem::replace(&mut *from.node.borrow_mut(), Node::Merged(into.clone()));
        if let Node::Root(state) = taken {
            into.with(|s| s.absorb(state));
        }
    }

    /// Drops every task of this manager (runnable, waiting, sleeping), running
    /// their destructors: their sockets close, their queues let go. The
    /// manager stays usable, empty.
    ///
    /// Dropping the last handle does the same, but a task that holds a clone
    /// of its own manager (to `add` tasks) keeps it alive while it waits: an
    /// `Rc` cycle. Call `clear` to end such a manager, or let tasks use the
    /// thread's default manager ([`add`](crate::add)), which needs no handle.
    ///
    /// ```
    /// #![feature(coroutines)]
    /// use multitask::{wait, Queue, Task, TaskManager};
    ///
    /// let tm = TaskManager::new();
    /// let handle = tm.clone();
    /// tm.add(Task::new(#[coroutine] move |_| {
    ///     let _mine = handle; // a task holding its own manager
    ///     wait!(Queue::<()>::new().get())?; // parked forever
    ///     Ok(())
    /// }));
    /// tm.run().unwrap();
    /// tm.clear(); // drops the parked task, and with it the cycle
    /// assert_eq!(format!("{tm:?}"), "TaskManager { runnable: 0, waiting: 0, timeouts: 0 }");
    /// ```
    pub fn clear(&self) {
        let old = self.with(|s| {
            let clock = s.clock.clone();
            std::mem::replace(s, State::new(clock))
        });
        drop(old); // outside the borrow: the tasks' destructors may use the manager
    }

    /// Numbers for tests and benchmarks: (runnable, waiting, timers).
    #[doc(hidden)]
    pub fn __counts(&self) -> (usize, usize, usize) {
        self.with(|s| (s.runq.len(), s.parked.len() + s.io.tasks(), s.timers.len()))
    }
}

impl Default for TaskManager {
    fn default() -> TaskManager {
        TaskManager::new()
    }
}

impl std::fmt::Debug for TaskManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (runnable, parked, timers) = self.__counts();
        f.debug_struct("TaskManager")
            .field("runnable", &runnable)
            .field("waiting", &parked)
            .field("timeouts", &timers)
            .finish()
    }
}
