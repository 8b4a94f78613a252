//! The crate's own fds (`multitask::net`): registered once, readiness tracked,
//! a close seen at once, nothing of a closed fd delivered to its number's next
//! owner; and the compatibility path for raw fds and std objects.
#![feature(coroutines)]

mod common;
use common::{errno, GUARD};

use std::cell::RefCell;
use std::io::Write;
use std::os::fd::{AsRawFd, RawFd};
use std::rc::Rc;

use multitask::net::{Fd, TcpListener, TcpStream, UdpSocket, UnixStream};
use multitask::{
    accept, connect, readable, readline, recv, recvfrom, send, sendall, sendto, wait, Error, Task, TaskManager,
};

type Log = Rc<RefCell<Vec<String>>>;

/// The tests here run one at a time: one of them needs the lowest free fd
/// number to be the one it just closed, which a test opening sockets in
/// another thread meanwhile would take.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn log() -> Log {
    Rc::default()
}

fn note(log: &Log, line: impl Into<String>) {
    log.borrow_mut().push(line.into());
}

fn lines(log: &Log) -> Vec<String> {
    log.borrow().clone()
}

/// What a task's outcome looks like in the log: the data, or the errno.
fn outcome(result: &multitask::Result<Vec<u8>>) -> String {
    match result {
        Ok(data) => format!("got {:?}", String::from_utf8_lossy(data)),
        Err(e) => match errno(e) {
            Some(code) => format!("errno {code}"),
            None => format!("error {e}"),
        },
    }
}

/// A task that waits to `recv` on the raw number `fd` (of an owned fd: the
/// number leads to it) and logs what it got as `name: ...`.
fn waiter(log: &Log, name: &'static str, fd: RawFd) -> Task {
    let log = log.clone();
    Task::new(
        #[coroutine]
        move |_| {
            let result = wait!(recv(fd, 100).timeout(GUARD));
            note(&log, format!("{name}: {}", outcome(&result)));
            Ok(())
        },
    )
}

/// A waiter whose socket a task of the same manager drops is woken with
/// EBADF at the very next pass, not by a sweep a second later.
#[test]
fn a_close_by_the_same_manager_wakes_the_waiter_at_the_next_pass() {
    let _serial = serial();
    let tm = TaskManager::new();
    let (a, _peer) = UnixStream::pair().unwrap();
    let fd = a.as_raw_fd();
    let holder = Rc::new(RefCell::new(Some(a)));
    let log = log();
    tm.add(waiter(&log, "waiter", fd));
    let (l, h) = (log.clone(), holder.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(); // the waiter is parked now
            drop(h.borrow_mut().take());
            note(&l, "closer: dropped");
            Ok(())
        },
    ));
    tm.run_next(None).unwrap(); // both start; the waiter parks
    tm.run_next(None).unwrap(); // the closer drops the socket
    assert_eq!(lines(&log), ["closer: dropped"]);
    tm.run_next(None).unwrap(); // step 1 finds the close; step 3 runs the waiter
    assert_eq!(
        lines(&log),
        ["closer: dropped", format!("waiter: errno {}", libc::EBADF).as_str()]
    );
    assert!(!tm.has_io_waits());
}

/// A socket dropped by a task of another manager on the same thread wakes
/// the waiter in the waiting manager's next pass.
#[test]
fn a_close_by_another_manager_wakes_the_waiter_in_its_next_pass() {
    let _serial = serial();
    let (tm1, tm2) = (TaskManager::new(), TaskManager::new());
    let (a, _peer) = UnixStream::pair().unwrap();
    let fd = a.as_raw_fd();
    let holder = Rc::new(RefCell::new(Some(a)));
    let log = log();
    tm1.add(waiter(&log, "waiter", fd));
    tm1.run_next(None).unwrap(); // the waiter parks in tm1
    let h = holder.clone();
    tm2.add(Task::new(
        #[coroutine]
        move |_| {
            drop(h.borrow_mut().take());
            Ok(())
        },
    ));
    tm2.run().unwrap();
    assert!(tm1.has_io_waits());
    tm1.run_next(None).unwrap(); // would block forever if the close were not seen
    assert_eq!(lines(&log), [format!("waiter: errno {}", libc::EBADF)]);
    assert!(!tm1.has_io_waits());
}

/// An fd closed while a duplicate keeps its file open, whose number a new
/// socket then gets: the old waiter gets EBADF, never the new socket's data,
/// and the new socket's reader gets every byte sent to it.
#[test]
fn a_reused_fd_number_never_delivers_the_new_sockets_data_to_the_old_waiter() {
    let _serial = serial();
    let tm = TaskManager::new();
    let (old, old_peer) = UnixStream::pair().unwrap();
    let old_fd = old.as_raw_fd();
    let duplicate = old.get_ref().try_clone().unwrap(); // keeps the old file open
    let holder = Rc::new(RefCell::new(Some(old)));
    let log = log();
    tm.add(waiter(&log, "old waiter", old_fd));
    let (l, h) = (log.clone(), holder.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!();
            drop(h.borrow_mut().take());
            // The lowest free number is the one just closed: the new socket gets it.
            let (new, mut new_peer) = std::os::unix::net::UnixStream::pair()?;
            let new = Fd::new(new)?;
            note(
                &l,
                format!("new socket reuses the number: {}", new.as_raw_fd() == old_fd),
            );
            new_peer.write_all(b"NEW")?;
            old_peer.get_ref().write_all(b"OLD")?;
            let data = wait!(recv(&new, 100).timeout(GUARD))?;
            note(&l, format!("new reader: got {:?}", String::from_utf8_lossy(&data)));
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(
        lines(&log),
        [
            "new socket reuses the number: true".to_string(),
            format!("old waiter: errno {}", libc::EBADF),
            "new reader: got \"NEW\"".to_string(),
        ]
    );
    drop(duplicate);
}

/// The same with the new file a std socket on the compatibility path: the
/// owned fd's waiters fail before its number is taken for the raw one.
#[test]
fn a_number_reused_at_once_by_a_raw_socket_fails_the_owned_fds_waiters_first() {
    let _serial = serial();
    let tm = TaskManager::new();
    let (old, _old_peer) = UnixStream::pair().unwrap();
    let old_fd = old.as_raw_fd();
    let holder = Rc::new(RefCell::new(Some(old)));
    let log = log();
    let (l, h) = (log.clone(), holder.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let got = wait!(recv(h.borrow().as_ref().unwrap(), 100).timeout(GUARD));
            note(&l, format!("old waiter: {}", outcome(&got)));
            Ok(())
        },
    ));
    let (l, peer) = (log.clone(), Rc::new(RefCell::new(None)));
    let writer_peer = peer.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            drop(holder.borrow_mut().take());
            let (new, new_peer) = std::os::unix::net::UnixStream::pair()?;
            note(
                &l,
                format!("new socket reuses the number: {}", new.as_raw_fd() == old_fd),
            );
            *peer.borrow_mut() = Some(new_peer);
            // Nothing to read yet: the raw wait arms the number in epoll.
            let data = wait!(recv(&new, 100).timeout(GUARD))?;
            note(&l, format!("new reader: got {:?}", String::from_utf8_lossy(&data)));
            Ok(())
        },
    ));
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!();
            let mut peer = writer_peer.borrow_mut().take().expect("made in the pass before");
            peer.write_all(b"NEW")?;
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(
        lines(&log),
        [
            "new socket reuses the number: true".to_string(),
            format!("old waiter: errno {}", libc::EBADF),
            "new reader: got \"NEW\"".to_string(),
        ]
    );
}

/// `accept` on any listener gives the crate's own stream, and the raw fd of
/// a listener works as in Python (`accept(sock.fileno())`).
#[test]
fn accept_gives_owned_streams_from_owned_std_and_raw_listeners() {
    let _serial = serial();
    let tm = TaskManager::new();
    let owned = TcpListener::bind("127.0.0.1:0").unwrap();
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let raw = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addrs = [
        owned.local_addr().unwrap(),
        std_listener.local_addr().unwrap(),
        raw.local_addr().unwrap(),
    ];
    let log = log();
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let (a, _): (TcpStream, _) = wait!(accept(&owned).timeout(GUARD))?;
            let (b, _): (TcpStream, _) = wait!(accept(&std_listener).timeout(GUARD))?;
            let (c, peer): (TcpStream, _) = wait!(accept(raw.as_raw_fd()).timeout(GUARD))?;
            assert!(peer.ip().is_loopback());
            for (name, conn) in [("owned", a), ("std", b), ("raw", c)] {
                let data = wait!(recv(&conn, 100).timeout(GUARD))?;
                note(&l, format!("{name}: {}", String::from_utf8_lossy(&data)));
            }
            Ok(())
        },
    ));
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            for (i, addr) in addrs.into_iter().enumerate() {
                let conn = wait!(connect(addr).timeout(GUARD))?;
                wait!(sendall(&conn, format!("hello {i}")))?;
            }
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(lines(&log), ["owned: hello 0", "std: hello 1", "raw: hello 2"]);
}

/// `recvfrom` and `sendto` take the crate's sockets, std's, and raw fds; the
/// address may be Python's `(host, port)`.
#[test]
fn recvfrom_and_sendto_take_raw_fds_and_host_port_pairs() {
    let _serial = serial();
    let tm = TaskManager::new();
    let server = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    let log = log();
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let fd: RawFd = server.as_raw_fd();
            let (data, from) = wait!(recvfrom(fd, 1500).timeout(GUARD))?;
            note(&l, format!("server got {:?}", String::from_utf8_lossy(&data)));
            wait!(sendto(fd, b"pong".to_vec(), from))?;
            Ok(())
        },
    ));
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(sendto(&client, "ping", ("127.0.0.1", port)))?;
            let (data, _) = wait!(recvfrom(&client, 1500).timeout(GUARD))?;
            note(&l, format!("client got {:?}", String::from_utf8_lossy(&data)));
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(lines(&log), ["server got \"ping\"", "client got \"pong\""]);
}

/// An address that does not resolve is an error at the `sendto` line.
#[test]
fn sendto_an_address_that_does_not_resolve_is_an_error_at_that_line() {
    let _serial = serial();
    let tm = TaskManager::new();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let log = log();
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let e = wait!(sendto(&sock, "x", "not an address")).unwrap_err();
            note(&l, format!("invalid argument: {}", matches!(e, Error::Io(_))));
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(lines(&log), ["invalid argument: true"]);
}

/// `readline` on an owned fd keeps the part of a line read before a timeout:
/// the next `readline` returns it with the rest.
#[test]
fn readline_keeps_a_partial_line_across_a_timeout() {
    let _serial = serial();
    let tm = TaskManager::new();
    let (a, b) = UnixStream::pair().unwrap();
    let log = log();
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(sendall(&a, "hel"))?;
            let first = wait!(readline(&b).timeout(0.01));
            note(&l, format!("first: timeout {}", first.unwrap_err().is_timeout()));
            wait!(sendall(&a, "lo\nnext"))?;
            let line = wait!(readline(&b).timeout(GUARD))?;
            note(&l, format!("second: {:?}", String::from_utf8_lossy(&line)));
            drop(a);
            let rest = wait!(readline(&b).timeout(GUARD))?;
            note(&l, format!("at eof: {:?}", String::from_utf8_lossy(&rest)));
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(
        lines(&log),
        ["first: timeout true", "second: \"hello\\n\"", "at eof: \"next\""]
    );
}

/// A wait on an fd known ready still resumes the task a pass later, after
/// the tasks that were runnable before it, as DESIGN.md §2 orders it.
#[test]
fn a_wait_on_a_ready_owned_fd_resumes_at_the_next_pass() {
    let _serial = serial();
    let tm = TaskManager::new();
    let (a, b) = UnixStream::pair().unwrap();
    let log = log();
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(sendall(&a, "x"))?;
            wait!(readable(&b).timeout(GUARD))?; // learns that b is readable
            for i in 0..3 {
                note(&l, format!("reader yields {i}"));
                wait!(readable(&b).timeout(GUARD))?; // known ready: no event, no syscall
            }
            let data = wait!(recv(&b, 10))?;
            note(&l, format!("reader got {:?}", String::from_utf8_lossy(&data)));
            Ok(())
        },
    ));
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            for i in 0..6 {
                note(&l, format!("other {i}"));
                wait!();
            }
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(
        lines(&log),
        [
            "other 0",
            "other 1",
            "other 2",
            "reader yields 0",
            "other 3",
            "reader yields 1",
            "other 4",
            "reader yields 2",
            "other 5",
            "reader got \"x\"",
        ]
    );
}

/// 100,000 waiters on one fd: all time out, each with `Timeout`, and none is
/// left behind; then 100,000 more are all woken by one byte.
#[test]
fn a_hundred_thousand_waiters_on_one_fd_time_out_and_wake() {
    let _serial = serial();
    const N: usize = 100_000;
    let tm = TaskManager::new();
    let (a, b) = UnixStream::pair().unwrap();
    let b = Rc::new(b);
    let counts = Rc::new(RefCell::new([0usize; 3])); // timed out, woken, other
    for round in 0..2 {
        for _ in 0..N {
            let (b, counts) = (b.clone(), counts.clone());
            tm.add(Task::new(
                #[coroutine]
                move |_| {
                    let timeout = if round == 0 { 0.01 } else { GUARD };
                    let slot = match wait!(readable(&*b).timeout(timeout)) {
                        Err(Error::Timeout) => 0,
                        Ok(()) => 1,
                        Err(_) => 2,
                    };
                    counts.borrow_mut()[slot] += 1;
                    Ok(())
                },
            ));
        }
        if round == 1 {
            tm.run_next(None).unwrap(); // all parked
            a.get_ref().write_all(b"!").unwrap();
        }
        tm.run().unwrap();
    }
    assert_eq!(*counts.borrow(), [N, N, 0]);
    assert_eq!(tm.__counts(), (0, 0, 0));
}

/// Dropping an owned fd that was never waited on, or after its waits are
/// over, leaves nothing behind; the manager still serves other fds.
#[test]
fn dropping_owned_fds_leaves_the_manager_clean() {
    let _serial = serial();
    let tm = TaskManager::new();
    let log = log();
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            for i in 0..100 {
                let (a, b) = UnixStream::pair()?;
                wait!(send(&a, format!("{i}")))?;
                let data = wait!(recv(&b, 10).timeout(GUARD))?;
                if i % 50 == 0 {
                    note(&l, String::from_utf8_lossy(&data).into_owned());
                }
            }
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(lines(&log), ["0", "50"]);
    assert_eq!(tm.__counts(), (0, 0, 0));
    assert!(!tm.has_io_waits());
}

/// `into_inner` gives the std object back; a task waiting on the fd gets
/// EBADF (the library no longer owns it), and the std object still works.
#[test]
fn into_inner_releases_the_fd() {
    let _serial = serial();
    let tm = TaskManager::new();
    let (a, peer) = UnixStream::pair().unwrap();
    let fd = a.as_raw_fd();
    let holder = Rc::new(RefCell::new(Some(a)));
    let log = log();
    tm.add(waiter(&log, "waiter", fd));
    let (l, h) = (log.clone(), holder.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!();
            let std_stream = h.borrow_mut().take().unwrap().into_inner();
            peer.get_ref().write_all(b"still open")?;
            let data = wait!(recv(&std_stream, 100).timeout(GUARD))?; // the compatibility path
            note(&l, format!("std object: {:?}", String::from_utf8_lossy(&data)));
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(
        lines(&log),
        [
            format!("waiter: errno {}", libc::EBADF),
            "std object: \"still open\"".to_string()
        ]
    );
}

/// Any other fd (here the two ends of a pipe) becomes an owned, registered
/// fd with `Fd::new`: `write`, `read` and `readline` work on it, and a task
/// reading it waits (no busy loop) until the writer writes.
#[test]
fn pipe_ends_wrapped_in_fd_work_with_read_write_and_readline() {
    let _serial = serial();
    let tm = TaskManager::new();
    let (reader, writer) = std::io::pipe().unwrap();
    let (reader, writer) = (Fd::new(reader).unwrap(), Fd::new(writer).unwrap());
    let log = log();
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let line = wait!(readline(&reader).timeout(GUARD))?;
            note(&l, format!("line {:?}", String::from_utf8_lossy(&line)));
            let rest = wait!(multitask::read(&reader, 100).timeout(GUARD))?;
            note(&l, format!("rest {:?}", String::from_utf8_lossy(&rest)));
            let eof = wait!(multitask::read(&reader, 100).timeout(GUARD))?;
            note(&l, format!("eof {}", eof.is_empty()));
            Ok(())
        },
    ));
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            for _ in 0..3 {
                wait!(); // the reader waits meanwhile
            }
            note(&l, "writing");
            let n = wait!(multitask::write(&writer, "first\nsecond"))?;
            note(&l, format!("wrote {n}"));
            drop(writer);
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(
        lines(&log),
        [
            "writing",
            "wrote 12",
            "line \"first\\n\"",
            "rest \"second\"",
            "eof true"
        ]
    );
}

/// A caller's `fd_action` on a raw fd closed under it is failed by the sweep,
/// and its closure (the caller's: here its `Drop` looks at the manager) is
/// dropped after the manager's borrow.
#[test]
fn the_sweep_drops_a_failed_callers_action_outside_the_borrow() {
    struct Looks(TaskManager, Log);
    impl Drop for Looks {
        fn drop(&mut self) {
            note(&self.1, format!("action dropped, {} tasks", self.0.tasks().len()));
        }
    }
    let _serial = serial();
    let (a, _peer) = std::os::unix::net::UnixStream::pair().unwrap();
    let fd = a.as_raw_fd();
    let holder = Rc::new(RefCell::new(Some(a)));
    let tm = TaskManager::new();
    let log = log();
    let looks = Looks(tm.clone(), log.clone());
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let got = wait!(multitask::fd_action(fd, true, false, false, move || {
                let _mine = &looks;
                Ok(0)
            }));
            note(&l, format!("waiter: {}", outcome(&got.map(|_| Vec::new()))));
            Ok(())
        },
    ));
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(multitask::sleep(0.05))?;
            drop(holder.borrow_mut().take()); // a raw fd: only a sweep finds this
            for _ in 0..30 {
                wait!(multitask::sleep(0.05))?; // tasks run: a sweep comes
            }
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(
        lines(&log),
        [
            "action dropped, 2 tasks".to_string(),
            format!("waiter: errno {}", libc::EBADF)
        ]
    );
}

/// Two managers wait on one owned socket, registered with the second; the
/// first waits through the compatibility path. Merged, both waiters wait on
/// the same open file: neither gets EBADF, both see it readable.
#[test]
fn merging_managers_that_wait_on_one_owned_fd_keeps_both_waiters() {
    let _serial = serial();
    let (a, mut peer) = std::os::unix::net::UnixStream::pair().unwrap();
    let a = Rc::new(UnixStream::from(a));
    let log = log();
    let waiter = |name: &'static str| {
        let (a, l) = (a.clone(), log.clone());
        Task::new(
            #[coroutine]
            move |_| {
                let got = wait!(readable(&*a).timeout(GUARD));
                note(&l, format!("{name}: {got:?}"));
                Ok(())
            },
        )
    };
    let (tm1, tm2) = (TaskManager::new(), TaskManager::new());
    tm2.add(waiter("second's waiter"));
    tm2.run_next(Some(std::time::Duration::ZERO)).unwrap();
    tm1.add(waiter("first's waiter"));
    tm1.run_next(Some(std::time::Duration::ZERO)).unwrap();
    tm1.merge(&tm2);
    peer.write_all(b"x").unwrap();
    tm1.run().unwrap();
    let mut got = lines(&log);
    got.sort(); // several fds ready at once: any order (DESIGN.md §2)
    assert_eq!(got, ["first's waiter: Ok(())", "second's waiter: Ok(())"]);
}

/// An owned fd registered with one manager and waited on by a task of a
/// second manager of the thread (the compatibility path there): its drop
/// fails that waiter too, at its manager's next pass, even when the file
/// stays open through a duplicate and the number is reused at once; the
/// waiter never reads the new file's bytes.
#[test]
fn a_second_managers_waiter_on_a_dropped_owned_fd_gets_ebadf_and_not_the_next_files_bytes() {
    let _serial = serial();
    let (peer, a) = std::os::unix::net::UnixStream::pair().unwrap();
    let fa = Fd::new(a.try_clone().unwrap()).unwrap();
    let dup = Fd::new(a).unwrap(); // keeps the file open after `fa` goes
    let number = fa.as_raw_fd();
    let log = log();
    let (tm1, tm2) = (TaskManager::new(), TaskManager::new());
    tm1.add(waiter(&log, "first manager's waiter", number));
    tm1.run_next(Some(std::time::Duration::ZERO)).unwrap(); // registers `fa` with tm1
    tm2.add(waiter(&log, "second manager's waiter", number));
    tm2.run_next(Some(std::time::Duration::ZERO)).unwrap(); // waits through the compatibility path
    drop(fa);
    let (c, mut c_peer) = std::os::unix::net::UnixStream::pair().unwrap();
    note(
        &log,
        format!("new socket reuses the number: {}", c.as_raw_fd() == number),
    );
    c_peer.write_all(b"NEW").unwrap();
    peer.try_clone().unwrap().write_all(b"OLD").unwrap(); // the old file is readable too
    for _ in 0..2 {
        tm2.run_next(Some(std::time::Duration::ZERO)).unwrap();
        tm1.run_next(Some(std::time::Duration::ZERO)).unwrap();
    }
    let mut got = [0u8; 8];
    c.set_nonblocking(true).unwrap(); // an error, not a hang, if its bytes were taken
    let read = std::io::Read::read(&mut &c, &mut got).map(|n| String::from_utf8_lossy(&got[..n]).into_owned());
    note(&log, format!("new socket's own read: {read:?}"));
    assert_eq!(
        lines(&log),
        [
            "new socket reuses the number: true".to_string(),
            format!("second manager's waiter: errno {}", libc::EBADF),
            format!("first manager's waiter: errno {}", libc::EBADF),
            "new socket's own read: Ok(\"NEW\")".to_string(),
        ]
    );
    drop(dup);
}
