//! A task: a coroutine that yields [`Operation`]s and returns a `Result`.
//!
//! # Why one erased type
//!
//! Python's manager holds generators of any kind; the Rust manager holds one
//! type, `Pin<Box<dyn Coroutine<Input, Yield = Operation, Return = Result<Value>>>>`.
//! A [`Task<T>`] keeps the type its coroutine returns as a marker only, so a
//! parent that yields it gets a `T` back (the [`wait!`](crate::wait) macro does the
//! downcast), while the manager sees every task, parent or child, alike. The
//! erasure happens once, in [`Task::new`]; after that a switch is one virtual
//! call to `resume`, and values travel as a [`Value`], which for `()` and
//! other zero-sized values allocates nothing.
//!
//! # The trampoline stack
//!
//! A runnable or waiting task is a [`Stack`]: the coroutine being resumed on top,
//! the parents it was yielded by below. Only the top is ever resumed. A child
//! yielded by the top is pushed; a top that returns or fails is popped and its
//! result becomes the input of the parent below. The nesting lives in a `Vec`,
//! not on the thread's stack, so 100,000 nested children cost 100,000 boxes and
//! no recursion.

use std::any::Any;
use std::marker::PhantomData;
use std::ops::{Coroutine, CoroutineState};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;

use crate::error::{Error, Result};
use crate::op::{nothing, Child, Coro, Input, IntoOp, Op, Operation};
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
    pub(crate) coro: Coro,
    returns: PhantomData<fn() -> T>,
}

impl<T: 'static> Task<T> {
    /// Wraps a coroutine as a task.
    pub fn new<C>(coroutine: C) -> Task<T>
    where
        C: Coroutine<Input, Yield = Operation, Return = Result<T>> + 'static,
    {
        Task {
            coro: Box::pin(Erase(coroutine)),
            returns: PhantomData,
        }
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
        Operation::Child(Child(task.coro))
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

/// Adapts a coroutine returning `Result<T>` to the erased return type.
struct Erase<C>(C);

impl<C, T> Coroutine<Input> for Erase<C>
where
    C: Coroutine<Input, Yield = Operation, Return = Result<T>>,
    T: 'static,
{
    type Yield = Operation;
    type Return = Input;

    fn resume(self: Pin<&mut Self>, input: Input) -> CoroutineState<Operation, Input> {
        // SAFETY: structural pinning: `Erase` never moves its only field.
        let inner = unsafe { self.map_unchecked_mut(|e| &mut e.0) };
        match inner.resume(input) {
            CoroutineState::Yielded(op) => CoroutineState::Yielded(op),
            CoroutineState::Complete(done) => CoroutineState::Complete(done.map(Value::new)),
        }
    }
}

/// What came of resuming a stack's top once.
pub(crate) enum Step {
    /// The top yielded this operation.
    Yielded(Operation),
    /// The top returned or failed (a panic counts as failing); it is gone.
    Done(Input),
}

/// A task with the parents waiting on it: the trampoline's unit of work.
///
/// One pointer: the run queue and the parking lot move tasks around by the
/// pointer, and the frames live in one heap cell with what the task needs
/// while it is not running (its next input, its pending timeout). A switch
/// then moves eight bytes, and an idle task costs its queue slot eight.
pub(crate) struct Stack(Box<Frames>);

struct Frames {
    /// The innermost child: the only coroutine ever resumed.
    top: Coro,
    /// The parents, outermost first; each waits for the one above it. Boxed
    /// (8 bytes instead of a `Vec`'s 24): most tasks never yield a child, and
    /// an idle task should be small.
    #[allow(clippy::box_collection)]
    parents: Option<Box<Vec<Coro>>>,
    /// What the top is resumed with next.
    input: Input,
    /// The timeout to cancel when the task is woken, while it waits.
    timer: Option<TimerKey>,
}

impl Stack {
    pub(crate) fn new(coro: Coro) -> Stack {
        Stack(Box::new(Frames {
            top: coro,
            parents: None,
            input: nothing(),
            timer: None,
        }))
    }

    /// Sets what the top is resumed with next.
    pub(crate) fn set_input(&mut self, input: Input) {
        self.0.input = input;
    }

    /// Resumes the top with its input. A panic is caught here and becomes
    /// `Error::Panic`: the manager's state is never touched while a task
    /// runs, so it cannot be left half-changed.
    pub(crate) fn resume(&mut self) -> Step {
        let frames = &mut *self.0;
        let input = std::mem::replace(&mut frames.input, nothing());
        let top = frames.top.as_mut();
        match catch_unwind(AssertUnwindSafe(|| top.resume(input))) {
            Ok(CoroutineState::Yielded(op)) => Step::Yielded(op),
            Ok(CoroutineState::Complete(done)) => Step::Done(done),
            Err(panic) => Step::Done(Err(Error::Panic(panic_message(panic.as_ref())))),
        }
    }

    /// Makes `child` the new top; the old top waits below it.
    pub(crate) fn push(&mut self, child: Coro) {
        let parent = std::mem::replace(&mut self.0.top, child);
        self.0.parents.get_or_insert_default().push(parent);
    }

    /// Drops the finished top and makes its parent the top again. `false`
    /// when the top was the task itself, not a child: the whole task is done.
    pub(crate) fn pop(&mut self) -> bool {
        match self.0.parents.as_mut().and_then(|parents| parents.pop()) {
            Some(parent) => {
                self.0.top = parent;
                true
            }
            None => false,
        }
    }

    /// How many coroutines deep the stack is (1 for a task with no child).
    pub(crate) fn depth(&self) -> usize {
        self.0.parents.as_ref().map_or(0, |parents| parents.len()) + 1
    }

    /// Records the timeout of the wait the task is parked on.
    pub(crate) fn set_timer(&mut self, timer: TimerKey) {
        self.0.timer = Some(timer);
    }

    /// Takes the timeout to cancel, if the task waited with one.
    pub(crate) fn take_timer(&mut self) -> Option<TimerKey> {
        self.0.timer.take()
    }
}

impl Drop for Frames {
    /// Drops the innermost child first, and never recursively, whatever the depth.
    fn drop(&mut self) {
        while let Some(parent) = self.parents.as_mut().and_then(|parents| parents.pop()) {
            drop(std::mem::replace(&mut self.top, parent));
        }
    }
}

pub(crate) fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a panic with no message)".to_string()
    }
}
