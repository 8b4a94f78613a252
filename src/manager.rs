//! `TaskManager`: the run queue, the trampoline, `run`/`run_next`/`merge`.
//!
//! # The run cycle (DESIGN.md §2)
//!
//! The run queue is a FIFO of `(task, input)`, where the input is what the
//! task's `yield` evaluates to (a value or an error). `run_next` does, in order:
//!
//! 1. **I/O** — if any task waits on an fd, poll once: without blocking when
//!    tasks are runnable, otherwise until the earliest timeout, the caller's
//!    timeout, or forever. Ready waiters are enqueued (`reactor.rs`).
//! 2. **Timeouts** — if any are pending and nothing is runnable, sleep until the
//!    earliest (bounded by the caller's timeout); then enqueue every expired
//!    one, earliest first: a sleeper with `()`, any other waiter with `Timeout`.
//! 3. **Tasks** — run exactly the tasks queued when this step starts, each until
//!    its next `yield`; whatever they enqueue runs in the next `run_next`.
//!    (`State::due` counts them; a cancel that takes one out counts it off.)
//!
//! With nothing waiting on an fd or a timer, steps 1 and 2 cost nothing: one
//! borrow counts the tasks due and step 3 starts. In step 3 the borrow that
//! puts a task away (a bare yield, an operation with nothing left to drop)
//! also pops the next one, so a switch borrows the state once. Under `run`,
//! the borrow that finds the last task of a pass put away also starts the
//! next pass when steps 1 and 2 would have nothing to do in it
//! (`Inner::quiet_pass`): the same steps in the same order, without going
//! back through `run`'s loop.
//!
//! # Invariants
//!
//! - A task is in exactly one place: the run queue (runnable), the parking lot
//!   (sleeping, waiting on a queue, a join, an event or a semaphore;
//!   `sched.rs`), the reactor (waiting on an fd or another thread, or its wait
//!   already over; `reactor/`), or being resumed by step 3 (then it is in
//!   none). All of them belong to the manager; `control.rs` finds a task in
//!   them to cancel it or to cut it back to a deadline.
//! - The manager's state is never borrowed while a task runs, so a task may
//!   call `add`, `merge` or `has_*` on any manager handle. A panic in a task is
//!   caught around `resume` and becomes that task's error (`task.rs`).
//! - No user `Drop` and no logger runs while the state is borrowed either:
//!   values the manager drops on a task's behalf (a timed-out put's item, a
//!   finished `fd_action` closure, a queue's last handle) go to the graveyard,
//!   log records to the notes, and both are handed over once the borrow ends
//!   ([`Leftovers`]); each value is dropped under `catch_unwind`. A caller's
//!   `fd_action` closure is called at step 1, as the original calls it, but
//!   between two borrows (`run_next`): it may call the manager.
//! - Dropping the manager (its last handle, `clear`, thread exit for the
//!   default one) drops every task one at a time, each under `catch_unwind`
//!   (`Inner`'s `Drop`).

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use std::time::Duration;

use log::{debug, trace};

use crate::control;
use crate::error::{Error, Result};
use crate::handle::TaskHandle;
use crate::monitor::{self, TaskInfo};
use crate::op::Step;
use crate::op::{nothing, Input, Operation};
use crate::park::Key;
use crate::reactor::{Reactor, Woken};
use crate::sched::{self, Expiry, Manager, Parked, State};
use crate::task::{Stack, Task, TaskCell, TaskRef};
use crate::time::Clock;

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
///
/// Invariant: a `Merged` node's `RefCell` is borrowed (shared) for ever, a
/// borrow that `merge`, the only place that makes one, leaks. So a node that
/// can be borrowed mutably is a `Root`, and every borrow of the state (one
/// per switch) is the `RefCell`'s flag test alone; a failed one is either a
/// merged node or a borrow made while the state is borrowed already (a bug:
/// it panics, as `borrow_mut` would). See [`with_node`].
#[allow(clippy::large_enum_variant)]
enum Node {
    Root(Inner),
    Merged(TaskManager),
}

/// Everything one manager (or a set of merged ones) holds: the scheduler's
/// state and the reactor.
struct Inner {
    s: State,
    io: Reactor,
    /// Log records of this borrow, emitted once it ends (see [`Leftovers`]).
    notes: Vec<Note>,
    /// Set by the first borrow of each pass that `run` makes, cleared by
    /// that of `run_next`, when `run` returns and by a merge: while it is set, the end
    /// of a pass starts the next one in the same borrow when steps 1 and 2
    /// have nothing to do ([`Inner::quiet_pass`]). A `run_next` or `run`
    /// called by a task clears it, and the pass around goes back to ending
    /// in `run`'s loop; so a `run_next` never runs more than its pass.
    looping: bool,
    /// Set by `clear` on the state it drops: that state's segment ids are
    /// the fresh state's aliases now, so its drop leaves them registered
    /// (tasks' destructors, run by that drop, may cancel a handle or add to a
    /// group made before the clear: they must reach the fresh state).
    ids_moved: bool,
    /// One flag per list of tasks step 1 woke that is out of the borrow
    /// while callers' `fd_action` closures run (see
    /// [`TaskManager::after_io_and_timeouts`]): the list's tasks are this
    /// state's, and a `clear` of it sets the flag, so that they are dropped
    /// instead of enqueued in the fresh state. A merge moves the flags with
    /// the tasks, so a clear of the manager merged into is seen too.
    between: Vec<Rc<Cell<bool>>>,
}

/// What steps 1 and 2 leave for after their borrow (`Inner::io_and_timeouts`).
struct Rest {
    polled: Result<()>,
    calls: Option<Vec<Woken>>,
    unjoined: Option<Error>,
    dead: Option<Box<Leftovers>>,
}

/// A scheduler event to log. A logger is user code, and may call the
/// manager: records are kept while the state is borrowed and emitted after.
enum Note {
    SleeperWoken,
    WaitTimedOut(&'static str),
    DeadlinePassed(usize),
    FdTimedOut(std::os::fd::RawFd),
    ChildStarted(usize),
}

impl Note {
    fn emit(self) {
        match self {
            Note::SleeperWoken => trace!("sleeper woken"),
            Note::WaitTimedOut(what) => debug!("{what} timed out"),
            Note::DeadlinePassed(depth) => debug!("timeout_after expired, depth {depth}"),
            Note::FdTimedOut(fd) => debug!("wait on fd {fd} timed out"),
            Note::ChildStarted(depth) => trace!("child task started, depth {depth}"),
        }
    }
}

/// What a borrow of the state leaves for after it: user values to drop and
/// log records to emit. The one mechanism by which no user code (a `Drop`,
/// a logger) runs while the state is borrowed: everything the manager drops
/// on a task's behalf goes to the graveyard, every record to the notes, and
/// `TaskManager::with` hands both over here once the borrow has ended.
struct Leftovers {
    dead: Vec<Box<dyn Any>>,
    notes: Vec<Note>,
    /// Joiners parked in other managers, to wake now.
    wakes: Vec<(Key, Input)>,
}

impl Leftovers {
    /// Emits the records, then drops the values one by one: a panic in a
    /// user `Drop` is reported through `log` and goes no further (no task
    /// owns the value any more).
    fn finish(self) {
        for note in self.notes {
            note.emit();
        }
        for (key, input) in self.wakes {
            if let Err(input) = sched::wake_anywhere(key, input) {
                // Its manager is gone: the outcome is the user's to drop.
                let _ = drop_caught(input);
            }
        }
        // A dropped value may cancel a task (a task group's drop), whose
        // leftovers are finished inside this drop, and so on: a chain of
        // nested groups nests these calls as deep as the chain (a stack
        // overflow at about 11,000 levels). Past `DEEPEST` nested calls the
        // values wait in `DEFERRED`, and the call at `DEEPEST - 1` drops
        // them, in order, once its own value is dropped: the stack stays
        // bounded, and below that depth the order is as it always was.
        let depth = FINISHING.with(Cell::get);
        if depth >= DEEPEST {
            DEFERRED.with(|d| d.borrow_mut().extend(self.dead));
            return;
        }
        FINISHING.with(|f| f.set(depth + 1));
        for value in self.dead {
            drop_reported(value);
            if depth + 1 == DEEPEST {
                while let Some(value) = DEFERRED.with(|d| d.borrow_mut().pop_front()) {
                    drop_reported(value);
                }
            }
        }
        FINISHING.with(|f| f.set(depth));
    }
}

/// How deep [`Leftovers::finish`] may nest before it defers its values.
const DEEPEST: u32 = 32;

thread_local! {
    /// How deep [`Leftovers::finish`] calls nest now on this thread.
    static FINISHING: Cell<u32> = const { Cell::new(0) };
    /// Values of `finish` calls nested past [`DEEPEST`], to drop in order.
    static DEFERRED: RefCell<std::collections::VecDeque<Box<dyn Any>>> = RefCell::default();
}

/// Drops a value the manager let go of; a panic in its `Drop` is reported
/// through `log` and goes no further (no task owns the value any more).
fn drop_reported(value: Box<dyn Any>) {
    if let Err(e) = drop_caught(value) {
        log::warn!("a value dropped by the manager panicked: {e}");
    }
}

impl Inner {
    fn new(clock: Clock) -> Inner {
        Inner {
            s: State::new(clock),
            io: Reactor::new(),
            notes: Vec::new(),
            looping: false,
            ids_moved: false,
            between: Vec::new(),
        }
    }

    /// Records a log event, if anything at its level could be logged (a
    /// static level check: the logger itself is not asked under the borrow).
    fn note(&mut self, note: Note, level: log::Level) {
        if level <= log::max_level() {
            self.notes.push(note);
        }
    }

    /// What this borrow leaves for after it, if anything.
    /// Boxed: most borrows leave none, and every operation's borrow returns
    /// this, so the usual `None` should be one word, not four.
    #[inline]
    fn leftovers(&mut self) -> Option<Box<Leftovers>> {
        if self.s.graveyard.is_empty() && self.notes.is_empty() && self.s.elsewhere.is_empty() {
            return None;
        }
        self.take_leftovers()
    }

    /// [`leftovers`](Self::leftovers) when there are some.
    #[cold]
    fn take_leftovers(&mut self) -> Option<Box<Leftovers>> {
        Some(Box::new(Leftovers {
            dead: std::mem::take(&mut self.s.graveyard),
            notes: std::mem::take(&mut self.notes),
            wakes: std::mem::take(&mut self.s.elsewhere),
        }))
    }

    /// Step 2: sleep if nothing is runnable, then fire every expired timer.
    ///
    /// As the original's: its `select` in step 1 waited at most `timeout`
    /// (or until the first deadline), and if it timed out, step 2 sleeps
    /// again, until the first deadline but at most `timeout` (the fds are not
    /// watched meanwhile, there either): a `run_next(t)` with a deadline
    /// further than `t` returns after up to twice `t`. With `run` (no
    /// `timeout`), step 1 waited until the deadline already. Not after a
    /// poll that woke something, even if what it woke waits again (a
    /// caller's closure that would block): that one did not time out.
    fn handle_timeouts(&mut self, timeout: Option<Duration>) {
        let s = &mut self.s;
        let io_waited = !self.io.has_waits() || self.io.waited_out();
        let may_sleep = !s.has_runnable() && (s.clock.is_manual() || io_waited);
        if let Some(wait) = s.wait_time(timeout).filter(|w| may_sleep && !w.is_zero()) {
            s.clock.sleep(wait);
        }
        let (now, mark) = (s.clock.now(), crate::time::mark());
        while let Some((_, expiry)) = self.s.timers.pop_expired_before(now, mark) {
            let s = &mut self.s;
            let (task, input, note) = match expiry {
                Expiry::Sleep(key) => {
                    let task = s.parked.unpark(key).map(|p| p.stack);
                    (task, nothing(), (Note::SleeperWoken, log::Level::Trace))
                }
                Expiry::Timeout(key) => {
                    let mut what = "wait";
                    let task = s.parked.unpark(key).map(|Parked { stack, waiting }| {
                        what = waiting.name();
                        waiting.withdraw(&mut s.graveyard);
                        stack
                    });
                    (task, Err(Error::Timeout), (Note::WaitTimedOut(what), log::Level::Debug))
                }
                Expiry::Io(fd, seq) => {
                    let task = self.io.withdraw(fd, seq, &mut s.graveyard);
                    (task, Err(Error::Timeout), (Note::FdTimedOut(fd), log::Level::Debug))
                }
                Expiry::Deadline(cell, depth) => {
                    if let Some(cell) = cell.upgrade() {
                        control::expire(s, &mut self.io, &cell, depth);
                    }
                    (None, nothing(), (Note::DeadlinePassed(depth), log::Level::Debug))
                }
            };
            self.note(note.0, note.1);
            if let Some(mut task) = task {
                task.take_timer(); // it just fired
                self.s.enqueue(task, input);
            }
        }
    }

    /// Steps 1 and 2 of `run_next` (see the top of this file), under one
    /// borrow. With nothing left for after the borrow, it counts the tasks
    /// due in step 3 too and gives `None`.
    fn io_and_timeouts(&mut self, timeout: Option<Duration>) -> Option<Box<Rest>> {
        if self.is_quiet() {
            self.s.due = self.s.runq.len();
            return None;
        }
        let unjoined = if self.s.unjoined.is_empty() {
            None
        } else {
            control::unjoined_error(&mut self.s)
        };
        let (polled, calls) = if self.io.has_waits() {
            self.io.poll(&mut self.s, timeout)
        } else {
            (Ok(()), None)
        };
        if calls.is_none() && !self.s.timers.is_empty() {
            self.handle_timeouts(timeout);
        }
        let dead = self.leftovers();
        if polled.is_ok() && calls.is_none() && unjoined.is_none() && dead.is_none() {
            self.count_due();
            return None;
        }
        // Boxed: the usual pass returns `None`, and should not pay for a
        // large return value.
        Some(Box::new(Rest {
            polled,
            calls,
            unjoined,
            dead,
        }))
    }

    /// Steps 1 and 2 and, when they leave nothing for after the borrow,
    /// step 3's first task; else what they left.
    fn start_pass(&mut self, timeout: Option<Duration>) -> std::result::Result<Option<Stack>, Box<Rest>> {
        match self.io_and_timeouts(timeout) {
            None => Ok(self.pop_due()),
            Some(rest) => Err(rest),
        }
    }

    /// Counts the tasks due in step 3: those queued now.
    fn count_due(&mut self) {
        if self.s.has_runnable() {
            self.io.note_activity();
        }
        self.s.due = self.s.runq.len();
    }

    /// Step 3's next task, if any is still due in this pass; it becomes the
    /// running one (`State::running`).
    fn pop_due(&mut self) -> Option<Stack> {
        if self.s.due == 0 {
            return self.quiet_pass();
        }
        self.take_due()
    }

    /// True when steps 1 and 2 of a pass have nothing to do: no fd waited
    /// on, no timer, no unjoined error.
    fn is_quiet(&self) -> bool {
        !self.io.has_waits() && self.s.timers.is_empty() && self.s.unjoined.is_empty()
    }

    /// At the end of a pass of `run` (see `looping`), starts the next pass in
    /// place when steps 1 and 2 would have nothing to do in it: counts the
    /// tasks due, those queued and the `more` about to be, which is what
    /// `run`'s loop and the next pass's first borrow would do then, without a
    /// return to `run` and a new borrow (measured, those cost a pass 97
    /// instructions: a switch among 10 tasks ten of its 119). `false` when
    /// they have something to do or nothing would be due: `run`'s loop
    /// decides.
    #[inline(always)]
    fn start_quiet_pass(&mut self, more: usize) -> bool {
        let due = self.s.runq.len() + more;
        if !self.looping || !self.is_quiet() || due == 0 {
            return false;
        }
        self.s.due = due;
        true
    }

    /// [`pop_due`](Self::pop_due) at the end of a pass: the next quiet
    /// pass's first task ([`start_quiet_pass`](Self::start_quiet_pass)), or
    /// `None`. Out of line: once a pass.
    #[cold]
    #[inline(never)]
    fn quiet_pass(&mut self) -> Option<Stack> {
        if !self.start_quiet_pass(0) {
            return None;
        }
        self.take_due()
    }

    /// Takes the next task due (there is one): it becomes the running one.
    #[inline(always)]
    fn take_due(&mut self) -> Option<Stack> {
        self.s.due -= 1;
        let Some(stack) = self.s.runq.pop_front() else {
            // More were due than are queued: a nested pass ran them.
            self.s.due = 0;
            return None;
        };
        Some(self.running(stack))
    }

    /// A bare yield: `stack` goes to the back of the run queue, and the next
    /// task due comes off the front, in one [`RunQueue::rotate`] (the switch's
    /// hot path: see `runq.rs`): what `push_back` and [`pop_due`](Self::pop_due)
    /// would do.
    ///
    /// [`RunQueue::rotate`]: crate::runq::RunQueue::rotate
    #[inline(always)]
    fn requeue(&mut self, stack: Stack) -> Option<Stack> {
        if self.s.due == 0 {
            return self.quiet_requeue(stack);
        }
        self.rotate_due(stack)
    }

    /// [`requeue`](Self::requeue) at the end of a pass (out of line, as
    /// [`quiet_pass`](Self::quiet_pass)).
    #[cold]
    #[inline(never)]
    fn quiet_requeue(&mut self, stack: Stack) -> Option<Stack> {
        if !self.start_quiet_pass(1) {
            self.s.runq.push_back(stack);
            return None;
        }
        self.rotate_due(stack)
    }

    /// `stack` to the back of the run queue and the next task due (there is
    /// one) off the front: it becomes the running one.
    #[inline(always)]
    fn rotate_due(&mut self, stack: Stack) -> Option<Stack> {
        self.s.due -= 1;
        let next = self.s.runq.rotate(stack);
        Some(self.running(next))
    }

    /// Names `stack` as the task being resumed (`State::running`).
    #[inline(always)]
    fn running(&mut self, stack: Stack) -> Stack {
        self.s.running = Some(std::ptr::NonNull::from(&**stack.cell()));
        stack
    }

    /// Handles what a task yielded (step 3). Inlined: see `run_due`.
    #[inline(always)]
    fn perform(&mut self, mut stack: Stack, operation: Operation) {
        let s = &mut self.s;
        match operation {
            // `resume` left `()` as the next input already.
            Operation::Yield => s.runq.push_back(stack),
            Operation::Value(value) => s.enqueue(stack, Ok(value)),
            Operation::Child(child) => {
                stack.push(child);
                let depth = stack.depth();
                s.enqueue(stack, nothing());
                self.note(Note::ChildStarted(depth), log::Level::Trace);
            }
            // Built by hand (`sleep` refuses it at its line): the same error.
            Operation::Sleep(span) if span.is_zero() => {
                s.enqueue(stack, Err(Error::invalid("'seconds' must be greater than 0")))
            }
            Operation::Sleep(span) => {
                let until = s.clock.deadline(span);
                let key = s.park(stack, crate::sched::Waiting::Sleep(until));
                s.time_parked_until(key, until, Expiry::Sleep(key));
            }
            Operation::QueueGet(wait) | Operation::QueuePut(wait) => crate::queue::perform(wait, s, stack),
            Operation::FdReady(mut wait) | Operation::FdAction(mut wait) => {
                crate::reactor::wait(&mut self.io, s, stack, &mut wait)
            }
            Operation::Invalid(error) => s.enqueue(stack, Err(error)),
            Operation::Deadline(child, span) => {
                stack.push(child);
                let expiry = Expiry::Deadline(TaskRef::downgrade(stack.cell()), stack.depth());
                stack.push_deadline(s.set_timer(span, expiry));
                s.enqueue(stack, nothing());
            }
            Operation::Wait(wait) => crate::wait::perform(wait, s, stack),
            Operation::Remote(wait) => crate::reactor::remote::wait(&mut self.io, s, stack, wait),
        }
    }

    /// Takes over another manager's state (`merge`).
    fn absorb(&mut self, mut other: Inner) {
        let clock = other.s.clock.clone();
        self.s.absorb(std::mem::replace(&mut other.s, State::new(clock)));
        self.io
            .absorb(std::mem::replace(&mut other.io, Reactor::new()), &mut self.s.graveyard);
        self.notes.append(&mut other.notes);
        self.between.append(&mut other.between);
        crate::queue::settle_after_merge(&mut self.s);
        // A pass of `run` may be under way on this state below the merge,
        // and a `run_next` on `other`'s above it: the pass ends in its loop.
        self.looping = false;
        // `other` is empty now: its drop runs no user code under this borrow.
    }
}

impl Drop for Inner {
    /// Drops every task and value the manager still holds, one at a time,
    /// so that a panic in one `Drop` is reported and the rest still dropped
    /// (a second panic while unwinding would abort the process). Never runs
    /// under a borrow of the state: the last handle, `clear` and thread exit
    /// drop it from outside.
    fn drop(&mut self) {
        fn boxed<T: 'static>(value: T) -> Box<dyn Any> {
            Box::new(value)
        }
        if !self.ids_moved {
            sched::unregister(&self.s);
        }
        // The tasks' cells, to tell their joiners and groups once they are dropped.
        let mut cells: Vec<TaskRef> = self.s.runq.iter().map(|t| t.cell().clone()).collect();
        cells.extend(self.s.parked.iter().map(|(_, p)| p.stack.cell().clone()));
        cells.extend(self.io.waiters().map(|(t, _)| t.cell().clone()));
        let mut dead: Vec<Box<dyn Any>> = self.s.runq.drain().map(boxed).collect();
        for Parked { stack, waiting } in self.s.parked.drain() {
            dead.push(boxed(stack));
            dead.push(boxed(waiting));
        }
        dead.extend(self.s.elsewhere.drain(..).map(boxed));
        dead.extend(self.s.to_match.drain(..).map(boxed));
        dead.extend(self.s.unjoined.drain(..).map(boxed));
        dead.extend(self.s.flagged.drain(..).map(boxed));
        dead.extend(self.s.timers.drain().into_iter().map(boxed));
        dead.append(&mut self.s.graveyard);
        dead.extend(self.io.drain());
        let notes = std::mem::take(&mut self.notes);
        drop_tasks(dead, notes, &cells);
    }
}

/// Drops tasks the manager let go of with `dead` (their stacks and whatever
/// else goes with them), after emitting `notes`; then tells each of their
/// `cells`' joiners and groups (`control::dropped_with_manager`). Outside
/// every borrow: the destructors are the user's.
fn drop_tasks(dead: Vec<Box<dyn Any>>, notes: Vec<Note>, cells: &[TaskRef]) {
    Leftovers {
        dead,
        notes,
        wakes: Vec::new(),
    }
    .finish();
    for cell in cells {
        control::dropped_with_manager(cell);
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
        let manager = TaskManager {
            node: Rc::new(RefCell::new(Node::Root(Inner::new(clock)))),
        };
        manager.register();
        manager
    }

    /// Lets the keys of this manager's parked tasks be woken from anywhere
    /// on the thread (`sched::wake_anywhere`).
    fn register(&self) {
        let me: Weak<dyn Manager> = Rc::downgrade(&self.node) as Weak<RefCell<Node>>;
        self.with(|i| sched::register(&i.s, me));
    }

    /// How its tasks and groups name this manager (see `sched::Manager::home`).
    pub(crate) fn home(&self) -> u32 {
        self.node.home()
    }

    /// The clock this manager reads time from.
    pub fn clock(&self) -> Clock {
        self.with(|i| i.s.clock.clone())
    }

    /// The handle that owns the state: this one, or the one it was merged into.
    fn root(&self) -> TaskManager {
        let mut manager = self.clone();
        loop {
            match merged_into(&manager.node) {
                Some(next) => manager = next,
                None => return manager,
            }
        }
    }

    /// Runs `f` on the state. Never called while a task runs (see the invariants).
    #[inline(always)]
    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        with_node(&self.node, f)
    }

    /// Adds a new task to the back of the run queue. It runs in the next
    /// pass, never in the one that added it.
    ///
    /// The [`TaskHandle`] given back joins, cancels or looks at the task.
    /// Ignored (dropped), nothing changes from the original: the task's
    /// return value is dropped, and an error it returns leaves
    /// [`run`](TaskManager::run) as `Err`. While a handle is alive, the
    /// outcome waits for its [`join`](TaskHandle::join); an error left
    /// unjoined when the last handle drops leaves `run` after all.
    #[inline]
    pub fn add<T: 'static>(&self, task: Task<T>) -> TaskHandle<T> {
        trace!("task added");
        crate::handle::spawn(&*self.node, task, None)
    }

    /// A snapshot of every task of the manager, by id: what each is doing,
    /// how deep its stack of children is, how often it has been resumed.
    ///
    /// ```
    /// #![feature(coroutines)]
    /// use multitask::{sleep, wait, Queue, Task, TaskManager, TaskState};
    ///
    /// let tm = TaskManager::new();
    /// let q: Queue<u8> = Queue::new();
    /// let q2 = q.clone();
    /// tm.add(Task::new(#[coroutine] move |_| { wait!(q2.get())?; Ok(()) }).named("getter"));
    /// tm.add(Task::new(#[coroutine] |_| { wait!(sleep(60))?; Ok(()) }).named("sleeper"));
    /// tm.run_next(None).unwrap(); // both run once and park
    /// let tasks = tm.tasks();
    /// assert_eq!(tasks[0].name, "getter");
    /// assert_eq!(tasks[0].state, TaskState::QueueGet);
    /// assert!(matches!(tasks[1].state, TaskState::Sleeping { .. }));
    /// assert_eq!((tasks[1].depth, tasks[1].resumed), (1, 1));
    /// print!("{}", tm.dump());
    /// tm.clear();
    /// ```
    pub fn tasks(&self) -> Vec<TaskInfo> {
        self.with(|i| monitor::snapshot(&i.s, &i.io))
    }

    /// The snapshot of [`tasks`](TaskManager::tasks) as a table, like
    /// curio's monitor `ps`: id, name, state, depth, resume count.
    pub fn dump(&self) -> String {
        let (tasks, now) = self.with(|i| (monitor::snapshot(&i.s, &i.io), i.s.clock.now()));
        monitor::table(&tasks, now)
    }

    /// Calls [`run_next`](TaskManager::run_next) while any task is runnable,
    /// waiting for I/O, or waiting on a timeout. A task waiting on a queue with
    /// no timeout does not keep it running: it stays parked, and a later `run`
    /// resumes it if something puts an item.
    ///
    /// A top-level task's error stops the run and is returned; every other
    /// task stays where it was, so calling `run` again carries on.
    pub fn run(&self) -> Result<()> {
        self.nested(true, || self.run_passes())
    }

    /// [`run`](TaskManager::run)'s passes.
    fn run_passes(&self) -> Result<()> {
        let mut ran = Ok(());
        // `has_runnable() || has_io_waits() || has_timeouts()`, in one borrow.
        while ran.is_ok() && self.with(|i| i.s.has_runnable() || i.io.has_waits() || !i.s.timers.is_empty()) {
            ran = self.pass(None, true);
        }
        ran?;
        // A failed task whose handle was dropped unjoined since the last pass.
        match self.with(|i| control::unjoined_error(&mut i.s)) {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// One run cycle: handle ready I/O, handle expired timeouts, then run every
    /// task that was runnable when the pass began.
    ///
    /// With nothing runnable, it blocks until some waiting task can run, but no
    /// longer than `timeout` (`None`: as long as it takes) in each of its two
    /// waits, as the original: step 1's poll, and, if that found nothing,
    /// step 2's sleep until the first deadline. So with fds waited on and a
    /// deadline further than `timeout`, one call can take up to twice
    /// `timeout`.
    ///
    /// A task may call it (or [`run`](TaskManager::run)) on its own manager:
    /// the pass that runs the task then goes on with the number of tasks it
    /// counted at its start, as the original's step 3 pops that many from
    /// the queue, whatever the nested pass ran (so a task may run twice in
    /// it); it ends early only if the queue runs out.
    pub fn run_next(&self, timeout: Option<Duration>) -> Result<()> {
        self.nested(false, || self.pass(timeout, false))
    }

    /// One pass of `run_next`, or of `run` (`looping`: see [`Inner::looping`]).
    fn pass(&self, timeout: Option<Duration>, looping: bool) -> Result<()> {
        // Steps 1 and 2 in one borrow; when they leave nothing to do outside
        // it (no user code to call, nothing to drop, no error), that borrow
        // also counts the tasks due and takes the first: step 3 starts.
        let first = match self.with(|i| {
            i.looping = looping;
            i.start_pass(timeout)
        }) {
            Ok(first) => first,
            Err(rest) => {
                self.after_io_and_timeouts(*rest, timeout)?;
                self.with(Inner::pop_due)
            }
        };
        self.run_due(first)
    }

    /// Runs `passes` (`run`'s loop, or `run_next`'s one pass). Called by a
    /// task (a nested `run_next` or `run`), it finds that task as the running
    /// one, and gives it back when the passes end: `clear` and `tasks()`
    /// still know who runs (see `State::running`), and the pass that runs the
    /// task goes on with the count of tasks it had left (the original's step
    /// 3 pops the number it counted, whatever a nested pass ran meanwhile,
    /// and so may run a task twice; where the queue runs out first, the
    /// original pops an empty deque, here the pass ends; after a `clear` in
    /// the nested pass, nothing of the old count is due). For `run` (`ends_loop`),
    /// the end also clears [`Inner::looping`], so that a `run_next` around
    /// it keeps to its one pass. Both happen even if a panic unwinds out of
    /// the passes (a user's logger may panic) and a task catches it. Once per
    /// call, not per pass: `run`'s passes pay nothing for it.
    fn nested(&self, ends_loop: bool, passes: impl FnOnce() -> Result<()>) -> Result<()> {
        /// Puts the state back as `nested` found it, on return or unwind.
        struct Restore<'a> {
            manager: &'a TaskManager,
            outer: Option<std::ptr::NonNull<TaskCell>>,
            /// The outer pass's tasks still due (with `outer`), and the state
            /// they were due in (its first segment: a `clear` makes a new one).
            due: (usize, Option<u32>),
            ends_loop: bool,
        }
        impl Drop for Restore<'_> {
            fn drop(&mut self) {
                if self.outer.is_none() && !self.ends_loop {
                    return;
                }
                // Never a panic here, not even while unwinding: a state that
                // cannot be borrowed is left as it is.
                let root = self.manager.root();
                let Ok(mut node) = root.node.try_borrow_mut() else {
                    return;
                };
                if let Node::Root(i) = &mut *node {
                    if self.outer.is_some() {
                        i.s.running = self.outer;
                        if i.s.parked.segment_ids().next() == self.due.1 {
                            i.s.due = self.due.0;
                        }
                    }
                    if self.ends_loop {
                        i.looping = false;
                    }
                }
            }
        }
        let (outer, due) = self.with(|i| (i.s.running.take(), (i.s.due, i.s.parked.segment_ids().next())));
        let _restore = Restore {
            manager: self,
            outer,
            due,
            ends_loop,
        };
        passes()
    }

    /// What steps 1 and 2 left to do once their borrow ended (see
    /// [`Inner::io_and_timeouts`]): callers' `fd_action`s to call, values to
    /// drop, an error to return; then it counts the tasks due in step 3.
    fn after_io_and_timeouts(&self, rest: Rest, timeout: Option<Duration>) -> Result<()> {
        let Rest {
            polled,
            calls,
            unjoined,
            dead,
        } = rest;
        if let Some(leftovers) = dead {
            leftovers.finish();
        }
        if let Some(mut woken) = calls {
            // Step 1 found callers' `fd_action`s ready: they are called here,
            // with the state not borrowed (they are user code), in order, and
            // then everything step 1 woke is enqueued and step 2 runs.
            let cleared = Rc::new(Cell::new(false));
            self.with(|i| i.between.push(cleared.clone()));
            let mut results: Vec<Option<Input>> = Vec::with_capacity(woken.len());
            for w in woken.iter_mut() {
                // While its closure runs, the task is the running one: a
                // `clear` it makes keeps the task's `timeout_after` deadlines.
                let task = std::ptr::NonNull::from(&**w.task().cell());
                let cancelled = w.task().cell().cancel_requested();
                results.push(match w {
                    // Cancelled by a closure called before it: not called (its
                    // I/O would be for a task that is gone); parked again, and
                    // ended below with the other flagged tasks.
                    Woken::Call(_) if cancelled => None,
                    Woken::Call(call) => {
                        self.with(|i| i.s.running = Some(task));
                        let result = call.call();
                        self.with(|i| i.s.running = None);
                        result
                    }
                    Woken::Ready(..) => None,
                });
                if cleared.get() {
                    // That closure cleared the manager: its task runs on with
                    // the result, as a task calling `clear` does, and every
                    // other task step 1 woke was the cleared state's, so it
                    // is dropped here (outside the borrow), not enqueued.
                    let result = results.pop().expect("pushed above");
                    let k = results.len();
                    let caller = woken.remove(k);
                    // Their joiners and groups are told, as for every task
                    // a clear drops (`Inner`'s `Drop`).
                    let cells: Vec<TaskRef> = woken.iter().map(|w| w.task().cell().clone()).collect();
                    let others = woken.drain(..).map(|w| Box::new(w) as Box<dyn Any>);
                    drop_tasks(others.collect(), Vec::new(), &cells);
                    (woken, results) = (vec![caller], vec![result]);
                    break;
                }
            }
            let dead = self.with(|i| {
                i.between.retain(|flag| !Rc::ptr_eq(flag, &cleared));
                // The closures are user code, as a task is: any may have
                // closed a raw fd that tasks wait on, which a sweep finds.
                i.io.note_activity();
                i.io.enqueue_called(&mut i.s, woken.drain(..).zip(results));
                if !i.s.flagged.is_empty() {
                    // Cancelled while in that list: found now where it went.
                    control::cancel_flagged(&mut i.s, &mut i.io);
                }
                if !i.s.timers.is_empty() {
                    i.handle_timeouts(timeout);
                }
                i.leftovers()
            });
            if let Some(leftovers) = dead {
                leftovers.finish();
            }
        }
        polled?;
        if let Some(error) = unjoined {
            return Err(error);
        }
        self.with(Inner::count_due);
        Ok(())
    }

    /// Step 3 of `run_next`: runs each task that was due when it began, once,
    /// from `first` (taken by the borrow before).
    // Inlined into `run_next`, its only caller: measured, a call costs the
    // ping-pong 60 instructions a round trip (what it was given moved twice).
    #[inline]
    fn run_due(&self, first: Option<Stack>) -> Result<()> {
        // True while `State::running` still names the last task resumed (a
        // bare yield, or the fast path of a finished task, which frees it):
        // cleared before the pass returns.
        let mut stale = false;
        // The next task due, popped in the same borrow that put the last one
        // away where it can be (a bare yield, a child's end): one borrow per
        // switch on the hot path. Where user code runs between the two (a
        // leftover's `Drop`, a predicate, a finished task's destructors), the
        // pop is a borrow of its own, after it. The first comes from the
        // borrow of steps 1 and 2.
        let mut next = first;
        while let Some(mut stack) = next {
            stale = false;
            let mut out = None;
            stack.resume(&mut out);
            if stack.cell().needs_attention()
                && !(matches!(out, Some(Step::Done(_))) && stack.depth() == 1)
                && self.attend(&mut stack)
            {
                self.end_cancelled(stack, out);
                next = self.with(Inner::pop_due);
                continue;
            }
            // Matched in place: the operation moves once, into the borrow
            // that performs it.
            match out {
                // A bare yield goes straight to the back of the run queue,
                // with no operation moved around (`resume` left `()` as its
                // input). `running` is left as it is, or names the next task
                // (see `State::running`).
                None => {
                    stale = true;
                    next = self.with(|i| i.requeue(stack));
                }
                Some(Step::Yielded(operation)) => {
                    // The operation path, from here to the queue's hand-off
                    // or the owned fd's wait, is inlined into this loop (this
                    // closure, `Inner::perform`, `queue::perform`,
                    // `reactor::wait`'s fast path and `action::perform`, and
                    // the park, claim and wake of `sched.rs`): each of those
                    // calls cost its frame and a move of what it was given.
                    // Measured one by one with cachegrind, a ping-pong round
                    // trip (four operations) went from 2,182 instructions to
                    // 1,839 with them, an echo request in lockstep from 2,398
                    // to 2,221.
                    let (leftovers, matching, popped) = self.with(
                        #[inline(always)]
                        |i| {
                            i.s.running = None;
                            i.perform(stack, operation);
                            let (leftovers, matching) = (i.leftovers(), !i.s.to_match.is_empty());
                            // Nothing to do between the two: pop the next one now.
                            let popped = if leftovers.is_none() && !matching {
                                i.pop_due()
                            } else {
                                None
                            };
                            (leftovers, matching, popped)
                        },
                    );
                    next = popped;
                    if leftovers.is_some() || matching {
                        if let Some(leftovers) = leftovers {
                            leftovers.finish();
                        }
                        if matching {
                            self.serve_matchers();
                        }
                        next = self.with(Inner::pop_due);
                    }
                }
                Some(Step::Done(mut result)) => match stack.pop() {
                    // A child finished: its parent resumes with the result,
                    // one pass later (its deadline, if it had one, is off),
                    // or with the panic of the child's drop.
                    (true, deadline, panicked) => {
                        if let Some(panic) = panicked {
                            if let Err(error) = drop_caught(std::mem::replace(&mut result, Err(panic))) {
                                log::warn!("a finished child's value panicked when dropped: {error}");
                            }
                        }
                        next = self.with(|i| {
                            i.s.running = None;
                            if let Some(timer) = deadline {
                                i.s.timers.cancel(timer);
                            }
                            i.s.enqueue(stack, result);
                            i.pop_due()
                        });
                    }
                    // A task finished that nothing else holds (no handle, no
                    // group: every Python port): its error leaves `run`.
                    (false, ..) if TaskRef::strong_count(stack.cell()) == 1 => {
                        // The task is about to be freed: `running` must not
                        // name it while its `Drop`s run (they may call `tasks()`).
                        self.with(|i| i.s.running = None);
                        if let Err(error) = result {
                            log_failure(&error);
                            // Its error leaves `run`; a panic of its drop
                            // (a hand-written coroutine's fields) is told.
                            if let Err(panic) = drop_caught(stack) {
                                log::warn!("a failed task panicked when dropped: {panic}");
                            }
                            return Err(error);
                        }
                        trace!("task finished");
                        // The return value and the finished coroutine are the
                        // user's: a panic in their `Drop` is the task's error.
                        // (A `()`, the usual value, has nothing to drop.)
                        match result {
                            Ok(value) if value.is::<()>() => drop_caught(stack)?,
                            result => drop_caught((result, stack))?,
                        }
                        next = self.with(Inner::pop_due);
                    }
                    (false, ..) => {
                        self.end_held(stack, result)?;
                        next = self.with(Inner::pop_due);
                    }
                },
            }
        }
        if stale {
            self.with(|i| i.s.running = None);
        }
        Ok(())
    }

    /// Ends a finished task that something else holds (a handle, a group):
    /// its outcome goes to its joiner, its handle or its group (or, if none
    /// takes an error, out of `run`). Out of line, off the switch's path.
    #[inline(never)]
    fn end_held(&self, stack: Stack, result: Input) -> Result<()> {
        let copy = control::member_copy(&stack, &result);
        let (escaped, leftovers) = self.with(|i| {
            i.s.running = None;
            let escaped = control::end(&mut i.s, &mut i.io, stack, result, false, copy);
            (escaped, i.leftovers())
        });
        if let Some(leftovers) = leftovers {
            leftovers.finish();
        }
        match escaped {
            Some(error) => {
                log_failure(&error);
                Err(error)
            }
            None => Ok(()),
        }
    }

    /// Serves the `get_matching`s of the queues the last operation changed:
    /// their predicates (user code) are called between two borrows, before
    /// any other task runs, so the order is the one an immediate hand-off
    /// would have given (see `queue.rs`).
    fn serve_matchers(&self) {
        loop {
            let next = self.with(|i| {
                let core = i.s.to_match.pop()?;
                let asked = crate::queue::matchers(&core, &mut i.s);
                Some((core, asked, i.leftovers()))
            });
            let Some((core, asked, leftovers)) = next else { return };
            if let Some(leftovers) = leftovers {
                leftovers.finish();
            }
            let picked = crate::queue::pick(&core, asked);
            let leftovers = self.with(|i| {
                crate::queue::hand_picked(&core, picked, &mut i.s);
                i.leftovers()
            });
            if let Some(leftovers) = leftovers {
                leftovers.finish();
            }
        }
    }

    /// Ends a task that was cancelled while it ran, now that it has yielded
    /// (or a child of it returned): what it yielded is dropped with it.
    /// A task's resume returned with its attention asked for (see
    /// [`crate::cell::CANCEL`]): true if it was cancelled while it ran, and
    /// ends now. Else a `timeout_after` deadline of its passed while it ran
    /// (a nested `run` of its own): it is set again, due at the next step 2,
    /// and the task's step is taken as usual. That step 2 cuts it back as it
    /// would have if it had yielded when the deadline passed.
    #[cold]
    #[inline(never)]
    fn attend(&self, stack: &mut Stack) -> bool {
        let cell = stack.cell().clone();
        if cell.cancel_requested() {
            return true;
        }
        cell.take_overdue();
        self.with(|i| {
            let s = &mut i.s;
            let now = s.clock.now();
            let mut k = 0;
            while k < s.overdue.len() {
                if !s.overdue[k].0.is_at(std::ptr::NonNull::from(&*cell)) {
                    k += 1;
                    continue;
                }
                let (weak, depth) = s.overdue.remove(k);
                let timer = s.timers.insert(now, Expiry::Deadline(weak, depth));
                stack.replace_deadline(depth, timer);
            }
        });
        false
    }

    fn end_cancelled(&self, stack: Stack, step: Option<Step>) {
        let leftovers = self.with(|i| {
            i.s.running = None;
            if let Some(step) = step {
                i.s.graveyard.push(Box::new(step));
            }
            control::end(&mut i.s, &mut i.io, stack, Err(Error::Cancelled), true, None);
            i.leftovers()
        });
        if let Some(leftovers) = leftovers {
            leftovers.finish();
        }
    }

    /// True if any task is in the run queue.
    pub fn has_runnable(&self) -> bool {
        self.with(|i| i.s.has_runnable())
    }

    /// True if any task waits on a file descriptor.
    pub fn has_io_waits(&self) -> bool {
        self.with(|i| i.io.has_waits())
    }

    /// True if any task waits with a timeout, or sleeps.
    pub fn has_timeouts(&self) -> bool {
        self.with(|i| !i.s.timers.is_empty())
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
        // Leaked: `from` stays borrowed for ever (the invariant of `Node`).
        std::mem::forget(from.node.borrow());
        if let Node::Root(state) = taken {
            into.with(|i| i.absorb(state));
        }
        // The merged segments are the root's now: their keys, and the
        // handles and groups that name them, reach it directly.
        into.register();
    }

    /// Drops every task of this manager (runnable, waiting, sleeping), running
    /// their destructors: their sockets close, their queues let go. The
    /// manager stays usable, empty: groups and handles made before still
    /// reach it, and a task that clears its own manager runs on, with its
    /// `timeout_after` deadlines.
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
        let root = self.root();
        let old = root.with(|i| {
            let mut fresh = Inner::new(i.s.clock.clone());
            for flag in &i.between {
                flag.set(true); // those lists' tasks were this state's
            }
            // What was made before (a group, a handle, the task calling
            // this) names the manager by the old ids: they stay its.
            fresh.s.aliases = i.s.ids().collect();
            // The task calling this, if a task does, lives on, and so do its
            // `timeout_after` deadlines.
            if let Some(running) = i.s.running {
                let its = |what: &Expiry| matches!(what, Expiry::Deadline(cell, _) if cell.is_at(running));
                fresh.s.timers.append_some(&mut i.s.timers, its);
                fresh.s.overdue = i.s.overdue.extract_if(.., |(cell, _)| cell.is_at(running)).collect();
            }
            let mut old = std::mem::replace(i, fresh);
            old.ids_moved = true;
            old
        });
        root.register(); // the old ids, aliases now, name the fresh state
        drop(old); // outside the borrow (see `Inner`'s `Drop`): the tasks' destructors may use the manager
    }

    /// Numbers for tests and benchmarks: (runnable, waiting, timers).
    #[doc(hidden)]
    pub fn __counts(&self) -> (usize, usize, usize) {
        self.with(|i| (i.s.runq.len(), i.s.parked.len() + i.io.tasks(), i.s.timers.len()))
    }
}

impl Manager for RefCell<Node> {
    fn wake(&self, key: Key, input: Input) -> std::result::Result<(), Input> {
        let Ok(mut node) = self.try_borrow_mut() else {
            return match merged_into(self) {
                Some(into) => into.node.wake(key, input),
                // Only user code calls this, never under the borrow; if it ever
                // were, the caller keeps the input rather than the manager panicking.
                None => Err(input),
            };
        };
        let Node::Root(i) = &mut *node else {
            unreachable!("a merged node is never borrowed mutably (the invariant of `Node`)")
        };
        let woken = i.s.wake(key, input);
        let leftovers = i.leftovers();
        drop(node);
        if let Some(leftovers) = leftovers {
            leftovers.finish();
        }
        woken
    }

    fn enqueue(&self, stack: Stack) {
        with_node(self, |i| i.s.enqueue(stack, nothing()));
    }

    fn home(&self) -> u32 {
        with_node(self, |i| i.s.parked.segment_ids().next().expect("a lot has a segment"))
    }

    fn cancel(&self, cell: &TaskRef) {
        let leftovers = with_node(self, |i| {
            control::cancel(&mut i.s, &mut i.io, cell);
            i.leftovers()
        });
        if let Some(leftovers) = leftovers {
            leftovers.finish();
        }
    }
}

/// Runs `f` on the state `node` holds, or forwards to the manager it was
/// merged into. Always inlined, with `f`: every switch borrows the state
/// once, and as a call of its own (which the compiler chose for the larger
/// closures of `run_due`) the borrow cost a switch 13 more instructions of
/// its 130; the forwarding, which recurses, is kept out of line.
///
/// A node borrowed mutably is a `Root` (the invariant of [`Node`]), so the
/// fast path tests the borrow flag and nothing else (measured: a switch
/// among 10 tasks 96.4 -> 93.4 instructions, a ping-pong round trip 1,550
/// -> 1,514).
#[inline(always)]
fn with_node<R>(node: &RefCell<Node>, f: impl FnOnce(&mut Inner) -> R) -> R {
    match node.try_borrow_mut() {
        Ok(mut node) => match &mut *node {
            Node::Root(state) => f(state),
            // SAFETY: a merged node is borrowed for ever (`merge`), so it
            // is never borrowed mutably.
            Node::Merged(_) => unsafe { std::hint::unreachable_unchecked() },
        },
        Err(_) => forward(node, f),
    }
}

/// [`with_node`] on a node that cannot be borrowed mutably: a merged one
/// forwards to the manager it was merged into; any other is borrowed
/// already, which the manager never does (see the invariants at the top of
/// this file): that is a bug, and panics as `borrow_mut` does.
#[cold]
#[inline(never)]
fn forward<R>(node: &RefCell<Node>, f: impl FnOnce(&mut Inner) -> R) -> R {
    match merged_into(node) {
        Some(into) => into.with(f),
        None => panic!("the task manager's state is borrowed already (a re-entrant call)"),
    }
}

/// The manager `node` was merged into, if it was.
fn merged_into(node: &RefCell<Node>) -> Option<TaskManager> {
    match &*node.try_borrow().ok()? {
        Node::Merged(into) => Some(into.clone()),
        Node::Root(_) => None,
    }
}

/// Logs a task's failure (debug level). The error's `Display` may be the
/// user's and may panic: caught, the record says so instead, and the error
/// still leaves `run` as it is.
#[inline(never)]
fn log_failure(error: &Error) {
    if log::Level::Debug > log::max_level() {
        return;
    }
    match crate::task::display_caught(error) {
        Ok(text) => debug!("task failed: {text}"),
        Err(panic) => debug!("task failed, and its error's Display panicked: {panic}"),
    }
}

/// Drops `value`; a panic in its `Drop` becomes `Error::Panic` instead of
/// leaving the manager by unwinding.
fn drop_caught<T>(value: T) -> Result<()> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(value)))
        .map_err(|panic| Error::Panic(crate::task::panic_message(panic)))
}

thread_local! {
    static DEFAULT: TaskManager = TaskManager::new();
}

/// The default manager of this thread (Python's module-level one; here one
/// per thread, since tasks are not `Send`).
///
/// At thread exit, the tasks still parked on it are dropped, their
/// destructors run one at a time; a destructor that calls `multitask::add`
/// then (the thread's manager is gone) panics, and that panic is caught and
/// reported through `log`: the thread ends normally, nothing aborts.
pub fn get_default_task_manager() -> TaskManager {
    DEFAULT.with(|m| m.clone())
}

/// Adds a task to this thread's default manager; see [`TaskManager::add`]
/// (the handle may be ignored, as every Python port does).
pub fn add<T: 'static>(task: Task<T>) -> TaskHandle<T> {
    get_default_task_manager().add(task)
}

/// Runs this thread's default manager; see [`TaskManager::run`].
pub fn run() -> Result<()> {
    get_default_task_manager().run()
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
