//! Faults: signals that interrupt the poll, tasks that panic, managers dropped
//! with tasks still suspended, descriptors closed under a waiting task, and
//! every operation given bad arguments.
//!
//! No test asserts on elapsed time. Waits that a library bug could turn into a
//! hang carry a generous timeout, so the suite fails instead of hanging; the
//! bad-input cases each run in a child process, so that even an abort in one
//! of them is reported as that case's failure.
#![feature(coroutines)]

use std::cell::{Cell, RefCell};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

mod common;
use common::{bystanders, errno, is_closed, GUARD};

use multitask::{
    accept, connect, fd_action, fd_ready, read, readable, readline, recv, recvfrom, send, sendto, sleep, value, wait,
    writable, write, Error, IntoOp, Queue, Result, Task, TaskManager,
};

/// Sets a flag when dropped: shows that a task's locals were dropped.
struct DropFlag(Rc<Cell<bool>>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

fn flag() -> (DropFlag, Rc<Cell<bool>>) {
    let flag = Rc::new(Cell::new(false));
    (DropFlag(flag.clone()), flag)
}

// ---------------------------------------------------------------------------
// Signals

static SIGNALS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn count_signal(_: libc::c_int) {
    SIGNALS.fetch_add(1, Ordering::SeqCst);
}

/// True while thread `tid` of this process sleeps in `epoll_wait` (or, where
/// the kernel hides its wait channel, sleeps at all).
fn blocked_in_poll(tid: libc::pid_t) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")) else {
        return false;
    };
    // "tid (comm) S ...": the state follows the last ')'.
    let sleeping = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next())
        == Some('S');
    let wchan = std::fs::read_to_string(format!("/proc/self/task/{tid}/wchan")).unwrap_or_default();
    sleeping && (wchan.contains("epoll") || wchan.is_empty() || wchan == "0")
}

/// Set in the child process that runs the signal test.
const SIGNAL_ENV: &str = "MULTITASK_SIGNAL_TEST_CHILD";

/// A no-op SIGALRM handler installed without SA_RESTART, so that a blocking
/// call the signal interrupts fails with EINTR. The manager's thread is sent
/// SIGALRM while it blocks in the poll (waiting on a socket that another thread
/// writes to later): the waiting task must get its data, and `run` must be
/// `Ok`.
#[test]
fn a_signal_during_the_poll_is_retried_not_reported() {
    // A handler without SA_RESTART would interrupt the blocking calls of the
    // tests running beside this one: the test runs in a process of its own.
    if std::env::var(SIGNAL_ENV).is_err() {
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                "a_signal_during_the_poll_is_retried_not_reported",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(SIGNAL_ENV, "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let report = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "{report}");
        assert!(stdout.contains("1 passed"), "the child ran no test: {report}");
        return;
    }
    // SAFETY: installing a handler that only touches an atomic.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = count_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = 0; // no SA_RESTART
        libc::sigemptyset(&mut action.sa_mask);
        assert_eq!(libc::sigaction(libc::SIGALRM, &action, std::ptr::null_mut()), 0);
    }
    let (a, b) = UnixStream::pair().unwrap();
    // SAFETY: plain queries of the calling thread.
    let (tid, thread) = unsafe { (libc::gettid(), libc::pthread_self()) };
    let before = SIGNALS.load(Ordering::SeqCst);
    let helper = std::thread::spawn(move || {
        for _ in 0..5 {
            // Wait until the manager's thread blocks in the poll, then
            // interrupt it there.
            let deadline = Instant::now() + Duration::from_secs(10);
            while !blocked_in_poll(tid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            // SAFETY: the manager's thread lives until this thread has written.
            unsafe { libc::pthread_kill(thread, libc::SIGALRM) };
        }
        std::thread::sleep(Duration::from_millis(20));
        (&a).write_all(b"after five signals").unwrap();
        a
    });
    let tm = TaskManager::new();
    let got = Rc::new(RefCell::new(Vec::new()));
    let into = got.clone();
    tm.add(Task::<()>::new(
        #[coroutine]
        move |_| {
            let data = wait!(recv(&b, 100).timeout(GUARD))?;
            into.borrow_mut().extend(data);
            Ok(())
        },
    ));
    let outcome = tm.run();
    let a = helper.join().unwrap();
    drop(a);
    outcome.unwrap();
    assert_eq!(*got.borrow(), b"after five signals");
    assert!(SIGNALS.load(Ordering::SeqCst) >= before + 5);
}

// ---------------------------------------------------------------------------
// Panics

#[test]
fn a_panicking_task_leaves_tasks_waiting_on_io_queues_and_timers_to_finish() {
    let (a, b) = UnixStream::pair().unwrap();
    let queue: Queue<&'static str> = Queue::new();
    let tm = TaskManager::new();
    let finished = Rc::new(RefCell::new(Vec::new()));
    let f = finished.clone();
    tm.add(Task::<()>::new(
        #[coroutine]
        move |_| {
            let data = wait!(recv(&b, 100).timeout(GUARD))?;
            f.borrow_mut().push(format!("io: {}", String::from_utf8(data).unwrap()));
            Ok(())
        },
    ));
    let (f, q) = (finished.clone(), queue.clone());
    tm.add(Task::<()>::new(
        #[coroutine]
        move |_| {
            let item = wait!(q.get())?; // no timeout
            f.borrow_mut().push(format!("queue: {item}"));
            Ok(())
        },
    ));
    let f = finished.clone();
    tm.add(Task::<()>::new(
        #[coroutine]
        move |_| {
            wait!(sleep(0.05))?;
            f.borrow_mut().push("timer".to_string());
            Ok(())
        },
    ));
    tm.add(Task::<()>::new(
        #[coroutine]
        |_| {
            wait!();
            if true {
                panic!("boom");
            }
            Ok(())
        },
    ));
    tm.add(Task::<()>::new(
        #[coroutine]
        move |_| {
            for _ in 0..5 {
                wait!();
            }
            wait!(send(&a, "data").timeout(GUARD))?;
            wait!(queue.put("item"))?;
            Ok(())
        },
    ));
    let done = bystanders(&tm, 10);
    match tm.run() {
        Err(Error::Panic(message)) => assert!(message.contains("boom"), "{message}"),
        other => panic!("expected the panic as run's error, got {other:?}"),
    }
    tm.run().unwrap(); // carries on: nothing was lost
    assert_eq!(done.get(), 10);
    let mut finished = finished.borrow().clone();
    finished.sort();
    assert_eq!(finished, ["io: data", "queue: item", "timer"]);
}

fn panics_after_a_yield() -> Task<i32> {
    Task::new(
        #[coroutine]
        |_| {
            wait!(sleep(0.001))?;
            if true {
                panic!("child panicked");
            }
            Ok(1)
        },
    )
}

#[test]
fn a_panic_in_a_child_reaches_its_waiting_parent_as_an_error() {
    let tm = TaskManager::new();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    tm.add(Task::<()>::new(
        #[coroutine]
        move |_| {
            match wait!(panics_after_a_yield()) {
                Err(Error::Panic(message)) => s.borrow_mut().push(format!("child: {message}")),
                other => panic!("expected Error::Panic, got {other:?}"),
            }
            // Two levels down: the middle task passes the error up with `?`.
            let middle: Task<i32> = Task::new(
                #[coroutine]
                |_| {
                    let n = wait!(panics_after_a_yield())?;
                    Ok(n + 1)
                },
            );
            match wait!(middle) {
                Err(Error::Panic(message)) => s.borrow_mut().push(format!("grandchild: {message}")),
                other => panic!("expected Error::Panic, got {other:?}"),
            }
            wait!(sleep(0.001))?; // the parent carries on
            Ok(())
        },
    ));
    let done = bystanders(&tm, 10);
    tm.run().unwrap();
    assert_eq!(done.get(), 10);
    assert_eq!(*seen.borrow(), ["child: child panicked", "grandchild: child panicked"]);
}

/// The closure of an `fd_action` is the task's own code, run by the manager
/// once the fd is ready. If it panics, the panic must become that task's
/// error, as a panic in the task's body does, and the manager must go on.
#[test]
fn a_panicking_fd_action_fails_only_its_task() {
    let (a, b) = UnixStream::pair().unwrap();
    let tm = TaskManager::new();
    let outcome = Rc::new(RefCell::new(None));
    let out = outcome.clone();
    tm.add(Task::<()>::new(
        #[coroutine]
        move |_| {
            let result = wait!(fd_action(&b, true, false, false, || -> std::io::Result<()> {
                panic!("action panicked")
            })
            .timeout(GUARD));
            *out.borrow_mut() = Some(result);
            Ok(())
        },
    ));
    tm.add(Task::<()>::new(
        #[coroutine]
        move |_| {
            wait!();
            (&a).write_all(b"wake the action")?;
            Ok(())
        },
    ));
    let done = bystanders(&tm, 10);
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| tm.run()));
    assert!(run.is_ok(), "the action's panic escaped from run()");
    run.unwrap().unwrap();
    assert_eq!(done.get(), 10);
    let outcome = outcome.borrow_mut().take();
    match outcome {
        Some(Err(Error::Panic(message))) => assert!(message.contains("action panicked"), "{message}"),
        other => panic!("expected Error::Panic, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Dropping a manager with suspended tasks

/// Every suspended task is dropped with its manager: its locals' destructors
/// run, and the sockets it owned are closed (the peers see end of file).
/// Tasks wait on an fd, a timer, a queue they alone hold (a cycle through the
/// queue if the queue owned its waiters), a full queue with an item to put, a
/// queue with a timeout, a child, or sit in the run queue, or never started.
#[test]
fn dropping_a_manager_drops_its_suspended_tasks() {
    let tm = TaskManager::new();
    let mut flags = Vec::new();
    let mut peers = Vec::new();
    let mut owned = |flags: &mut Vec<(&'static str, Rc<Cell<bool>>)>, name: &'static str| {
        let (mine, peer) = UnixStream::pair().unwrap();
        let (guard, seen) = flag();
        flags.push((name, seen));
        peers.push((name, peer));
        (mine, guard)
    };

    let (sock, guard) = owned(&mut flags, "fd wait");
    tm.add(Task::<()>::new(
        #[coroutine]
        move |_| {
            let _guard = guard;
            wait!(recv(&sock, 100))?;
            unreachable!("nothing is ever sent");
        },
    ));
    let (sock, guard) = owned(&mut flags, "fd wait with a timeout");
    tm.add(Task::<()>::new(
        #[coroutine]
        move |_| {
            let _guard = guard;
            wait!(readable(&sock).timeout(3600))?;
            unreachable!("nothing is ever sent");
        },
    ));
    let (sock, guard) = owned(&mut flags, "sleep");
    tm.add(Task::<()>::new(
        #[coroutine]
        move |_| {
            let _guard = guard;
            wait!(sleep(3600))?;
            drop(sock);
            unreachable!("an hour never passes");
        },
    ));
    let (sock, guard) = owned(&mut flags, "get on its own queue");
    tm.add(Task::<()>::new(
        #[coroutine]
        move |_| {
            let _guard = guard;
            let queue: Queue<UnixStream> = Queue::new();
            let item = wait!(queue.get())?; // nobody else can ever put
            drop((item, sock));
            unreachable!("the queue stays empty");
        },
    ));
    let (sock, guard) = owned(&mut flags, "put on its own full queue");
    let (item_guard, item_seen) = flag();
    flags.push(("the item it puts", item_seen));
    let (queued_guard, queued_seen) = flag();
    flags.push(("the item in the queue", queued_seen));
    tm.add(Task::<()>::new(
        #[coroutine]
        move |_| {
            let _guard = guard;
            let queue = Queue::with_contents([(queued_guard, None)], 1);
            wait!(queue.put((item_guard, Some(sock))))?;
            unreachable!("the queue stays full");
        },
    ));
    let (sock, guard) = owned(&mut flags, "get with a timeout");
    tm.add(Task::<()>::new(
        #[coroutine]
        move |_| {
            let _guard = guard;
            let queue: Queue<()> = Queue::new();
            wait!(queue.get().timeout(3600))?;
            drop(sock);
            unreachable!("the queue stays empty");
        },
    ));
    let (sock, guard) = owned(&mut flags, "child waiting on an fd");
    let (parent_guard, parent_seen) = flag();
    flags.push(("its parent", parent_seen));
    tm.add(Task::<()>::new(
        #[coroutine]
        move |_| {
            let _guard = parent_guard;
            let child: Task = Task::new(
                #[coroutine]
                move |_| {
                    let _guard = guard;
                    wait!(recv(&sock, 100))?;
                    unreachable!("nothing is ever sent");
                },
            );
            wait!(child)?;
            unreachable!("the child never returns");
        },
    ));
    let (sock, guard) = owned(&mut flags, "runnable");
    tm.add(Task::<()>::new(
        #[coroutine]
        move |_| {
            let _guard = guard;
            loop {
                wait!(value(sock.as_raw_fd()))?;
            }
        },
    ));

    for _ in 0..5 {
        tm.run_next(Some(Duration::ZERO)).unwrap();
    }
    let (sock, guard) = owned(&mut flags, "never started");
    tm.add(Task::<()>::new(
        #[coroutine]
        move |_| {
            let _guard = guard;
            drop(sock);
            Ok(())
        },
    ));
    for (name, seen) in &flags {
        assert!(!seen.get(), "{name}: dropped while the manager lives");
    }
    assert!(tm.has_runnable() && tm.has_io_waits() && tm.has_timeouts());

    drop(tm);
    let not_dropped: Vec<_> = flags
        .iter()
        .filter(|(_, seen)| !seen.get())
        .map(|(name, _)| *name)
        .collect();
    assert!(not_dropped.is_empty(), "not dropped with the manager: {not_dropped:?}");
    for (name, mut peer) in peers {
        peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 16];
        let got = common::read_retrying(&mut peer, &mut buf).unwrap();
        assert_eq!(got, 0, "{name}: the peer sees no end of file");
    }
}

// ---------------------------------------------------------------------------
// A descriptor closed by one task while another waits on it

#[test]
fn an_fd_closed_by_one_task_fails_the_tasks_waiting_on_it() {
    let (a, b) = UnixStream::pair().unwrap();
    let fd = b.as_raw_fd();
    let slot = Rc::new(RefCell::new(Some(b)));
    let tm = TaskManager::new();
    let errors = Rc::new(RefCell::new(Vec::new()));
    for (name, kind) in [("recv", 0), ("readable", 1), ("readline", 2)] {
        let errors = errors.clone();
        tm.add(Task::<()>::new(
            #[coroutine]
            move |_| {
                let result = match kind {
                    0 => wait!(recv(fd, 100).timeout(GUARD)).map(drop),
                    1 => wait!(readable(fd).timeout(GUARD)),
                    _ => wait!(readline(fd).timeout(GUARD)).map(drop),
                };
                errors.borrow_mut().push((name, result.map_err(|e| errno(&e))));
                Ok(())
            },
        ));
    }
    let closer = slot.clone();
    tm.add(Task::<()>::new(
        #[coroutine]
        move |_| {
            wait!();
            closer.borrow_mut().take(); // closes the fd the others wait on
            Ok(())
        },
    ));
    let done = bystanders(&tm, 20);
    tm.run().unwrap();
    drop(a);
    assert_eq!(done.get(), 20);
    let errors = errors.borrow();
    assert_eq!(errors.len(), 3);
    for (name, result) in errors.iter() {
        assert_eq!(*result, Err(Some(libc::EBADF)), "{name}");
    }
    assert!(!tm.has_io_waits());
}

/// As above, but other tasks keep the manager busy (never an idle poll) until
/// the waiter has its answer. The original's `select` reports the closed fd at
/// the next `run_next`, busy or not; the waiter must not have to wait for the
/// traffic to stop. Its 10-second timeout only keeps a failing run finite.
#[test]
fn an_fd_closed_while_the_manager_is_busy_still_fails_its_waiter() {
    let (a, b) = UnixStream::pair().unwrap();
    let fd = b.as_raw_fd();
    let slot = Rc::new(RefCell::new(Some(b)));
    let tm = TaskManager::new();
    let outcome = Rc::new(RefCell::new(None));
    let out = outcome.clone();
    tm.add(Task::<()>::new(
        #[coroutine]
        move |_| {
            let result = wait!(recv(fd, 100).timeout(10));
            *out.borrow_mut() = Some(result.map(drop));
            Ok(())
        },
    ));
    let closer = slot.clone();
    tm.add(Task::<()>::new(
        #[coroutine]
        move |_| {
            wait!();
            closer.borrow_mut().take();
            Ok(())
        },
    ));
    // Ping-pong until the waiter has its answer.
    let (c, d) = UnixStream::pair().unwrap();
    let answered = outcome.clone();
    tm.add(Task::<()>::new(
        #[coroutine]
        move |_| {
            while answered.borrow().is_none() {
                wait!(send(&c, "ping").timeout(GUARD))?;
                wait!(recv(&c, 100).timeout(GUARD))?;
            }
            Ok(()) // drops c: the echo task below sees end of file
        },
    ));
    tm.add(Task::<()>::new(
        #[coroutine]
        move |_| loop {
            let data = wait!(recv(&d, 100).timeout(GUARD))?;
            if data.is_empty() {
                return Ok(());
            }
            wait!(send(&d, data).timeout(GUARD))?;
        },
    ));
    tm.run().unwrap();
    drop(a);
    let outcome = outcome.borrow_mut().take();
    match outcome {
        Some(Err(e)) => assert_eq!(errno(&e), Some(libc::EBADF), "{e}"),
        other => panic!("expected EBADF, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Bad input

/// What a bad-input case must give at its `wait!`.
#[derive(Debug)]
enum Expect {
    /// `Error::InvalidArgument`.
    Invalid,
    /// `Error::Timeout` (not an error in the argument: a timeout that is due).
    Timeout,
    /// `Error::Io` with one of these OS error numbers.
    Os(&'static [i32]),
    /// `Error::Io` of this kind.
    Kind(ErrorKind),
    /// Any `Err` that is not a panic: `InvalidArgument` or `Io`.
    AnyError,
}

impl Expect {
    fn matches(&self, e: &Error) -> bool {
        match self {
            Expect::Invalid => matches!(e, Error::InvalidArgument(_)),
            Expect::Timeout => matches!(e, Error::Timeout),
            Expect::Os(codes) => errno(e).is_some_and(|code| codes.contains(&code)),
            Expect::Kind(kind) => e.io_error().is_some_and(|io| io.kind() == *kind),
            Expect::AnyError => matches!(e, Error::InvalidArgument(_) | Error::Io(_)),
        }
    }
}

/// Builds the task that performs one bad operation and returns its result.
type MakeCase = fn() -> Task<Result<()>>;

/// A case: `setup` makes what the operation needs (kept alive while it runs),
/// `op` builds the operation from it.
macro_rules! case {
    (|$s:ident| $op:expr) => {
        case!((), |$s| $op)
    };
    ($setup:expr, |$s:ident| $op:expr) => {
        || -> Task<Result<()>> {
            let $s = $setup;
            Task::new(
                #[coroutine]
                move |_| {
                    let result = wait!($op).map(drop);
                    let _keep = &$s;
                    Ok(result)
                },
            )
        }
    };
}

/// A number that is no open descriptor; checked with fcntl. No test here opens
/// hundreds of descriptors, so no other test can be given this number.
const NEVER_OPEN: RawFd = 999;

/// An fd number that was open and has been closed.
fn closed_fd() -> RawFd {
    const CLOSED: RawFd = 998;
    let (r, _w) = std::io::pipe().unwrap();
    // SAFETY: dup2 onto a number no one uses, then close that number.
    unsafe {
        assert_eq!(libc::dup2(r.as_raw_fd(), CLOSED), CLOSED);
        assert_eq!(libc::close(CLOSED), 0);
    }
    CLOSED
}

fn listener() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").unwrap()
}

fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = listener();
    let a = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (b, _) = l.accept().unwrap();
    (a, b)
}

/// An address on loopback where nothing listens.
fn closed_port() -> SocketAddr {
    let l = listener();
    let addr = l.local_addr().unwrap();
    drop(l);
    addr
}

/// A listener seen as a `TcpListener` though it is a connected stream: the
/// `ManuallyDrop` leaves the stream's fd to the stream.
fn stream_as_listener(stream: &TcpStream) -> std::mem::ManuallyDrop<TcpListener> {
    // SAFETY: the fd stays owned by `stream`; the ManuallyDrop never closes it.
    std::mem::ManuallyDrop::new(unsafe { TcpListener::from_raw_fd(stream.as_raw_fd()) })
}

fn bad_input_cases() -> Vec<(&'static str, Expect, MakeCase)> {
    use Expect::*;
    vec![
        // Sleeps must be longer than zero, and a number.
        ("sleep(0)", Invalid, case!(|_s| sleep(0))),
        ("sleep(-1)", Invalid, case!(|_s| sleep(-1))),
        ("sleep(NaN)", Invalid, case!(|_s| sleep(f64::NAN))),
        ("sleep(-inf)", Invalid, case!(|_s| sleep(f64::NEG_INFINITY))),
        ("sleep(Duration::ZERO)", Invalid, case!(|_s| sleep(Duration::ZERO))),
        // A timeout must be a number...
        (
            "readable().timeout(NaN)",
            Invalid,
            case!(UnixStream::pair().unwrap(), |s| readable(&s.0).timeout(f64::NAN)),
        ),
        (
            "queue.get().timeout(NaN)",
            Invalid,
            case!(Queue::<i32>::new(), |q| q.get().timeout(f64::NAN)),
        ),
        // ...but a negative one is allowed: it is due at once (Timeout).
        (
            "recv().timeout(-1)",
            Timeout,
            case!(UnixStream::pair().unwrap(), |s| recv(&s.0, 10).timeout(-1)),
        ),
        // ...and only waits take one.
        ("value(1).timeout(1)", Invalid, case!(|_s| value(1).timeout(1))),
        ("sleep(1).timeout(1)", Invalid, case!(|_s| sleep(1).timeout(1))),
        (
            "child task .timeout(1)",
            Invalid,
            case!(|_s| Task::new(
                #[coroutine]
                |_| Ok(1)
            )
            .into_op()
            .timeout(1)),
        ),
        // An fd wait needs at least one readiness flag.
        (
            "fd_ready(fd, false, false, false)",
            Invalid,
            case!(UnixStream::pair().unwrap(), |s| fd_ready(&s.0, false, false, false)),
        ),
        (
            "fd_action(fd, false, false, false, ..)",
            Invalid,
            case!(UnixStream::pair().unwrap(), |s| fd_action(
                &s.0,
                false,
                false,
                false,
                || Ok(())
            )),
        ),
        // A negative fd is no fd at all: InvalidArgument, as Python's ValueError
        // ("file descriptor cannot be a negative integer").
        ("readable(-1)", Invalid, case!(|_s| readable(-1))),
        ("writable(i32::MIN)", Invalid, case!(|_s| writable(i32::MIN))),
        ("recv(-5)", Invalid, case!(|_s| recv(-5, 10))),
        (
            "fd_action(-1, ..)",
            Invalid,
            case!(|_s| fd_action(-1, true, false, false, || Ok(()))),
        ),
        // Descriptors that are not open: EBADF, in this task only.
        (
            "readable(never opened)",
            Os(&[libc::EBADF]),
            case!(|_s| {
                assert!(is_closed(NEVER_OPEN));
                readable(NEVER_OPEN)
            }),
        ),
        ("readable(i32::MAX)", Os(&[libc::EBADF]), case!(|_s| readable(i32::MAX))),
        (
            "read(closed fd)",
            Os(&[libc::EBADF]),
            case!(closed_fd(), |fd| read(fd, 10)),
        ),
        (
            "readline(closed fd)",
            Os(&[libc::EBADF]),
            case!(closed_fd(), |fd| readline(fd)),
        ),
        (
            "recv(closed fd)",
            Os(&[libc::EBADF]),
            case!(closed_fd(), |fd| recv(fd, 10)),
        ),
        (
            "send(closed fd)",
            Os(&[libc::EBADF]),
            case!(closed_fd(), |fd| send(fd, "x")),
        ),
        // The wrong kind of descriptor for the operation.
        (
            "recv(listener)",
            Os(&[libc::ENOTCONN]),
            case!(listener(), |l| recv(&l, 10)),
        ),
        (
            "read(listener)",
            Os(&[libc::ENOTCONN]),
            case!(listener(), |l| read(&l, 10)),
        ),
        (
            "write(listener)",
            Os(&[libc::ENOTCONN, libc::EPIPE]),
            case!(listener(), |l| write(&l, "x")),
        ),
        (
            "send(listener)",
            Os(&[libc::ENOTCONN, libc::EPIPE]),
            case!(listener(), |l| send(&l, "x")),
        ),
        (
            "readline(listener)",
            Os(&[libc::ENOTCONN]),
            case!(listener(), |l| readline(&l)),
        ),
        (
            "accept(connected stream)",
            Os(&[libc::EINVAL]),
            case!(tcp_pair(), |s| accept(&*stream_as_listener(&s.0))),
        ),
        (
            "recv(pipe)",
            Os(&[libc::ENOTSOCK]),
            case!(std::io::pipe().unwrap(), |p| recv(&p.0, 10)),
        ),
        (
            "read(write end of a pipe)",
            Os(&[libc::EBADF]),
            case!(std::io::pipe().unwrap(), |p| read(&p.1, 10)),
        ),
        (
            "write(read end of a pipe)",
            Os(&[libc::EBADF]),
            case!(std::io::pipe().unwrap(), |p| write(&p.0, "x")),
        ),
        (
            "write(file opened read-only)",
            Os(&[libc::EBADF]),
            case!(std::fs::File::open("/proc/self/cmdline").unwrap(), |f| write(&f, "x")),
        ),
        // Datagrams with no peer, too large, or to an address one cannot send to.
        (
            "send(UDP socket with no peer)",
            Os(&[libc::EDESTADDRREQ]),
            case!(UdpSocket::bind("127.0.0.1:0").unwrap(), |u| send(&u, "x")),
        ),
        (
            "sendto(UDP, 70,000 bytes)",
            Os(&[libc::EMSGSIZE]),
            case!(UdpSocket::bind("127.0.0.1:0").unwrap(), |u| sendto(
                &u,
                vec![0u8; 70_000],
                "127.0.0.1:9"
            )),
        ),
        (
            "sendto(UDP, port 0)",
            Os(&[libc::EINVAL]),
            case!(UdpSocket::bind("127.0.0.1:0").unwrap(), |u| sendto(
                &u,
                "x",
                "127.0.0.1:0"
            )),
        ),
        (
            "sendto(Unix datagram, unnamed address)",
            Kind(ErrorKind::InvalidInput),
            case!(UnixDatagram::pair().unwrap(), |p| sendto(
                &p.0,
                "x",
                p.1.local_addr().unwrap()
            )),
        ),
        // Connections that cannot be made.
        (
            "connect(port 0)",
            Os(&[libc::ECONNREFUSED]),
            case!(|_s| connect("127.0.0.1:0")),
        ),
        (
            "connect(closed port)",
            Kind(ErrorKind::ConnectionRefused),
            case!(|_s| connect(closed_port())),
        ),
        (
            "connect(\"not an address\")",
            Kind(ErrorKind::InvalidInput),
            case!(|_s| connect("not an address")),
        ),
        (
            "connect(no address at all)",
            Invalid,
            case!(|_s| connect(&[] as &[SocketAddr])),
        ),
        // Sizes no buffer can have: an error at the line, not a panic or an abort.
        (
            "recv(n = usize::MAX)",
            AnyError,
            case!(UnixStream::pair().unwrap(), |s| recv(&s.0, usize::MAX)),
        ),
        (
            "recv(n = isize::MAX)",
            AnyError,
            case!(UnixStream::pair().unwrap(), |s| recv(&s.0, isize::MAX as usize)),
        ),
        (
            "read(n = usize::MAX)",
            AnyError,
            case!(std::io::pipe().unwrap(), |p| read(&p.0, usize::MAX)),
        ),
        (
            "recvfrom(n = usize::MAX)",
            AnyError,
            case!(UdpSocket::bind("127.0.0.1:0").unwrap(), |u| recvfrom(&u, usize::MAX)),
        ),
    ]
}

const CASE_ENV: &str = "MULTITASK_FAULTS_BAD_INPUT_CASE";

/// Runs one case in this process: the operation must give the expected error
/// to its task, which carries on, while two other tasks finish their work.
fn run_case(name: &str) {
    let cases = bad_input_cases();
    let (_, expect, make) = cases.iter().find(|(n, _, _)| *n == name).expect("no such case");
    let tm = TaskManager::new();
    let outcome = Rc::new(RefCell::new(None));
    let out = outcome.clone();
    let task = make();
    tm.add(Task::<()>::new(
        #[coroutine]
        move |_| {
            let result = wait!(task)?;
            wait!(sleep(0.001))?; // the task goes on after its error
            *out.borrow_mut() = Some(result);
            Ok(())
        },
    ));
    let done = bystanders(&tm, 5);
    tm.run().unwrap();
    assert_eq!(done.get(), 5, "the other tasks did not finish");
    let outcome = outcome.borrow_mut().take().expect("the task did not finish");
    println!("CASE {name}: {outcome:?}");
    match outcome {
        Err(e) => assert!(expect.matches(&e), "{name}: expected {expect:?}, got {e:?} ({e})"),
        Ok(()) => panic!("{name}: expected {expect:?}, got Ok"),
    }
}

/// Every operation that takes arguments, given bad ones: each gives a clear
/// `Err` at its line (the comment above each group names the error), never a
/// panic or an abort, and the other tasks are not disturbed. Each case runs in
/// a child process, so that one that crashes cannot hide the others.
#[test]
fn bad_input_gives_an_error_at_that_line() {
    if let Ok(name) = std::env::var(CASE_ENV) {
        run_case(&name);
        return;
    }
    // All cases at once, each in its own process; one that hangs is killed.
    let exe = std::env::current_exe().unwrap();
    let mut running = Vec::new();
    for (name, expect, _) in bad_input_cases() {
        let child = Command::new(&exe)
            .args([
                "bad_input_gives_an_error_at_that_line",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CASE_ENV, name)
            .env("RUST_BACKTRACE", "0")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        running.push((name, expect, child));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut failures = Vec::new();
    for (name, expect, mut child) in running {
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let mut stdout = String::new();
        let mut stderr = String::new();
        child.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
        child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        match status {
            Some(status) if status.success() => {}
            Some(status) => {
                let why = stderr
                    .lines()
                    .chain(stdout.lines())
                    .filter(|l| l.contains("panicked") || l.contains(name) || l.contains("memory"))
                    .take(3)
                    .collect::<Vec<_>>()
                    .join(" | ");
                failures.push(format!("{name} (expected {expect:?}): {status}: {why}"));
            }
            None => failures.push(format!("{name} (expected {expect:?}): no answer, the task hangs")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} bad-input cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Sets its flag when dropped.
struct Dropped(Rc<Cell<bool>>);

impl Drop for Dropped {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

/// A task that holds a handle to its own manager keeps it alive (an `Rc`
/// cycle) while it waits; `clear` drops it all the same: its destructors run,
/// its socket closes, and the manager stays usable.
#[test]
fn clear_drops_tasks_that_hold_their_own_manager() {
    let (a, b) = UnixStream::pair().unwrap();
    let dropped = Rc::new(Cell::new(false));
    let tm = TaskManager::new();
    let (handle, guard) = (tm.clone(), Dropped(dropped.clone()));
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let _keep = (handle, guard);
            let data = wait!(recv(&a, 16))?;
            Ok(data.len())
        },
    ));
    tm.run_next(Some(Duration::ZERO)).unwrap();
    assert!(tm.has_io_waits());
    assert!(!dropped.get());

    tm.clear();
    assert!(dropped.get());
    assert!(!(tm.has_runnable() || tm.has_io_waits() || tm.has_timeouts()));
    let mut buf = [0u8; 1];
    assert_eq!(
        common::read_retrying(&b, &mut buf).unwrap(),
        0,
        "the task's socket is closed: the peer sees EOF"
    );

    let ran = Rc::new(Cell::new(false));
    let ran2 = ran.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            ran2.set(true);
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert!(ran.get());
}
