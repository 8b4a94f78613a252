//! Waiting on file descriptors: `FDReady` (`readable`, `writable`, `fd_ready`)
//! and the manager's side of all fd waits, on mio (epoll).
//!
//! # Why it is built this way
//!
//! The original calls `select()` on every wait set in every `run_next`: level
//! triggered, O(n) per call, and dead past 1,024 descriptors. mio gives epoll:
//! O(ready) per poll and no descriptor limit, but *edge* triggered: an fd that
//! was already ready when a task starts to wait produces no new event. So:
//!
//! - **Re-arm on every wait.** Each wait re-registers its fd (`EPOLL_CTL_MOD`);
//!   the kernel checks readiness at that moment and queues an event if the fd
//!   is ready already. That keeps the original's level-triggered meaning.
//! - **Try first.** The library's own actions (`recv`, `send`, `accept`, ...)
//!   use non-blocking calls, so they are tried when the task yields. If the
//!   call completes, no registration and no poll are needed; if it would block,
//!   the fd is re-armed and the task waits. Either way the task is enqueued at
//!   the next `run_next`'s step 1, where the original's select would have
//!   found it, so DESIGN.md §2's order is kept. Caller-given `fd_action`
//!   closures are not tried first: they may block, and the original calls
//!   them only once the fd is ready.
//! - **One registration per fd**, whoever waits on it: the interest is the
//!   union of its waiters' flags. A ready fd serves its waiters in FIFO order;
//!   an action that would block stays waiting (another waiter took the data),
//!   and since it saw the fd drained, a new edge will wake it.
//! - **Bad fds.** A registration that fails (`EBADF`: closed or never opened)
//!   gives its error to that task only, at the next step 1, as the original's
//!   select error did. Regular files, which epoll refuses (`EPERM`), are always
//!   ready, as select reports them.
//! - **Closed while waited on.** epoll forgets an fd silently when it is
//!   closed. The closure shows up when the fd is re-armed (the kernel answers
//!   `ENOENT`: its waiters get `EBADF`), and in a *sweep* that re-arms every
//!   waited fd at most once per [`SWEEP_AFTER`] while tasks run, so a task
//!   waiting on a closed fd gets its error within about a second instead of
//!   hanging. Only running tasks close fds, so once a sweep has found nothing
//!   and no task has run since, an idle server sleeps in the poll for good.
//! - **Generations.** An fd closed while a duplicate keeps its file open stays
//!   in epoll under its old number, and that number may be reused by a new
//!   file. Each registration's token carries a generation besides the fd, so
//!   events of the stale registration are ignored instead of waking the new
//!   file's waiters.
//! - **Actions run inside the manager.** A panic in an action becomes that
//!   task's `Error::Panic`; an action must not call the manager (it would
//!   find it busy, and fail that way too).
//!
//! Waiters live in a table indexed by the fd number (fds are small integers):
//! no hashing on the hot path, and a deterministic order.

use std::any::Any;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};

use crate::error::{Error, Result};
use crate::manager::{Expiry, State};
use crate::op::{Op, Operation};
use crate::task::{nothing, panic_message, Input, Stack};
use crate::time::TimerKey;
use crate::value::Value;

/// While tasks run, waited fds are checked for closure this often (see the module docs).
const SWEEP_AFTER: Duration = Duration::from_secs(1);

/// Anything with a file descriptor, as the original accepts "an integer or an
/// object with a `fileno()` method": a plain [`RawFd`], or a reference to a
/// socket, pipe or file (`&sock`). The operation keeps only the number, so the
/// owner must keep the fd open while the task waits.
pub trait FileNo {
    /// The file descriptor.
    fn fileno(&self) -> RawFd;
}

impl FileNo for RawFd {
    fn fileno(&self) -> RawFd {
        *self
    }
}

impl<T: AsRawFd + ?Sized> FileNo for &T {
    fn fileno(&self) -> RawFd {
        self.as_raw_fd()
    }
}

/// Readiness flags of a wait, as in `select`'s three sets.
pub(crate) type Flags = u8;
pub(crate) const READ: Flags = 1;
pub(crate) const WRITE: Flags = 2;
pub(crate) const EXC: Flags = 4;

/// The I/O a manager performs for a task once its fd is ready.
///
/// The library's commonest actions are variants, so building one allocates
/// nothing; anything else is a boxed closure.
pub(crate) enum Action {
    /// `recv(fd, n)`, non-blocking.
    Recv(usize),
    /// `send(fd, data)`, non-blocking, no SIGPIPE.
    Send(Vec<u8>),
    /// Any other action.
    Call(Box<dyn FnMut() -> io::Result<Value>>),
}

impl Action {
    fn run(&mut self, fd: RawFd) -> io::Result<Value> {
        match self {
            Action::Recv(n) => crate::action::recv_now(fd, *n).map(Value::new),
            Action::Send(data) => crate::action::send_now(fd, data).map(Value::new),
            Action::Call(f) => f(),
        }
    }
}

/// An fd wait inside [`Operation::FdReady`]/[`Operation::FdAction`].
pub struct FdWait {
    fd: RawFd,
    flags: Flags,
    action: Option<Action>,
    /// The action is non-blocking: try it before waiting.
    try_first: bool,
    pub(crate) timeout: Option<Duration>,
}

impl FdWait {
    pub(crate) fn new(fd: RawFd, flags: Flags, action: Option<Action>, try_first: bool) -> FdWait {
        FdWait {
            fd,
            flags,
            action,
            try_first,
            timeout: None,
        }
    }
}

/// `yield FDReady(fd, read, write, exc)`: resume once `fd` is ready for
/// reading, writing, and/or an exceptional condition (priority data).
///
/// `fd` is anything with a raw fd: a socket, a pipe, a file, or a plain
/// [`RawFd`] (`fd_ready(12, true, false, false)`). All three flags false is an
/// [`Error::InvalidArgument`] at that line. A bad fd gives its `Error::Io` to
/// this task only.
pub fn fd_ready(fd: impl FileNo, read: bool, write: bool, exc: bool) -> Op<()> {
    match flags(read, write, exc) {
        Ok(flags) => Op::new(Operation::FdReady(FdWait::new(fd.fileno(), flags, None, false))),
        Err(e) => Op::invalid(e),
    }
}

/// `yield readable(fd)`: resume once `fd` is readable.
///
/// ```
/// #![feature(coroutines)]
/// use multitask::{readable, wait, Task, TaskManager};
/// use std::io::Write;
/// use std::os::unix::net::UnixStream;
///
/// let (mut a, b) = UnixStream::pair().unwrap();
/// a.write_all(b"x").unwrap();
/// let tm = TaskManager::new();
/// tm.add(Task::new(#[coroutine] move |_| {
///     wait!(readable(&b).timeout(5))?; // already readable: wakes at once
///     Ok(())
/// }));
/// tm.run().unwrap();
/// ```
pub fn readable(fd: impl FileNo) -> Op<()> {
    fd_ready(fd, true, false, false)
}

/// `yield writable(fd)`: resume once `fd` is writable.
pub fn writable(fd: impl FileNo) -> Op<()> {
    fd_ready(fd, false, true, false)
}

/// `yield FDAction(fd, func, read=.., write=.., exc=..)`: once `fd` is ready,
/// the manager calls `action` and resumes the task with its result.
///
/// `action` is called only when the fd is ready, as in the original, so it
/// may use a blocking fd. If it returns `WouldBlock` (another task drained
/// the fd first), the task keeps waiting.
///
/// ```
/// #![feature(coroutines)]
/// use multitask::{fd_action, wait, Task, TaskManager};
/// use std::io::{Read, Write};
/// use std::os::unix::net::UnixStream;
///
/// let (mut a, b) = UnixStream::pair().unwrap();
/// a.write_all(b"hi").unwrap();
/// let tm = TaskManager::new();
/// tm.add(Task::new(#[coroutine] move |_| {
///     let fd = b.try_clone()?;
///     let n = wait!(fd_action(&b, true, false, false, move || {
///         let mut buf = [0; 16];
///         (&fd).read(&mut buf)
///     }))?;
///     assert_eq!(n, 2);
///     Ok(())
/// }));
/// tm.run().unwrap();
/// ```
pub fn fd_action<T: 'static>(
    fd: impl FileNo,
    read: bool,
    write: bool,
    exc: bool,
    mut action: impl FnMut() -> io::Result<T> + 'static,
) -> Op<T> {
    match flags(read, write, exc) {
        Ok(flags) => {
            let action = Action::Call(Box::new(move || action().map(Value::new)));
            Op::new(Operation::FdAction(FdWait::new(
                fd.fileno(),
                flags,
                Some(action),
                false,
            )))
        }
        Err(e) => Op::invalid(e),
    }
}

fn flags(read: bool, write: bool, exc: bool) -> Result<Flags> {
    let flags = (read as Flags * READ) | (write as Flags * WRITE) | (exc as Flags * EXC);
    if flags == 0 {
        return Err(Error::invalid("'read', 'write', and 'exc' cannot all be false"));
    }
    Ok(flags)
}

/// A task waiting on an fd. The fd table owns it (it is part of the manager,
/// so no cycle can keep it alive): waking it needs no parking-lot lookup.
struct Waiter {
    task: Stack,
    flags: Flags,
    action: Option<Action>,
    /// The action is the caller's (`fd_action`): its captures are dropped
    /// outside the manager, since their `Drop` may call it.
    foreign: bool,
}

/// One fd's registration and waiters.
#[derive(Default)]
struct FdEntry {
    /// The interest epoll has for this fd; 0 when not registered.
    registered: Flags,
    /// Bumped at each new registration; carried in the event token.
    generation: u32,
    /// FIFO: served in the order they started to wait.
    waiters: Vec<Waiter>,
}

/// The token of `fd`'s registration number `generation`.
fn token(fd: RawFd, generation: u32) -> Token {
    Token(((generation as usize) << 32) | fd as u32 as usize)
}

/// The I/O side of a manager.
pub(crate) struct Io {
    /// Made at the first fd wait: a manager that never does I/O needs no epoll.
    poll: Option<Poll>,
    events: Events,
    /// Indexed by fd number; grows only for fds epoll accepted.
    fds: Vec<FdEntry>,
    /// How many waiters the table holds.
    waiting: usize,
    /// Waits already over, to enqueue at the next step 1: completed tries,
    /// bad fds.
    completed: Vec<(Stack, Input)>,
    /// An empty buffer kept for step 1's list of tasks to wake.
    woken: Vec<(Stack, Input)>,
    /// No task has run since the last sweep (see the module docs).
    swept: bool,
    last_sweep: Instant,
}

impl Io {
    pub(crate) fn new() -> Io {
        Io {
            poll: None,
            events: Events::with_capacity(1024),
            fds: Vec::new(),
            waiting: 0,
            completed: Vec::new(),
            woken: Vec::new(),
            swept: true,
            last_sweep: Instant::now(),
        }
    }

    /// Tasks ran: any of them may have closed an fd, so sweep again in time.
    pub(crate) fn note_activity(&mut self) {
        self.swept = false;
    }

    /// How many tasks the fd table and the list of waits already over hold.
    pub(crate) fn tasks(&self) -> usize {
        self.waiting + self.completed.len()
    }

    pub(crate) fn has_waits(&self) -> bool {
        self.waiting > 0 || !self.completed.is_empty()
    }

    /// Adds `waiter` to `fd`'s waiters and re-arms the fd. On failure the
    /// waiter is handed back with the error.
    fn wait(&mut self, fd: RawFd, waiter: Waiter) -> std::result::Result<(), (Waiter, io::Error)> {
        let others = self
            .fds
            .get(fd as usize)
            .map_or(0, |e| e.waiters.iter().fold(0, |f, w| f | w.flags));
        if let Err(e) = self.arm(fd, others | waiter.flags) {
            return Err((waiter, e));
        }
        self.fds[fd as usize].waiters.push(waiter);
        self.waiting += 1;
        Ok(())
    }

    /// Registers (or re-registers, re-arming) `fd` with interest `want`. The
    /// table grows only once epoll has accepted the fd, so a huge bogus fd
    /// number costs nothing.
    fn arm(&mut self, fd: RawFd, want: Flags) -> io::Result<()> {
        if self.poll.is_none() {
            self.poll = Some(Poll::new()?);
        }
        let registry = self.poll.as_ref().map(Poll::registry).expect("made above");
        let (registered, generation) = self
            .fds
            .get(fd as usize)
            .map_or((0, 0), |e| (e.registered, e.generation));
        let (source, interest) = (&mut SourceFd(&fd), interest(want));
        let fresh = token(fd, generation.wrapping_add(1));
        let result = if registered == 0 {
            match registry.register(source, fresh, interest) {
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) => registry.reregister(source, fresh, interest),
                other => other,
            }
            .map(|()| true)
        } else {
            match registry.reregister(source, token(fd, generation), interest) {
                Ok(()) => Ok(false),
                // The fd was closed since it was registered (and its number
                // perhaps reused): whoever waited on the old one gets EBADF.
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                    let registered = registry.register(source, fresh, interest).map(|()| true);
                    self.fail_all(fd, libc::EBADF);
                    registered
                }
                Err(e) => Err(e),
            }
        };
        let is_new = result?;
        if self.fds.len() <= fd as usize {
            self.fds.resize_with(fd as usize + 1, FdEntry::default);
        }
        let entry = &mut self.fds[fd as usize];
        entry.registered = want;
        if is_new {
            entry.generation = generation.wrapping_add(1);
        }
        Ok(())
    }

    /// Gives every waiter of `fd` the OS error `code` (at the next step 1).
    fn fail_all(&mut self, fd: RawFd, code: i32) {
        let Some(entry) = self.fds.get_mut(fd as usize) else {
            return;
        };
        entry.registered = 0;
        self.waiting -= entry.waiters.len();
        for w in entry.waiters.drain(..) {
            self.completed
                .push((w.task, Err(io::Error::from_raw_os_error(code).into())));
        }
    }

    /// Takes out the waiter of `fd` whose timeout `timer` fired.
    pub(crate) fn withdraw(&mut self, fd: RawFd, timer: TimerKey, graveyard: &mut Vec<Box<dyn Any>>) -> Option<Stack> {
        let entry = self.fds.get_mut(fd as usize)?;
        let i = entry.waiters.iter().position(|w| w.task.timer() == Some(timer))?;
        self.waiting -= 1;
        Some(bury(entry.waiters.remove(i), graveyard))
    }

    /// Re-arms every waited fd; those closed meanwhile fail their waiters.
    fn sweep(&mut self) {
        for fd in 0..self.fds.len() {
            let want = self.fds[fd].waiters.iter().fold(0, |f, w| f | w.flags);
            if want != 0 {
                if let Err(e) = self.arm(fd as RawFd, want) {
                    self.fail_all(fd as RawFd, e.raw_os_error().unwrap_or(libc::EBADF));
                }
            }
        }
        self.swept = true;
        self.last_sweep = Instant::now();
    }

    /// Takes over another manager's fd waits, registering their fds here.
    pub(crate) fn absorb(&mut self, other: &mut Io) {
        self.completed.append(&mut other.completed);
        for (fd, entry) in other.fds.iter_mut().enumerate() {
            for waiter in entry.waiters.drain(..) {
                other.waiting -= 1;
                if let Err((waiter, e)) = self.wait(fd as RawFd, waiter) {
                    self.completed.push((waiter.task, Err(e.into())));
                }
            }
        }
    }
}

/// Serves the waiters of the fd an event is for, in FIFO order, into `woken`.
/// Events of a stale registration (an older generation) are ignored.
fn serve(
    fds: &mut [FdEntry],
    waiting: &mut usize,
    event: &mio::event::Event,
    woken: &mut Vec<(Stack, Input)>,
    graveyard: &mut Vec<Box<dyn Any>>,
) {
    let (fd, generation) = (event.token().0 as u32 as usize, (event.token().0 >> 32) as u32);
    let Some(entry) = fds.get_mut(fd).filter(|e| e.generation == generation) else {
        return;
    };
    let ready = readiness(event);
    let mut i = 0;
    while i < entry.waiters.len() {
        let waiter = &mut entry.waiters[i];
        if waiter.flags & ready == 0 {
            i += 1;
            continue;
        }
        let Some(input) = perform_action(fd as RawFd, waiter.action.as_mut()) else {
            i += 1; // would block: another waiter drained the fd first
            continue;
        };
        let waiter = entry.waiters.remove(i);
        *waiting -= 1;
        woken.push((bury(waiter, graveyard), input));
    }
}

/// Runs a waiter's action, if it has one: `None` if it would block. A panic
/// in the action becomes the task's error.
fn perform_action(fd: RawFd, action: Option<&mut Action>) -> Option<Input> {
    let Some(action) = action else { return Some(nothing()) };
    match catch_unwind(AssertUnwindSafe(|| action.run(fd))) {
        Ok(Err(e)) if e.kind() == io::ErrorKind::WouldBlock => None,
        Ok(done) => Some(done.map_err(Error::from)),
        Err(panic) => Some(Err(Error::Panic(panic_message(panic.as_ref())))),
    }
}

/// Takes the task out of a finished waiter and drops the rest; a caller's
/// action goes to the graveyard, to be dropped once the manager is no longer
/// borrowed.
fn bury(waiter: Waiter, graveyard: &mut Vec<Box<dyn Any>>) -> Stack {
    if let (true, Some(action)) = (waiter.foreign, waiter.action) {
        graveyard.push(Box::new(action));
    }
    waiter.task
}

fn interest(flags: Flags) -> Interest {
    let mut interest: Option<Interest> = None;
    for (flag, i) in [
        (READ, Interest::READABLE),
        (WRITE, Interest::WRITABLE),
        (EXC, Interest::PRIORITY),
    ] {
        if flags & flag != 0 {
            interest = Some(interest.map_or(i, |have| have | i));
        }
    }
    interest.unwrap_or(Interest::READABLE)
}

/// What an event says the fd is ready for. An error or hang-up wakes every
/// waiter: their I/O will report it, as select reports such fds as ready.
fn readiness(event: &mio::event::Event) -> Flags {
    if event.is_error() {
        return READ | WRITE | EXC;
    }
    let mut ready = 0;
    if event.is_readable() || event.is_read_closed() {
        ready |= READ;
    }
    if event.is_writable() || event.is_write_closed() {
        ready |= WRITE;
    }
    if event.is_priority() {
        ready |= EXC;
    }
    ready
}

/// Handles a task that yielded an fd wait (step 3).
pub(crate) fn perform(state: &mut State, stack: Stack, mut wait: FdWait) {
    if wait.fd < 0 {
        let error = Error::invalid(format!("file descriptor cannot be a negative integer ({})", wait.fd));
        return complete(state, stack, Err(error));
    }
    if wait.try_first {
        if let Some(input) = perform_action(wait.fd, wait.action.as_mut()) {
            return complete(state, stack, input);
        }
    }
    let (fd, mut task) = (wait.fd, stack);
    if let Some(timeout) = wait.timeout {
        state.set_timeout(&mut task, timeout, Expiry::Io(fd));
    }
    let waiter = Waiter {
        task,
        flags: wait.flags,
        action: wait.action,
        foreign: !wait.try_first,
    };
    if let Err((mut waiter, e)) = state.io.wait(fd, waiter) {
        let input = if e.raw_os_error() == Some(libc::EPERM) {
            // A regular file: epoll refuses it, select calls it always ready.
            perform_action(fd, waiter.action.as_mut()).unwrap_or_else(nothing)
        } else {
            Err(e.into())
        };
        let task = bury(waiter, &mut state.graveyard);
        state.io.completed.push((task, input));
    }
}

/// Queues a task whose wait is already over, to be enqueued at the next step 1.
fn complete(state: &mut State, stack: Stack, input: Input) {
    state.io.completed.push((stack, input));
}

/// Step 1 of `run_next`: enqueue the waits already over, then poll once
/// (without blocking if that made tasks runnable) and enqueue the ready ones.
pub(crate) fn poll(state: &mut State, timeout: Option<Duration>) -> Result<()> {
    // The buffer is kept between calls, so a poll allocates nothing.
    let mut woken = std::mem::take(&mut state.io.woken);
    std::mem::swap(&mut woken, &mut state.io.completed);
    for (task, input) in woken.drain(..) {
        state.ready(task, input);
    }
    let result = if state.io.waiting > 0 {
        wait_for_events(state, timeout, &mut woken)
    } else {
        Ok(())
    };
    for (task, input) in woken.drain(..) {
        state.ready(task, input);
    }
    state.io.woken = woken;
    result
}

/// Polls once (retrying on EINTR) and serves the ready fds into `woken`.
///
/// "Once" as the original's one `select`: it reports every ready fd, so while
/// a poll fills the whole event buffer, poll again without waiting.
fn wait_for_events(state: &mut State, timeout: Option<Duration>, woken: &mut Vec<(Stack, Input)>) -> Result<()> {
    let mut wait = state.poll_time(timeout);
    if !state.io.swept {
        // Wake up in time for the next sweep.
        let until = (state.io.last_sweep + SWEEP_AFTER).saturating_duration_since(Instant::now());
        wait = Some(wait.map_or(until, |w| w.min(until)));
    }
    let State { io, graveyard, .. } = state;
    let Some(poll) = &mut io.poll else { return Ok(()) };
    loop {
        match poll.poll(&mut io.events, wait) {
            Ok(()) => {}
            // A signal arrived while blocked: poll again, report nothing.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        }
        let mut count = 0;
        for event in io.events.iter() {
            serve(&mut io.fds, &mut io.waiting, event, woken, graveyard);
            count += 1;
        }
        if count < io.events.capacity() {
            break;
        }
        wait = Some(Duration::ZERO);
    }
    if !io.swept && io.last_sweep.elapsed() >= SWEEP_AFTER {
        io.sweep();
    }
    woken.append(&mut io.completed);
    Ok(())
}
