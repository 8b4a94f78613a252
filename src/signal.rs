//! Signals: a task waits for SIGINT, SIGTERM, SIGCHLD, ... as for any other
//! operation (curio's `SignalEvent`/`SignalQueue`, trio's
//! `open_signal_receiver`, tokio's `signal::unix`).
//!
//! # Why it is built this way
//!
//! A signal handler may do almost nothing (no lock, no allocation), and a
//! signal is process-wide while managers are per thread. So the work is in
//! three places:
//!
//! - **The handler** (installed with `sigaction`, `SA_RESTART`) adds one to
//!   that signal's atomic counter and writes a byte to a self-pipe; errno is
//!   kept. Counting, rather than one byte per arrival, means a full pipe loses
//!   nothing.
//! - **A dispatcher thread** (one per process, started at the first install)
//!   sleeps on the pipe's read end, takes the counters, and gives each
//!   arrival to every receiver of that signal.
//! - **A receiver** ([`Signals`]) keeps the arrivals it was given in a FIFO
//!   until a task takes them, so arrivals between waits are counted, never
//!   lost; a task waiting on it is a remote wait (`remote.rs`), woken through
//!   its manager's `mio::Waker`. Any number of receivers, in any managers and
//!   threads, may watch one signal: each gets every arrival.
//!
//! The handler is installed when the first receiver of a signal is made, and
//! the disposition that was there before (the default, `SIG_IGN`, someone
//! else's handler) is restored when the last one is dropped. The one-shot
//! [`signal`] operation is a receiver that lives as long as its wait.
//!
//! Not every signal can be waited for: SIGKILL and SIGSTOP cannot be caught,
//! and the synchronous faults (SIGSEGV, SIGBUS, SIGILL, SIGFPE) must not
//! be: returning from their handler repeats the fault. Asking for them is an
//! [`Error::InvalidArgument`].

use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use libc::c_int;

use crate::error::{Error, Result};
use crate::op::{Op, Operation};
use crate::remote::{lock, Completer, RemoteWait};

/// Signal numbers go below this (Linux's `_NSIG`).
const NSIG: usize = 65;

/// Arrivals not yet taken by the dispatcher, per signal.
static COUNTS: [AtomicU32; NSIG] = [const { AtomicU32::new(0) }; NSIG];

/// The self-pipe's write end, for the handler.
static PIPE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn handler(signum: c_int) {
    // Only async-signal-safe calls: an atomic add and a write(2).
    // SAFETY: errno is this thread's; it is put back as it was.
    let errno = unsafe { *libc::__errno_location() };
    if let Some(count) = COUNTS.get(signum as usize) {
        count.fetch_add(1, Ordering::SeqCst);
    }
    let fd = PIPE.load(Ordering::SeqCst);
    if fd >= 0 {
        let byte = 0u8;
        // SAFETY: a one-byte write from a valid buffer; a full pipe (EAGAIN)
        // is fine, the counter holds the arrival.
        unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}

/// One receiver's arrivals and waiting tasks.
#[derive(Default)]
struct Inbox {
    arrived: VecDeque<c_int>,
    waiters: VecDeque<Completer>,
}

struct Receiver {
    inbox: Mutex<Inbox>,
}

impl Receiver {
    /// Gives the receiver `n` arrivals of `signum`: to its waiting tasks
    /// first (each arrival wakes one), the rest kept.
    fn arrive(&self, signum: c_int, n: u32) {
        let mut inbox = lock(&self.inbox);
        for _ in 0..n {
            inbox.arrived.push_back(signum);
        }
        while !inbox.arrived.is_empty() {
            let Some(waiter) = inbox.waiters.pop_front() else { break };
            let signum = inbox.arrived[0];
            if waiter.complete(Ok(Box::new(signum))).is_ok() {
                inbox.arrived.pop_front();
            } // else that task gave up: the arrival goes to the next one
        }
    }
}

/// What is installed for one signal.
struct Installed {
    /// The disposition to restore.
    old: libc::sigaction,
    receivers: Vec<(u64, Arc<Receiver>)>,
}

#[derive(Default)]
struct Registry {
    installed: Vec<Option<Installed>>,
    next_id: u64,
}

fn registry() -> &'static Mutex<Registry> {
    static REGISTRY: OnceLock<Mutex<Registry>> = OnceLock::new();
    REGISTRY.get_or_init(Mutex::default)
}

/// Makes the self-pipe and starts the dispatcher, once per process.
fn start_dispatcher() -> io::Result<()> {
    static STARTED: OnceLock<std::result::Result<(), i32>> = OnceLock::new();
    let started = STARTED.get_or_init(|| {
        let mut fds = [0 as c_int; 2];
        // SAFETY: pipe2 writes two fds into `fds`.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
            return Err(io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO));
        }
        let [read_end, write_end] = fds;
        // SAFETY: fcntl on the fd just made: only the handler's end is non-blocking.
        unsafe {
            let flags = libc::fcntl(write_end, libc::F_GETFL);
            libc::fcntl(write_end, libc::F_SETFL, flags | libc::O_NONBLOCK);
        }
        PIPE.store(write_end, Ordering::SeqCst);
        std::thread::Builder::new()
            .name("multitask-signals".into())
            .spawn(move || dispatch(read_end))
            .map(drop)
            .map_err(|e| e.raw_os_error().unwrap_or(libc::EAGAIN))
    });
    started.map_err(io::Error::from_raw_os_error)
}

/// The dispatcher: waits for the handler's bytes, then hands every counted
/// arrival to the receivers of its signal.
fn dispatch(read_end: c_int) {
    let mut buf = [0u8; 64];
    loop {
        // SAFETY: a read into a valid buffer.
        let got = unsafe { libc::read(read_end, buf.as_mut_ptr().cast(), buf.len()) };
        if got < 0 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return;
        }
        let registry = lock(registry());
        for signum in 0..NSIG {
            deliver(&registry, signum);
        }
    }
}

/// Hands the arrivals of `signum` counted so far to its receivers now (the
/// registry locked): the dispatcher's work, and a new receiver's before it
/// joins them, so that it is not given an arrival from before it was made.
fn deliver(registry: &Registry, signum: usize) {
    let n = COUNTS[signum].swap(0, Ordering::SeqCst);
    if n == 0 {
        return;
    }
    if let Some(Some(installed)) = registry.installed.get(signum) {
        for (_, receiver) in &installed.receivers {
            receiver.arrive(signum as c_int, n);
        }
    }
}

/// Checks that `signum` may be waited for.
fn check(signum: c_int) -> Result<()> {
    let forbidden = [
        libc::SIGKILL,
        libc::SIGSTOP,
        libc::SIGSEGV,
        libc::SIGBUS,
        libc::SIGILL,
        libc::SIGFPE,
    ];
    if signum <= 0 || signum as usize >= NSIG {
        return Err(Error::invalid(format!("{signum} is not a signal number")));
    }
    if forbidden.contains(&signum) {
        return Err(Error::invalid(format!("signal {signum} cannot be waited for")));
    }
    Ok(())
}

/// Installs the handler for `signum`, keeping the old disposition.
fn install(signum: c_int) -> io::Result<libc::sigaction> {
    // SAFETY: sigaction with zeroed structs filled in as the man page says.
    unsafe {
        let mut new: libc::sigaction = std::mem::zeroed();
        new.sa_sigaction = handler as extern "C" fn(c_int) as libc::sighandler_t;
        new.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut new.sa_mask);
        let mut old: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(signum, &new, &mut old) < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(old)
    }
}

/// A receiver of some signals: from the moment it is made, every arrival of
/// them is counted for it until a task takes it with [`wait`](Signals::wait)
/// (curio's `SignalQueue`, trio's `open_signal_receiver`).
///
/// Several receivers, in any tasks, managers or threads, may watch the same
/// signal: each gets every arrival. The handler is installed when the first
/// receiver of a signal is made and the previous disposition restored when
/// the last is dropped.
///
/// ```python
/// # curio
/// async with SignalQueue(signal.SIGINT, signal.SIGTERM) as q:
///     signo = await q.get()
/// ```
///
/// ```
/// #![feature(coroutines)]
/// use multitask::{wait, Signals, TaskManager};
///
/// let signals = Signals::new(&[libc::SIGUSR1]).unwrap();
/// // SAFETY: raise(3) sends the signal to this thread.
/// unsafe { libc::raise(libc::SIGUSR1) }; // arrives before anyone waits: counted
/// multitask::task! {
///     fn main_task(signals: Signals) {
///         assert_eq!(wait!(signals.wait().timeout(20))?, libc::SIGUSR1);
///     }
/// }
/// let tm = TaskManager::new();
/// tm.add(main_task(signals));
/// tm.run().unwrap();
/// ```
pub struct Signals {
    receiver: Arc<Receiver>,
    id: u64,
    signals: Vec<c_int>,
}

impl Signals {
    /// A receiver of `signals`, installing their handler where none of
    /// ours is. A signal that cannot be waited for (SIGKILL, SIGSTOP, the
    /// synchronous faults, a number out of range) is an
    /// [`Error::InvalidArgument`]; a failing `sigaction` an [`Error::Io`].
    pub fn new(signals: &[c_int]) -> Result<Signals> {
        if signals.is_empty() {
            return Err(Error::invalid("no signal to receive"));
        }
        for &signum in signals {
            check(signum)?;
        }
        start_dispatcher()?;
        let receiver = Arc::new(Receiver {
            inbox: Mutex::new(Inbox::default()),
        });
        let mut registry = lock(registry());
        registry.next_id += 1;
        let id = registry.next_id;
        let mut added = Vec::new();
        for &signum in signals {
            if added.contains(&signum) {
                continue;
            }
            if registry.installed.len() <= signum as usize {
                registry.installed.resize_with(signum as usize + 1, || None);
            }
            let slot = &mut registry.installed[signum as usize];
            if slot.is_none() {
                match install(signum) {
                    Ok(old) => {
                        *slot = Some(Installed {
                            old,
                            receivers: Vec::new(),
                        })
                    }
                    Err(e) => {
                        remove(&mut registry, id, &added);
                        return Err(e.into());
                    }
                }
            }
            deliver(&registry, signum as usize);
            if let Some(installed) = &mut registry.installed[signum as usize] {
                installed.receivers.push((id, receiver.clone()));
            }
            added.push(signum);
        }
        Ok(Signals {
            receiver,
            id,
            signals: added,
        })
    }

    /// Yielded, resumes the task with the number of the next signal that
    /// arrived for this receiver: at once (at the next pass) if one arrived
    /// since the last wait, FIFO. `.timeout(t)` gives up after `t`; an
    /// arrival is never lost to a wait that gave up.
    pub fn wait(&self) -> Op<c_int> {
        let receiver = self.receiver.clone();
        Op::new(Operation::Remote(RemoteWait::new::<c_int>(move |completer, _| {
            let mut inbox = lock(&receiver.inbox);
            match inbox.arrived.pop_front() {
                Some(signum) => {
                    let _ = completer.complete(Ok(Box::new(signum)));
                }
                None => {
                    while inbox.waiters.front().is_some_and(|w| !w.is_waiting()) {
                        inbox.waiters.pop_front();
                    }
                    inbox.waiters.push_back(completer);
                }
            }
            None
        })))
    }

    /// How many arrivals wait to be taken.
    ///
    /// ```
    /// use multitask::Signals;
    ///
    /// let signals = Signals::new(&[libc::SIGWINCH, libc::SIGWINCH]).unwrap();
    /// assert_eq!(signals.signals(), [libc::SIGWINCH]); // without repeats
    /// assert_eq!(signals.pending(), 0);
    /// assert!(Signals::new(&[libc::SIGKILL]).unwrap_err().to_string().contains("cannot be waited for"));
    /// ```
    pub fn pending(&self) -> usize {
        lock(&self.receiver.inbox).arrived.len()
    }

    /// The signals received, as given (without repeats).
    pub fn signals(&self) -> &[c_int] {
        &self.signals
    }
}

impl std::fmt::Debug for Signals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signals")
            .field("signals", &self.signals)
            .field("pending", &self.pending())
            .finish()
    }
}

/// Takes receiver `id` off `signals`, restoring each signal it was the last for.
fn remove(registry: &mut Registry, id: u64, signals: &[c_int]) {
    for &signum in signals {
        let slot = &mut registry.installed[signum as usize];
        let Some(installed) = slot else { continue };
        installed.receivers.retain(|(i, _)| *i != id);
        if installed.receivers.is_empty() {
            // SAFETY: puts back the disposition sigaction gave us.
            unsafe { libc::sigaction(signum, &installed.old, std::ptr::null_mut()) };
            *slot = None;
        }
    }
}

impl Drop for Signals {
    /// Stops receiving; the last receiver of a signal restores its old disposition.
    fn drop(&mut self) {
        remove(&mut lock(registry()), self.id, &self.signals);
    }
}

/// Yielded, resumes the task with `signum` once that signal arrives: a
/// receiver ([`Signals`]) made with the operation and dropped when its wait
/// is over (restoring the disposition if it was the last), so arrivals
/// before or after are not seen (make a [`Signals`] to count those). A signal that cannot be waited for is an
/// [`Error::InvalidArgument`] at that line.
///
/// ```python
/// # curio
/// await SignalEvent(signal.SIGINT).wait()
/// ```
///
/// ```
/// #![feature(coroutines)]
/// use multitask::{signal, sleep, wait, TaskManager};
///
/// multitask::task! {
///     fn waiter() {
///         assert_eq!(wait!(signal(libc::SIGUSR2).timeout(20))?, libc::SIGUSR2);
///     }
///     fn sender() {
///         wait!(sleep(0.05))?; // the waiter has installed its handler
///         // SAFETY: kill(2) to this process.
///         unsafe { libc::kill(libc::getpid(), libc::SIGUSR2) };
///     }
/// }
/// let tm = TaskManager::new();
/// tm.add(waiter());
/// tm.add(sender());
/// tm.run().unwrap();
/// assert!(matches!(signal(libc::SIGKILL).into_operation(), multitask::Operation::Invalid(_)));
/// ```
pub fn signal(signum: c_int) -> Op<c_int> {
    let signals = match Signals::new(&[signum]) {
        Ok(signals) => signals,
        Err(e) => return Op::invalid(e),
    };
    let receiver = signals.receiver.clone();
    let wait = signals.wait();
    let Operation::Remote(remote) = wait.into_operation() else {
        unreachable!("Signals::wait is a remote wait")
    };
    let start = remote.start;
    Op::new(Operation::Remote(RemoteWait::new::<c_int>(
        move |completer, graveyard| {
            drop(receiver);
            start(completer, graveyard);
            Some(Box::new(signals)) // kept until the wait is over: then restored
        },
    )))
}
