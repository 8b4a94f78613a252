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
//!   queue can fill before the newline arrives); a `readline` that times out
//!   drops that part.
//!
//! The operations hold the raw fd, not a borrow (the manager keeps the
//! operation while the task waits): the fd must stay open while the task
//! waits, or the task gets `EBADF`.

use std::io;
use std::mem::ManuallyDrop;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, RawFd};
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};

use crate::error::Error;
use crate::io::{Action, FdWait, FileNo, Flags, READ, WRITE};
use crate::op::{Op, Operation};
use crate::value::Value;

/// The longest line `readline` returns in one piece; a longer line comes back
/// in pieces of this size, the last one ending with the newline.
pub const MAX_LINE: usize = 64 * 1024;

/// A library action: tried when the task yields, then whenever the fd is ready.
fn action<T: 'static>(fd: RawFd, flags: Flags, mut f: impl FnMut() -> io::Result<T> + 'static) -> Op<T> {
    let action = Action::Call(Box::new(move || f().map(Value::new)));
    Op::new(Operation::FdAction(FdWait::new(fd, flags, Some(action), true)))
}

/// Turns a C return value into an `io::Result`.
fn check(ret: isize) -> io::Result<usize> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret as usize)
    }
}

/// Makes a socket non-blocking; an error (a bad fd) shows when the task waits.
fn set_nonblocking(fd: RawFd) {
    let on: libc::c_int = 1;
    // SAFETY: FIONBIO reads one c_int; a bad fd just fails.
    unsafe { libc::ioctl(fd, libc::FIONBIO, &on) };
}

/// Borrows a socket's fd as a `T` without taking ownership (it is never
/// closed here). Only for the sealed std and mio socket types, whose
/// `from_raw_fd` just wraps the number.
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
    let mut pfd = libc::pollfd { fd, events, revents: 0 };
    // SAFETY: one valid pollfd, zero timeout.
    check(unsafe { libc::poll(&mut pfd, 1, 0) } as isize)?;
    if pfd.revents & libc::POLLNVAL != 0 {
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    Ok(pfd.revents != 0)
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
    if ready_now(fd, if writing { libc::POLLOUT } else { libc::POLLIN })? {
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
pub fn write(fd: impl FileNo, data: impl Into<Vec<u8>>) -> Op<usize> {
    let (fd, data) = (fd.fileno(), data.into());
    let mut socket = true;
    action(fd, WRITE, move || {
        if let Some(sent) = socket_or_ready(&mut socket, fd, true, || send_now(fd, &data))? {
            return Ok(sent);
        }
        // A writable pipe takes PIPE_BUF bytes without blocking, whatever its mode.
        // SAFETY: data is a valid slice of at least that many bytes.
        check(unsafe { libc::write(fd, data.as_ptr().cast(), data.len().min(libc::PIPE_BUF)) })
    })
}

/// `send` that cannot block, and cannot raise `SIGPIPE`.
pub(crate) fn send_now(fd: RawFd, data: &[u8]) -> io::Result<usize> {
    let flags = libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;
    // SAFETY: data is a valid slice.
    check(unsafe { libc::send(fd, data.as_ptr().cast(), data.len(), flags) })
}

/// `yield readline(fd)`: one line, with its newline; at end of file, what is
/// left (an empty `Vec` once nothing is). A line already buffered in the
/// kernel is returned without waiting. See the module docs for how it reads.
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
        if let Some(line) = socket_or_ready(&mut socket, fd, false, || socket_line(fd, &mut line))? {
            return Ok(line);
        }
        read_line_bytewise(fd, &mut line)
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
            return Ok(std::mem::take(line)); // end of file
        }
        let newline = peeked[..got].iter().position(|&b| b == b'\n');
        let take = newline.map_or(got, |i| i + 1);
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
/// For any stream or datagram socket (std, mio, or a raw fd).
pub fn recv(sock: impl FileNo, n: usize) -> Op<Vec<u8>> {
    let fd = sock.fileno();
    Op::new(Operation::FdAction(FdWait::new(fd, READ, Some(Action::Recv(n)), true)))
}

/// One non-blocking `recv` of up to `n` bytes, into a per-thread scratch
/// buffer, then copied out at its exact size: a try that would block
/// allocates nothing, and a 64-byte message costs a 64-byte `Vec`.
pub(crate) fn recv_now(fd: RawFd, n: usize) -> io::Result<Vec<u8>> {
    const SCRATCH: usize = 64 * 1024;
    thread_local! {
        static BUF: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0u8; SCRATCH]);
    }
    if n > SCRATCH {
        let mut buf = Vec::new();
        // SAFETY: `fill` passes a pointer to n writable bytes.
        return fill(&mut buf, n, |ptr, n| unsafe {
            libc::recv(fd, ptr, n, libc::MSG_DONTWAIT)
        });
    }
    BUF.with(|buf| {
        let mut buf = buf.borrow_mut();
        // SAFETY: buf has SCRATCH >= n writable bytes.
        let got = check(unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), n, libc::MSG_DONTWAIT) })?;
        Ok(buf[..got].to_vec())
    })
}

/// `yield send(sock, data)`: once `sock` is writable, send `data`; gives the
/// number of bytes sent, which may be fewer than `data.len()`, as in Python.
/// A peer that closed or reset the connection is an `Err` (`EPIPE`,
/// `ECONNRESET`) in this task; the process never gets `SIGPIPE`.
pub fn send(sock: impl FileNo, data: impl Into<Vec<u8>>) -> Op<usize> {
    let (fd, data) = (sock.fileno(), data.into());
    Op::new(Operation::FdAction(FdWait::new(
        fd,
        WRITE,
        Some(Action::Send(data)),
        true,
    )))
}

mod sealed {
    /// Keeps [`Listener`](super::Listener) and [`Datagram`](super::Datagram)
    /// to the std and mio socket types, whose fds the actions borrow.
    pub trait Sealed {}
    impl Sealed for std::net::TcpListener {}
    impl Sealed for std::os::unix::net::UnixListener {}
    impl Sealed for mio::net::TcpListener {}
    impl Sealed for mio::net::UnixListener {}
    impl Sealed for std::net::UdpSocket {}
    impl Sealed for mio::net::UdpSocket {}
    impl Sealed for std::os::unix::net::UnixDatagram {}
}

/// A listening socket that [`accept`] takes connections from.
pub trait Listener: AsRawFd + FromRawFd + sealed::Sealed {
    /// The connected socket `accept` gives.
    type Stream: 'static;
    /// The peer's address.
    type Addr: 'static;
    /// The listener's own (blocking-style) accept.
    fn accept_one(&self) -> io::Result<(Self::Stream, Self::Addr)>;
}

macro_rules! listener {
    ($($listener:ty => $stream:ty, $addr:ty;)*) => {$(
        impl Listener for $listener {
            type Stream = $stream;
            type Addr = $addr;
            fn accept_one(&self) -> io::Result<($stream, $addr)> {
                self.accept()
            }
        }
    )*};
}
listener! {
    std::net::TcpListener => TcpStream, SocketAddr;
    UnixListener => UnixStream, std::os::unix::net::SocketAddr;
    mio::net::TcpListener => mio::net::TcpStream, SocketAddr;
    mio::net::UnixListener => mio::net::UnixStream, std::os::unix::net::SocketAddr;
}

/// `yield accept(sock)`: once a connection is waiting, accept it; gives
/// `(connection, address)` as in Python. The listener is made non-blocking.
///
/// ```
/// #![feature(coroutines)]
/// use multitask::{accept, connect, wait, Task, TaskManager};
/// use std::net::TcpListener;
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
pub fn accept<L: Listener>(sock: &L) -> Op<(L::Stream, L::Addr)> {
    let fd = sock.as_raw_fd();
    set_nonblocking(fd);
    action(fd, READ, move || borrow_as::<L>(fd).accept_one())
}

/// A datagram socket for [`recvfrom`] and [`sendto`].
pub trait Datagram: AsRawFd + FromRawFd + sealed::Sealed {
    /// A peer's address.
    type Addr: 'static;
    /// Receives one datagram and its sender.
    fn recv_one(&self, buf: &mut [u8]) -> io::Result<(usize, Self::Addr)>;
    /// Sends one datagram to `addr`.
    fn send_one(&self, buf: &[u8], addr: &Self::Addr) -> io::Result<usize>;
}

impl Datagram for UdpSocket {
    type Addr = SocketAddr;
    fn recv_one(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.recv_from(buf)
    }
    fn send_one(&self, buf: &[u8], addr: &SocketAddr) -> io::Result<usize> {
        self.send_to(buf, addr)
    }
}

impl Datagram for mio::net::UdpSocket {
    type Addr = SocketAddr;
    fn recv_one(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.recv_from(buf)
    }
    fn send_one(&self, buf: &[u8], addr: &SocketAddr) -> io::Result<usize> {
        self.send_to(buf, *addr)
    }
}

impl Datagram for UnixDatagram {
    type Addr = std::os::unix::net::SocketAddr;
    fn recv_one(&self, buf: &mut [u8]) -> io::Result<(usize, Self::Addr)> {
        self.recv_from(buf)
    }
    fn send_one(&self, buf: &[u8], addr: &Self::Addr) -> io::Result<usize> {
        match addr.as_pathname() {
            Some(path) => self.send_to(buf, path),
            None => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot send to an unnamed address",
            )),
        }
    }
}

/// `yield recvfrom(sock, n)`: once `sock` is readable, receive one datagram
/// of up to `n` bytes; gives `(data, sender)`. The socket is made non-blocking.
///
/// ```
/// #![feature(coroutines)]
/// use multitask::{recvfrom, sendto, wait, Task, TaskManager};
/// use std::net::UdpSocket;
///
/// let a = UdpSocket::bind("127.0.0.1:0").unwrap();
/// let b = UdpSocket::bind("127.0.0.1:0").unwrap();
/// let b_addr = b.local_addr().unwrap();
/// let tm = TaskManager::new();
/// tm.add(Task::new(#[coroutine] move |_| {
///     let (data, from) = wait!(recvfrom(&b, 1500))?;
///     wait!(sendto(&b, data, from))?; // echo it back
///     Ok(())
/// }));
/// tm.add(Task::new(#[coroutine] move |_| {
///     wait!(sendto(&a, "ping", b_addr))?;
///     let (reply, _) = wait!(recvfrom(&a, 1500))?;
///     assert_eq!(reply, b"ping");
///     Ok(())
/// }));
/// tm.run().unwrap();
/// ```
pub fn recvfrom<S: Datagram>(sock: &S, n: usize) -> Op<(Vec<u8>, S::Addr)> {
    let fd = sock.as_raw_fd();
    set_nonblocking(fd);
    let mut buf = Vec::new();
    action(fd, READ, move || {
        reserve(&mut buf, n)?;
        buf.resize(n, 0);
        let (got, from) = borrow_as::<S>(fd).recv_one(&mut buf)?;
        buf.truncate(got);
        Ok((std::mem::take(&mut buf), from))
    })
}

/// `yield sendto(sock, data, addr)`: once `sock` is writable, send one
/// datagram to `addr`; gives the number of bytes sent. The socket is made
/// non-blocking.
pub fn sendto<S: Datagram>(sock: &S, data: impl Into<Vec<u8>>, addr: S::Addr) -> Op<usize> {
    let (fd, data) = (sock.as_raw_fd(), data.into());
    set_nonblocking(fd);
    action(fd, WRITE, move || borrow_as::<S>(fd).send_one(&data, &addr))
}

/// `yield connect(addr)`: opens a TCP connection to `addr` without blocking
/// the other tasks; gives the connected [`TcpStream`] (in blocking mode, as
/// std's `connect` gives it; the library's operations work on it either way).
///
/// The original 0.2.0 had no `connect`: its users made the socket
/// non-blocking, called `connect_ex`, and yielded `writable` by hand. A
/// refused or unreachable address is an `Err` in this task. `addr` is
/// resolved when the operation is built (give an IP address to avoid a
/// blocking DNS lookup); the first address is used.
pub fn connect(addr: impl ToSocketAddrs) -> Op<TcpStream> {
    let addr = match addr.to_socket_addrs().map(|mut addrs| addrs.next()) {
        Ok(Some(addr)) => addr,
        Ok(None) => return Op::invalid(Error::invalid("'addr' resolved to no address")),
        Err(e) => return Op::invalid(e.into()),
    };
    let stream = match mio::net::TcpStream::connect(addr) {
        Ok(stream) => stream,
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
        // SAFETY: the fd comes straight out of the mio stream, which gives up owning it.
        let std_stream = stream
            .take()
            .map(|s| unsafe { TcpStream::from_raw_fd(s.into_raw_fd()) });
        let std_stream = std_stream.ok_or_else(|| io::Error::other("already connected"))?;
        std_stream.set_nonblocking(false)?;
        Ok(std_stream)
    })
}
