//! Callers' `fd_action` closures beside library actions on one fd, closures
//! that close their fd, run a nested pass or cancel the next woken task, and
//! one merged while pending. Where Python can express the case, it quotes the
//! transcript multitask 0.2.0 printed for the same program
//! (`tests/conformance/review_closures/`).
#![feature(coroutines)]
#![allow(clippy::type_complexity)]

use std::cell::{Cell, RefCell};
use std::os::fd::AsRawFd;
use std::rc::Rc;

use multitask::net::{TcpListener, UnixStream};
use multitask::{accept, fd_action, readable, recv, send, wait, Error, Task, TaskManager};

#[macro_use]
mod common;
use common::transcript::{check, check_each_pass_unordered, passes, raw_recv, raw_send, repr, ticker};

/// Held by every test here: two of them close an fd, whose number another
/// test's thread could otherwise get at once (fd numbers are the process's),
/// and their transcripts depend on the number staying closed.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn errno(e: &Error) -> i32 {
    common::errno(e).unwrap_or(-1)
}

// ---- p01: a recv parked before an fd_action (a closure that does no I/O)
// on one fd; one send wakes both, as select found the fd readable for both.
// python (p01.py): | | w sent | r1 got 'x', r2 action 42 |
#[test]
fn p01_recv_then_fd_action_parked_both_woken() {
    let _serial = serial();
    let (a, b) = UnixStream::pair().unwrap();
    let (a, b) = (Rc::new(a), Rc::new(b));
    let _keep_a = a.clone();
    let tm = TaskManager::new();
    let b1 = b.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let data = wait!(recv(&*b1, 100))?;
            p!("r1 got {}", repr(&data));
            Ok(())
        },
    ));
    let b2 = b.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            match wait!(fd_action(&*b2, true, false, false, || Ok(42)).timeout(0.3)) {
                Ok(v) => p!("r2 action {v}"),
                Err(Error::Timeout) => p!("r2 timeout"),
                Err(e) => return Err(e),
            }
            Ok(())
        },
    ));
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!();
            wait!();
            raw_send(&*a, b"x")?;
            p!("w sent");
            Ok(())
        },
    ));
    passes(&tm);
    check_each_pass_unordered("|\n|\nw sent\n|\nr1 got 'x'\nr2 action 42\n|\n");
}

// ---- p02: a short send parked before an fd_action(write) that does no I/O.
// python (p02.py): | | drained | t1 sent part True, t2 action w-ok |
#[test]
fn p02_short_send_then_fd_action_write_both_woken() {
    let _serial = serial();
    let (a, b) = UnixStream::pair().unwrap();
    while raw_send(&b, &[b'z'; 4096]).is_ok() {}
    let (a, b) = (Rc::new(a), Rc::new(b));
    let _keep_a = a.clone();
    let tm = TaskManager::new();
    let b1 = b.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let n = wait!(send(&*b1, vec![b'q'; 1_000_000]))?;
            p!("t1 sent part {}", if n < 1_000_000 { "True" } else { "False" });
            Ok(())
        },
    ));
    let b2 = b.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            match wait!(fd_action(&*b2, false, true, false, || Ok("w-ok")).timeout(0.3)) {
                Ok(v) => p!("t2 action {v}"),
                Err(Error::Timeout) => p!("t2 timeout"),
                Err(e) => return Err(e),
            }
            Ok(())
        },
    ));
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!();
            wait!();
            while raw_recv(&*a, 65536).is_ok_and(|d| !d.is_empty()) {}
            p!("drained");
            Ok(())
        },
    ));
    passes(&tm);
    check_each_pass_unordered("|\n|\ndrained\n|\nt1 sent part True\nt2 action w-ok\n|\n");
}

// ---- p03: accept, readable and an fd_action parked on one listener; one
// connection. python (p03.py): | | connected | t1 accepted, t2 readable, t3 action l-ok |
#[test]
fn p03_accept_readable_fd_action_on_listener() {
    let _serial = serial();
    let l = Rc::new(TcpListener::bind("127.0.0.1:0").unwrap());
    let addr = l.local_addr().unwrap();
    let tm = TaskManager::new();
    let l1 = l.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let (_c, _) = wait!(accept(&*l1))?;
            p!("t1 accepted");
            Ok(())
        },
    ));
    let l2 = l.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            match wait!(readable(&*l2).timeout(0.3)) {
                Ok(()) => p!("t2 readable"),
                Err(Error::Timeout) => p!("t2 timeout"),
                Err(e) => return Err(e),
            }
            Ok(())
        },
    ));
    let l3 = l.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            match wait!(fd_action(&*l3, true, false, false, || Ok("l-ok")).timeout(0.3)) {
                Ok(v) => p!("t3 action {v}"),
                Err(Error::Timeout) => p!("t3 timeout"),
                Err(e) => return Err(e),
            }
            Ok(())
        },
    ));
    let keep: Rc<RefCell<Vec<std::net::TcpStream>>> = Rc::default();
    let k = keep.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!();
            wait!();
            k.borrow_mut().push(std::net::TcpStream::connect(addr)?);
            p!("connected");
            Ok(())
        },
    ));
    passes(&tm);
    check_each_pass_unordered("|\n|\nconnected\n|\nt1 accepted\nt2 readable\nt3 action l-ok\n|\n");
}

// ---- p08: an fd_action for read+write whose closure's recv would block on
// a writable socket; an fd_action whose closure reads another, empty socket
// while its own fd is readable. python (p08.py):
// | t1 error 11 | sent | -- | t2 error 11 | sent |
#[test]
fn p08_fd_action_own_would_block() {
    let _serial = serial();
    let (a, b) = UnixStream::pair().unwrap();
    let (_c, d) = UnixStream::pair().unwrap();
    let (a, b, d) = (Rc::new(a), Rc::new(b), Rc::new(d));
    let t1 = {
        let b = b.clone();
        move || {
            let b = b.clone();
            Task::new(
                #[coroutine]
                move |_| {
                    let bb = b.clone();
                    match wait!(fd_action(&*b, true, true, false, move || raw_recv(&*bb, 100))) {
                        Ok(v) => p!("t1 got {}", repr(&v)),
                        Err(e) => p!("t1 error {}", errno(&e)),
                    }
                    Ok(())
                },
            )
        }
    };
    let t2 = {
        let (b, d) = (b.clone(), d.clone());
        move || {
            let (b, d) = (b.clone(), d.clone());
            Task::new(
                #[coroutine]
                move |_| {
                    let dd = d.clone();
                    match wait!(fd_action(&*b, true, false, false, move || raw_recv(&*dd, 100))) {
                        Ok(v) => p!("t2 got {}", repr(&v)),
                        Err(e) => p!("t2 error {}", errno(&e)),
                    }
                    Ok(())
                },
            )
        }
    };
    let t3 = {
        let a = a.clone();
        move || {
            let a = a.clone();
            Task::new(
                #[coroutine]
                move |_| {
                    wait!();
                    wait!();
                    raw_send(&*a, b"x")?;
                    p!("sent");
                    Ok(())
                },
            )
        }
    };
    let tm = TaskManager::new();
    tm.add(t1());
    tm.add(t3());
    passes(&tm);
    p!("--");
    let tm = TaskManager::new();
    tm.add(t2());
    tm.add(t3());
    passes(&tm);
    check("|\nt1 error 11\n|\nsent\n|\n--\n|\nt2 error 11\n|\nsent\n|\n");
}

// ---- p04: an fd_action whose closure drops the crate's fd it waits on and
// says WouldBlock: its task gets an error (the original: the closure's own
// EAGAIN), never a hang.
#[test]
fn p04_closure_drops_its_owned_fd_and_would_block() {
    let _serial = serial();
    let (a, b) = UnixStream::pair().unwrap();
    raw_send(&a, b"x").unwrap();
    let fd = b.as_raw_fd();
    let holder = Rc::new(RefCell::new(Some(b)));
    let tm = TaskManager::new();
    let h = holder.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(readable(fd))?;
            let h2 = h.clone();
            let got = wait!(fd_action(fd, true, false, false, move || {
                drop(h2.borrow_mut().take());
                Err::<(), _>(std::io::ErrorKind::WouldBlock.into())
            })
            .timeout(common::GUARD));
            match got {
                Ok(()) => p!("ok"),
                Err(Error::Timeout) => p!("HUNG"),
                Err(e) => p!("error {}", errno(&e)),
            }
            Ok(())
        },
    ));
    passes(&tm);
    drop(a);
    let got = common::transcript::transcript();
    assert_eq!(got, "|\n|\nerror 9\n|\n");
}

// ---- p05: the same on a raw fd (a std socket's number), closed by the
// closure with close(2).
#[test]
fn p05_closure_closes_its_raw_fd_and_would_block() {
    let _serial = serial();
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    raw_send(&a, b"x").unwrap();
    let fd = std::os::fd::IntoRawFd::into_raw_fd(b);
    let tm = TaskManager::new();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let got = wait!(fd_action(fd, true, false, false, move || {
                // SAFETY: ours, closed once.
                unsafe { libc::close(fd) };
                Err::<(), _>(std::io::ErrorKind::WouldBlock.into())
            })
            .timeout(common::GUARD));
            match got {
                Ok(()) => p!("ok"),
                Err(Error::Timeout) => p!("HUNG"),
                Err(e) => p!("error {}", errno(&e)),
            }
            Ok(())
        },
    ));
    passes(&tm);
    drop(a);
    let got = common::transcript::transcript();
    // The closure closed its fd: the task gets EBADF at the next pass, as a
    // bad fd's waiter does (before, it was parked again on the closed fd,
    // and nothing swept it).
    assert_eq!(got, "|\nerror 9\n|\n");
}

// ---- p06: a closure that runs a nested pass of its own manager.
#[test]
fn p06_closure_runs_nested_pass() {
    let _serial = serial();
    let (a, b) = UnixStream::pair().unwrap();
    raw_send(&a, b"x").unwrap();
    let b = Rc::new(b);
    let tm = TaskManager::new();
    let (b1, tm1) = (b.clone(), tm.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let tm2 = tm1.clone();
            let bb = b1.clone();
            let got = wait!(fd_action(&*b1, true, false, false, move || {
                let r = tm2.run_next(Some(std::time::Duration::ZERO));
                p!("nested {:?}", r.is_ok());
                raw_recv(&*bb, 100)
            })
            .timeout(common::GUARD))?;
            p!("got {}", repr(&got));
            Ok(())
        },
    ));
    tm.add(ticker("tick", 3));
    passes(&tm);
    let got = common::transcript::transcript();
    assert!(
        got.contains("got 'x'") && got.contains("tick 2") && !got.contains("ERR"),
        "{got}"
    );
}

// ---- p07: a closure that cancels the task whose fd_action comes after it
// in the same step 1: that task's closure is not called (no I/O for a task
// that is gone), and it ends Cancelled once the step's closures have run
// (`TaskHandle::cancel`'s one exception to "before cancel returns").
#[test]
fn p07_closure_cancels_next_woken_task() {
    let _serial = serial();
    struct Guard(Rc<Cell<bool>>);
    impl Drop for Guard {
        fn drop(&mut self) {
            self.0.set(true);
        }
    }
    let (a, b) = UnixStream::pair().unwrap();
    let b = Rc::new(b);
    let _keep = a;
    let tm = TaskManager::new();
    let dropped = Rc::new(Cell::new(false));
    let called2 = Rc::new(Cell::new(false));
    let handle2: Rc<RefCell<Option<multitask::TaskHandle<()>>>> = Rc::default();
    let (b1, h2, d1) = (b.clone(), handle2.clone(), dropped.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let (h2, d1) = (h2.clone(), d1.clone());
            wait!(fd_action(&*b1, false, true, false, move || {
                h2.borrow().as_ref().unwrap().cancel();
                p!("t1 cancelled t2; t2 dropped: {}", d1.get());
                Ok(())
            }))?;
            p!("t1 done");
            Ok(())
        },
    ));
    let (b2, d2, c2) = (b.clone(), dropped.clone(), called2.clone());
    let h = tm.add(Task::new(
        #[coroutine]
        move |_| {
            let _g = Guard(d2.clone());
            let c2 = c2.clone();
            wait!(fd_action(&*b2, false, true, false, move || {
                c2.set(true);
                Ok(())
            }))?;
            p!("t2 resumed");
            Ok(())
        },
    ));
    *handle2.borrow_mut() = Some(h);
    let hj = handle2.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let join = hj.borrow().as_ref().unwrap().join();
            match wait!(join) {
                Err(Error::Cancelled) => p!("t2 cancelled"),
                other => p!("t2 {:?}", other.is_ok()),
            }
            Ok(())
        },
    ));
    passes(&tm);
    let got = common::transcript::transcript();
    assert_eq!(got, "|\nt1 cancelled t2; t2 dropped: false\nt1 done\nt2 cancelled\n|\n");
    assert!(!called2.get(), "the cancelled task's closure was called");
    assert!(dropped.get());
}

// ---- p09: an fd_action parked on a crate fd known ready (on tm2's pending
// list), merged into tm1 before tm2's next step 1.
// python (p09.py): | t1 registered, t2 readable | merged, t1 action 'x' |
#[test]
fn p09_pending_fd_action_merged() {
    let _serial = serial();
    let (a, b) = UnixStream::pair().unwrap();
    raw_send(&a, b"x").unwrap();
    let b = Rc::new(b);
    let tm1 = TaskManager::new();
    let tm2 = TaskManager::new();
    let b1 = b.clone();
    tm2.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(readable(&*b1))?;
            p!("t1 registered");
            let bb = b1.clone();
            let v = wait!(fd_action(&*b1, true, false, false, move || raw_recv(&*bb, 100)).timeout(common::GUARD))?;
            p!("t1 action {}", repr(&v));
            Ok(())
        },
    ));
    let b2 = b.clone();
    tm2.add(Task::new(
        #[coroutine]
        move |_| {
            match wait!(readable(&*b2).timeout(0.3)) {
                Ok(()) => p!("t2 readable"),
                Err(Error::Timeout) => p!("t2 timeout"),
                Err(e) => return Err(e),
            }
            Ok(())
        },
    ));
    tm2.run_next(None).unwrap();
    p!("|");
    tm2.run_next(None).unwrap();
    p!("|");
    tm1.merge(&tm2);
    p!("merged");
    passes(&tm1);
    drop(a);
    check_each_pass_unordered("|\nt1 registered\nt2 readable\n|\nmerged\nt1 action 'x'\n|\n");
}
