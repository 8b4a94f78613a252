//! `TaskGroup`: tasks that end together (curio's `TaskGroup`, trio's nursery).
//!
//! # The rules, and why they are enforced in the manager
//!
//! A group's members are ordinary tasks whose cell names the group
//! (`task.rs`'s `GroupCore`); when one ends, the manager tells the group
//! (`control.rs`): the first error becomes the group's, and cancels the other
//! members there and then, in the order they were added; the last member to
//! end wakes the task waiting in `join`. Dropping the group cancels the
//! members still running, so no task outlives the scope that owns the group:
//! a task holding a group that is itself cancelled takes its members with it.
//!
//! The `TaskGroup` is the owner and is not `Clone`; members that add tasks
//! to it use a [`GroupSpawner`], which holds the group weakly and so does not
//! keep it alive.

use std::collections::HashSet;
use std::rc::{Rc, Weak};

use crate::error::{Error, Result};
use crate::handle::{spawn, TaskHandle};
use crate::manager::TaskManager;
use crate::op::{Op, SyncOn, SyncWait};
use crate::sched::manager_of;
use crate::task::{GroupCore, Task, TaskCell};

/// A set of tasks that succeed or fail together.
///
/// - [`add`](TaskGroup::add) adds a task that belongs to the group (on the
///   group's manager); it runs as any task does.
/// - `wait!(group.join())` waits until every member has finished; if one
///   failed, the others were cancelled when it did, and its error is the
///   result.
/// - Dropping the group cancels the members still running.
///
/// A member's error goes to the group, never out of `run()`; a member
/// cancelled from outside (its handle) just ends, without failing the group.
///
/// | Python (curio) | Rust |
/// |---|---|
/// | `async with TaskGroup() as g:` | `let group = TaskGroup::new();` |
/// | `await g.spawn(coro)` | `group.add(task);` |
/// | leaving the block (waits for all) | `wait!(group.join())?;` |
/// | an exception in a member cancels the rest | the same |
///
/// ```
/// #![feature(coroutines)]
/// use std::{cell::RefCell, rc::Rc};
/// use multitask::{sleep, wait, Error, Task, TaskGroup, TaskManager};
///
/// let tm = TaskManager::new();
/// let log = Rc::new(RefCell::new(Vec::new()));
/// let l = log.clone();
/// let tm2 = tm.clone();
/// tm.add(Task::new(#[coroutine] static move |_| {
///     let group = TaskGroup::in_manager(&tm2);
///     let l2 = l.clone();
///     group.add(Task::new(#[coroutine] move |_| {
///         wait!(sleep(10))?;
///         l2.borrow_mut().push("never");
///         Ok(())
///     }));
///     group.add(Task::<()>::new(#[coroutine] |_| {
///         wait!();
///         Err(Error::msg("member failed"))
///     }));
///     let got = wait!(group.join());
///     l.borrow_mut().push("joined");
///     assert_eq!(got.unwrap_err().to_string(), "member failed");
///     Ok(())
/// }));
/// tm.run().unwrap(); // at once: the sleeper was cancelled
/// assert_eq!(*log.borrow(), ["joined"]);
/// ```
pub struct TaskGroup {
    core: Rc<GroupCore>,
    /// Its manager, as `sched::manager_of` finds it (merges included).
    home: u32,
}

impl TaskGroup {
    /// A group on this thread's default manager.
    pub fn new() -> TaskGroup {
        TaskGroup::in_manager(&crate::manager::get_default_task_manager())
    }

    /// A group whose tasks run on `manager`.
    pub fn in_manager(manager: &TaskManager) -> TaskGroup {
        TaskGroup {
            core: Rc::default(),
            home: manager.home(),
        }
    }

    /// Adds `task` to the group's manager, as a member; it runs in the next
    /// pass, as any added task.
    pub fn add<T: 'static>(&self, task: Task<T>) -> TaskHandle<T> {
        add_to(&self.core, self.home, task)
    }

    /// Yielded, resumes the task once every member has finished: with `()`,
    /// or the first member's error. An empty group is joined at once (one
    /// pass later). Takes a [`timeout`](Op::timeout) (the members keep
    /// running). A member joining its own group is an
    /// [`Error::InvalidArgument`].
    pub fn join(&self) -> Op<()> {
        SyncWait::op(SyncOn::GroupJoin(self.core.clone()))
    }

    /// How many members have not finished yet.
    pub fn len(&self) -> usize {
        self.core.members.borrow().len()
    }

    /// True if every member has finished (or none was added).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Cancels every member still running, in the order they were added,
    /// and those added meanwhile (by a cancelled member's destructor).
    pub fn cancel(&self) {
        let Some(manager) = manager_of(self.home) else { return };
        // By address (a member cancelled while it runs stays a member), each
        // held until the end, so that no address is a new member's meanwhile.
        let mut done: HashSet<*const TaskCell> = HashSet::new();
        let mut held = Vec::new();
        loop {
            let members = self.core.members.borrow().clone();
            let mut fresh = members
                .iter()
                .filter(|m| done.insert(&***m as *const TaskCell))
                .peekable();
            if fresh.peek().is_none() {
                return;
            }
            for member in fresh {
                manager.cancel(member);
            }
            held.push(members);
        }
    }

    /// A handle that adds tasks to this group from elsewhere (a member that
    /// accepts connections, say) without keeping the group alive.
    pub fn spawner(&self) -> GroupSpawner {
        GroupSpawner {
            core: Rc::downgrade(&self.core),
            home: self.home,
        }
    }
}

impl Default for TaskGroup {
    fn default() -> TaskGroup {
        TaskGroup::new()
    }
}

impl Drop for TaskGroup {
    /// Cancels the members still running; a spawner adds none after.
    fn drop(&mut self) {
        self.core.closed.set(true);
        self.cancel();
    }
}

impl std::fmt::Debug for TaskGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskGroup").field("running", &self.len()).finish()
    }
}

/// Adds tasks to a [`TaskGroup`] while the group lives
/// ([`TaskGroup::spawner`]).
#[derive(Clone)]
pub struct GroupSpawner {
    core: Weak<GroupCore>,
    home: u32,
}

impl GroupSpawner {
    /// Adds `task` to the group, as [`TaskGroup::add`] does; an
    /// [`Error::InvalidArgument`] once the group is dropped.
    pub fn add<T: 'static>(&self, task: Task<T>) -> Result<TaskHandle<T>> {
        match self.core.upgrade() {
            Some(core) if !core.closed.get() => Ok(add_to(&core, self.home, task)),
            _ => Err(Error::invalid("the task group was dropped")),
        }
    }
}

impl std::fmt::Debug for GroupSpawner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GroupSpawner")
    }
}

/// Adds `task` to `manager` as a member of `core`. With the manager gone,
/// the task is dropped at once: its handle says it was cancelled.
fn add_to<T: 'static>(core: &Rc<GroupCore>, home: u32, task: Task<T>) -> TaskHandle<T> {
    match manager_of(home) {
        Some(manager) => spawn(&*manager, task, Some(core)),
        None => TaskManager::new().add(task), // dropped with that manager, now
    }
}
