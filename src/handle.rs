//! `TaskHandle`: what `add` gives back, to join, cancel or look at a task.
//!
//! # Why ignoring it changes nothing
//!
//! Every Python port writes `multitask.add(task)` and drops the result. The
//! handle is a second reference to the task's cell (`cell.rs`); when a task
//! ends, the manager counts who still holds the cell, and with no handle left
//! it does what it always did: drops the return value, or lets the error
//! leave `run()`. Only a live handle keeps the outcome, for `join` (see
//! `control.rs`). A handle names its manager by the task's home segment,
//! looked up in the thread's registry (`sched::manager_of`): it does not keep
//! the manager alive (a task may hold handles to others, or to itself), and
//! it still finds the manager after a `merge`.

use std::marker::PhantomData;
use std::rc::{Rc, Weak};

use crate::op::{Op, SyncOn, SyncWait};
use crate::sched::Manager;
use crate::task::{GroupCore, Stack, Status, Task, TaskRef};

/// A handle to a task added to a manager: [`join`](TaskHandle::join) it,
/// [`cancel`](TaskHandle::cancel) it, ask if it is finished.
///
/// Given back by [`TaskManager::add`](crate::TaskManager::add),
/// [`multitask::add`](crate::add) and [`TaskGroup::add`](crate::TaskGroup::add);
/// dropping it changes nothing (a task without a handle behaves as in the
/// original: its error leaves `run()`). Clones refer to the same task.
///
/// | Python | Rust |
/// |---|---|
/// | `g = task(); multitask.add(g)` | `let h = multitask::add(task());` |
/// | `g.close()` (raises `GeneratorExit` at its `yield`) | `h.cancel()` (drops it where it waits; its destructors run) |
/// | a global `completed` flag, `while not completed: run_next()` | `let v = wait!(h.join())?;` |
///
/// ```
/// #![feature(coroutines)]
/// use multitask::{sleep, wait, Error, Task, TaskManager};
///
/// let tm = TaskManager::new();
/// let worker = tm.add(Task::new(#[coroutine] |_| {
///     wait!(sleep(0.01))?;
///     Ok(6 * 7)
/// }));
/// let forever = tm.add(Task::<()>::new(#[coroutine] |_| {
///     loop {
///         wait!(sleep(3600))?;
///     }
/// }));
/// tm.add(Task::new(#[coroutine] move |_| {
///     assert_eq!(wait!(worker.join())?, 42);
///     forever.cancel(); // ended where it sleeps
///     assert!(matches!(wait!(forever.join()), Err(Error::Cancelled)));
///     Ok(())
/// }));
/// tm.run().unwrap(); // returns at once: the sleeper is gone
/// ```
pub struct TaskHandle<T = ()> {
    cell: TaskRef,
    returns: PhantomData<fn() -> T>,
}

/// Adds `task` to `manager` (as a member of `group`, if given) and gives its
/// handle: what `TaskManager::add` and `TaskGroup::add` do.
#[inline(always)]
pub(crate) fn spawn<T: 'static>(manager: &dyn Manager, task: Task<T>, group: Option<&Rc<GroupCore>>) -> TaskHandle<T> {
    let stack = Stack::new(task, group.map_or_else(Weak::new, Rc::downgrade), manager.home());
    let cell = stack.cell().clone();
    if let Some(group) = group {
        group.members.borrow_mut().push(cell.clone());
    }
    manager.enqueue(stack);
    TaskHandle {
        cell,
        returns: PhantomData,
    }
}

impl<T: 'static> TaskHandle<T> {
    /// The task's id: a small integer, unique on the thread (so in its manager).
    pub fn id(&self) -> u64 {
        self.cell.id
    }

    /// The task's name ([`Task::named`](crate::Task::named)), or `task-<id>`.
    pub fn name(&self) -> String {
        self.cell.display_name()
    }

    /// True once the task has returned, failed, or been cancelled.
    pub fn is_finished(&self) -> bool {
        !self.cell.is_pending()
    }

    /// True if the task was cancelled before it finished (also when its
    /// manager was dropped or cleared with it).
    pub fn is_cancelled(&self) -> bool {
        self.cell.status.get() == Status::Cancelled
    }

    /// Yielded, resumes the task with the joined task's `T`, or its error:
    /// [`Error::Cancelled`](crate::Error::Cancelled) if it was cancelled.
    /// Joined, a task's error goes to its joiner, not out of `run()`.
    ///
    /// A task that is over is joined at once (one pass later, as every
    /// wait). Its outcome is given once: a second join of a finished task
    /// is an [`Error::InvalidArgument`](crate::Error::InvalidArgument), as
    /// are a task joining itself and a second joiner while one waits. A
    /// member of a [`TaskGroup`](crate::TaskGroup) that failed gives an
    /// `Error::Message` with its error's text: the error itself is the
    /// group's. Takes a [`timeout`](Op::timeout) (the task keeps running).
    pub fn join(&self) -> Op<T> {
        SyncWait::op(SyncOn::Join(self.cell.clone()))
    }

    /// Ends the task wherever it is: runnable, sleeping, waiting on a queue,
    /// an fd, a join, an event or a semaphore, or in a child. Every wait of
    /// its stack is withdrawn and its timers cancelled; its coroutines are
    /// dropped, children first, before `cancel` returns, so their
    /// destructors have run (its sockets are closed). Its joiner gets
    /// [`Error::Cancelled`](crate::Error::Cancelled).
    ///
    /// Cancelling a finished task does nothing. A task that cancels itself
    /// (or the task it runs in as a child) ends at its next `yield`. A task
    /// whose wait was over but that had not resumed yet never sees what the
    /// wait gave it (an item, bytes): that is dropped with it. One exception
    /// to "before `cancel` returns": cancelled by an `fd_action` closure
    /// while its own `fd_action` was found ready in the same step 1, the
    /// task is ended once that step's closures have run (its own closure is
    /// not called, so no I/O is done for it).
    pub fn cancel(&self) {
        if let Some(manager) = crate::sched::manager_of(self.cell.home) {
            manager.cancel(&self.cell);
        }
    }
}

impl<T> Clone for TaskHandle<T> {
    fn clone(&self) -> TaskHandle<T> {
        TaskHandle {
            cell: self.cell.clone(),
            returns: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for TaskHandle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskHandle")
            .field("id", &self.cell.id)
            .field("name", &self.cell.display_name())
            .field("status", &self.cell.status.get())
            .finish()
    }
}
