//! The library's own fd types: sockets, and any other fd, owned and tracked.
//!
//! # Why the library owns its fds
//!
//! epoll is edge-triggered in mio, and fd numbers are reused. A reactor that
//! is given only numbers must re-arm the fd at every wait (`EPOLL_CTL_MOD`,
//! plus a try that ends in `EAGAIN`), and it learns that a waited fd was
//! closed only when it next re-arms it, or from a periodic sweep. The fastest
//! runtimes avoid both the same way (tokio's `PollEvented`, may's sockets), and
//! so do these types: each is registered once, for read and write, with the
//! manager that first waits on it; the reactor keeps its readiness, set by
//! events and cleared when a call finds nothing, so an operation's wait on a
//! ready fd needs no syscall but the I/O itself and a wait on a drained one
//! needs none at all; and dropping it deregisters it and wakes every task waiting on it with
//! `EBADF` at that manager's next step 1. Nothing of a dropped fd can wake, or
//! deliver data to, a waiter on a new file that got its number.
//!
//! Every type here is an [`Fd<T>`], a wrapper owning a std object `T`:
//! [`TcpListener`], [`TcpStream`], [`UdpSocket`], [`UnixListener`],
//! [`UnixStream`], [`UnixDatagram`], and `Fd<T>` itself for anything else with
//! an fd (a pipe end, a tty, a child's stdio). It converts from and to `T`
//! ([`From`], [`Fd::into_inner`]), derefs to `T` (`conn.peer_addr()`,
//! `conn.set_nodelay(true)`), and implements `AsRawFd`/`AsFd`, so every
//! operation takes it as it takes `&T`: `wait!(recv(&conn, 1024))`.
//! [`accept`](crate::accept) gives the crate's own stream.
//!
//! An `Fd` is made non-blocking. Reading or writing it behind the operations'
//! back (`(&*conn).read(..)`, the original's `yield readable(sock); data =
//! sock.recv(1024)`) works as in the original: the reactor cannot see that
//! I/O, so a `readable`, `writable` or `fd_ready` on an fd it knows ready (or
//! woken by an edge that I/O has made stale) first looks at the fd, with one
//! `poll(2)`, as select would, and waits on if it is not ready. The operations
//! (`recv`, `send`, ...) need no look: they do their I/O, and wait on if it
//! would block.
//!
//! # The compatibility path
//!
//! Raw fd numbers and borrowed std objects that are not `Fd`s keep working, as
//! Python's "an int or an object with `fileno()`". Their fd is re-armed on each
//! wait, and its close is found late: when it is next re-armed, or by a sweep
//! about once a second while tasks run; a number closed and reused meanwhile
//! is taken for the new file. Wrap long-lived fds in an `Fd` instead.
//!
//! ```
//! #![feature(coroutines)]
//! use multitask::net::{TcpListener, TcpStream};
//! use multitask::{accept, connect, recv, send, wait, Task, TaskManager};
//!
//! let listener = TcpListener::bind("127.0.0.1:0").unwrap();
//! let addr = listener.local_addr().unwrap();
//! let tm = TaskManager::new();
//! tm.add(Task::new(#[coroutine] move |_| {
//!     let (conn, _address) = wait!(accept(&listener))?; // a multitask::net::TcpStream
//!     let request = wait!(recv(&conn, 1024))?;
//!     wait!(send(&conn, request))?;
//!     Ok(())
//! }));
//! tm.add(Task::new(#[coroutine] move |_| {
//!     let conn: TcpStream = wait!(connect(addr))?;
//!     wait!(send(&conn, "ping"))?;
//!     assert_eq!(wait!(recv(&conn, 1024))?, b"ping");
//!     Ok(())
//! }));
//! tm.run().unwrap();
//! ```

use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::net::ToSocketAddrs;
use std::ops::Deref;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::path::Path;

use crate::fd;

/// An fd owned by the library: registered once with the manager that first
/// waits on it, its readiness tracked, its close seen at once (see the
/// [module docs](self)).
///
/// ```
/// #![feature(coroutines)]
/// use multitask::{net::Fd, read, wait, write, Task, TaskManager};
/// use std::os::unix::net::UnixStream;
///
/// let (a, b) = UnixStream::pair().unwrap();
/// let (a, b) = (Fd::new(a).unwrap(), Fd::new(b).unwrap());
/// let tm = TaskManager::new();
/// tm.add(Task::new(#[coroutine] move |_| {
///     wait!(write(&a, "hi"))?;
///     assert_eq!(wait!(read(&b, 16))?, b"hi");
///     Ok(())
/// }));
/// tm.run().unwrap();
/// ```
///
/// An `Fd` stays on the thread that made it (it is not `Send`): its entry
/// in the thread's table of owned fds, and the reactor that waits on it, are
/// that thread's. To give a socket to another thread, send the std object:
///
/// ```compile_fail
/// fn send<T: Send>(_: T) {}
/// let (a, _b) = multitask::net::UnixStream::pair().unwrap();
/// send(a); // error: an `Fd` cannot be sent
/// ```
///
/// ```
/// let (a, _b) = multitask::net::UnixStream::pair().unwrap();
/// let std = a.into_inner(); // out of the table; a std socket is `Send`
/// std::thread::spawn(move || {
///     let again = multitask::net::UnixStream::from(std); // that thread's now
///     assert!(again.peer_addr().is_ok());
/// })
/// .join()
/// .unwrap();
/// ```
pub struct Fd<T: AsRawFd> {
    /// `None` only while being taken apart (`into_inner`, `Drop`).
    inner: Option<T>,
    id: u32,
    /// Not `Send`: the fd is in its thread's table of owned fds (`fd.rs`),
    /// and its reactor is that thread's. To hand a socket to another thread,
    /// take the std object out ([`into_inner`](Fd::into_inner)) and wrap it
    /// there again.
    _thread: PhantomData<*const ()>,
}

/// A TCP listening socket owned by the library.
pub type TcpListener = Fd<std::net::TcpListener>;
/// A TCP connection owned by the library.
pub type TcpStream = Fd<std::net::TcpStream>;
/// A UDP socket owned by the library.
pub type UdpSocket = Fd<std::net::UdpSocket>;
/// A Unix listening socket owned by the library.
pub type UnixListener = Fd<std::os::unix::net::UnixListener>;
/// A Unix stream socket owned by the library.
pub type UnixStream = Fd<std::os::unix::net::UnixStream>;
/// A Unix datagram socket owned by the library.
pub type UnixDatagram = Fd<std::os::unix::net::UnixDatagram>;

impl<T: AsRawFd> Fd<T> {
    /// Takes ownership of `inner`'s fd: makes it non-blocking and records it
    /// as owned. Fails if the fd is not open.
    pub fn new(inner: T) -> io::Result<Fd<T>> {
        let fd = inner.as_raw_fd();
        set_nonblocking(fd)?;
        Ok(Fd::adopt(inner))
    }

    /// Wraps an fd already non-blocking (the library's own sockets).
    pub(crate) fn adopt(inner: T) -> Fd<T> {
        let id = fd::adopt(inner.as_raw_fd());
        Fd {
            inner: Some(inner),
            id,
            _thread: PhantomData,
        }
    }

    /// Gives the std object back (still non-blocking). Tasks waiting on this
    /// fd are woken with `EBADF`, as on a close: the library no longer owns it.
    pub fn into_inner(mut self) -> T {
        let inner = self.inner.take().expect("an Fd holds its object until dropped");
        fd::release(inner.as_raw_fd(), self.id);
        inner
    }

    /// The std object, for what the wrapper does not offer.
    pub fn get_ref(&self) -> &T {
        self.inner.as_ref().expect("an Fd holds its object until dropped")
    }
}

/// Makes `fd` non-blocking (`O_NONBLOCK`).
fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on a number; a bad fd just fails.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    if flags & libc::O_NONBLOCK == 0 && unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

impl<T: AsRawFd> Drop for Fd<T> {
    /// Deregisters the fd and wakes its waiters (`EBADF`), then closes it.
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            fd::release(inner.as_raw_fd(), self.id);
        }
    }
}

impl<T: AsRawFd> Deref for Fd<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.get_ref()
    }
}

impl<T: AsRawFd> AsRawFd for Fd<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.get_ref().as_raw_fd()
    }
}

impl<T: AsRawFd + AsFd> AsFd for Fd<T> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.get_ref().as_fd()
    }
}

impl<T: AsRawFd + fmt::Debug> fmt::Debug for Fd<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Fd").field(self.get_ref()).finish()
    }
}

/// Converts a std socket, making it non-blocking.
macro_rules! from_std {
    ($($std:ty),*) => {$(
        impl From<$std> for Fd<$std> {
            /// Takes ownership of the socket and makes it non-blocking.
            fn from(sock: $std) -> Fd<$std> {
                let _ = sock.set_nonblocking(true); // a bad fd shows at the first wait
                Fd::adopt(sock)
            }
        }
    )*};
}
from_std!(
    std::net::TcpListener,
    std::net::TcpStream,
    std::net::UdpSocket,
    std::os::unix::net::UnixListener,
    std::os::unix::net::UnixStream,
    std::os::unix::net::UnixDatagram
);

impl TcpListener {
    /// Binds a listening socket to `addr` (`"127.0.0.1:0"` picks a free port).
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        std::net::TcpListener::bind(addr).map(Fd::from)
    }
}

impl UdpSocket {
    /// Binds a UDP socket to `addr`.
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        std::net::UdpSocket::bind(addr).map(Fd::from)
    }
}

impl UnixListener {
    /// Binds a Unix listening socket to `path`.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        std::os::unix::net::UnixListener::bind(path).map(Fd::from)
    }
}

impl UnixStream {
    /// A connected pair of Unix stream sockets.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        std::os::unix::net::UnixStream::pair().map(|(a, b)| (Fd::from(a), Fd::from(b)))
    }
}

impl UnixDatagram {
    /// A connected pair of Unix datagram sockets.
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        std::os::unix::net::UnixDatagram::pair().map(|(a, b)| (Fd::from(a), Fd::from(b)))
    }

    /// Binds a Unix datagram socket to `path`.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixDatagram> {
        std::os::unix::net::UnixDatagram::bind(path).map(Fd::from)
    }
}
