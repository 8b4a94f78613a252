//! One manager per core: N threads, each with its own manager running a task
//! made by a factory (glommio's executor per core; for a server, each binds
//! the same address with `SO_REUSEPORT` and the kernel spreads the
//! connections).
//!
//! # Why it is built this way
//!
//! Tasks are not `Send` (they hold `Rc`s, the thread's fds, the thread's
//! default manager), so a server does not move tasks between threads: it runs
//! one independent manager per thread, each with its own epoll, and shares
//! nothing on the hot path. The kernel balances the load: with
//! `SO_REUSEPORT`, each thread's listener gets its own accept queue, and
//! new connections are spread over them by a hash of their addresses. Work
//! that must cross threads goes through a
//! [`UniversalQueue`](crate::UniversalQueue).
//!
//! [`run`] starts the threads, runs on each its thread's default manager
//! (so `multitask::add` in its tasks adds there) with the factory's task, and
//! gathers each main task's result. An error of another top-level task (a
//! client's reset, say) leaves that manager's `run()`, as on one thread: it
//! is passed to the `on_error` hook ([`Cores::on_error`]; by default it is
//! logged) and the manager carries on. The first main task to fail (or
//! panic) is the result of the whole run, returned as soon as it happens;
//! the other threads are left to end on their own.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::FromRawFd;
use std::sync::{mpsc, Arc};

use crate::error::{Error, Result};
use crate::task::Task;

type OnError = Arc<dyn Fn(usize, &Error) + Send + Sync>;

/// A run of one manager per thread: [`Cores::new`], optionally
/// [`on_error`](Cores::on_error), then [`run`](Cores::run).
///
/// ```
/// #![feature(coroutines)]
/// use multitask::cores::Cores;
/// use multitask::wait;
///
/// multitask::task! {
///     fn work(core: usize) -> usize {
///         wait!();
///         core * 10
///     }
/// }
/// let results = Cores::new(2).run(|core| Ok(work(core))).unwrap();
/// assert_eq!(results, [0, 10]); // in the order of the cores
/// ```
pub struct Cores {
    threads: usize,
    on_error: OnError,
}

impl Cores {
    /// A run on `threads` threads (at least one).
    pub fn new(threads: usize) -> Cores {
        Cores {
            threads: threads.max(1),
            on_error: Arc::new(|core, e| log::warn!("core {core}: a task failed: {e}")),
        }
    }

    /// Calls `hook` with the core and the error of each top-level task
    /// other than the main one that fails (by default: logged at `warn`).
    ///
    /// ```
    /// #![feature(coroutines)]
    /// use multitask::cores::Cores;
    /// use multitask::{Error, Task};
    /// use std::sync::{Arc, Mutex};
    ///
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let s = seen.clone();
    /// let results = Cores::new(1)
    ///     .on_error(move |core, e| s.lock().unwrap().push(format!("core {core}: {e}")))
    ///     .run(|_| {
    ///         multitask::add(Task::<()>::new(#[coroutine] |_| Err(Error::msg("a client failed"))));
    ///         Ok(Task::ready(1))
    ///     });
    /// assert_eq!(results.unwrap(), [1]);
    /// assert_eq!(*seen.lock().unwrap(), ["core 0: a client failed"]);
    /// ```
    pub fn on_error(mut self, hook: impl Fn(usize, &Error) + Send + Sync + 'static) -> Cores {
        self.on_error = Arc::new(hook);
        self
    }

    /// Starts the threads; on thread `core` (0-based), `factory(core)` makes
    /// the main task, which runs on that thread's default manager until the
    /// manager has nothing left to run. Gives the main tasks' results in the
    /// order of the cores, or the first error (a factory's, a main task's,
    /// a panic, a thread that could not start), as soon as it happens.
    pub fn run<T, F>(self, factory: F) -> Result<Vec<T>>
    where
        T: Send + 'static,
        F: Fn(usize) -> Result<Task<T>> + Send + Sync + 'static,
    {
        let factory = Arc::new(factory);
        let (tx, rx) = mpsc::channel::<(usize, Result<T>)>();
        for core in 0..self.threads {
            let (factory, tx, on_error) = (factory.clone(), tx.clone(), self.on_error.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("multitask-core-{core}"))
                .spawn(move || {
                    let result =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| serve(core, &*factory, &*on_error)))
                            .unwrap_or_else(|p| Err(Error::Panic(crate::task::panic_message(p))));
                    let _ = tx.send((core, result));
                });
            if let Err(e) = spawned {
                return Err(e.into());
            }
        }
        drop(tx);
        let mut results: Vec<Option<T>> = (0..self.threads).map(|_| None).collect();
        for (core, result) in rx {
            results[core] = Some(result?);
        }
        Ok(results
            .into_iter()
            .map(|r| r.expect("every core sent its result"))
            .collect())
    }
}

/// One core's thread: its default manager, the main task, errors of the
/// others to the hook.
fn serve<T: 'static>(
    core: usize,
    factory: &dyn Fn(usize) -> Result<Task<T>>,
    on_error: &dyn Fn(usize, &Error),
) -> Result<T> {
    let main = factory(core)?;
    let result = std::rc::Rc::new(std::cell::RefCell::new(None));
    let slot = result.clone();
    let tm = crate::manager::get_default_task_manager();
    tm.add(Task::<()>::new(
        #[coroutine]
        move |_| {
            let r = crate::wait!(main);
            *slot.borrow_mut() = Some(r);
            Ok(())
        },
    ));
    loop {
        match tm.run() {
            Ok(()) => break,
            Err(e) => on_error(core, &e),
        }
    }
    let finished = result.borrow_mut().take();
    finished.unwrap_or_else(|| {
        Err(Error::msg(
            "the main task never finished (it waits on something no one will give)",
        ))
    })
}

/// Runs `factory`'s task on each of `threads` threads, one manager each:
/// [`Cores::new(threads).run(factory)`](Cores::run).
///
/// ```
/// use multitask::{cores, Error, Task};
///
/// let failed = cores::run(2, |core| match core {
///     0 => Ok(Task::ready(())),
///     _ => Err(Error::msg("no such device")),
/// });
/// assert_eq!(failed.unwrap_err().to_string(), "no such device");
/// ```
pub fn run<T, F>(threads: usize, factory: F) -> Result<Vec<T>>
where
    T: Send + 'static,
    F: Fn(usize) -> Result<Task<T>> + Send + Sync + 'static,
{
    Cores::new(threads).run(factory)
}

/// A TCP listener on `addr` with `SO_REUSEPORT` (and `SO_REUSEADDR`) set
/// before it binds, so that every core's listener can bind the same address
/// and the kernel spreads new connections over them. A std listener (it is
/// `Send`): convert it on the thread that serves it, with
/// [`net::TcpListener::from`](crate::net::Fd).
///
/// ```
/// use multitask::cores::bind_reuseport;
///
/// let first = bind_reuseport("127.0.0.1:0").unwrap();
/// let addr = first.local_addr().unwrap();
/// let second = bind_reuseport(addr).unwrap(); // the same port
/// assert_eq!(second.local_addr().unwrap(), addr);
/// ```
pub fn bind_reuseport(addr: impl ToSocketAddrs) -> io::Result<std::net::TcpListener> {
    let mut last = io::Error::new(io::ErrorKind::InvalidInput, "'addr' resolved to no address");
    for addr in addr.to_socket_addrs()? {
        match bind_one(addr) {
            Ok(listener) => return Ok(listener),
            Err(e) => last = e,
        }
    }
    Err(last)
}

fn bind_one(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let check = |ret: libc::c_int| {
        if ret < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(ret)
        }
    };
    let domain = if addr.is_ipv4() { libc::AF_INET } else { libc::AF_INET6 };
    // SAFETY: socket(2); the fd is owned by the listener from here on.
    let fd = check(unsafe { libc::socket(domain, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: a fresh fd, owned by no one else: closed if anything below fails.
    let listener = unsafe { std::net::TcpListener::from_raw_fd(fd) };
    let one: libc::c_int = 1;
    for option in [libc::SO_REUSEADDR, libc::SO_REUSEPORT] {
        // SAFETY: setsockopt with a c_int option value.
        check(unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                option,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        })?;
    }
    let (storage, len) = sockaddr(addr);
    // SAFETY: bind and listen with a sockaddr of the length given.
    check(unsafe { libc::bind(fd, (&storage as *const libc::sockaddr_storage).cast(), len) })?;
    // SAFETY: as above.
    check(unsafe { libc::listen(fd, 1024) })?;
    Ok(listener)
}

/// `addr` as a C socket address.
fn sockaddr(addr: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: an all-zero sockaddr_storage is valid.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            // SAFETY: sockaddr_storage is large and aligned enough for any sockaddr.
            let sin = unsafe { &mut *(&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = a.port().to_be();
            sin.sin_addr.s_addr = u32::from_ne_bytes(a.ip().octets());
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            // SAFETY: as above.
            let sin6 = unsafe { &mut *(&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = a.port().to_be();
            sin6.sin6_addr.s6_addr = a.ip().octets();
            sin6.sin6_flowinfo = a.flowinfo();
            sin6.sin6_scope_id = a.scope_id();
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}
