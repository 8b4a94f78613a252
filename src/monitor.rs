//! What each task is doing: `TaskManager::tasks()` and `dump()`, the port of
//! curio's monitor `ps`.
//!
//! # Why a snapshot gathered from the places tasks are in
//!
//! A task's state is where it is: in the run queue, parked with a
//! [`Waiting`] that says for what, on an fd's FIFO, or being resumed. Reading
//! those places when asked costs a switch nothing; the only per-switch work
//! is the resume count and, while a task runs, a pointer to it
//! (`State::running`), both in memory the switch touches anyway (measured in
//! BENCHMARKS.md). A snapshot is a `Vec` of plain values: it holds nothing
//! of the manager and can be printed, compared or kept.

use std::fmt;
use std::os::fd::RawFd;
use std::time::Instant;

use crate::fd::{Flags, READ, WRITE};
use crate::queue_state::Side;
use crate::reactor::Reactor;
use crate::sched::{State, Waiting};
use crate::task::TaskCell;

/// One task in a [`TaskManager::tasks`](crate::TaskManager::tasks) snapshot.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct TaskInfo {
    /// The task's id, as [`TaskHandle::id`](crate::TaskHandle::id) gives it.
    pub id: u64,
    /// Its name ([`Task::named`](crate::Task::named)), or `task-<id>`.
    pub name: String,
    /// What it is doing.
    pub state: TaskState,
    /// How many coroutines deep its stack is: 1, plus one per child it waits on.
    pub depth: usize,
    /// How many times it has been resumed.
    pub resumed: u64,
    /// True if it belongs to a [`TaskGroup`](crate::TaskGroup).
    pub in_group: bool,
}

/// What a task is doing, in a [`TaskInfo`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TaskState {
    /// Being resumed now (the task that asked for the snapshot).
    Running,
    /// In the run queue: it runs in the next pass.
    Runnable,
    /// Sleeping until then.
    Sleeping {
        /// When it wakes, on the manager's clock.
        until: Instant,
    },
    /// Waiting on a queue get.
    QueueGet,
    /// Waiting on a queue put (the queue is full).
    QueuePut,
    /// Waiting on an fd: `what` is `"readable"`, `"writable"`, `"fd_ready"`
    /// (several flags), or the action the manager performs once it is ready
    /// (`"recv"`, `"send"`, `"sendall"`, `"action"` for the other library
    /// actions, `"fd_action"` for a caller's).
    Fd {
        /// The fd.
        fd: RawFd,
        /// What for.
        what: &'static str,
    },
    /// Waiting for another thread: [`run_in_thread`](crate::run_in_thread),
    /// a [`UniversalQueue`](crate::UniversalQueue), a signal, a child process.
    Remote,
    /// Joining the task with this id.
    Joining(u64),
    /// Joining a group.
    JoiningGroup,
    /// Waiting for an event.
    Event,
    /// Waiting for a semaphore's permit.
    Acquire,
}

impl TaskState {
    /// The state as `dump` prints it, with times relative to `now`.
    fn describe(&self, now: Instant) -> String {
        match self {
            TaskState::Running => "running".into(),
            TaskState::Runnable => "runnable".into(),
            TaskState::Sleeping { until } => {
                let left = until.saturating_duration_since(now);
                format!("sleeping {:.3}s", left.as_secs_f64())
            }
            TaskState::QueueGet => "queue get".into(),
            TaskState::QueuePut => "queue put".into(),
            TaskState::Fd { fd, what } => format!("{what} fd {fd}"),
            TaskState::Remote => "waiting on a thread".into(),
            TaskState::Joining(id) => format!("joining task {id}"),
            TaskState::JoiningGroup => "joining group".into(),
            TaskState::Event => "event wait".into(),
            TaskState::Acquire => "semaphore acquire".into(),
        }
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Without a clock at hand, a sleeper's deadline is shown from now.
        f.write_str(&self.describe(Instant::now()))
    }
}

fn info(cell: &TaskCell, state: TaskState) -> TaskInfo {
    TaskInfo {
        id: cell.id,
        name: cell.display_name(),
        state,
        depth: cell.depth.get() as usize,
        resumed: cell.resumed.get(),
        in_group: cell.in_group(),
    }
}

/// What a parked task waits for.
fn parked_state(waiting: &Waiting) -> TaskState {
    match waiting {
        Waiting::Sleep(until) => TaskState::Sleeping { until: *until },
        Waiting::Queue { side: Side::Put, .. } => TaskState::QueuePut,
        Waiting::Queue { .. } => TaskState::QueueGet,
        Waiting::Join(target) => TaskState::Joining(target.upgrade().map_or(0, |t| t.id)),
        Waiting::Group(_) => TaskState::JoiningGroup,
        Waiting::Event(..) => TaskState::Event,
        Waiting::Acquire(..) => TaskState::Acquire,
    }
}

/// What an fd waiter waits for.
fn fd_state(fd: RawFd, flags: Flags, action: Option<&'static str>) -> TaskState {
    if fd == crate::reactor::REMOTE_FD {
        return TaskState::Remote;
    }
    let what = match (action, flags) {
        (Some(action), _) => action,
        (None, READ) => "readable",
        (None, WRITE) => "writable",
        (None, _) => "fd_ready",
    };
    TaskState::Fd { fd, what }
}

/// Every task of the manager, by id.
pub(crate) fn snapshot(s: &State, io: &Reactor) -> Vec<TaskInfo> {
    let mut all: Vec<TaskInfo> = Vec::new();
    all.extend(s.runq.iter().map(|t| info(t.cell(), TaskState::Runnable)));
    all.extend(
        s.parked
            .iter()
            .map(|(_, p)| info(p.stack.cell(), parked_state(&p.waiting))),
    );
    all.extend(io.waiters().map(|(t, wait)| {
        let state = wait.map_or(TaskState::Runnable, |(fd, flags, action)| fd_state(fd, flags, action));
        info(t.cell(), state)
    }));
    // SAFETY: `running` is `None` or a live task (the invariant at `State::running`).
    if let Some(running) = s.running.map(|p| unsafe { p.as_ref() }) {
        if !all.iter().any(|t| t.id == running.id) {
            all.push(info(running, TaskState::Running));
        }
    }
    all.sort_by_key(|t| t.id);
    all
}

/// The snapshot as a table, like curio's monitor `ps`.
pub(crate) fn table(tasks: &[TaskInfo], now: Instant) -> String {
    let mut out = format!(
        "{:>5}  {:<20} {:<28} {:>5} {:>9}\n",
        "id", "name", "state", "depth", "resumed"
    );
    for t in tasks {
        let name = if t.in_group {
            format!("{} (group)", t.name)
        } else {
            t.name.clone()
        };
        out += &format!(
            "{:>5}  {:<20} {:<28} {:>5} {:>9}\n",
            t.id,
            name,
            t.state.describe(now),
            t.depth,
            t.resumed
        );
    }
    out
}
