//! The waits on other tasks and on synchronization objects: `join` of a task
//! or a group, an event's `wait`, a semaphore's `acquire`.
//!
//! # How they keep DESIGN.md §2's order
//!
//! Each is performed when the task yields it, as a queue operation is: a wait
//! that can complete at once (a finished task, a set event, a free permit)
//! sends the task to the back of the run queue with its result; otherwise it
//! parks (`sched.rs`), listed where its waker will find it (the task's header,
//! the group, the event's or semaphore's FIFO), with its timeout if any. The
//! waker moves it to the back of the run queue: it resumes in the next pass.

use std::rc::Rc;

use crate::error::Error;
use crate::op::{nothing, SyncOn, SyncWait};
use crate::sched::{State, Waiting};
use crate::semaphore::Permit;
use crate::task::{GroupCore, Stack, Status, TaskRef};
use crate::value::Value;

/// Performs a [`SyncWait`] for the task `stack` that just yielded it.
pub(crate) fn perform(wait: SyncWait, s: &mut State, stack: Stack) {
    let SyncWait { on, timeout } = wait;
    match on {
        SyncOn::Join(target) => join(target, s, stack, timeout),
        SyncOn::GroupJoin(group) => join_group(group, s, stack, timeout),
        SyncOn::Event(event) if event.set.get() => s.enqueue(stack, nothing()),
        SyncOn::Event(event) => {
            let waiters = &event.waiters;
            park_listed(s, stack, waiters, timeout, |seq| Waiting::Event(event.clone(), seq));
        }
        SyncOn::Acquire(sem) if sem.permits.get() > 0 => {
            sem.permits.set(sem.permits.get() - 1);
            s.enqueue(stack, Ok(Value::new(Permit::new(sem))));
        }
        SyncOn::Acquire(sem) => {
            let waiters = &sem.waiters;
            park_listed(s, stack, waiters, timeout, |seq| Waiting::Acquire(sem.clone(), seq));
        }
    }
}

/// Parks the task at the back of `waiters` (an event's or a semaphore's
/// FIFO), with its timeout if any; `waiting` records its place.
fn park_listed(
    s: &mut State,
    stack: Stack,
    waiters: &std::cell::RefCell<crate::queue_state::Waiters<crate::park::Key>>,
    timeout: Option<std::time::Duration>,
    waiting: impl FnOnce(u64) -> Waiting,
) {
    s.park_timed(stack, |key| waiting(waiters.borrow_mut().push(key)), timeout);
}

/// `join` of `target`: its outcome at once if it is over, else park until it is.
fn join(target: TaskRef, s: &mut State, stack: Stack, timeout: Option<std::time::Duration>) {
    if stack.is(&target) {
        return s.enqueue(stack, Err(Error::invalid("a task cannot join itself")));
    }
    match target.status.get() {
        Status::Finished => {
            let outcome = target
                .take_result()
                .unwrap_or_else(|| Err(Error::invalid("the task was joined already")));
            s.enqueue(stack, outcome);
        }
        Status::Cancelled => s.enqueue(stack, Err(Error::Cancelled)),
        Status::Pending => {
            if target.joiner().is_some_and(crate::park::is_live) {
                let error = Error::invalid("the task has a joiner already");
                return s.enqueue(stack, Err(error));
            }
            s.park_timed(
                stack,
                |key| {
                    target.cold().joiner.set(Some(key));
                    Waiting::Join(TaskRef::downgrade(&target))
                },
                timeout,
            );
        }
    }
}

/// `join` of a group: at once if no member is left, else park until none is.
fn join_group(group: Rc<GroupCore>, s: &mut State, stack: Stack, timeout: Option<std::time::Duration>) {
    if stack.cell().group().is_some_and(|own| Rc::ptr_eq(&own, &group)) {
        return s.enqueue(stack, Err(Error::invalid("a task cannot join its own group")));
    }
    if group.members.borrow().is_empty() {
        let outcome = group.error.take().map_or_else(nothing, Err);
        return s.enqueue(stack, outcome);
    }
    if group.joiner.get().is_some_and(crate::park::is_live) {
        return s.enqueue(stack, Err(Error::invalid("the group has a joiner already")));
    }
    s.park_timed(
        stack,
        |key| {
            group.joiner.set(Some(key));
            Waiting::Group(Rc::downgrade(&group))
        },
        timeout,
    );
}
