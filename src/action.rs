//! `FDAction`'s related functions: `read`, `readline`, `write`, `accept`,
//! `recv`, `recvfrom`, `send`, `sendto`, and `connect` (which 0.2.0 lacked).
//!
//! # Why these are built this way
//!
//! Each function returns an fd action (see `io.rs`) that the manager tries at
//! once and, if it would block, performs when the fd is ready. Trying first
//! needs calls that cannot block, and the caller's fds keep their mode where
//! that is possible:
//!
//! - On sockets, `recv`, `send`, `read`, `write` and `readline` pass
//!   `MSG_DONTWAIT` (sends also `MSG_NOSIGNAL`, so a closed peer is an
//!   `EPIPE` error in that task, never a `SIGPIPE` that kills the process).
//!   No `fcntl` on the hot path, and a socket the caller also uses with
//!   blocking std calls keeps working.
//! - On other fds (pipes, ttys, files), `read`, `write` and `readline` first
//!   ask `poll(2)` whether the fd is ready, then make one call that cannot
//!   block: a read of what is there, a write of at most `PIPE_BUF` bytes. The
//!   fd's mode is left alone, so sharing stdin or stdout with the rest of the
//!   program stays safe.
//! - `accept`, `recvfrom` and `sendto` have no such flag: their socket is
//!   switched to non-blocking when the operation is built.
//! - `readline` never reads past the newline: on a socket it peeks to find it,
//!   elsewhere it reads a byte at a time. Bytes after the line stay in the
//!   kernel, where readiness sees them, so a line already there is returned
//!   without waiting and no byte is hidden in a buffer of ours. The part of a
//!   line that has arrived is kept by the operation while it waits for the
//!   rest (waiting for the whole line in the kernel could deadlock: a socket's
//!   queue can fill before the newline arrives). A `readline` that times out
//!   keeps that part on the crate's own fds, for the next `readline` (or a
//!   `recv` or `read`, which gives it first: the stream's order holds, and the
//!   fd counts as readable while it is kept); on any other fd the part goes
//!   with the operation. On a datagram socket a line is a whole
//!   datagram (a read takes all of one, and would lose what it left).
//!
//! The operations hold the raw fd, not a borrow (the manager keeps the
//! operation while the task waits): the fd must stay open while the task
//! waits, or the task gets `EBADF`.

use std::io;
use std::mem::ManuallyDrop;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, RawFd};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::Error;
use crate::fd::{self, FileNo, Flags, READ, WRITE};
use crate::net;
use crate::op::{nothing, Action, FdWait, Input, Op, Operation};
use crate::resolve::{ConnectAddr, Resolved};
use crate::spare::Spare;
use crate::task::panic_message;
use crate::value::Value;

/// The longest line `readline` returns in one piece; a longer line comes back
/// in pieces of this size, the last one ending with the newline.
pub const MAX_LINE: usize = 64 * 1024;

/// A library action: tried as soon as the fd may be ready.
fn action<T: 'static>(fd: RawFd, flags: Flags, mut f: impl FnMut() -> io::Result<T> + 'static) -> Op<T> {
    let action = Action::Try(Box::new(move || f().map(Value::new)));
    Op::new(Operation::FdAction(FdWait::new(fd, flags, Some(action))))
}

/// Performs a waiter's action on `fd`, if it has one: `None` if it would
/// block. A panic in the action becomes the task's error. A received
/// message is copied into one of `spare`'s buffers when one fits, and a
/// message sent in full leaves its buffer there. What a finished
/// action tells of a stream's buffers goes into `drained`: a short read
/// means the receive buffer is drained (`READ`), a short send that the
/// send buffer is full (`WRITE`); a new edge will come for either.
///
/// Inlined into the operation path (see `manager.rs`, `run_due`): a send is
/// a syscall and a comparison there; the recv, whose buffer is on the stack
/// (`recv_on_stack`), and the closures, each under a `catch_unwind`, are
/// calls of their own, so that the send does not pay for their frames.
#[inline(always)]
pub(crate) fn perform(fd: RawFd, action: Option<&mut Action>, drained: &mut Flags, spare: &mut Spare) -> Option<Input> {
    let Some(action) = action else { return Some(nothing()) };
    // The two commonest build the task's input straight from the syscall's
    // result (no `io::Result<Value>` on the way to be converted).
    match action {
        Action::Recv(n) => match recv_now(fd, *n, spare) {
            Ok(bytes) => {
                if !bytes.is_empty() && bytes.len() < *n {
                    *drained |= READ;
                }
                Some(Ok(Value::new(bytes)))
            }
            Err(e) => failed(e),
        },
        Action::Send(data) => match send_now(fd, data) {
            Ok(n) => {
                if n == data.len() {
                    spare.give(std::mem::take(data)); // the buffer is free
                } else {
                    *drained |= WRITE;
                }
                Some(Ok(Value::new(n)))
            }
            Err(e) => failed(e),
        },
        Action::SendAll(data, sent) => finished(send_all_action(fd, data, sent, spare)),
        Action::Try(f) | Action::Call(f) => call_action(f),
    }
}

/// A read of up to `n` bytes from owned `fd` that gives first the part of a
/// line a timed-out `readline` kept (so that the stream's order holds), then
/// what `more` reads after it without waiting; or the error a read after
/// the line met, kept for this read; `None` if `fd` keeps neither.
#[cold]
#[inline(never)]
pub(crate) fn after_partial_line(
    fd: RawFd,
    n: usize,
    more: impl FnOnce(usize) -> io::Result<Vec<u8>>,
) -> Option<io::Result<Vec<u8>>> {
    if n == 0 {
        return None; // a read of nothing reads nothing
    }
    let mut part = fd::take_partial_line(fd);
    if part.is_empty() {
        // An error met after the line, if that is what it keeps now.
        return fd::take_kept_error(fd).map(Err);
    }
    if part.len() >= n {
        let rest = part.split_off(n);
        fd::keep_partial_line(fd, rest);
        return Some(Ok(part));
    }
    match more(n - part.len()) {
        Ok(bytes) => part.extend_from_slice(&bytes),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
        // Comes after the part in the stream: kept for the next read (a
        // socket reports its error once; read again, it would say EOF).
        Err(e) => fd::keep_error(fd, e),
    }
    Some(Ok(part))
}

/// An action's I/O failed: `None` if it would block, else the task's error.
#[cold]
fn failed(e: io::Error) -> Option<Input> {
    match e.kind() {
        io::ErrorKind::WouldBlock => None,
        _ => Some(Err(Error::from(e))),
    }
}

/// What an action's I/O gave: `None` if it would block, else the task's input.
#[inline(always)]
fn finished(done: io::Result<Value>) -> Option<Input> {
    match done {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
        done => Some(done.map_err(Error::from)),
    }
}

/// A `sendall` action (see [`perform`]): gives its buffer away once all is sent.
#[inline(never)]
fn send_all_action(fd: RawFd, data: &mut Vec<u8>, sent: &mut usize, spare: &mut Spare) -> io::Result<Value> {
    let done = send_all_now(fd, data, sent);
    if done.is_ok() {
        spare.give(std::mem::take(data));
    }
    done.map(Value::new)
}

/// A closure's action (see [`perform`]). Closures may panic (a caller's
/// always may): that is the task's error.
#[inline(never)]
fn call_action(f: &mut Box<dyn FnMut() -> io::Result<Value>>) -> Option<Input> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(done) => finished(done),
        Err(panic) => Some(Err(Error::Panic(panic_message(panic)))),
    }
}

/// Turns a C return value into an `io::Result`.
fn check(ret: isize) -> io::Result<usize> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret as usize)
    }
}

/// Makes a socket of the compatibility path non-blocking (the library's own
/// are already); an error (a bad fd) shows when the task waits.
fn set_nonblocking(fd: RawFd) {
    if fd::is_owned(fd) {
        return;
    }
    let on: libc::c_int = 1;
    // SAFETY: FIONBIO reads one c_int; a bad fd just fails.
    unsafe { libc::ioctl(fd, libc::FIONBIO, &on) };
}

/// Borrows a socket's fd as a std socket `T` without taking ownership (it is
/// never closed here). Only for std socket types, whose `from_raw_fd` just
/// wraps the number.
fn borrow_as<T: FromRawFd>(fd: RawFd) -> ManuallyDrop<T> {
    // SAFETY: the ManuallyDrop never drops, so the fd is not closed; a closed
    // fd only makes the calls fail with EBADF.
    ManuallyDrop::new(unsafe { T::from_raw_fd(fd) })
}

/// Reads up to `n` bytes into `buf`'s spare room with `read_fn(ptr, n)`
/// (`read` or `recv`), and hands the bytes over. `buf` is kept between tries,
/// so a try that would block allocates nothing.
fn fill(buf: &mut Vec<u8>, n: usize, read_fn: impl FnOnce(*mut libc::c_void, usize) -> isize) -> io::Result<Vec<u8>> {
    reserve(buf, n)?;
    let got = check(read_fn(buf.spare_capacity_mut().as_mut_ptr().cast(), n))?;
    // SAFETY: the call initialized `got <= n` bytes of the spare room.
    unsafe { buf.set_len(got) };
    Ok(std::mem::take(buf))
}

/// Makes room for `n` bytes; a size that cannot be allocated is an error, not a panic.
fn reserve(buf: &mut Vec<u8>, n: usize) -> io::Result<()> {
    let e = |_| io::Error::new(io::ErrorKind::OutOfMemory, format!("cannot allocate {n} bytes"));
    buf.try_reserve_exact(n.saturating_sub(buf.len())).map_err(e)
}

/// `poll(2)` with no wait: is `fd` ready for `events` (or at EOF, or in error)?
fn ready_now(fd: RawFd, events: libc::c_short) -> io::Result<bool> {
    Ok(poll_now(fd, events)? != 0)
}

/// `poll(2)` with no wait: what `fd` reports of `events` (and `POLLHUP`,
/// `POLLERR`) now, level-triggered.
pub(crate) fn poll_now(fd: RawFd, events: libc::c_short) -> io::Result<libc::c_short> {
    let mut pfd = libc::pollfd { fd, events, revents: 0 };
    // SAFETY: one valid pollfd, zero timeout.
    check(unsafe { libc::poll(&mut pfd, 1, 0) } as isize)?;
    if pfd.revents & libc::POLLNVAL != 0 {
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    Ok(pfd.revents)
}

/// What each of `fds` is ready for now, into its `revents`, by one
/// `poll(2)` that does not wait.
pub(crate) fn poll_all(fds: &mut [libc::pollfd]) -> io::Result<()> {
    // SAFETY: `fds.len()` valid pollfds, zero timeout.
    check(unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 0) } as isize).map(drop)
}

fn would_block<T>() -> io::Result<T> {
    Err(io::ErrorKind::WouldBlock.into())
}

fn is_not_socket(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::ENOTSOCK)
}

/// One try of an action on `fd` that cannot block (see the module docs): on
/// a socket, `on_socket`'s result (a call with `MSG_DONTWAIT`); on anything
/// else (found out once, by `ENOTSOCK`), `None` once `poll(2)` says the fd is
/// ready for the plain call, `WouldBlock` before.
fn socket_or_ready<T>(
    socket: &mut bool,
    fd: RawFd,
    writing: bool,
    on_socket: impl FnOnce() -> io::Result<T>,
) -> io::Result<Option<T>> {
    if *socket {
        match on_socket() {
            Err(e) if is_not_socket(&e) => {
                check_open_for(fd, writing)?;
                *socket = false;
            }
            done => return done.map(Some),
        }
    }
    // An owned fd is non-blocking: the plain call cannot block.
    if fd::is_owned(fd) || ready_now(fd, if writing { libc::POLLOUT } else { libc::POLLIN })? {
        Ok(None)
    } else {
        would_block()
    }
}

/// Fails with `EBADF`, as `read(2)`/`write(2)` would, if `fd` is not open for
/// reading (or writing): readiness would never come for the wrong end of a
/// pipe, and the task would wait forever instead of getting the error.
fn check_open_for(fd: RawFd, writing: bool) -> io::Result<()> {
    // SAFETY: F_GETFL takes no argument; a bad fd just fails.
    let flags = check(unsafe { libc::fcntl(fd, libc::F_GETFL) } as isize)? as libc::c_int;
    let mode = flags & libc::O_ACCMODE;
    let wanted = if writing { libc::O_WRONLY } else { libc::O_RDONLY };
    if mode != libc::O_RDWR && mode != wanted {
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    Ok(())
}

/// `yield read(fd, n)`: once `fd` is readable, read up to `n` bytes (an empty
/// `Vec` at end of file), as `os.read`. For pipes, files and any raw fd.
///
/// ```
/// #![feature(coroutines)]
/// use multitask::{read, wait, write, Task, TaskManager};
/// use std::os::unix::net::UnixStream;
///
/// let (a, b) = UnixStream::pair().unwrap();
/// let tm = TaskManager::new();
/// tm.add(Task::new(#[coroutine] move |_| {
///     assert_eq!(wait!(write(&a, "ping"))?, 4);
///     drop(a);
///     assert_eq!(wait!(read(&b, 1024))?, b"ping");
///     assert_eq!(wait!(read(&b, 1024))?, b""); // end of file
///     Ok(())
/// }));
/// tm.run().unwrap();
/// ```
pub fn read(fd: impl FileNo, n: usize) -> Op<Vec<u8>> {
    let fd = fd.fileno();
    let (mut buf, mut socket) = (Vec::new(), true);
    action(fd, READ, move || {
        if fd::any_partial_line() {
            // SAFETY: `fill` passes a pointer to n writable bytes.
            let more = |m| fill(&mut Vec::new(), m, |ptr, m| unsafe { libc::read(fd, ptr, m) });
            if let Some(got) = after_partial_line(fd, n, more) {
                return got;
            }
        }
        // SAFETY (both calls): `fill` passes a pointer to n writable bytes.
        let on_socket = || {
            fill(&mut buf, n, |ptr, n| unsafe {
                libc::recv(fd, ptr, n, libc::MSG_DONTWAIT)
            })
        };
        if let Some(bytes) = socket_or_ready(&mut socket, fd, false, on_socket)? {
            return Ok(bytes);
        }
        fill(&mut buf, n, |ptr, n| unsafe { libc::read(fd, ptr, n) })
    })
}

/// `yield write(fd, data)`: once `fd` is writable, write `data`; gives the
/// number of bytes written, which may be fewer than `data.len()`, as `os.write`.
/// A regular file takes all of it (`os.write` does not write part of it); a
/// pipe or a tty takes at most `PIPE_BUF` bytes at a time, what a writable
/// one takes without blocking whatever its mode.
pub fn write(fd: impl FileNo, data: impl Into<Vec<u8>>) -> Op<usize> {
    let (fd, data) = (fd.fileno(), data.into());
    let mut socket = true;
    action(fd, WRITE, move || {
        if let Some(sent) = socket_or_ready(&mut socket, fd, true, || send_now(fd, &data))? {
            return Ok(sent);
        }
        let most = if is_regular_file(fd) {
            data.len()
        } else {
            data.len().min(libc::PIPE_BUF)
        };
        // SAFETY: data is a valid slice of at least `most` bytes.
        check(unsafe { libc::write(fd, data.as_ptr().cast(), most) })
    })
}

/// True if `fd` is a regular file or a block device (whose writes never
/// wait for a reader).
fn is_regular_file(fd: RawFd) -> bool {
    // SAFETY: zeroed stat is a valid out-parameter; fstat fills it or fails.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is writable for the call.
    let ok = unsafe { libc::fstat(fd, &mut st) } == 0;
    ok && matches!(st.st_mode & libc::S_IFMT, libc::S_IFREG | libc::S_IFBLK)
}

/// `send` that cannot block, and cannot raise `SIGPIPE`.
pub(crate) fn send_now(fd: RawFd, data: &[u8]) -> io::Result<usize> {
    let flags = libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;
    // SAFETY: data is a valid slice.
    check(unsafe { libc::send(fd, data.as_ptr().cast(), data.len(), flags) })
}

/// `yield readline(fd)`: one line, with its newline; at end of file, what is
/// left (an empty `Vec` once nothing is). A line already buffered in the
/// kernel is returned without waiting. On the crate's own fds
/// ([`net`](crate::net)), the part of a line read before a timeout is kept
/// for the next `readline` (a `recv` or `read` meanwhile gives it first, in
/// the stream's order); on a raw fd or a std object (the compatibility path) that part
/// is lost with the timed-out operation: wrap the socket to keep it. On a
/// datagram socket, a line is a whole datagram.
///
/// It never reads past the newline, so no byte is hidden from readiness in a
/// buffer of the library's: on a socket it peeks to find the newline, on
/// other fds it reads a byte at a time. A line longer than [`MAX_LINE`] comes
/// back in pieces of that size.
///
/// ```
/// #![feature(coroutines)]
/// use multitask::{readline, wait, Task, TaskManager};
/// use std::io::Write;
/// use std::os::unix::net::UnixStream;
///
/// let (mut a, b) = UnixStream::pair().unwrap();
/// a.write_all(b"one\ntwo").unwrap();
/// drop(a);
/// let tm = TaskManager::new();
/// tm.add(Task::new(#[coroutine] move |_| {
///     assert_eq!(wait!(readline(&b))?, b"one\n");
///     assert_eq!(wait!(readline(&b))?, b"two");
///     assert_eq!(wait!(readline(&b))?, b"");
///     Ok(())
/// }));
/// tm.run().unwrap();
/// ```
pub fn readline(fd: impl FileNo) -> Op<Vec<u8>> {
    let fd = fd.fileno();
    let (mut line, mut socket) = (Vec::new(), true);
    action(fd, READ, move || {
        if line.is_empty() {
            if let Some(error) = fd::take_kept_error(fd) {
                return Err(error); // met after the partial line a recv gave
            }
            line = fd::take_partial_line(fd);
        }
        let result = match socket_or_ready(&mut socket, fd, false, || socket_line(fd, &mut line)) {
            Ok(Some(line)) => Ok(line),
            Ok(None) => read_line_bytewise(fd, &mut line),
            Err(e) => Err(e),
        };
        if matches!(&result, Err(e) if e.kind() == io::ErrorKind::WouldBlock) {
            // An owned fd keeps the part read so far, so that a timeout does
            // not lose it: the next readline returns it with the rest.
            line = fd::keep_partial_line(fd, std::mem::take(&mut line)).unwrap_or_default();
        }
        result
    })
}

/// Reads a socket up to and including the next newline into `line`, or to
/// EOF. Each read first peeks, so it never takes bytes past the newline.
fn socket_line(fd: RawFd, line: &mut Vec<u8>) -> io::Result<Vec<u8>> {
    let mut peeked = [0u8; 4096];
    loop {
        let room = peeked.len().min(MAX_LINE - line.len());
        let flags = libc::MSG_PEEK | libc::MSG_DONTWAIT;
        // SAFETY: `peeked` has at least `room` writable bytes.
        let got = check(unsafe { libc::recv(fd, peeked.as_mut_ptr().cast(), room, flags) })?;
        if got == 0 {
            if !fd::is_stream(fd) {
                // An empty datagram, not the end of a stream: it is taken,
                // so that the next readline sees the next one.
                // SAFETY: `peeked` has room for the (empty) datagram.
                check(unsafe { libc::recv(fd, peeked.as_mut_ptr().cast(), 1, libc::MSG_DONTWAIT) })?;
            }
            return Ok(std::mem::take(line)); // end of file, or an empty datagram
        }
        let newline = peeked[..got].iter().position(|&b| b == b'\n');
        let take = newline.map_or(got, |i| i + 1);
        if (take < got || got == room) && !fd::is_stream(fd) {
            // A datagram socket (asked only when a read could cut one: a
            // read takes a whole datagram, and what it does not copy is
            // lost): its line is the whole datagram.
            let size = datagram_size(fd)?;
            // SAFETY: `fill` passes a pointer to n writable bytes.
            let datagram = fill(&mut Vec::new(), size, |ptr, n| unsafe {
                libc::recv(fd, ptr, n, libc::MSG_DONTWAIT)
            })?;
            line.extend_from_slice(&datagram);
            return Ok(std::mem::take(line));
        }
        let start = line.len();
        line.resize(start + take, 0);
        // SAFETY: `line` has `take` writable bytes from `start`; the peek saw them arrive.
        let got = check(unsafe { libc::recv(fd, line[start..].as_mut_ptr().cast(), take, libc::MSG_DONTWAIT) });
        line.truncate(start + *got.as_ref().unwrap_or(&0));
        got?;
        if newline.is_some() || line.len() == MAX_LINE {
            return Ok(std::mem::take(line));
        }
    }
}

/// Reads a byte at a time into `line` until a newline or EOF, each read
/// preceded by a readiness check so that it cannot block.
fn read_line_bytewise(fd: RawFd, line: &mut Vec<u8>) -> io::Result<Vec<u8>> {
    loop {
        if !ready_now(fd, libc::POLLIN)? {
            return would_block();
        }
        let mut byte = 0u8;
        // SAFETY: one writable byte.
        let got = check(unsafe { libc::read(fd, (&mut byte as *mut u8).cast(), 1) })?;
        if got == 0 {
            return Ok(std::mem::take(line));
        }
        line.push(byte);
        if byte == b'\n' || line.len() == MAX_LINE {
            return Ok(std::mem::take(line));
        }
    }
}

/// `yield recv(sock, n)`: once `sock` is readable, receive up to `n` bytes.
/// An empty `Vec` means the peer closed the connection, as in Python.
///
/// For any stream or datagram socket (std, mio, or a raw fd). The `Vec`
/// holds exactly the bytes received; it may be the buffer of a message
/// that this manager sent in full earlier (a `send` or `sendall` gives its
/// buffer back), with room for at most twice its length: an echo or a proxy
/// then allocates nothing per message.
pub fn recv(sock: impl FileNo, n: usize) -> Op<Vec<u8>> {
    let fd = sock.fileno();
    Op::new(Operation::FdAction(FdWait::new(fd, READ, Some(Action::Recv(n)))))
}

/// One non-blocking `recv` of up to `n` bytes, then copied out at its exact
/// size: a try that would block allocates nothing, and a 64-byte message
/// costs a 64-byte `Vec`. Up to [`STACK_RECV`] bytes go through a buffer on
/// the stack (no per-thread state to reach), of [`SMALL_RECV`] bytes when
/// that is enough (the usual `recv(1024)`: a frame under a page needs no
/// stack probe); more, through one of the asked size.
#[inline]
pub(crate) fn recv_now(fd: RawFd, n: usize, spare: &mut Spare) -> io::Result<Vec<u8>> {
    if n <= SMALL_RECV {
        return recv_on_stack::<SMALL_RECV>(fd, n, spare);
    }
    if n <= STACK_RECV {
        return recv_on_stack::<STACK_RECV>(fd, n, spare);
    }
    recv_into_vec(fd, n)
}

/// A `recv` of `n` bytes into a `Vec` of its own, first giving the part of
/// a line a timed-out `readline` kept, if any (see [`after_partial_line`]).
#[inline(never)]
fn recv_into_vec(fd: RawFd, n: usize) -> io::Result<Vec<u8>> {
    if fd::any_partial_line() {
        if let Some(got) = after_partial_line(fd, n, |more| recv_into_vec(fd, more)) {
            return got;
        }
    }
    let mut buf = Vec::new();
    // SAFETY: `fill` passes a pointer to n writable bytes.
    fill(&mut buf, n, |ptr, n| unsafe {
        libc::recv(fd, ptr, n, libc::MSG_DONTWAIT)
    })
}

/// A `recv` of `n <= N` bytes through a buffer of `N` bytes on the stack.
/// Out of line, so that each size's frame is its own.
#[inline(never)]
fn recv_on_stack<const N: usize>(fd: RawFd, n: usize, spare: &mut Spare) -> io::Result<Vec<u8>> {
    debug_assert!(n <= N);
    // The part of a line a timed-out `readline` kept comes first (checked
    // here, out of the operation path that `perform` is inlined into).
    if fd::any_partial_line() {
        if let Some(got) = after_partial_line(fd, n, |more| recv_into_vec(fd, more)) {
            return got;
        }
    }
    let mut buf = std::mem::MaybeUninit::<[u8; N]>::uninit();
    // SAFETY: buf has N >= n writable bytes.
    let got = check(unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), n.min(N), libc::MSG_DONTWAIT) })?;
    // SAFETY: the call initialized the first `got <= n` bytes.
    let bytes = unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), got) };
    Ok(spare.copy(bytes))
}

/// The largest `recv` read through the small buffer on the stack.
const SMALL_RECV: usize = 2 * 1024;

/// The largest `recv` read through a buffer on the stack.
const STACK_RECV: usize = 16 * 1024;

/// `yield send(sock, data)`: once `sock` is writable, send `data`; gives the
/// number of bytes sent, which may be fewer than `data.len()`, as in Python.
/// A peer that closed or reset the connection is an `Err` (`EPIPE`,
/// `ECONNRESET`) in this task; the process never gets `SIGPIPE`.
pub fn send(sock: impl FileNo, data: impl Into<Vec<u8>>) -> Op<usize> {
    let (fd, data) = (sock.fileno(), data.into());
    Op::new(Operation::FdAction(FdWait::new(fd, WRITE, Some(Action::Send(data)))))
}

/// `yield sock.sendall(data)`: sends all of `data`, waiting for room as often
/// as it takes, as Python's `socket.sendall`; gives `()` once the last byte
/// is sent. With a timeout, the whole send must finish in time; on
/// `Timeout` or an error, part of `data` may have been sent.
///
/// ```
/// #![feature(coroutines)]
/// use multitask::{net::UnixStream, read, sendall, wait, Task, TaskManager};
///
/// let (a, b) = UnixStream::pair().unwrap();
/// let tm = TaskManager::new();
/// tm.add(Task::new(#[coroutine] move |_| {
///     wait!(sendall(&a, vec![7u8; 1 << 20]))?; // far more than a socket buffer holds
///     Ok(())
/// }));
/// tm.add(Task::new(#[coroutine] move |_| {
///     let mut got = 0;
///     while got < 1 << 20 {
///         let data = wait!(read(&b, 1 << 16))?;
///         assert!(data.iter().all(|&x| x == 7));
///         got += data.len();
///     }
///     assert_eq!(got, 1 << 20);
///     Ok(())
/// }));
/// tm.run().unwrap();
/// ```
pub fn sendall(sock: impl FileNo, data: impl Into<Vec<u8>>) -> Op<()> {
    let (fd, data) = (sock.fileno(), data.into());
    Op::new(Operation::FdAction(FdWait::new(
        fd,
        WRITE,
        Some(Action::SendAll(data, 0)),
    )))
}

/// Sends what is left of `data` after `sent` bytes: `WouldBlock` while some
/// is left and the socket is full (the count is kept for the next try).
fn send_all_now(fd: RawFd, data: &[u8], sent: &mut usize) -> io::Result<()> {
    while *sent < data.len() {
        *sent += send_now(fd, &data[*sent..])?;
    }
    Ok(())
}

/// The supertrait that seals [`Listener`] and [`Datagram`]: their methods
/// run inside the manager, while its state is borrowed, so only the
/// library's own code may be them (user code there could call the manager).
mod sealed {
    pub trait Sealed {}
}

/// A listening socket that [`accept`] takes connections from: the crate's
/// own ([`net::TcpListener`], [`net::UnixListener`]), std's or mio's, or a raw
/// fd (of a TCP listener). `accept` gives the crate's own stream either way.
///
/// Sealed: implemented for those types only, since its method runs inside
/// the manager (any other socket goes through [`fd_action`](crate::fd_action),
/// whose closure the manager calls outside its borrow). A program's own type
/// does not compile as one:
///
/// ```compile_fail,E0277
/// use std::os::fd::RawFd;
/// struct Mine;
/// impl multitask::FileNo for Mine {
///     fn fileno(&self) -> RawFd { 0 }
/// }
/// impl multitask::Listener for Mine {
///     type Stream = ();
///     type Addr = ();
///     fn accept_on(_: RawFd) -> std::io::Result<((), ())> { Ok(((), ())) }
/// }
/// ```
pub trait Listener: FileNo + sealed::Sealed {
    /// The connected socket `accept` gives.
    type Stream: 'static;
    /// The peer's address.
    type Addr: 'static;
    /// Accepts one connection on the non-blocking listener `fd`.
    #[doc(hidden)]
    fn accept_on(fd: RawFd) -> io::Result<(Self::Stream, Self::Addr)>;
}

macro_rules! tcp_listener {
    ($($listener:ty),*) => {$(
        impl sealed::Sealed for $listener {}
        impl Listener for $listener {
            type Stream = net::TcpStream;
            type Addr = SocketAddr;
            fn accept_on(fd: RawFd) -> io::Result<(net::TcpStream, SocketAddr)> {
                accept_tcp(fd)
            }
        }
    )*};
}
tcp_listener!(&net::TcpListener, &std::net::TcpListener, &mio::net::TcpListener);

impl sealed::Sealed for RawFd {}
impl Listener for RawFd {
    type Stream = net::TcpStream;
    type Addr = SocketAddr;
    fn accept_on(fd: RawFd) -> io::Result<(net::TcpStream, SocketAddr)> {
        // The family is checked before a connection is taken: one refused
        // afterwards would be lost (accepted, then closed).
        // SAFETY: zeroed sockaddr_storage is a valid value for the out-parameter.
        let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        // SAFETY: storage and len describe a writable buffer of that size.
        if unsafe { libc::getsockname(fd, (&mut storage as *mut libc::sockaddr_storage).cast(), &mut len) } < 0 {
            return Err(io::Error::last_os_error());
        }
        socket_addr(&storage)?;
        accept_tcp(fd)
    }
}

macro_rules! unix_listener {
    ($($listener:ty),*) => {$(
        impl sealed::Sealed for $listener {}
        impl Listener for $listener {
            type Stream = net::UnixStream;
            type Addr = std::os::unix::net::SocketAddr;
            fn accept_on(fd: RawFd) -> io::Result<(net::UnixStream, Self::Addr)> {
                let (stream, addr) = borrow_as::<std::os::unix::net::UnixListener>(fd).accept()?;
                Ok((net::Fd::from(stream), addr))
            }
        }
    )*};
}
unix_listener!(
    &net::UnixListener,
    &std::os::unix::net::UnixListener,
    &mio::net::UnixListener
);

/// `accept4(2)` on a TCP listener: the new socket is non-blocking from the
/// start, so it becomes an owned stream with no further syscall.
fn accept_tcp(fd: RawFd) -> io::Result<(net::TcpStream, SocketAddr)> {
    // SAFETY: zeroed sockaddr_storage is a valid value for the out-parameter.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    let flags = libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    // SAFETY: storage and len describe a writable buffer of that size.
    let conn = unsafe {
        libc::accept4(
            fd,
            (&mut storage as *mut libc::sockaddr_storage).cast(),
            &mut len,
            flags,
        )
    };
    if conn < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: accept4 just gave us this fd; the stream now owns it.
    let stream = unsafe { std::net::TcpStream::from_raw_fd(conn) };
    let addr = socket_addr(&storage)?;
    Ok((net::Fd::adopt(stream), addr))
}

/// An IPv4 or IPv6 address out of a `sockaddr_storage`.
fn socket_addr(storage: &libc::sockaddr_storage) -> io::Result<SocketAddr> {
    match storage.ss_family as libc::c_int {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in.
            let a = unsafe { &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = std::net::Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
            Ok(SocketAddr::from((ip, u16::from_be(a.sin_port))))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            let a = unsafe { &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            let ip = std::net::Ipv6Addr::from(a.sin6_addr.s6_addr);
            let addr = std::net::SocketAddrV6::new(ip, u16::from_be(a.sin6_port), a.sin6_flowinfo, a.sin6_scope_id);
            Ok(SocketAddr::V6(addr))
        }
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "accept on a raw fd takes TCP listeners only; pass a Unix listener as itself",
        )),
    }
}

/// `yield accept(sock)`: once a connection is waiting, accept it; gives
/// `(connection, address)` as in Python. The connection is the crate's own
/// stream ([`net::TcpStream`] or [`net::UnixStream`]), registered once and
/// tracked. A listener of the compatibility path is made non-blocking.
///
/// ```
/// #![feature(coroutines)]
/// use multitask::{accept, connect, wait, Task, TaskManager};
/// use multitask::net::TcpListener;
///
/// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
/// let addr = listener.local_addr().unwrap();
/// let tm = TaskManager::new();
/// tm.add(Task::new(#[coroutine] move |_| {
///     let (_conn, peer) = wait!(accept(&listener))?;
///     assert!(peer.ip().is_loopback());
///     Ok(())
/// }));
/// tm.add(Task::new(#[coroutine] move |_| {
///     let _stream = wait!(connect(addr))?;
///     Ok(())
/// }));
/// tm.run().unwrap();
/// ```
pub fn accept<L: Listener>(sock: L) -> Op<(L::Stream, L::Addr)> {
    let fd = sock.fileno();
    set_nonblocking(fd);
    action(fd, READ, move || L::accept_on(fd))
}

/// A datagram socket for [`recvfrom`] and [`sendto`]: the crate's own
/// ([`net::UdpSocket`], [`net::UnixDatagram`]), std's or mio's, or a raw fd
/// (of a UDP socket).
///
/// Sealed, as [`Listener`] is, and for the same reason.
pub trait Datagram: FileNo + sealed::Sealed {
    /// A peer's address.
    type Addr: 'static;
    /// Receives one datagram and its sender on the non-blocking socket `fd`.
    #[doc(hidden)]
    fn recv_on(fd: RawFd, buf: &mut [u8]) -> io::Result<(usize, Self::Addr)>;
    /// Sends one datagram to `addr` on the non-blocking socket `fd`.
    #[doc(hidden)]
    fn send_on(fd: RawFd, buf: &[u8], addr: &Self::Addr) -> io::Result<usize>;
}

macro_rules! udp_socket {
    ($($sock:ty),*) => {$(
        impl Datagram for $sock {
            type Addr = SocketAddr;
            fn recv_on(fd: RawFd, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
                borrow_as::<std::net::UdpSocket>(fd).recv_from(buf)
            }
            fn send_on(fd: RawFd, buf: &[u8], addr: &SocketAddr) -> io::Result<usize> {
                borrow_as::<std::net::UdpSocket>(fd).send_to(buf, addr)
            }
        }
    )*};
}
udp_socket!(&net::UdpSocket, &std::net::UdpSocket, &mio::net::UdpSocket, RawFd);
// (`RawFd` is sealed as a listener already.)
impl sealed::Sealed for &net::UdpSocket {}
impl sealed::Sealed for &std::net::UdpSocket {}
impl sealed::Sealed for &mio::net::UdpSocket {}

macro_rules! unix_datagram {
    ($($sock:ty),*) => {$(
        impl sealed::Sealed for $sock {}
        impl Datagram for $sock {
            type Addr = std::os::unix::net::SocketAddr;
            fn recv_on(fd: RawFd, buf: &mut [u8]) -> io::Result<(usize, Self::Addr)> {
                borrow_as::<std::os::unix::net::UnixDatagram>(fd).recv_from(buf)
            }
            fn send_on(fd: RawFd, buf: &[u8], addr: &Self::Addr) -> io::Result<usize> {
                match addr.as_pathname() {
                    Some(path) => borrow_as::<std::os::unix::net::UnixDatagram>(fd).send_to(buf, path),
                    None => Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "cannot send to an unnamed address",
                    )),
                }
            }
        }
    )*};
}
unix_datagram!(&net::UnixDatagram, &std::os::unix::net::UnixDatagram);

/// An address [`sendto`] can send to on a socket whose addresses are `A`:
/// anything `ToSocketAddrs` for UDP (`"host:port"`, `("127.0.0.1", 5000)`,
/// a `SocketAddr`), a Unix `SocketAddr` for Unix datagram sockets.
pub trait ToAddr<A> {
    /// The one address to send to.
    fn to_addr(self) -> io::Result<A>;
}

impl<T: ToSocketAddrs> ToAddr<SocketAddr> for T {
    fn to_addr(self) -> io::Result<SocketAddr> {
        first_addr(self)
    }
}

impl ToAddr<std::os::unix::net::SocketAddr> for std::os::unix::net::SocketAddr {
    fn to_addr(self) -> io::Result<std::os::unix::net::SocketAddr> {
        Ok(self)
    }
}

impl ToAddr<std::os::unix::net::SocketAddr> for &std::os::unix::net::SocketAddr {
    fn to_addr(self) -> io::Result<std::os::unix::net::SocketAddr> {
        Ok(self.clone())
    }
}

/// The first address `addr` resolves to; none at all is an `InvalidInput` error.
fn first_addr(addr: impl ToSocketAddrs) -> io::Result<SocketAddr> {
    addr.to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "'addr' resolved to no address"))
}

/// `yield recvfrom(sock, n)`: once `sock` is readable, receive one datagram
/// of up to `n` bytes; gives `(data, sender)`. A socket of the compatibility
/// path is made non-blocking.
///
/// ```
/// #![feature(coroutines)]
/// use multitask::{recvfrom, sendto, wait, Task, TaskManager};
/// use multitask::net::UdpSocket;
///
/// let a = UdpSocket::bind("127.0.0.1:0").unwrap();
/// let b = UdpSocket::bind("127.0.0.1:0").unwrap();
/// let b_port = b.local_addr().unwrap().port();
/// let tm = TaskManager::new();
/// tm.add(Task::new(#[coroutine] move |_| {
///     let (data, from) = wait!(recvfrom(&b, 1500))?;
///     wait!(sendto(&b, data, from))?; // echo it back
///     Ok(())
/// }));
/// tm.add(Task::new(#[coroutine] move |_| {
///     wait!(sendto(&a, "ping", ("127.0.0.1", b_port)))?; // as Python's (host, port)
///     let (reply, _) = wait!(recvfrom(&a, 1500))?;
///     assert_eq!(reply, b"ping");
///     Ok(())
/// }));
/// tm.run().unwrap();
/// ```
pub fn recvfrom<S: Datagram>(sock: S, n: usize) -> Op<(Vec<u8>, S::Addr)> {
    let fd = sock.fileno();
    set_nonblocking(fd);
    let mut buf = Vec::new();
    action(fd, READ, move || {
        // The buffer is zeroed before the call (the sockets' `recv_from`
        // takes initialized bytes): a large `n` is first cut to the size of
        // the datagram waiting (a peek that tells it), so that a small one
        // costs what it is, not `n`. (A size no buffer can have fails at
        // once, as the allocation would.)
        if n > isize::MAX as usize {
            reserve(&mut buf, n)?;
        }
        let n = if n > ZEROED_RECVFROM {
            n.min(datagram_size(fd)?)
        } else {
            n
        };
        reserve(&mut buf, n)?;
        buf.resize(n, 0);
        let (got, from) = S::recv_on(fd, &mut buf)?;
        buf.truncate(got);
        Ok((std::mem::take(&mut buf), from))
    })
}

/// The largest `recvfrom` whose buffer is zeroed with no look at the
/// datagram first.
const ZEROED_RECVFROM: usize = 64 * 1024;

/// The size of the datagram waiting on `fd` (`MSG_PEEK | MSG_TRUNC` gives
/// its whole length, reading nothing); `WouldBlock` if none waits.
fn datagram_size(fd: RawFd) -> io::Result<usize> {
    let mut byte = 0u8;
    // SAFETY: one writable byte; the call may write at most one.
    check(unsafe {
        libc::recv(
            fd,
            (&mut byte as *mut u8).cast(),
            1,
            libc::MSG_PEEK | libc::MSG_TRUNC | libc::MSG_DONTWAIT,
        )
    })
}

/// `yield sendto(sock, data, addr)`: once `sock` is writable, send one
/// datagram to `addr` (see [`ToAddr`]: Python's `(host, port)` works); gives
/// the number of bytes sent. An address that does not resolve is an error at
/// that line. A socket of the compatibility path is made non-blocking.
pub fn sendto<S: Datagram>(sock: S, data: impl Into<Vec<u8>>, addr: impl ToAddr<S::Addr>) -> Op<usize> {
    let (fd, data) = (sock.fileno(), data.into());
    let addr = match addr.to_addr() {
        Ok(addr) => addr,
        Err(e) => return Op::invalid(e.into()),
    };
    set_nonblocking(fd);
    action(fd, WRITE, move || S::send_on(fd, &data, &addr))
}

/// `yield connect(addr)`: opens a TCP connection to `addr` without blocking
/// the other tasks; gives the crate's own [`net::TcpStream`].
///
/// The original 0.2.0 had no `connect`: its users made the socket
/// non-blocking, called `connect_ex`, and yielded `writable` by hand. A
/// refused or unreachable address is an `Err` in this task. An IP address
/// is connected to without blocking, the first one given; a host name
/// (`("example.com", 80)`, `"localhost:8080"`) is looked up and connected
/// on a worker thread of [`run_in_thread`](crate::run_in_thread)'s pool,
/// trying each of its addresses, so no lookup blocks the manager (see
/// [`ConnectAddr`](crate::ConnectAddr)).
pub fn connect(addr: impl ConnectAddr) -> Op<net::TcpStream> {
    let addr = match addr.resolve() {
        Resolved::Now(Ok(addrs)) => match addrs.first() {
            Some(addr) => *addr,
            None => return Op::invalid(Error::invalid("'addr' resolved to no address")),
        },
        Resolved::Now(Err(e)) => return Op::invalid(e.into()),
        Resolved::Host(host, port) => return crate::resolve::connect_host(host, port),
    };
    let stream = match mio::net::TcpStream::connect(addr) {
        // SAFETY: the fd comes straight out of the mio stream, which gives up owning it.
        Ok(stream) => net::Fd::adopt(unsafe { std::net::TcpStream::from_raw_fd(stream.into_raw_fd()) }),
        Err(e) => return Op::invalid(e.into()),
    };
    let fd = stream.as_raw_fd();
    let mut stream = Some(stream);
    action(fd, WRITE, move || {
        let connecting = stream.as_ref().ok_or_else(|| io::Error::other("already connected"))?;
        if let Some(e) = connecting.take_error()? {
            return Err(e);
        }
        match connecting.peer_addr() {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotConnected => return Err(io::ErrorKind::WouldBlock.into()),
            Err(e) => return Err(e),
        }
        stream.take().ok_or_else(|| io::Error::other("already connected"))
    })
}
