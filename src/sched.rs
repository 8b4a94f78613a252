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
use std::cell::RefCell;
use std::os::fd::RawFd;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use crate::op::Input;
use crate::park::{Key, Parking};
use crate::queue_state::{QueueCore, Side};
use crate::runq::RunQueue;
use crate::sync_state::{EventCore, SemaphoreCore};
use crate::task::{At, GroupCore, Stack, TaskCell, TaskRef, TaskWeak};
use crate::time::{Clock, TimerKey, Timers};

/// What to do when a timer fires.
pub(crate) enum Expiry {
    /// A sleeper: wake it with `()`.
    Sleep(Key),
    /// A parked wait (queue, join, event, semaphore): withdraw it as its
    /// [`Waiting`] says, wake it with `Timeout`.
    Timeout(Key),
    /// An fd wait (its fd and its number there): withdraw it, wake it with `Timeout`.
    Io(RawFd, u64),
    /// A `timeout_after` deadline: cut the task back below the child at
    /// this depth, resume its parent with `Timeout`.
    Deadline(TaskWeak, usize),
}

/// What a parked task waits for: enough to withdraw it from the list it is
/// on (a timeout, a cancel) and to say what it is doing (`tasks()`).
pub(crate) enum Waiting {
    /// Sleeping until then.
    Sleep(Instant),
    /// A queue get, put or `get_matching`, number `seq` in its list.
    Queue { core: QueueCore, seq: u64, side: Side },
    /// Joining a task.
    Join(TaskWeak),
    /// Joining a group.
    Group(Weak<GroupCore>),
    /// Waiting for an event, number `seq` in its list.
    Event(Rc<EventCore>, u64),
    /// Waiting for a semaphore's permit, number `seq` in its list.
    Acquire(Rc<SemaphoreCore>, u64),
}

impl Waiting {
    /// What the wait is, for the log.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Waiting::Sleep(_) => "sleep",
            Waiting::Queue { .. } => "queue wait",
            Waiting::Join(_) => "join",
            Waiting::Group(_) => "group join",
            Waiting::Event(..) => "event wait",
            Waiting::Acquire(..) => "semaphore acquire",
        }
    }

    /// Takes the waiter out of the list it is on. A put's item, and a
    /// queue whose last handle this was, go to the graveyard: their `Drop`
    /// is the user's.
    pub(crate) fn withdraw(self, graveyard: &mut Vec<Box<dyn Any>>) {
        match self {
            Waiting::Sleep(_) => {}
            Waiting::Queue { core, seq, side } => {
                {
                    let mut q = core.borrow_mut();
                    match side {
                        Side::Get => drop(q.getters.take(seq)),
                        Side::Put => {
                            if let Some((_, item)) = q.rare.get().and_then(|rare| rare.putters.take(seq)) {
                                graveyard.push(Box::new(item));
                            }
                        }
                        Side::Match => {
                            if let Some((_, matcher)) = q.rare.get().and_then(|rare| rare.matchers.take(seq)) {
                                graveyard.push(Box::new(matcher));
                            }
                        }
                    }
                }
                graveyard.push(Box::new(core));
            }
            Waiting::Join(target) => {
                if let Some(target) = target.upgrade() {
                    target.take_joiner();
                    graveyard.push(Box::new(target));
                }
            }
            Waiting::Group(group) => {
                if let Some(group) = group.upgrade() {
                    group.joiner.set(None);
                    graveyard.push(Box::new(group));
                }
            }
            Waiting::Event(core, seq) => {
                core.waiters.borrow_mut().take(seq);
            }
            Waiting::Acquire(core, seq) => {
                core.waiters.borrow_mut().take(seq);
            }
        }
    }
}

impl Waiting {
    /// Drops the record of a wait that its waker already took off its list.
    /// The waker holds the queue it served, so this is never a queue's last
    /// handle; if it were, it would go to the graveyard.
    /// Inlined into the operation path (see `manager.rs`, `run_due`).
    #[inline(always)]
    pub(crate) fn forget(self, graveyard: &mut Vec<Box<dyn Any>>) {
        if let Waiting::Queue { core, .. } = self {
            if Rc::strong_count(&core) == 1 {
                graveyard.push(Box::new(core));
            }
        }
    }
}

/// A parked task and what it waits for.
pub(crate) struct Parked {
    pub(crate) stack: Stack,
    pub(crate) waiting: Waiting,
}

/// The run queue, the timers and the parked tasks of one manager (or of a set
/// of merged ones).
pub(crate) struct State {
    pub(crate) clock: Clock,
    /// Runnable tasks, each holding what its `yield` evaluates to.
    pub(crate) runq: RunQueue<Stack>,
    /// How many tasks at the front of `runq` step 3 has still to run in this
    /// pass (DESIGN.md §2: those queued when it began). A cancel that takes
    /// one of them out of the queue counts it off (`control::locate`).
    pub(crate) due: usize,
    /// Sleepers, queue waiters, joiners, event and semaphore waiters.
    pub(crate) parked: Parking<Parked>,
    pub(crate) timers: Timers<Expiry>,
    /// Values whose `Drop` is the user's and may call the manager: dropped
    /// only once the state is no longer borrowed.
    pub(crate) graveyard: Vec<Box<dyn Any>>,
    /// Joiners parked in another manager, to wake once the borrow ends.
    pub(crate) elsewhere: Vec<(Key, Input)>,
    /// Tasks cancelled while they ran, or while they sat in a list between
    /// two borrows: ended at their next yield, or when the list is enqueued.
    pub(crate) flagged: Vec<TaskRef>,
    /// `timeout_after` deadlines that passed while their task ran (a nested
    /// `run` of its): the task and the depth of the child the deadline cuts
    /// off, set again when its resume returns. Rare; tasks over are dropped
    /// from it at the next push.
    pub(crate) overdue: Vec<(TaskWeak, usize)>,
    /// Finished tasks that failed while a handle was alive: if the handle
    /// is dropped unjoined, the error leaves `run_next` after all.
    pub(crate) unjoined: Vec<TaskRef>,
    /// Queues that now have items a waiting `get_matching` may take: its
    /// predicate is called once the borrow ends (`queue::pick`).
    pub(crate) to_match: Vec<QueueCore>,
    /// The task being resumed, for `tasks()`. Invariant: `None`, or a live
    /// task: the one being resumed, or the last one resumed if it then made
    /// a bare yield, within the same pass (it is in the run queue; the next
    /// pop or the end of the pass overwrites this, and a cancel that takes
    /// it out clears it: `control::locate`). Every other way out of a resume
    /// clears it in the borrow that follows, so a bare yield, the hot path,
    /// pays one store. `tasks()` reports it as running only if it is in no
    /// other place.
    pub(crate) running: Option<std::ptr::NonNull<TaskCell>>,
    /// The ids of segments a `clear` dropped: tasks, handles and groups made
    /// before it still name the manager by them (see [`register`]).
    pub(crate) aliases: Vec<u32>,
}

impl State {
    pub(crate) fn new(clock: Clock) -> State {
        State {
            clock,
            runq: RunQueue::new(),
            due: 0,
            parked: Parking::new(),
            timers: Timers::new(),
            graveyard: Vec::new(),
            elsewhere: Vec::new(),
            flagged: Vec::new(),
            overdue: Vec::new(),
            unjoined: Vec::new(),
            to_match: Vec::new(),
            running: None,
            aliases: Vec::new(),
        }
    }

    /// Appends a task to the run queue.
    #[inline(always)]
    pub(crate) fn enqueue(&mut self, mut stack: Stack, input: Input) {
        stack.set_input(input);
        self.runq.push_back(stack);
    }

    pub(crate) fn has_runnable(&self) -> bool {
        !self.runq.is_empty()
    }

    /// Parks a waiting task; its header notes where, for `cancel`.
    pub(crate) fn park(&mut self, stack: Stack, waiting: Waiting) -> Key {
        self.park_with(stack, |_| waiting)
    }

    /// Parks a task whose [`Waiting`] is made knowing its key (it lists the
    /// key somewhere first).
    pub(crate) fn park_with(&mut self, stack: Stack, waiting: impl FnOnce(Key) -> Waiting) -> Key {
        let key = self.parked.park_with(|key| {
            stack.cell().at.set(At::Parked(key));
            Parked {
                waiting: waiting(key),
                stack,
            }
        });
        key
    }

    /// Parks a task waiting with an optional timeout, which fires as
    /// [`Expiry::Timeout`].
    /// Inlined into the operation path (see `manager.rs`, `run_due`).
    #[inline(always)]
    pub(crate) fn park_timed(
        &mut self,
        stack: Stack,
        waiting: impl FnOnce(Key) -> Waiting,
        timeout: Option<Duration>,
    ) -> Key {
        let key = self.park_with(stack, waiting);
        if let Some(timeout) = timeout {
            self.time_parked(key, timeout, Expiry::Timeout(key));
        }
        key
    }

    /// Gives the parked task `key` a timeout that fires as `expiry`.
    pub(crate) fn time_parked(&mut self, key: Key, timeout: Duration, expiry: Expiry) {
        let timer = self.set_timer(timeout, expiry);
        if let Some(parked) = self.parked.get_mut(key) {
            parked.stack.set_timer(timer);
        }
    }

    /// Gives the parked task `key` a timer at `deadline` that fires as `expiry`.
    pub(crate) fn time_parked_until(&mut self, key: Key, deadline: Instant, expiry: Expiry) {
        let timer = self.timers.insert(deadline, expiry);
        if let Some(parked) = self.parked.get_mut(key) {
            parked.stack.set_timer(timer);
        }
    }

    /// Sets a timer `timeout` from now.
    pub(crate) fn set_timer(&mut self, timeout: Duration, expiry: Expiry) -> TimerKey {
        self.timers.insert(self.clock.deadline(timeout), expiry)
    }

    /// Enqueues a task whose wait is over, cancelling its timeout.
    /// Inlined into the operation path (see `manager.rs`, `run_due`).
    #[inline(always)]
    pub(crate) fn ready(&mut self, mut stack: Stack, input: Input) {
        stack.set_input(input);
        self.ready_as_is(stack);
    }

    /// [`ready`](Self::ready) for a task whose wait began at its last yield
    /// and has had no input set since (a due action's, `due.rs`): see
    /// [`Stack::set_first_input`].
    #[inline(always)]
    pub(crate) fn ready_first(&mut self, mut stack: Stack, input: Input) {
        stack.set_first_input(input);
        self.ready_as_is(stack);
    }

    /// Enqueues a task whose wait is over and whose input is set already,
    /// cancelling its timeout.
    #[inline(always)]
    pub(crate) fn ready_as_is(&mut self, mut stack: Stack) {
        if let Some(timer) = stack.take_timer() {
            self.timers.cancel(timer);
        }
        self.runq.push_back(stack);
    }

    /// Moves a parked task to the run queue with `input`, cancelling its
    /// timeout. Gives `input` back if no such task is parked here.
    #[inline]
    pub(crate) fn wake(&mut self, key: Key, input: Input) -> std::result::Result<(), Input> {
        match self.parked.unpark(key) {
            Some(parked) => {
                self.resume(parked, input);
                Ok(())
            }
            None => Err(input),
        }
    }

    /// Moves a task just unparked to the run queue with `input`, cancelling
    /// its timeout; its wait's record is dropped (its waker took it off its
    /// list already). Inlined into the operation path (see `manager.rs`, `run_due`).
    #[inline(always)]
    pub(crate) fn resume(&mut self, parked: Parked, input: Input) {
        let Parked { stack, waiting } = parked;
        waiting.forget(&mut self.graveyard);
        self.ready(stack, input);
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
        self.elsewhere.append(&mut other.elsewhere);
        self.flagged.append(&mut other.flagged);
        self.overdue.append(&mut other.overdue);
        self.unjoined.append(&mut other.unjoined);
        self.to_match.append(&mut other.to_match);
        self.aliases.append(&mut other.aliases);
    }

    /// The ids that name this manager: its segments', and its aliases.
    pub(crate) fn ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.parked.segment_ids().chain(self.aliases.iter().copied())
    }
}

/// A manager, as the layers below it see it: something that can wake one of
/// its parked tasks, or cancel one of its tasks. Implemented by the manager
/// (`manager.rs`); lets an `Event::set`, a semaphore permit's drop, a joined
/// task of another manager or a task's handle reach the manager without
/// knowing the `TaskManager` type. Called only outside the manager's borrow.
pub(crate) trait Manager {
    /// Moves the parked task `key` to the run queue with `input`; gives
    /// `input` back if no such task is parked there.
    fn wake(&self, key: Key, input: Input) -> std::result::Result<(), Input>;
    /// Cancels `cell`'s task (see `control.rs`).
    fn cancel(&self, cell: &TaskRef);
    /// Adds a new task to the back of the run queue.
    fn enqueue(&self, stack: Stack);
    /// The id of the manager's first parking segment: how its tasks, handles
    /// and groups name it (through [`manager_of`]), so that they still find it
    /// after it is merged into another (`register` moves the id over).
    fn home(&self) -> u32;
}

thread_local! {
    /// Each parking segment's manager, so a key can be woken from anywhere
    /// on the thread (see [`wake_anywhere`]).
    static MANAGERS: RefCell<std::collections::HashMap<u32, Weak<dyn Manager>>> = RefCell::default();
}

/// Records that the keys of `state`'s segments are `manager`'s to wake (and
/// its tasks' and groups' to reach): at a manager's start, after a `clear`,
/// and for the root after a `merge` (the merged segments move to it).
pub(crate) fn register(state: &State, manager: Weak<dyn Manager>) {
    let _ = MANAGERS.try_with(|m| {
        let mut m = m.borrow_mut();
        for id in state.ids() {
            m.insert(id, manager.clone());
        }
    });
}

/// Forgets the managers of `state`'s segments (it is being dropped).
pub(crate) fn unregister(state: &State) {
    let _ = MANAGERS.try_with(|m| {
        let mut m = m.borrow_mut();
        for id in state.ids() {
            m.remove(&id);
        }
    });
}

/// The manager that owns the parking segment `home` now, if it is alive.
pub(crate) fn manager_of(home: u32) -> Option<Rc<dyn Manager>> {
    MANAGERS
        .try_with(|m| m.borrow().get(&home).and_then(Weak::upgrade))
        .ok()
        .flatten()
}

/// Wakes the parked task `key` in whichever manager of this thread parked
/// it. Called outside every manager's borrow (by user-facing code: an event
/// set, a permit dropped, the end of a borrow that woke a joiner elsewhere).
pub(crate) fn wake_anywhere(key: Key, input: Input) -> std::result::Result<(), Input> {
    match manager_of(key.segment) {
        Some(manager) => manager.wake(key, input),
        None => Err(input),
    }
}
