//! A task: a coroutine that yields [`Operation`]s and returns a `Result`.
//!
//! # Why one erased type
//!
//! Python's manager holds generators of any kind; the Rust manager holds one
//! type, a task's cell with its coroutine erased to a `dyn Body` (`op.rs`,
//! `cell.rs`). A [`Task<T>`] keeps the type its coroutine returns as a marker
//! only, so a parent that yields it gets a `T` back (the [`wait!`](crate::wait)
//! macro does the downcast), while the manager sees every task, parent or
//! child, alike. The erasure happens once, in [`Task::new`], which makes the
//! task's one allocation; after that a switch is one virtual call to
//! `resume`, and values travel as a [`Value`], which for `()` and other
//! zero-sized values allocates nothing.
//!
//! # The trampoline stack
//!
//! A runnable or waiting task is a [`Stack`]: the coroutine being resumed on top,
//! the parents it was yielded by below. Only the top is ever resumed. A child
//! yielded by the top is pushed; a top that returns or fails is popped and its
//! result becomes the input of the parent below. The nesting lives in a `Vec`,
//! not on the thread's stack, so 100,000 nested children cost 100,000 cells and
//! no recursion.

use std::any::Any;
use std::cell::Cell;
use std::marker::PhantomData;
use std::ops::{Coroutine, CoroutineState};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Weak;

use crate::cell::{self, Frames};
pub(crate) use crate::cell::{At, Status};
use crate::error::{Error, Result};
use crate::op::{nothing, Body, Child, Input, IntoOp, Op, Operation, Step};
use crate::time::TimerKey;
use crate::value::Value;

/// A task: a coroutine that yields [`Operation`]s and finally returns `Result<T>`.
///
/// Make one from a `#[coroutine]` closure whose argument is the first
/// [`Input`] (ignore it with `_`). Add it to a manager with
/// [`TaskManager::add`](crate::TaskManager::add), or yield it from another task
/// to run it as a child: the parent gets the child's `T`, or its error.
///
/// ```
/// #![feature(coroutines)]
/// use multitask::{wait, Task, TaskManager};
///
/// fn double(x: i32) -> Task<i32> {
///     Task::new(#[coroutine] move |_| {
///         wait!(); // a bare yield: let the other tasks run
///         Ok(2 * x)
///     })
/// }
///
/// let tm = TaskManager::new();
/// tm.add(Task::new(#[coroutine] |_| {
///     let four: i32 = wait!(double(2))?;
///     assert_eq!(four, 4);
///     Ok(())
/// }));
/// tm.run().unwrap();
/// ```
///
/// A coroutine may not hold a borrow across a `yield` unless it is `static`:
///
/// ```
/// #![feature(coroutines)]
/// use multitask::{wait, Queue, Task};
///
/// let q = Queue::with_contents([1, 2], 0);
/// multitask::add(Task::new(#[coroutine] static move |_| {
///     let mut v = Vec::new();
///     v.push(wait!(q.get())?); // borrows `v` across the yield: needs `static`
///     v.push(wait!(q.get())?);
///     assert_eq!(v, [1, 2]);
///     Ok(())
/// }));
/// multitask::run().unwrap();
/// ```
#[must_use = "a task does nothing until it is added to a manager or yielded"]
pub struct Task<T = ()> {
    /// The task's cell, its coroutine inside: the one allocation a task costs.
    /// Unique until the task is added or yielded.
    pub(crate) cell: TaskRef,
    returns: PhantomData<fn() -> T>,
}

impl<T: 'static> Task<T> {
    /// Wraps a coroutine as a task.
    pub fn new<C>(coroutine: C) -> Task<T>
    where
        C: Coroutine<Input, Yield = Operation, Return = Result<T>> + 'static,
    {
        Task {
            cell: TaskRef::new(Erase(coroutine), |body| body as *mut dyn Body),
            returns: PhantomData,
        }
    }

    /// Names the task, for [`TaskManager::tasks`](crate::TaskManager::tasks)
    /// and [`dump`](crate::TaskManager::dump) (a task without a name shows as
    /// `task-<id>`). The name is the task's as added; a child yielded with a
    /// name runs in its parent's entry.
    ///
    /// ```
    /// #![feature(coroutines)]
    /// use multitask::{wait, Task, TaskManager};
    ///
    /// let tm = TaskManager::new();
    /// let handle = tm.add(Task::new(#[coroutine] |_| { wait!(); Ok(()) }).named("worker"));
    /// assert_eq!(handle.name(), "worker");
    /// assert_eq!(tm.tasks()[0].name, "worker");
    /// tm.run().unwrap();
    /// ```
    pub fn named(mut self, name: impl Into<String>) -> Task<T> {
        fresh(&mut self.cell).cold_mut().name = Some(name.into().into_boxed_str());
        self
    }

    /// A task that returns `value` as soon as it runs, without yielding: the
    /// port of a generator that returns before its first `yield`
    /// (`raise StopIteration(value)` on its first line), for a function that
    /// must give a task but has nothing to wait for.
    ///
    /// Yielded as a child, it costs what any child costs: it runs in the next
    /// pass, and its value reaches the parent in the pass after. To get a value
    /// back after a single pass, yield the value itself instead
    /// ([`value`](crate::value())).
    ///
    /// ```
    /// #![feature(coroutines)]
    /// use multitask::{wait, Task, TaskManager};
    ///
    /// // def lookup(cache, key):
    /// //     if key in cache:
    /// //         raise StopIteration(cache[key])
    /// //     ...
    /// fn lookup(cached: Option<u32>) -> Task<u32> {
    ///     match cached {
    ///         Some(v) => Task::ready(v),
    ///         None => Task::new(#[coroutine] |_| {
    ///             wait!(); // fetch it, slowly
    ///             Ok(42)
    ///         }),
    ///     }
    /// }
    ///
    /// let tm = TaskManager::new();
    /// tm.add(Task::new(#[coroutine] |_| {
    ///     assert_eq!(wait!(lookup(Some(7)))?, 7);
    ///     assert_eq!(wait!(lookup(None))?, 42);
    ///     Ok(())
    /// }));
    /// tm.run().unwrap();
    /// ```
    pub fn ready(value: T) -> Task<T> {
        Task::new(Ready(Some(value)))
    }
}

/// The coroutine of [`Task::ready`]: completes at its first resume.
struct Ready<T>(Option<T>);

// Nothing is pinned structurally: the value is moved out, never borrowed in place.
impl<T> Unpin for Ready<T> {}

impl<T> Coroutine<Input> for Ready<T> {
    type Yield = Operation;
    type Return = Result<T>;

    fn resume(self: Pin<&mut Self>, _: Input) -> CoroutineState<Operation, Result<T>> {
        let value = self.get_mut().0.take();
        // The manager never resumes a coroutine that completed.
        CoroutineState::Complete(value.ok_or_else(|| Error::invalid("Task::ready resumed after it returned")))
    }
}

impl<T: 'static> From<Task<T>> for Operation {
    fn from(task: Task<T>) -> Operation {
        Operation::Child(Child(task.cell))
    }
}

impl<T: 'static> IntoOp for Task<T> {
    type Output = T;
    fn into_op(self) -> Op<T> {
        Op::new(self.into())
    }
}

impl<T> std::fmt::Debug for Task<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Task")
    }
}

/// The cell of every task and child, as the manager holds it (see `cell.rs`).
pub(crate) type TaskCell = cell::Header<dyn Body>;

/// A counted reference to a task's cell (see `cell.rs`).
pub(crate) type TaskRef = cell::TaskRef<dyn Body>;

/// A reference to a task's cell that does not keep it alive.
pub(crate) type TaskWeak = cell::TaskWeak<dyn Body>;

/// The shared state of a group, as the manager holds it (see `cell.rs`).
pub(crate) type GroupCore = cell::GroupCore<dyn Body>;

/// Adapts a coroutine returning `Result<T>` to the erased [`Body`].
struct Erase<C>(C);

impl<C, T> Body for Erase<C>
where
    C: Coroutine<Input, Yield = Operation, Return = Result<T>>,
    T: 'static,
{
    #[inline]
    fn resume(self: Pin<&mut Self>, input: &mut Input, out: &mut Option<Step>) {
        // SAFETY: structural pinning: `Erase` never moves its only field.
        let inner = unsafe { self.map_unchecked_mut(|e| &mut e.0) };
        match inner.resume(std::mem::replace(input, nothing())) {
            // Holds nothing: nothing to write, and forgetting it spares a
            // call of `Operation`'s drop glue.
            CoroutineState::Yielded(op @ Operation::Yield) => std::mem::forget(op),
            CoroutineState::Yielded(op) => *out = Some(Step::Yielded(op)),
            CoroutineState::Complete(done) => *out = Some(Step::Done(done.map(Value::new))),
        }
    }
}

/// The cell of a task not yet added or yielded, to fill in its header.
fn fresh(cell: &mut TaskRef) -> &mut TaskCell {
    // A `Task` is not `Clone`, and nothing else holds its cell until it is
    // added (`Stack::new`) or yielded (`Stack::push`), both of which take
    // the `Task`: this cannot fail.
    TaskRef::get_mut(cell).expect("a task's cell is its own until it is added")
}

thread_local! {
    static NEXT_ID: Cell<u64> = const { Cell::new(1) };
}

/// A task with the parents waiting on it: the trampoline's unit of work.
///
/// One pointer: the run queue and the parking lot move tasks around by the
/// pointer, and the frames live in the task's one cell (`cell.rs`) with what
/// the task needs while it is not running (its next input, its pending
/// timeout), its header and its coroutine. A switch then moves eight bytes.
///
/// Dropping a stack drops its coroutines, innermost first, even if a handle
/// keeps the cell alive: a task that leaves its manager lets go of what it
/// holds (its sockets close) there and then.
pub(crate) struct Stack(TaskRef);

impl Stack {
    /// The stack of `task`, added to the manager whose home segment is
    /// `home`, in `group`: the task gets its id here.
    #[inline]
    pub(crate) fn new<T>(task: Task<T>, group: Weak<GroupCore>, home: u32) -> Stack {
        let mut cell = task.cell;
        let fresh = fresh(&mut cell);
        fresh.id = NEXT_ID.with(|n| {
            let id = n.get();
            n.set(id + 1);
            id
        });
        if group.strong_count() > 0 {
            fresh.cold_mut().group = group;
        }
        fresh.home = home;
        Stack(cell)
    }

    fn frames(&mut self) -> &mut Frames<dyn Body> {
        // SAFETY: the invariant of `cell.rs`: this `Stack` is the only way
        // to the frames, and it is borrowed mutably here.
        unsafe { self.0.frames() }
    }

    /// The shared cell: the header, for the manager and the handles.
    #[inline]
    pub(crate) fn cell(&self) -> &TaskRef {
        &self.0
    }

    /// True if this is the task of `cell`.
    #[inline]
    pub(crate) fn is(&self, cell: &TaskCell) -> bool {
        std::ptr::eq(&*self.0, cell)
    }

    /// Sets what the top is resumed with next. What it replaces is `()` as
    /// a rule (`resume` leaves it), dropped without a call to the drop glue.
    #[inline]
    pub(crate) fn set_input(&mut self, input: Input) {
        Value::__discard(std::mem::replace(&mut *self.frames().input, input));
    }

    /// [`set_input`](Self::set_input) for a task that has yielded and has
    /// had no input set since: its input is the `()` that `resume` left
    /// (`Erase::resume`), so it is written over without being read (an echo
    /// request's two due actions saved 15 instructions). Were it anything
    /// else, it would be leaked, never read as freed.
    #[inline(always)]
    pub(crate) fn set_first_input(&mut self, input: Input) {
        let slot: *mut Input = &mut *self.frames().input;
        debug_assert!(
            matches!(unsafe { &*slot }, Ok(v) if v.is::<()>()),
            "a yielded task's input is ()"
        );
        // SAFETY: `slot` is the frames' input, valid and initialized; the
        // value written over owns nothing (`()`), so nothing is lost.
        unsafe { slot.write(input) };
    }

    /// Sets what the top is resumed with next; gives back what it was to be
    /// resumed with (a user value, for the graveyard).
    #[inline]
    pub(crate) fn swap_input(&mut self, input: Input) -> Input {
        std::mem::replace(&mut *self.frames().input, input)
    }

    /// Resumes the top with its input; `out` (`None` on entry) gets what
    /// it yielded or returned, and stays `None` after a bare `yield` (see
    /// [`Body`]). A panic is caught here and becomes `Error::Panic`: the
    /// manager's state is never touched while a task runs, so it cannot be
    /// left half-changed.
    #[inline]
    pub(crate) fn resume(&mut self, out: &mut Option<Step>) {
        let cell: &TaskRef = &self.0;
        cell.resumed.set(cell.resumed.get() + 1);
        // SAFETY: this stack owns the cell's frames and bodies, its own and
        // its children's, and each body is live while it is on the stack
        // (see `cell.rs`); the frames and the top's body are distinct.
        let (input, top) = unsafe {
            let frames = cell.frames();
            let top = frames.children.as_deref().and_then(|c| c.last()).unwrap_or(cell);
            (&mut *frames.input, top.body())
        };
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| top.resume(input, &mut *out))) {
            *out = Some(Step::Done(Err(Error::Panic(panic_message(panic)))));
        }
    }

    /// Makes `child` the new top; the old top waits below it.
    #[inline]
    pub(crate) fn push(&mut self, child: Child) {
        self.frames().children.get_or_insert_default().push(child.0);
        self.0.depth.set(self.0.depth.get() + 1);
    }

    /// Drops the finished top and makes its parent the top again. `false`
    /// when the top was the task itself, not a child: the whole task is done.
    /// The deadline guarding the finished child, if any, is given back to
    /// be cancelled; and the panic of the child's drop, if it panicked.
    #[inline]
    pub(crate) fn pop(&mut self) -> (bool, Option<TimerKey>, Option<Error>) {
        let depth = self.depth();
        let frames = self.frames();
        let Some(child) = frames.children.as_mut().and_then(|children| children.pop()) else {
            return (false, None, None);
        };
        // The finished child's cell, with its body: dropped here, as a
        // finished top always was (a `#[coroutine]`'s locals are gone
        // already, but a hand-written coroutine may keep fields whose drop
        // panics: that is the child's error, for its parent).
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(child)))
            .err()
            .map(|panic| Error::Panic(panic_message(panic)));
        let deadline = match frames.deadlines.as_mut() {
            Some(deadlines) if deadlines.last().is_some_and(|d| d.0 == depth) => deadlines.pop().map(|d| d.1),
            _ => None,
        };
        self.0.depth.set(depth as u32 - 1);
        (true, deadline, panicked)
    }

    /// How many coroutines deep the stack is (1 for a task with no child).
    #[inline]
    pub(crate) fn depth(&self) -> usize {
        self.0.depth.get() as usize
    }

    /// Records the timeout of the wait the task is parked on.
    #[inline]
    pub(crate) fn set_timer(&mut self, timer: TimerKey) {
        self.frames().timer = Some(timer);
    }

    /// Takes the timeout to cancel, if the task waited with one.
    #[inline]
    pub(crate) fn take_timer(&mut self) -> Option<TimerKey> {
        self.frames().timer.take()
    }

    /// True if the task is to be resumed with a value or an error: what a
    /// wait that is over handed it (a queue's `()` item included, see
    /// `Value::item`), not the `()` of a bare yield or of a wake that gives
    /// nothing.
    pub(crate) fn holds_value(&mut self) -> bool {
        match &*self.frames().input {
            Ok(value) => !value.is_nothing(),
            // An error is what the wait gave, too (a joined task's failure
            // among them): not to be replaced by the deadline's `Timeout`.
            Err(_) => true,
        }
    }

    /// Puts `timer` in place of the timer of the deadline guarding depth
    /// `depth` (it fired and was set again).
    pub(crate) fn replace_deadline(&mut self, depth: usize, timer: TimerKey) {
        if let Some(deadline) = self
            .frames()
            .deadlines
            .as_mut()
            .and_then(|d| d.iter_mut().find(|d| d.0 == depth))
        {
            deadline.1 = timer;
        }
    }

    /// Records the deadline `timer` of the child now on top (`timeout_after`).
    pub(crate) fn push_deadline(&mut self, timer: TimerKey) {
        let depth = self.depth();
        self.frames().deadlines.get_or_insert_default().push((depth, timer));
    }

    /// Cuts the stack back to `depth` coroutines (the innermost are dropped
    /// first, into `dead`); gives back the deadlines of the frames cut off,
    /// to cancel.
    pub(crate) fn truncate(&mut self, depth: usize, dead: &mut Vec<Box<dyn Any>>) -> Vec<TimerKey> {
        while self.depth() > depth.max(1) {
            let frames = self.frames();
            if let Some(child) = frames.children.as_mut().and_then(|c| c.pop()) {
                dead.push(Box::new(child));
            }
            self.0.depth.set(self.0.depth.get() - 1);
        }
        let frames = self.frames();
        match frames.deadlines.as_mut() {
            Some(deadlines) => {
                let keep = deadlines.iter().take_while(|d| d.0 <= depth).count();
                deadlines.drain(keep..).map(|d| d.1).collect()
            }
            None => Vec::new(),
        }
    }

    /// Every timer the stack holds (its wait's and its deadlines), to cancel
    /// when the task leaves the manager.
    pub(crate) fn take_timers(&mut self) -> Vec<TimerKey> {
        let frames = self.frames();
        let mut timers: Vec<TimerKey> = frames.timer.take().into_iter().collect();
        if let Some(deadlines) = frames.deadlines.take() {
            timers.extend(deadlines.into_iter().map(|d| d.1));
        }
        timers
    }
}

impl Drop for Stack {
    /// Drops the coroutines, innermost child first and never recursively,
    /// whatever the depth; a task that had not finished is now cancelled.
    fn drop(&mut self) {
        if self.0.is_pending() {
            self.0.status.set(Status::Cancelled);
        }
        let shared = TaskRef::strong_count(&self.0) > 1;
        let frames = self.frames();
        if frames.children.is_none() && !shared {
            return; // the cell goes now, and its body with it
        }
        let input = std::mem::replace(&mut *frames.input, nothing());
        let children = frames.children.take();
        // Each part is the user's and may panic when dropped: each under its
        // own `catch_unwind`, so that one panic neither keeps the others
        // from being dropped now (a cancel's promise) nor, unwinding through
        // the rest, becomes a second panic that aborts. The first goes on
        // once everything is dropped (unless a panic unwinds already); any
        // later one is logged.
        let mut first = None;
        let mut caught = |result: std::thread::Result<()>| {
            if let Err(panic) = result {
                match first {
                    None => first = Some(panic),
                    Some(_) => log::warn!("a task's part panicked when dropped: {}", panic_message(panic)),
                }
            }
        };
        caught(catch_unwind(AssertUnwindSafe(|| drop(input))));
        if let Some(mut children) = children {
            while let Some(child) = children.pop() {
                caught(catch_unwind(AssertUnwindSafe(|| drop(child))));
            }
        }
        // The body goes now, in place: a handle may keep the cell, and a
        // panic above must not leave it to whoever drops the cell last.
        // SAFETY: this stack owns the body (see `cell.rs`), and only this
        // `Drop` drops it, once; no stack is left to resume it.
        caught(catch_unwind(AssertUnwindSafe(|| unsafe { self.0.drop_body() })));
        if let Some(panic) = first {
            if std::thread::panicking() {
                // Dropped while a panic unwinds: a second one would abort.
                log::warn!("a task's part panicked when dropped: {}", panic_message(panic));
            } else {
                std::panic::resume_unwind(panic);
            }
        }
    }
}

/// `value` displayed, or, if its `Display` panics (it may be the user's),
/// the panic's text: for the places that display an error outside the task
/// that made it (a group's copy of a member's error, the manager's log).
pub(crate) fn display_caught(value: &dyn std::fmt::Display) -> std::result::Result<String, String> {
    catch_unwind(AssertUnwindSafe(|| value.to_string())).map_err(panic_message)
}

/// The text of a caught panic, for its [`Error::Panic`].
///
/// The payload is dropped here, and a panic in its own `Drop` (a payload
/// made with `panic_any` of a value whose `Drop` panics) is caught, its own
/// payload forgotten: the panic is the task's error, it never unwinds
/// through the manager.
pub(crate) fn panic_message(panic: Box<dyn Any + Send>) -> String {
    let text = if let Some(s) = panic.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a panic with no message)".to_string()
    };
    if let Err(again) = catch_unwind(AssertUnwindSafe(move || drop(panic))) {
        std::mem::forget(again);
    }
    text
}

/// Runs `task` as a child with a deadline: the port of curio's
/// `timeout_after(seconds, coro)` and trio's `fail_after`. If the child has
/// not returned after `seconds`, it is cancelled there, with its own
/// children (dropped innermost first, their waits withdrawn), and the parent
/// gets [`Error::Timeout`]. Nested deadlines each guard their own child: the
/// one that expires first cuts the stack back to its parent, cancelling the
/// deadlines inside it. When it does not fire, it costs one timer.
///
/// Zero or negative seconds fire at the manager's next timeout check, as
/// every timeout; NaN is an [`Error::InvalidArgument`] at that line.
///
/// ```
/// #![feature(coroutines)]
/// use multitask::{sleep, timeout_after, wait, Task, TaskManager};
///
/// fn slow() -> Task<&'static str> {
///     Task::new(#[coroutine] |_| {
///         wait!(sleep(10))?;
///         Ok("done")
///     })
/// }
///
/// let tm = TaskManager::new();
/// tm.add(Task::new(#[coroutine] |_| {
///     let got = wait!(timeout_after(0.01, slow()));
///     assert!(got.unwrap_err().is_timeout());
///     assert_eq!(wait!(timeout_after(1, Task::ready("quick")))?, "quick");
///     Ok(())
/// }));
/// tm.run().unwrap();
/// ```
pub fn timeout_after<T: 'static>(seconds: impl crate::time::IntoSeconds, task: Task<T>) -> Op<T> {
    match seconds.into_seconds().timeout() {
        Ok(span) => Op::new(Operation::Deadline(Child(task.cell), span)),
        Err(e) => Op::invalid(e),
    }
}
