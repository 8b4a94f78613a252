//! `FDReady` (`readable`, `writable`, `fd_ready`) and `FDAction`
//! (`fd_action`): the operations that wait for an fd to be ready.
//!
//! They build plain data ([`FdWait`](crate::FdWait)); the reactor
//! (`reactor.rs`) registers the fd and wakes the task. `readable` and
//! `writable` on one of the crate's own fds ([`net`](crate::net)) are never
//! re-armed: one known not ready parks with no syscall; one known ready is
//! looked at (one `poll(2)`) at the next pass's step 1, as the original's
//! select looks, since the program does the I/O itself and may have drained
//! the fd behind the reactor's back. On any other fd they re-arm it (see the
//! compatibility path in the [`net`](crate::net) docs).

use std::io;

use crate::error::{Error, Result};
use crate::fd::{FileNo, Flags, EXC, READ, WRITE};
use crate::op::{Action, FdWait, Op, Operation};
use crate::value::Value;

/// `yield FDReady(fd, read, write, exc)`: resume once `fd` is ready for
/// reading, writing, and/or an exceptional condition (priority data).
///
/// `fd` is anything with a raw fd: a socket, a pipe, a file, or a plain
/// [`RawFd`](std::os::fd::RawFd) (`fd_ready(12, true, false, false)`). All three flags false is an
/// [`Error::InvalidArgument`] at that line. A bad fd gives its `Error::Io` to
/// this task only.
pub fn fd_ready(fd: impl FileNo, read: bool, write: bool, exc: bool) -> Op<()> {
    match flags(read, write, exc) {
        Ok(flags) => Op::new(Operation::FdReady(FdWait::new(fd.fileno(), flags, None))),
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
/// may use a blocking fd. If it returns `WouldBlock` and the fd is no longer
/// ready (another task drained it first), the task keeps waiting; if the fd
/// is still ready, the `WouldBlock` was the closure's own (another fd's), and
/// the task gets it as its error (`EAGAIN`), as the original raised it.
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
            Op::new(Operation::FdAction(FdWait::new(fd.fileno(), flags, Some(action))))
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
