//! Operations: what a task yields to the manager, and the [`wait!`] macro.
//!
//! # Why an enum and a typed wrapper
//!
//! In Python a task yields objects of several classes (`YieldCondition`
//! subclasses, generators, anything else) and the manager dispatches on the
//! class. Here a task yields one type, [`Operation`], and the manager matches
//! on it: a closed enum, no virtual calls, no allocation for the common
//! operations. Each function named after its Python original (`sleep`,
//! `recv`, `Queue::get`, ...) returns an [`Op<T>`]: the operation plus, as a
//! marker, the type `T` that the `yield` will give back. [`wait!`] yields the
//! operation and turns the resumed [`Input`] into `Result<T>`, so a port's
//! `data = (yield recv(sock, 1024))` stays one line:
//! `let data = wait!(recv(&sock, 1024))?;`.
//!
//! An operation built with a bad argument (`sleep(0)`) carries its error as
//! [`Operation::Invalid`]. [`wait!`] returns that error at once without
//! yielding, as Python raises at the call before the `yield` happens; a raw
//! `yield` of it gets the error back as the `yield`'s value.

use std::io;
use std::marker::PhantomData;
use std::os::fd::RawFd;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use crate::cell::{GroupCore, TaskRef};
use crate::error::{Error, Result};
use crate::fd::Flags;
use crate::queue_state::{Matcher, QueueCore};
use crate::sync_state::{EventCore, SemaphoreCore};
use crate::time::IntoSeconds;
use crate::value::Value;

pub use crate::value::Input;

/// The input of a task that is started, or resumed after a bare `yield`: `()`.
pub(crate) fn nothing() -> Input {
    Ok(Value::unit())
}

/// What a task asks of the manager when it yields.
///
/// Tasks rarely build these by hand: the operation functions return an
/// [`Op<T>`], which converts into an `Operation` with `.into()`. The payloads
/// are opaque; the variant names say what is asked.
#[non_exhaustive]
pub enum Operation {
    /// A bare `yield`: go to the back of the run queue, resume with `()`.
    Yield,
    /// `yield value`: go to the back of the run queue, resume with the value.
    Value(Value),
    /// `yield child()`: run the child; resume with its result.
    Child(Child),
    /// `yield sleep(seconds)`: resume with `()` once the time has passed.
    Sleep(Duration),
    /// `yield queue.get()`: resume with the next item.
    QueueGet(QueueWait),
    /// `yield queue.put(item)`: resume with `()` once the item is in the queue.
    QueuePut(QueueWait),
    /// `yield readable(fd)` and kin: resume with `()` once the fd is ready.
    FdReady(FdWait),
    /// `yield recv(sock, n)` and kin: once the fd is ready, the manager does the
    /// I/O and resumes the task with its result.
    FdAction(FdWait),
    /// An operation built with a bad argument: the task is resumed with this error.
    Invalid(Error),
    /// `timeout_after(seconds, child)`: run the child with a deadline.
    Deadline(Child, Duration),
    /// A join of a task or group, an event wait, a semaphore acquire.
    Wait(SyncWait),
    /// `yield run_in_thread(f)` and kin: resume once another thread hands
    /// over the result (a worker's, a [`UniversalQueue`](crate::UniversalQueue)'s,
    /// a signal's); see `remote.rs`.
    Remote(crate::remote::RemoteWait),
}

impl std::fmt::Debug for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            Operation::Yield => "Yield",
            Operation::Value(_) => "Value",
            Operation::Child(_) => "Child",
            Operation::Sleep(_) => "Sleep",
            Operation::QueueGet(_) => "QueueGet",
            Operation::QueuePut(_) => "QueuePut",
            Operation::FdReady(_) => "FdReady",
            Operation::FdAction(_) => "FdAction",
            Operation::Invalid(e) => return write!(f, "Invalid({e})"),
            Operation::Deadline(..) => "Deadline",
            Operation::Wait(w) => match w.on {
                SyncOn::Join(_) => "Join",
                SyncOn::GroupJoin(_) => "GroupJoin",
                SyncOn::Event(_) => "EventWait",
                SyncOn::Acquire(_) => "Acquire",
            },
            Operation::Remote(_) => "Remote",
        };
        f.write_str(name)
    }
}

/// A child task inside [`Operation::Child`]: its cell, with its body.
pub struct Child(pub(crate) TaskRef<dyn Body>);

/// The one coroutine type the manager runs, with its type erased.
///
/// # Why not `dyn Coroutine`
///
/// A bare `yield` is the commonest switch and carries nothing, yet a
/// `CoroutineState<Operation, Input>` returned by value is 72 bytes, copied
/// out of the coroutine, through `catch_unwind`'s result and into the
/// scheduler's match. So the erased body reports what came of a resume in
/// `out` instead, and leaves it `None` for a bare yield: that switch then
/// moves no bytes at all, and an operation is written once, where the
/// scheduler reads it. The input is taken where the task keeps it, for the
/// same reason: moved out (and `()` left) inside the body's own resume,
/// where the coroutine's use of it is in view, it costs a bare yield three
/// instructions fewer than moved out by the caller.
pub(crate) trait Body {
    /// Resumes the coroutine with the value in `input`, which it takes
    /// (leaving `()`). Writes what it yielded or returned into `out`, which
    /// is `None` on entry; leaves it `None` if the coroutine made a bare
    /// `yield`.
    fn resume(self: Pin<&mut Self>, input: &mut Input, out: &mut Option<Step>);
}

/// What came of resuming a stack's top once, other than a bare `yield`.
pub(crate) enum Step {
    /// The top yielded this operation.
    Yielded(Operation),
    /// The top returned or failed (a panic counts as failing); it is gone.
    Done(Input),
}

/// The I/O a manager performs for a task once its fd is ready (`action.rs`
/// does it). The library's commonest actions are variants, so building one
/// allocates nothing; anything else is a boxed closure.
pub(crate) enum Action {
    /// `recv(fd, n)`, non-blocking.
    Recv(usize),
    /// `send(fd, data)`, non-blocking, no SIGPIPE.
    Send(Vec<u8>),
    /// `sendall(fd, data)`: sends until all of `data` is gone; `.1` is how
    /// much is sent so far.
    SendAll(Vec<u8>, usize),
    /// A library action that cannot block: tried as soon as the fd may be ready.
    Try(Box<dyn FnMut() -> io::Result<Value>>),
    /// The caller's `fd_action`: called only once the fd is ready, as in the
    /// original; its captures are the user's (their `Drop` may call the manager).
    Call(Box<dyn FnMut() -> io::Result<Value>>),
}

impl Action {
    /// What the action is, as `tasks()` shows it.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Action::Recv(_) => "recv",
            Action::Send(_) => "send",
            Action::SendAll(..) => "sendall",
            Action::Try(_) => "action",
            Action::Call(_) => "fd_action",
        }
    }

    /// Drops a finished action. One that holds nothing to free (a `recv`'s,
    /// or a send's whose buffer went to `spare.rs`) is forgotten instead: the
    /// hot path of every request then makes no call of the drop glue.
    #[inline(always)]
    pub(crate) fn discard(action: Option<Action>) {
        match &action {
            None | Some(Action::Recv(_)) => std::mem::forget(action),
            Some(Action::Send(data) | Action::SendAll(data, _)) if data.capacity() == 0 => std::mem::forget(action),
            _ => drop(action),
        }
    }
}

/// An fd wait inside [`Operation::FdReady`]/[`Operation::FdAction`].
pub struct FdWait {
    pub(crate) fd: RawFd,
    pub(crate) flags: Flags,
    pub(crate) action: Option<Action>,
    pub(crate) timeout: Option<Duration>,
}

impl FdWait {
    pub(crate) fn new(fd: RawFd, flags: Flags, action: Option<Action>) -> FdWait {
        FdWait {
            fd,
            flags,
            action,
            timeout: None,
        }
    }
}

/// A queue get or put inside [`Operation::QueueGet`]/[`Operation::QueuePut`].
pub struct QueueWait {
    pub(crate) queue: QueueCore,
    pub(crate) side: QueueSide,
    pub(crate) timeout: Option<Duration>,
}

/// What a [`QueueWait`] does: one field, so that the operation (moved at
/// every yield) stays small.
pub(crate) enum QueueSide {
    Get,
    Put(Value),
    /// A `get_matching`, with its predicate.
    Match(Matcher),
}

/// A wait inside [`Operation::Wait`]: on a task's end, a group's, an
/// event, or a semaphore's permit.
pub struct SyncWait {
    pub(crate) on: SyncOn,
    pub(crate) timeout: Option<Duration>,
}

/// What a [`SyncWait`] waits for.
pub(crate) enum SyncOn {
    /// A task's end.
    Join(TaskRef<dyn Body>),
    /// A group's end.
    GroupJoin(Rc<GroupCore<dyn Body>>),
    /// An event's set.
    Event(Rc<EventCore>),
    /// A semaphore's permit.
    Acquire(Rc<SemaphoreCore>),
}

impl SyncWait {
    pub(crate) fn op<T: 'static>(on: SyncOn) -> Op<T> {
        Op::new(Operation::Wait(SyncWait { on, timeout: None }))
    }
}

/// An operation whose `yield` gives back a `T`.
///
/// Built by the operation functions; yield it with [`wait!`](crate::wait), or convert it
/// with `.into()` and `yield` the [`Operation`] in the raw form.
#[must_use = "an operation does nothing until it is yielded"]
pub struct Op<T> {
    operation: Operation,
    output: PhantomData<fn() -> T>,
}

impl<T: 'static> Op<T> {
    /// Wraps an operation whose `yield` gives back a `T`.
    pub(crate) fn new(operation: Operation) -> Op<T> {
        Op {
            operation,
            output: PhantomData,
        }
    }

    pub(crate) fn invalid(error: Error) -> Op<T> {
        Op::new(Operation::Invalid(error))
    }

    /// Gives up with [`Error::Timeout`] if the operation has not completed
    /// after `seconds` (a `Duration` or a number, as in Python's
    /// `timeout=` argument). Zero or negative fires at the manager's next
    /// timeout check. Only waits take a timeout (queue gets and puts, fd waits
    /// and actions); on any other operation this is an
    /// [`Error::InvalidArgument`].
    ///
    /// ```
    /// #![feature(coroutines)]
    /// use multitask::{wait, Queue, Task, TaskManager};
    ///
    /// let tm = TaskManager::new();
    /// tm.add(Task::new(#[coroutine] |_| {
    ///     let queue: Queue<i32> = Queue::new();
    ///     let got = wait!(queue.get().timeout(0.01));
    ///     assert!(got.unwrap_err().is_timeout());
    ///     Ok(())
    /// }));
    /// tm.run().unwrap();
    /// ```
    pub fn timeout(mut self, seconds: impl IntoSeconds) -> Op<T> {
        let timeout = match seconds.into_seconds().timeout() {
            Ok(timeout) => timeout,
            Err(e) => return Op::invalid(e),
        };
        match &mut self.operation {
            Operation::QueueGet(w) | Operation::QueuePut(w) => w.timeout = Some(timeout),
            Operation::FdReady(w) | Operation::FdAction(w) => w.timeout = Some(timeout),
            Operation::Wait(w) => w.timeout = Some(timeout),
            Operation::Remote(w) => w.timeout = Some(timeout),
            Operation::Invalid(_) => {}
            other => return Op::invalid(Error::invalid(format!("{other:?} takes no timeout"))),
        }
        self
    }

    /// The untyped operation, for a raw `yield`.
    pub fn into_operation(self) -> Operation {
        self.operation
    }

    /// Turns the value a `yield` gave back into this operation's result type.
    #[inline(always)]
    pub fn output(input: Input) -> Result<T> {
        match input?.downcast::<T>() {
            Ok(value) => Ok(value),
            Err(_) => Err(not_a(std::any::type_name::<T>())),
        }
    }

    /// Used by [`wait!`]: the operation to yield, or the argument error to
    /// return without yielding.
    #[doc(hidden)]
    pub fn __checked(self) -> Result<Operation> {
        match self.operation {
            Operation::Invalid(e) => Err(e),
            operation => Ok(operation),
        }
    }

    /// Used by [`wait!`]: what turns the resumed input into a `T`.
    #[doc(hidden)]
    pub fn __output(&self) -> Output<T> {
        Output(PhantomData)
    }
}

/// The error of a task resumed with a value of another type than its
/// operation's (a raw `yield` of something else, given back): out of line,
/// so that the conversion every `wait!` makes stays small enough to inline.
#[cold]
#[inline(never)]
fn not_a(type_name: &str) -> Error {
    Error::invalid(format!("the task was resumed with a value that is not a {type_name}"))
}

/// Used by [`wait!`]: turns an [`Input`] into the `T` an [`Op<T>`] promised.
/// Zero-sized, so it costs a waiting task nothing.
#[doc(hidden)]
pub struct Output<T>(PhantomData<fn() -> T>);

impl<T: 'static> Output<T> {
    #[doc(hidden)]
    #[inline(always)]
    pub fn take(self, input: Input) -> Result<T> {
        Op::<T>::output(input)
    }
}

impl<T> From<Op<T>> for Operation {
    fn from(op: Op<T>) -> Operation {
        op.operation
    }
}

/// Anything [`wait!`](crate::wait) can yield: an [`Op<T>`], or a [`Task<T>`](crate::Task) run as a child.
pub trait IntoOp {
    /// What the `yield` gives back.
    type Output;
    /// The operation to yield.
    fn into_op(self) -> Op<Self::Output>;
}

impl<T: 'static> IntoOp for Op<T> {
    type Output = T;
    fn into_op(self) -> Op<T> {
        self
    }
}

/// `yield value`: the task goes to the back of the run queue and gets `value` back.
///
/// ```
/// #![feature(coroutines)]
/// use multitask::{value, wait, Task, TaskManager};
///
/// let tm = TaskManager::new();
/// tm.add(Task::new(#[coroutine] |_| {
///     assert_eq!(wait!(value("Hi, Mom!"))?, "Hi, Mom!");
///     Ok(())
/// }));
/// tm.run().unwrap();
/// ```
pub fn value<T: 'static>(value: T) -> Op<T> {
    Op::new(Operation::Value(Value::new(value)))
}

/// `yield sleep(seconds)`: resume after `seconds` (a `Duration` or a number).
///
/// Zero or negative is an [`Error::InvalidArgument`] at that line, as the
/// original's `ValueError`.
///
/// ```
/// #![feature(coroutines)]
/// use multitask::{sleep, wait, Task, TaskManager};
///
/// let tm = TaskManager::new();
/// tm.add(Task::new(#[coroutine] |_| {
///     wait!(sleep(0.001))?;
///     assert!(wait!(sleep(0)).is_err());
///     Ok(())
/// }));
/// tm.run().unwrap();
/// ```
pub fn sleep(seconds: impl IntoSeconds) -> Op<()> {
    match seconds.into_seconds().sleep() {
        Ok(span) => Op::new(Operation::Sleep(span)),
        Err(e) => Op::invalid(e),
    }
}

/// Yields an operation and evaluates to its typed result: the port of
/// `x = (yield op)`.
///
/// - `wait!()` is a bare `yield`: the task goes to the back of the run queue.
/// - `wait!(op)` yields an [`Op<T>`] (or a child [`Task<T>`](crate::Task)) and gives
///   `Result<T>`: `Err` if the operation timed out, failed, or was built with a
///   bad argument (then nothing is yielded), or if the child failed.
///
/// Use it inside a task's `#[coroutine]` closure; it expands to a `yield`.
///
/// ```
/// #![feature(coroutines)]
/// use multitask::{wait, Queue, Task, TaskManager};
///
/// let queue = Queue::new();
/// let tm = TaskManager::new();
/// let q = queue.clone();
/// tm.add(Task::new(#[coroutine] move |_| {
///     wait!(q.put("ping"))?;
///     wait!();
///     Ok(())
/// }));
/// tm.add(Task::new(#[coroutine] move |_| {
///     assert_eq!(wait!(queue.get())?, "ping");
///     Ok(())
/// }));
/// tm.run().unwrap();
/// ```
#[macro_export]
macro_rules! wait {
    () => {{
        let input = yield $crate::Operation::Yield;
        $crate::Value::__discard(input);
    }};
    ($op:expr $(,)?) => {
        'wait: {
            // Only `output` (zero-sized) is alive across the `yield`: the
            // operation is built in a block of its own, and the `match` is on a
            // local, not a temporary, so that nothing of it takes room in the
            // task's coroutine (whose size is that of its largest `yield`).
            let output;
            let input = yield {
                let op = $crate::IntoOp::into_op($op);
                output = op.__output();
                let checked = op.__checked();
                match checked {
                    ::core::result::Result::Ok(operation) => operation,
                    ::core::result::Result::Err(error) => break 'wait ::core::result::Result::Err(error),
                }
            };
            output.take(input)
        }
    };
}
