//! Ending a task: delivering its outcome (to its joiner, its handle, its
//! group, or out of `run`), cancelling it wherever it waits, and a
//! `timeout_after` deadline cutting it back to the parent that set it.
//!
//! # Why it works on the state, not on the manager
//!
//! Each of these happens inside one borrow of the manager's state (`sched.rs`
//! and `reactor/`), and none may run user code there: what they take out of
//! the manager (the cancelled task's coroutines, a dropped return value, the
//! frames a deadline cuts off) goes to the graveyard, dropped once the borrow
//! ends, and a joiner parked in another manager is woken then too
//! (`State::elsewhere`). `manager.rs` calls them and hands the leftovers on.
//!
//! # Finding a task
//!
//! A task is in exactly one place (see `manager.rs`). Its header's [`At`]
//! names where it last parked, written only when it parks, so a switch pays
//! nothing; a task woken since is not there any more, and is looked for in
//! the run queue and in the reactor's list of waits already over (O(n), for
//! a cancel or a deadline only). A task found nowhere is running, or sits in
//! a list between two borrows: it is flagged, and ended at its next yield.
//!
//! # Who gets the outcome
//!
//! - its joiner, if one waits (`Cancelled` if it was cancelled);
//! - else, if a handle is alive, the handle keeps it for a later `join`; an
//!   error kept so leaves `run_next` after all if the handle is dropped
//!   unjoined (`State::unjoined`), so that no error is lost;
//! - else (no handle: every Python port) a value is dropped and an error
//!   leaves `run`, as before handles existed.
//!
//! A group member's error goes to its group instead: the first one is the
//! group's `join` result, and cancels the other members, in the order they
//! were added.

use std::rc::Rc;

use crate::error::Error;
use crate::op::{nothing, Input};
use crate::park::Key;
use crate::reactor::Reactor;
use crate::sched::{wake_anywhere, Expiry, Parked, State};
use crate::task::{At, GroupCore, Stack, Status, TaskCell, TaskRef};

/// Takes `cell`'s task out of wherever it is, withdrawn from what it waited
/// on, its wait's timer cancelled; `None` if it is running or between borrows.
/// With `cancel`, a remote wait whose result has come (not yet taken in) is
/// withdrawn too, the result dropped; else (a deadline) the task is left to
/// have it.
pub(crate) fn locate(s: &mut State, io: &mut Reactor, cell: &TaskCell, cancel: bool) -> Option<Stack> {
    let found = match cell.at.get() {
        At::Parked(key) if s.parked.get_mut(key).is_some_and(|p| p.stack.is(cell)) => {
            s.parked.unpark(key).map(|Parked { stack, waiting }| {
                waiting.withdraw(&mut s.graveyard);
                stack
            })
        }
        // Sequence numbers are unique on the thread: the waiter is this task.
        At::Io(fd, seq) if cancel => io.withdraw_cancelled(fd, seq, &mut s.graveyard),
        At::Io(fd, seq) => io.withdraw(fd, seq, &mut s.graveyard),
        _ => None,
    };
    let mut stack = found
        .or_else(|| {
            let i = s.runq.iter().position(|t| t.is(cell))?;
            if i < s.due {
                s.due -= 1; // it was to run in this pass: the others still are
            }
            s.runq.remove(i)
        })
        .or_else(|| io.take_over(cell, &mut s.graveyard))?;
    debug_assert!(stack.is(cell));
    if s.running.is_some_and(|p| std::ptr::addr_eq(p.as_ptr(), cell)) {
        s.running = None; // it may be dropped now (`State::running`)
    }
    if let Some(timer) = stack.take_timer() {
        s.timers.cancel(timer);
    }
    Some(stack)
}

/// Cancels `cell`'s task: taken out wherever it waits and ended with
/// `Cancelled` (its coroutines go to the graveyard); a running one is
/// flagged, and ended at its next yield. Nothing for a task already over.
pub(crate) fn cancel(s: &mut State, io: &mut Reactor, cell: &TaskRef) {
    if !cell.is_pending() {
        return;
    }
    match locate(s, io, cell, true) {
        Some(stack) => {
            end(s, io, stack, Err(Error::Cancelled), true, None);
        }
        None => {
            if cell.request_cancel() {
                // Cells of tasks over since they were flagged (dropped by a
                // clear while they sat here) are let go of, outside the borrow.
                let over: Vec<TaskRef> = s.flagged.extract_if(.., |c| !c.is_pending()).collect();
                if !over.is_empty() {
                    s.graveyard.push(Box::new(over));
                }
                s.flagged.push(cell.clone());
            }
        }
    }
}

/// Ends the flagged tasks found in the run queue or parked again (a list
/// between two borrows was enqueued since they were flagged).
pub(crate) fn cancel_flagged(s: &mut State, io: &mut Reactor) {
    for cell in std::mem::take(&mut s.flagged) {
        cell.withdraw_cancel();
        cancel(s, io, &cell);
    }
}

/// The task `stack` leaves its manager with `outcome` (it finished, or was
/// `cancelled`): its timers are cancelled, its outcome delivered, its stack
/// put in the graveyard. Gives back an error that must leave `run_next`.
///
/// `copy` is what the task's own handle gets if it is a group member that
/// failed ([`member_copy`]): made before the borrow, since an error's
/// `Display` may be the user's.
pub(crate) fn end(
    s: &mut State,
    io: &mut Reactor,
    mut stack: Stack,
    outcome: Input,
    cancelled: bool,
    copy: Option<Error>,
) -> Option<Error> {
    for timer in stack.take_timers() {
        s.timers.cancel(timer);
    }
    let cell = stack.cell().clone();
    cell.status
        .set(if cancelled { Status::Cancelled } else { Status::Finished });
    if cell.withdraw_cancel() {
        s.flagged.retain(|c| !TaskRef::ptr_eq(c, &cell));
    }
    s.graveyard.push(Box::new(stack));
    match cell.group() {
        Some(group) => {
            member_done(s, io, &group, &cell, outcome, cancelled, copy);
            None
        }
        None => {
            let handles = handles(&cell);
            deliver(s, &cell, outcome, cancelled, handles)
        }
    }
}

/// How many handles (or pending joins) still hold the task of `cell`, once
/// its stack is in the graveyard and it is off its group's list: the stack's
/// reference and the caller's `cell` aside.
fn handles(cell: &TaskRef) -> usize {
    TaskRef::strong_count(cell).saturating_sub(2)
}

/// Gives a task's outcome to its joiner or its handle; gives back an error
/// no one holds the task to receive.
fn deliver(s: &mut State, cell: &TaskRef, outcome: Input, cancelled: bool, handles: usize) -> Option<Error> {
    let outcome = if cancelled {
        s.graveyard.push(Box::new(outcome));
        Err(Error::Cancelled)
    } else {
        outcome
    };
    if let Some(key) = cell.take_joiner() {
        wake(s, key, outcome);
        return None;
    }
    match outcome {
        // A handle sees the status; nothing else to tell.
        Err(Error::Cancelled) if cancelled => None,
        outcome if handles > 0 => {
            if outcome.is_err() {
                s.unjoined.push(cell.clone());
            }
            cell.cold().result.set(Some(outcome));
            None
        }
        Ok(value) => {
            s.graveyard.push(Box::new(value));
            None
        }
        Err(error) => Some(error),
    }
}

/// A member of `group` is over: its error becomes the group's (the first
/// cancels the others); the last one wakes the group's joiner.
fn member_done(
    s: &mut State,
    io: &mut Reactor,
    group: &Rc<GroupCore>,
    cell: &TaskRef,
    outcome: Input,
    cancelled: bool,
    copy: Option<Error>,
) {
    group.members.borrow_mut().retain(|m| !TaskRef::ptr_eq(m, cell));
    let handles = handles(cell);
    match outcome {
        Err(error) if !cancelled => {
            // The member's own handle gets the same text; the error itself is
            // the group's (so it is never the handle's to leave `run` with).
            // A later member's error is dropped, outside the borrow.
            let copy = copy.unwrap_or_else(|| Error::msg(format!("a member of the group failed ({})", error.name())));
            let first = group.error.take();
            let is_first = first.is_none();
            match first {
                Some(first) => {
                    group.error.set(Some(first));
                    s.graveyard.push(Box::new(error));
                }
                None => group.error.set(Some(error)),
            }
            match cell.take_joiner() {
                Some(key) => wake(s, key, Err(copy)),
                None if handles > 0 => cell.cold().result.set(Some(Err(copy))),
                None => {}
            }
            if is_first {
                let rest: Vec<TaskRef> = group.members.borrow().clone();
                for member in &rest {
                    cancel(s, io, member);
                }
            }
        }
        outcome => {
            deliver(s, cell, outcome, cancelled, handles);
        }
    }
    if let Some((key, outcome)) = group_done(group) {
        wake(s, key, outcome);
    }
}

/// What the own handle of a group member that failed with `outcome` gets:
/// its error's text, as an [`Error::Message`] (`None` for a task in no
/// group, or one that did not fail). Called outside the manager's borrow
/// (`Display` may be the user's); a `Display` that panics gives the panic
/// as an [`Error::Panic`] instead. Out of line: it is off the hot path.
#[inline(never)]
pub(crate) fn member_copy(stack: &Stack, outcome: &Input) -> Option<Error> {
    let Err(error) = outcome else { return None };
    if !stack.cell().in_group() {
        return None;
    }
    Some(match crate::task::display_caught(error) {
        Ok(text) => Error::msg(text),
        Err(panic) => Error::Panic(panic),
    })
}

/// The group's joiner and what it gets, once no member is left.
fn group_done(group: &GroupCore) -> Option<(Key, Input)> {
    if !group.members.borrow().is_empty() {
        return None;
    }
    let key = group.joiner.take()?;
    Some((key, group.error.take().map_or_else(nothing, Err)))
}

/// Wakes the parked task `key` here, or, if it is another manager's, once
/// the borrow ends.
fn wake(s: &mut State, key: Key, input: Input) {
    if let Err(input) = s.wake(key, input) {
        s.elsewhere.push((key, input));
    }
}

/// A `timeout_after` deadline fired: the task is cut back to the parent of
/// the child at `depth` (that child and its own children dropped, their
/// deadlines cancelled), and the parent resumes with `Timeout`.
pub(crate) fn expire(s: &mut State, io: &mut Reactor, cell: &TaskRef, depth: usize) {
    if !cell.is_pending() || (cell.depth.get() as usize) < depth {
        return; // over, or the child returned in the meantime
    }
    // A task whose wait is already over with a value (an item handed over,
    // bytes received) is not cut off before it has seen it: that would lose
    // the value. The deadline is checked again at the next step 2, by which
    // time the task has used the value and waits again (or is done).
    if let Some(stack) = s.runq.iter_mut().find(|t| t.is(cell)) {
        if stack.holds_value() {
            // Due now, so at the next step 2 whatever the clock does (a
            // manual one may not move): set during this step 2's loop, it is
            // not fired by it (`Timers::pop_expired_before`).
            let again = s.clock.now();
            let timer = s
                .timers
                .insert(again, Expiry::Deadline(TaskRef::downgrade(cell), depth));
            stack.replace_deadline(depth, timer);
            return;
        }
    }
    let Some(mut stack) = locate(s, io, cell, false) else {
        // Found nowhere: it is running, and this is a nested `run` or
        // `run_next` of its own. The cut is made once its resume returns:
        // the deadline is set again then (`TaskManager::attend`).
        s.overdue
            .retain(|(weak, _)| weak.upgrade().is_some_and(|c| c.is_pending()));
        s.overdue.push((TaskRef::downgrade(cell), depth));
        cell.mark_overdue();
        return;
    };
    for timer in stack.truncate(depth - 1, &mut s.graveyard) {
        s.timers.cancel(timer);
    }
    let dropped = stack.swap_input(Err(Error::Timeout));
    s.graveyard.push(Box::new(dropped));
    s.runq.push_back(stack);
}

/// An error kept for a handle that was dropped unjoined, if any: it leaves
/// `run_next` as a handle-less task's would have. (Dropping the cell here
/// runs no user code: its coroutines went with its stack.)
pub(crate) fn unjoined_error(s: &mut State) -> Option<Error> {
    loop {
        let i = s
            .unjoined
            .iter()
            .position(|cell| TaskRef::strong_count(cell) == 1 || cell.result_is_taken())?;
        let cell = s.unjoined.swap_remove(i);
        if TaskRef::strong_count(&cell) == 1 {
            if let Some(Err(error)) = cell.take_result() {
                return Some(error);
            }
        }
    }
}

/// A task dropped with its manager (dropped or cleared) is cancelled: its
/// joiner, parked perhaps in another manager, gets `Cancelled`, and its group
/// counts it off (waking the group's joiner if it was the last). Called once
/// the manager's tasks are dropped, outside every borrow.
pub(crate) fn dropped_with_manager(cell: &TaskRef) {
    if let Some(key) = cell.take_joiner() {
        let _ = wake_anywhere(key, Err(Error::Cancelled));
    }
    if let Some(group) = cell.group() {
        group.members.borrow_mut().retain(|m| !TaskRef::ptr_eq(m, cell));
        if let Some((key, outcome)) = group_done(&group) {
            let _ = wake_anywhere(key, outcome);
        }
    }
}
