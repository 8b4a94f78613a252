//! Child processes: spawned with piped stdio as the crate's own fds, and a
//! wait for their exit that other tasks run through (curio's and trio's
//! `subprocess`, tokio's `process`).
//!
//! # Why it is built this way
//!
//! A `std::process::Child`'s pipes are plain fds and its `wait` blocks. Here
//! the three pipes become [`net::Fd`](crate::net::Fd)s (non-blocking,
//! registered once with the manager that first waits on them), so
//! [`read`](crate::read), [`readline`](crate::readline) and
//! [`write`](crate::write) work on them as on sockets, and the exit is an fd
//! wait too: a *pidfd* (Linux 5.3 and later) becomes readable when the
//! process ends, so [`Process::wait`] parks on it like any socket, then reaps
//! the process with `try_wait`. Where the kernel has no `pidfd_open`, the wait
//! watches SIGCHLD instead (a [`Signals`] receiver, made before the first
//! `try_wait` so that no exit is missed) and tries again at every arrival.
//!
//! [`Process::wait_timeout`] kills the process (SIGKILL) when its time is up,
//! reaps it (no zombie is left), and fails with [`Error::Timeout`].

use std::cell::RefCell;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::error::Error;
use crate::io::readable;
use crate::net::Fd;
use crate::signal::Signals;
use crate::task::Task;
use crate::time::IntoSeconds;

static FORCE_SIGCHLD: AtomicBool = AtomicBool::new(false);

/// Makes processes spawned from now on wait through SIGCHLD even where the
/// kernel has pidfds (for the tests of that path).
#[doc(hidden)]
pub fn __force_sigchld(on: bool) {
    FORCE_SIGCHLD.store(on, Ordering::SeqCst);
}

/// A child process with piped stdin, stdout and stderr as the crate's own
/// fds, and a wait for its exit that lets the other tasks run.
///
/// ```python
/// # curio
/// p = subprocess.Popen(['sort'], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
/// await p.stdin.write(b'b\na\n'); await p.stdin.close()
/// line = await p.stdout.readline()
/// status = await p.wait()
/// ```
///
/// ```
/// #![feature(coroutines)]
/// use multitask::process::Process;
/// use multitask::{readline, wait, write, TaskManager};
/// use std::process::Command;
///
/// multitask::task! {
///     fn main_task() {
///         let mut sort = Process::spawn(&mut Command::new("sort"))?;
///         wait!(write(sort.stdin.as_ref().unwrap(), "b\na\n"))?;
///         drop(sort.stdin.take()); // EOF: sort prints
///         let stdout = sort.stdout.take().unwrap();
///         assert_eq!(wait!(readline(&stdout))?, b"a\n");
///         assert_eq!(wait!(readline(&stdout))?, b"b\n");
///         assert_eq!(wait!(readline(&stdout))?, b""); // EOF
///         assert!(wait!(sort.wait())?.success());
///     }
/// }
/// let tm = TaskManager::new();
/// tm.add(main_task());
/// tm.run().unwrap();
/// ```
pub struct Process {
    child: Rc<RefCell<Child>>,
    /// The child's stdin; drop it (`take()`) to close it.
    pub stdin: Option<Fd<ChildStdin>>,
    /// The child's stdout.
    pub stdout: Option<Fd<ChildStdout>>,
    /// The child's stderr.
    pub stderr: Option<Fd<ChildStderr>>,
    /// Readable once the child has exited; `None`: watch SIGCHLD.
    pidfd: Option<Rc<Fd<OwnedFd>>>,
}

/// A pidfd for `pid`, if the kernel has them.
fn pidfd_open(pid: u32) -> Option<Fd<OwnedFd>> {
    if FORCE_SIGCHLD.load(Ordering::SeqCst) {
        return None;
    }
    // SAFETY: the pidfd_open syscall; its result is a new fd we own, or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: `fd` is a fresh fd, owned by no one else.
    let owned = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    // SAFETY: FD_CLOEXEC on the fd just made.
    unsafe { libc::fcntl(fd as i32, libc::F_SETFD, libc::FD_CLOEXEC) };
    Fd::new(owned).ok()
}

impl Process {
    /// Spawns `command` with its stdin, stdout and stderr piped (whatever
    /// the command said of them) and wrapped as the crate's own fds.
    pub fn spawn(command: &mut Command) -> io::Result<Process> {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let stdin = child.stdin.take().map(Fd::new).transpose()?;
        let stdout = child.stdout.take().map(Fd::new).transpose()?;
        let stderr = child.stderr.take().map(Fd::new).transpose()?;
        // We own the child until it is reaped, so its pid cannot be reused yet.
        let pidfd = pidfd_open(child.id()).map(Rc::new);
        Ok(Process {
            child: Rc::new(RefCell::new(child)),
            stdin,
            stdout,
            stderr,
            pidfd,
        })
    }

    /// The child's process id.
    ///
    /// ```
    /// use multitask::process::Process;
    /// use std::process::Command;
    ///
    /// let p = Process::spawn(Command::new("sleep").arg("10")).unwrap();
    /// assert!(p.id() > 0);
    /// assert!(p.uses_pidfd()); // Linux 5.3 and later
    /// assert!(p.try_wait().unwrap().is_none()); // still running
    /// p.kill().unwrap();
    /// ```
    pub fn id(&self) -> u32 {
        self.child.borrow().id()
    }

    /// True if its exit is watched through a pidfd (false: SIGCHLD).
    pub fn uses_pidfd(&self) -> bool {
        self.pidfd.is_some()
    }

    /// Sends it SIGKILL (nothing if it has been reaped already).
    pub fn kill(&self) -> io::Result<()> {
        self.child.borrow_mut().kill()
    }

    /// Its exit status if it has exited (reaping it), without waiting.
    pub fn try_wait(&self) -> io::Result<Option<ExitStatus>> {
        self.child.borrow_mut().try_wait()
    }

    /// A child task that resumes its parent with the exit status once the
    /// process has exited (reaping it); the other tasks run meanwhile.
    pub fn wait(&self) -> Task<ExitStatus> {
        exit_of(self.child.clone(), self.pidfd.clone(), None)
    }

    /// As [`wait`](Process::wait), but after `seconds` the process is killed
    /// (SIGKILL) and reaped, and the task fails with [`Error::Timeout`].
    ///
    /// ```
    /// #![feature(coroutines)]
    /// use multitask::process::Process;
    /// use multitask::{wait, TaskManager};
    /// use std::os::unix::process::ExitStatusExt;
    /// use std::process::Command;
    ///
    /// multitask::task! {
    ///     fn main_task() {
    ///         let sleeper = Process::spawn(Command::new("sleep").arg("10"))?;
    ///         assert!(wait!(sleeper.wait_timeout(0.05)).unwrap_err().is_timeout());
    ///         // Killed and reaped: its status is known.
    ///         assert_eq!(sleeper.try_wait()?.unwrap().signal(), Some(libc::SIGKILL));
    ///     }
    /// }
    /// let tm = TaskManager::new();
    /// tm.add(main_task());
    /// tm.run().unwrap();
    /// ```
    pub fn wait_timeout(&self, seconds: impl IntoSeconds) -> Task<ExitStatus> {
        match seconds.into_seconds().timeout() {
            Ok(timeout) => exit_of(self.child.clone(), self.pidfd.clone(), Some(Instant::now() + timeout)),
            Err(e) => Task::new(
                #[coroutine]
                move |_| Err(e),
            ),
        }
    }
}

impl std::fmt::Debug for Process {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Process")
            .field("id", &self.id())
            .field("pidfd", &self.uses_pidfd())
            .finish()
    }
}

/// The task of [`Process::wait`] and [`Process::wait_timeout`].
fn exit_of(child: Rc<RefCell<Child>>, pidfd: Option<Rc<Fd<OwnedFd>>>, deadline: Option<Instant>) -> Task<ExitStatus> {
    Task::new(
        #[coroutine]
        static move |_| {
            // Made before the first try: a SIGCHLD after it is counted.
            let sigchld = match pidfd {
                Some(_) => None,
                None => Some(Signals::new(&[libc::SIGCHLD])?),
            };
            let mut killed = false;
            loop {
                // The borrow ends with the statement: never held across a yield.
                let status = child.borrow_mut().try_wait()?;
                if let Some(status) = status {
                    return if killed { Err(Error::Timeout) } else { Ok(status) };
                }
                let left = match deadline {
                    Some(deadline) if !killed => match deadline.checked_duration_since(Instant::now()) {
                        Some(left) if !left.is_zero() => Some(left),
                        _ => {
                            let _ = child.borrow_mut().kill();
                            killed = true;
                            continue;
                        }
                    },
                    _ => None,
                };
                let waited = match (&pidfd, &sigchld, left) {
                    (Some(fd), _, Some(left)) => crate::wait!(readable(&**fd).timeout(left)),
                    (Some(fd), _, None) => crate::wait!(readable(&**fd)),
                    (None, Some(signals), Some(left)) => crate::wait!(signals.wait().timeout(left)).map(drop),
                    (None, Some(signals), None) => crate::wait!(signals.wait()).map(drop),
                    (None, None, _) => unreachable!("one of the two is made above"),
                };
                match waited {
                    Ok(()) | Err(Error::Timeout) => {} // tried again above
                    Err(e) => return Err(e),
                }
            }
        },
    )
}
