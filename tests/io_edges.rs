//! Operations at the edges of a stream's or a datagram's life: the end of
//! the file in the same event as the last bytes, urgent data, a `sendall`
//! waiting half-way while another comes, datagrams read by `readline` and by
//! a large `recvfrom`, a `write` to a regular file.
#![feature(coroutines)]

use std::cell::RefCell;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::Duration;

mod common;
use common::{errno, set_linger_zero};
use multitask::net::{TcpStream, UdpSocket};
use multitask::{readline, recv, recvfrom, sendall, wait, write, Task, TaskManager};

type Log = Rc<RefCell<Vec<String>>>;

fn text(got: multitask::Result<Vec<u8>>) -> String {
    match got {
        Ok(bytes) => format!("{:?}", String::from_utf8_lossy(&bytes)),
        Err(e) => format!("Err({e:?})"),
    }
}

/// Runs `body` as the one task of a fresh manager, with a log.
fn run_logged(body: impl FnOnce(Log) -> Task<()>) -> Vec<String> {
    let log: Log = Rc::default();
    let tm = TaskManager::new();
    tm.add(body(log.clone()));
    tm.run().unwrap();
    let lines = log.borrow().clone();
    lines
}

/// A connected pair: the crate's stream, and std's peer.
fn tcp_pair() -> (TcpStream, std::net::TcpStream) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let peer = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    (TcpStream::from(listener.accept().unwrap().0), peer)
}

/// The last bytes and the peer's close reported by one event: the short
/// read of the bytes does not hide the end of the file, which the next
/// `recv` gives at once (Python's level-triggered select would).
#[test]
fn the_end_of_the_file_after_a_short_read_is_seen() {
    let (sock, peer) = tcp_pair();
    (&peer).write_all(b"abc").unwrap();
    drop(peer); // its FIN, before the first event
    std::thread::sleep(Duration::from_millis(50));
    let lines = run_logged(|log| {
        Task::new(
            #[coroutine]
            move |_| {
                for _ in 0..2 {
                    let got = text(wait!(recv(&sock, 100).timeout(2)));
                    log.borrow_mut().push(got);
                }
                Ok(())
            },
        )
    });
    assert_eq!(lines, [r#""abc""#, r#""""#]);
}

/// Urgent data: a read stops short at its mark; the bytes after it are
/// still read, by the next `recv`.
#[test]
fn bytes_after_the_urgent_mark_are_read() {
    let (sock, peer) = tcp_pair();
    (&peer).write_all(b"abc").unwrap();
    // SAFETY: one byte of a valid buffer.
    unsafe { libc::send(peer.as_raw_fd(), b"!".as_ptr().cast(), 1, libc::MSG_OOB) };
    (&peer).write_all(b"def").unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let lines = run_logged(|log| {
        Task::new(
            #[coroutine]
            move |_| {
                for _ in 0..2 {
                    let got = text(wait!(recv(&sock, 100).timeout(2)));
                    log.borrow_mut().push(got);
                }
                drop(peer);
                Ok(())
            },
        )
    });
    assert_eq!(lines, [r#""abc""#, r#""def""#]);
}

/// On a raw fd, a `sendall` yielded while another waits half-way on the
/// same socket waits behind it: the peer sees the first message whole, then
/// the second.
#[test]
fn a_sendall_on_a_raw_fd_waits_behind_one_half_way() {
    let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    let fd = a.as_raw_fd();
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        std::io::Read::read_to_end(&mut b, &mut all).unwrap();
        all
    });
    let tm = TaskManager::new();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(sendall(fd, vec![b'A'; 1 << 20]).timeout(10))?;
            Ok(())
        },
    ));
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(); // the first one has filled the socket and waits
            std::thread::sleep(Duration::from_millis(100)); // the reader makes room
            wait!(sendall(fd, b"BBBB".to_vec()).timeout(10))?;
            Ok(())
        },
    ));
    tm.run().unwrap();
    drop(a);
    let all = reader.join().unwrap();
    assert_eq!(all.len(), (1 << 20) + 4);
    assert_eq!(all.iter().position(|&x| x == b'B'), Some(1 << 20));
}

/// `readline` on a datagram socket: each line is a whole datagram (a read
/// takes all of one), so nothing of a datagram holding two lines is lost;
/// an empty datagram is an empty line, taken.
#[test]
fn readline_on_a_datagram_socket_reads_whole_datagrams() {
    let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = rx.local_addr().unwrap();
    tx.send_to(b"one\ntwo\n", to).unwrap();
    tx.send_to(b"", to).unwrap();
    tx.send_to(b"three\n", to).unwrap();
    let lines = run_logged(|log| {
        Task::new(
            #[coroutine]
            move |_| {
                for _ in 0..3 {
                    let got = text(wait!(readline(&rx).timeout(2)));
                    log.borrow_mut().push(got);
                }
                Ok(())
            },
        )
    });
    assert_eq!(lines, [r#""one\ntwo\n""#, r#""""#, r#""three\n""#]);
}

/// A `recvfrom` of far more than the datagram waiting (1 TiB, more than can
/// be allocated) gives the datagram, its buffer cut to it, and the next one
/// after it: what it costs is the datagram's size, not the size asked.
#[test]
fn a_large_recvfrom_gives_the_datagram() {
    let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = rx.local_addr().unwrap();
    tx.send_to(b"hi", to).unwrap();
    tx.send_to(b"", to).unwrap();
    let lines = run_logged(|log| {
        Task::new(
            #[coroutine]
            move |_| {
                for _ in 0..2 {
                    let got = wait!(recvfrom(&rx, 1 << 40).timeout(2)).map(|(bytes, _)| bytes);
                    log.borrow_mut().push(text(got));
                }
                Ok(())
            },
        )
    });
    assert_eq!(lines, [r#""hi""#, r#""""#]);
}

/// `write` to a regular file writes all of it, as `os.write` does.
#[test]
fn write_to_a_regular_file_writes_all() {
    let path = std::env::temp_dir().join(format!("multitask-write-{}", std::process::id()));
    let file = std::fs::File::create(&path).unwrap();
    let lines = run_logged(|log| {
        Task::new(
            #[coroutine]
            move |_| {
                let n = wait!(write(&file, vec![b'z'; 100_000]))?;
                log.borrow_mut().push(format!("{n}"));
                Ok(())
            },
        )
    });
    assert_eq!(lines, ["100000"]);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 100_000);
    std::fs::remove_file(&path).unwrap();
}

/// What a `readline` that timed out on an owned socket kept comes first for
/// a `recv` or `read` too, so that the stream's order holds: a `recv` gives
/// it with the bytes after it, a short one part of it, and the next
/// `readline` the rest of the line.
#[test]
fn the_part_of_a_line_a_timed_out_readline_kept_comes_first_for_recv_and_read() {
    let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    let a = multitask::net::UnixStream::from(a);
    b.write_all(b"abc").unwrap();
    let lines = run_logged(|log| {
        Task::new(
            #[coroutine]
            static move |_| {
                let note = |line: String| log.borrow_mut().push(line);
                note(text(wait!(readline(&a).timeout(0.05))));
                b.write_all(b"def\n").unwrap();
                note(text(wait!(recv(&a, 100).timeout(2))));
                b.write_all(b"ghi").unwrap();
                note(text(wait!(readline(&a).timeout(0.05))));
                note(text(wait!(recv(&a, 2).timeout(2))));
                b.write_all(b"jk\n").unwrap();
                note(text(wait!(readline(&a).timeout(2))));
                b.write_all(b"lm").unwrap();
                note(text(wait!(readline(&a).timeout(0.05))));
                note(text(wait!(multitask::read(&a, 10).timeout(2))));
                Ok(())
            },
        )
    });
    assert_eq!(
        lines,
        [
            "Err(Timeout)",
            r#""abcdef\n""#,
            "Err(Timeout)",
            r#""gh""#,
            r#""ijk\n""#,
            "Err(Timeout)",
            r#""lm""#,
        ]
    );
}

/// What a timed-out `readline` kept, and the known readiness of an owned fd,
/// reach the waiters already parked on it in their order.
mod parked_behind {
    use super::*;
    use multitask::net::UnixStream;
    use multitask::{fd_action, readable, send, sleep};
    use std::io::Read;

    /// A `readline` that times out with `abc` kept, and behind it a second
    /// task parked on the same fd (`second`), which logs what it gets.
    fn after_a_timed_out_readline(second: impl FnOnce(Rc<UnixStream>, Log, &TaskManager) -> Task<()>) -> Vec<String> {
        let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
        let a = Rc::new(UnixStream::from(a));
        b.write_all(b"abc").unwrap();
        let log: Log = Rc::default();
        let tm = TaskManager::new();
        let (a1, l1) = (a.clone(), log.clone());
        tm.add(Task::new(
            #[coroutine]
            move |_| {
                let got = wait!(readline(&*a1).timeout(0.05));
                l1.borrow_mut().push(format!("readline: {}", text(got)));
                Ok(())
            },
        ));
        tm.add(second(a, log.clone(), &tm));
        tm.run().unwrap();
        let lines = log.borrow().clone();
        lines
    }

    #[test]
    fn a_recv_parked_behind_a_readline_that_times_out_gets_the_kept_part() {
        let lines = after_a_timed_out_readline(|a, log, _| {
            Task::new(
                #[coroutine]
                move |_| {
                    let got = wait!(recv(&*a, 100).timeout(5));
                    log.borrow_mut().push(format!("recv: {}", text(got)));
                    Ok(())
                },
            )
        });
        assert_eq!(lines, ["readline: Err(Timeout)", r#"recv: "abc""#]);
    }

    /// The readable wait behind the readline wakes as soon as the readline
    /// has taken part of a line (the fd was readable: a line kept in user
    /// space is never hidden from readiness), before the readline times out.
    #[test]
    fn a_readable_wait_parked_behind_a_readline_that_keeps_part_of_a_line_wakes() {
        let lines = after_a_timed_out_readline(|a, log, _| {
            Task::new(
                #[coroutine]
                move |_| {
                    let got = wait!(readable(&*a).timeout(5));
                    log.borrow_mut().push(format!("readable: {got:?}"));
                    Ok(())
                },
            )
        });
        assert_eq!(lines, ["readable: Ok(())", "readline: Err(Timeout)"]);
    }

    /// A reset after a timed-out readline kept "abc": recv gives "abc", then
    /// the reset (ECONNRESET), not a clean end of file; and so does a
    /// readline in the place of the second recv.
    #[test]
    fn a_reset_after_a_kept_partial_line_is_not_turned_into_eof() {
        for then_readline in [false, true] {
            let (a, mut peer) = tcp_pair();
            peer.write_all(b"abc").unwrap();
            let lines = run_logged(|log| {
                Task::new(
                    #[coroutine]
                    move |_| {
                        let got = wait!(readline(&a).timeout(0.05));
                        log.borrow_mut().push(format!("readline {}", text(got)));
                        set_linger_zero(&peer);
                        drop(peer); // a reset
                        wait!(readable(&a))?;
                        let got = wait!(recv(&a, 100));
                        log.borrow_mut().push(format!("recv {}", text(got)));
                        let got = if then_readline {
                            wait!(readline(&a))
                        } else {
                            wait!(recv(&a, 100))
                        };
                        let code = got.as_ref().err().and_then(errno);
                        log.borrow_mut().push(format!("then {code:?}"));
                        let got = wait!(recv(&a, 100));
                        log.borrow_mut().push(format!("then {}", text(got)));
                        Ok(())
                    },
                )
            });
            let reset = Some(libc::ECONNRESET);
            assert_eq!(
                lines,
                [
                    "readline Err(Timeout)".to_string(),
                    r#"recv "abc""#.into(),
                    format!("then {reset:?}"),
                    r#"then """#.into()
                ]
            );
        }
    }

    /// A half-done `sendall` is not overtaken by another task's `send` when
    /// an `fd_action` parked ahead of it would block: its repark learns from
    /// poll(2) that the fd is writable, and the `send` yielded in the same
    /// pass waits behind the `sendall`.
    #[test]
    fn a_half_done_sendall_is_not_overtaken_after_an_fd_action_repark() {
        const BIG: usize = 4 << 20;
        let (a, peer) = std::os::unix::net::UnixStream::pair().unwrap();
        let a = Rc::new(UnixStream::from(a));
        let fd = a.as_raw_fd();
        peer.set_nonblocking(true).unwrap();
        let peer = Rc::new(RefCell::new(peer));
        let received: Rc<RefCell<Vec<u8>>> = Rc::default();
        let drain = move |peer: &RefCell<std::os::unix::net::UnixStream>, into: &RefCell<Vec<u8>>| {
            let mut buf = vec![0; 1 << 16];
            while let Ok(n @ 1..) = peer.borrow_mut().read(&mut buf) {
                into.borrow_mut().extend_from_slice(&buf[..n]);
            }
        };
        let tm = TaskManager::new();
        // Parks first: its closure drains the peer once (the socket is
        // writable again) and would block.
        let (p, r) = (peer.clone(), received.clone());
        tm.add(Task::new(
            #[coroutine]
            move |_| {
                let calls = std::cell::Cell::new(0);
                let (p, r) = (p.clone(), r.clone());
                let _ = wait!(fd_action(fd, false, true, false, move || {
                    calls.set(calls.get() + 1);
                    if calls.get() == 1 {
                        drain(&p, &r);
                    }
                    Err::<(), _>(std::io::ErrorKind::WouldBlock.into())
                })
                .timeout(0.5));
                Ok(())
            },
        ));
        // More than the socket holds: parks half-way, second.
        let a1 = a.clone();
        tm.add(Task::new(
            #[coroutine]
            move |_| {
                wait!(sendall(&*a1, vec![b'A'; BIG]))?;
                Ok(())
            },
        ));
        let a2 = a.clone();
        tm.add(Task::new(
            #[coroutine]
            move |_| {
                wait!();
                wait!(send(&*a2, "DDDD"))?;
                Ok(())
            },
        ));
        // Reads the rest, so that everything finishes.
        let (p, r) = (peer.clone(), received.clone());
        tm.add(Task::new(
            #[coroutine]
            move |_| {
                for _ in 0..1000 {
                    if r.borrow().len() >= BIG + 4 {
                        break;
                    }
                    wait!(sleep(0.005))?;
                    drain(&p, &r);
                }
                Ok(())
            },
        ));
        tm.run().unwrap();
        let got = received.borrow();
        assert_eq!(got.len(), BIG + 4);
        assert_eq!(
            got.iter().position(|&x| x == b'D'),
            Some(BIG),
            "the send came inside the sendall"
        );
    }

    /// Two callers' closures that would block on a readable fd: the fd is
    /// ready for them, so the `WouldBlock` is their own, and each task gets
    /// it (`EAGAIN`) after one call, as the original raised it (before, they
    /// called each other's turn every pass, a busy loop until their timeout;
    /// then each waited for an edge that never came).
    #[test]
    fn two_fd_action_closures_that_would_block_on_a_ready_fd_get_its_error_once() {
        let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
        let a = Rc::new(UnixStream::from(a));
        b.write_all(b"xy").unwrap(); // readable, and stays so
        let tm = TaskManager::new();
        let calls = Rc::new(std::cell::Cell::new(0));
        let log: Log = Rc::default();
        for _ in 0..2 {
            let (fd, calls, log) = (a.as_raw_fd(), calls.clone(), log.clone());
            tm.add(Task::new(
                #[coroutine]
                move |_| {
                    let counted = calls.clone();
                    let got = wait!(fd_action(fd, true, false, false, move || {
                        counted.set(counted.get() + 1);
                        Err::<(), _>(std::io::ErrorKind::WouldBlock.into())
                    })
                    .timeout(0.1));
                    log.borrow_mut().push(format!("{got:?}"));
                    Ok(())
                },
            ));
        }
        let mut passes = 0;
        while tm.has_runnable() || tm.has_io_waits() || tm.has_timeouts() {
            tm.run_next(None).unwrap();
            passes += 1;
        }
        assert_eq!(calls.get(), 2, "in {passes} passes");
        let eagain = r#"Err(Io(Os { code: 11, kind: WouldBlock, message: "Resource temporarily unavailable" }))"#;
        assert_eq!(*log.borrow(), [eagain, eagain]);
    }

    /// A caller's closure that would block, reparked on an fd that keeps a
    /// line a timed-out `readline` read: the fd stays readable for a `recv`
    /// of another task after it (poll(2) cannot see the kept line).
    #[test]
    fn a_recv_after_an_fd_action_repark_still_gets_the_kept_line() {
        let lines = after_a_timed_out_readline(|a, log, tm| {
            let fd = a.as_raw_fd();
            tm.add(Task::new(
                #[coroutine]
                move |_| {
                    wait!(sleep(0.1))?;
                    let got = wait!(fd_action(fd, true, false, false, || {
                        Err::<(), _>(std::io::ErrorKind::WouldBlock.into())
                    })
                    .timeout(1));
                    assert!(got.is_err());
                    Ok(())
                },
            ));
            Task::new(
                #[coroutine]
                move |_| {
                    wait!(sleep(0.2))?;
                    let got = wait!(recv(&*a, 100).timeout(0.5));
                    log.borrow_mut().push(format!("recv: {}", text(got)));
                    Ok(())
                },
            )
        });
        assert_eq!(lines, ["readline: Err(Timeout)", r#"recv: "abc""#]);
    }
}

/// A `send` on an owned fd known writable waits, until the next step 1, in
/// the list of actions due there (`due.rs`): `tasks()` shows it waiting on
/// its fd, and a cancel meanwhile takes it out, its bytes never sent.
mod due_at_step_1 {
    use super::*;
    use multitask::net::UnixStream;
    use multitask::{fd_action, send, TaskState};
    use std::io::Read;

    #[test]
    fn a_due_send_is_seen_waiting_and_a_cancel_stops_it() {
        let (a, peer) = std::os::unix::net::UnixStream::pair().unwrap();
        peer.set_nonblocking(true).unwrap();
        let a = Rc::new(UnixStream::from(a));
        let fd = a.as_raw_fd();
        let tm = TaskManager::new();
        let log: Log = Rc::default();
        // The first send registers the fd (an edge: writable); the second
        // finds it known writable, and is due.
        let (a1, l1) = (a.clone(), log.clone());
        let sender = tm.add(Task::new(
            #[coroutine]
            move |_| {
                wait!(send(&*a1, "one"))?;
                l1.borrow_mut().push("sent one".to_string());
                wait!(send(&*a1, "two"))?;
                l1.borrow_mut().push("sent two".to_string());
                Ok(())
            },
        ));
        let (m, l2, id) = (tm.clone(), log.clone(), sender.id());
        let nothing: multitask::Queue<()> = multitask::Queue::new();
        let handle = Rc::new(RefCell::new(Some(sender)));
        let h = handle.clone();
        tm.add(Task::new(
            #[coroutine]
            move |_| {
                for _ in 0..5 {
                    let state = m.tasks().into_iter().find(|t| t.id == id).map(|t| t.state);
                    l2.borrow_mut().push(format!("{state:?}"));
                    let sent_one = l2.borrow().iter().any(|l| l == "sent one");
                    if sent_one && matches!(state, Some(TaskState::Fd { what: "send", .. })) {
                        h.borrow_mut().take().unwrap().cancel();
                    }
                    // A zero timeout fires at step 2: behind the sender, woken at step 1.
                    let _ = wait!(nothing.get().timeout(0));
                }
                Ok(())
            },
        ));
        tm.run().unwrap();
        let mut got = Vec::new();
        let _ = (&peer).read_to_end(&mut got);
        let due = format!("{:?}", Some(TaskState::Fd { fd, what: "send" }));
        assert_eq!(*log.borrow(), [due.as_str(), "sent one", &due, "None", "None", "None"]);
        assert_eq!(String::from_utf8_lossy(&got), "one");
        assert!(handle.borrow().is_none());
    }

    /// Reads what `peer` gets until the other ends close, on a thread.
    fn reader(peer: std::os::unix::net::UnixStream) -> std::thread::JoinHandle<Vec<u8>> {
        peer.set_read_timeout(Some(std::time::Duration::from_secs(20))).unwrap();
        std::thread::spawn(move || {
            let mut got = Vec::new();
            let _ = (&peer).read_to_end(&mut got);
            got
        })
    }

    /// A `send` with a timeout, due behind an untimed `sendall` yielded
    /// before it on the same fd: its bytes come after all of the sendall's
    /// (both are numbered at their yield, and park in that order).
    #[test]
    fn a_timed_send_after_an_untimed_sendall_comes_after_it() {
        const BIG: usize = 4 << 20;
        for crate_socket in [true, false] {
            let (a, peer) = std::os::unix::net::UnixStream::pair().unwrap();
            let reader = reader(peer);
            a.set_nonblocking(true).unwrap();
            let fd = a.as_raw_fd();
            let a = Rc::new(if crate_socket { Ok(UnixStream::from(a)) } else { Err(a) });
            let tm = TaskManager::new();
            let sender = |a: Rc<Result<UnixStream, std::os::unix::net::UnixStream>>, first: bool, op: u8| {
                Task::new(
                    #[coroutine]
                    static move |_| {
                        if !first {
                            wait!();
                        }
                        let _keep = a.clone();
                        match op {
                            0 => wait!(send(fd, "w")).map(drop)?,
                            1 => wait!(multitask::sendall(fd, vec![b'A'; BIG]))?,
                            _ => wait!(send(fd, "d").timeout(20)).map(drop)?,
                        }
                        Ok(())
                    },
                )
            };
            tm.add(sender(a.clone(), true, 0)); // the fd is known writable after it
            tm.add(sender(a.clone(), false, 1));
            tm.add(sender(a.clone(), false, 2));
            drop(a);
            tm.run().unwrap();
            drop(tm);
            let got = reader.join().unwrap();
            assert_eq!(got.len(), BIG + 2);
            let d = got.iter().position(|&b| b == b'd');
            assert_eq!(d, Some(BIG + 1), "crate socket: {crate_socket}");
        }
    }

    /// A due `send` is not overtaken by a `send` yielded after it that parks
    /// behind a caller's `fd_action` on the same fd: the due one joins the
    /// FIFO first (the closure, user code, is called after step 1's borrow).
    #[test]
    fn a_due_send_is_not_overtaken_by_one_parked_after_it() {
        let (a, peer) = std::os::unix::net::UnixStream::pair().unwrap();
        let reader = reader(peer);
        let a = Rc::new(UnixStream::from(a));
        let tm = TaskManager::new();
        for (i, m) in ["w", "a", "b", "c"].into_iter().enumerate() {
            let a = a.clone();
            tm.add(Task::new(
                #[coroutine]
                static move |_| {
                    if i > 0 {
                        wait!();
                    }
                    if m == "b" {
                        let fd = a.as_raw_fd();
                        wait!(fd_action(&*a, false, true, false, move || {
                            // SAFETY: a valid fd and one byte.
                            let n = unsafe { libc::send(fd, b"b".as_ptr().cast(), 1, libc::MSG_DONTWAIT) };
                            if n < 0 {
                                Err(std::io::Error::last_os_error())
                            } else {
                                Ok(n as usize)
                            }
                        }))?;
                    } else {
                        wait!(send(&*a, m))?;
                    }
                    Ok(())
                },
            ));
        }
        drop(a);
        tm.run().unwrap();
        drop(tm);
        assert_eq!(String::from_utf8(reader.join().unwrap()).unwrap(), "wacb");
    }

    /// A `read` of one of the crate's fds on a regular file (epoll refuses
    /// it, select calls it always ready) is done at the next step 1 too: it
    /// sees what a task after it appended in the same pass, as a raw fd's.
    #[test]
    fn a_read_of_an_owned_regular_file_is_done_at_step_1() {
        for owned in [true, false] {
            let path = std::env::temp_dir().join(format!("multitask_due_file_{}_{owned}", std::process::id()));
            std::fs::write(&path, b"abc").unwrap();
            let file = std::fs::File::open(&path).unwrap();
            let mut appender = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
            let log: Log = Rc::default();
            let tm = TaskManager::new();
            let l = log.clone();
            tm.add(Task::new(
                #[coroutine]
                static move |_| {
                    let got = if owned {
                        let f = multitask::net::Fd::new(file).unwrap();
                        wait!(multitask::read(&f, 100))
                    } else {
                        wait!(multitask::read(file.as_raw_fd(), 100))
                    };
                    l.borrow_mut().push(text(got));
                    Ok(())
                },
            ));
            tm.add(Task::new(
                #[coroutine]
                move |_| {
                    appender.write_all(b"def").unwrap();
                    Ok(())
                },
            ));
            tm.run().unwrap();
            let _ = std::fs::remove_file(&path);
            assert_eq!(*log.borrow(), [r#""abcdef""#], "owned: {owned}");
        }
    }
}

/// How step 1 and step 2 wait, against the original: step 2 sleeps only
/// after a poll that timed out, and a signal does not restart the poll's
/// whole wait.
mod step_waits {
    use super::*;
    use multitask::net::UnixStream;
    use multitask::{fd_action, sleep, writable};

    /// Adds a task that logs what a `recv` on `sock` gets, and one that
    /// logs when it has slept `seconds`.
    fn recv_beside_a_sleeper(tm: &TaskManager, sock: TcpStream, log: &Log, seconds: u64) {
        let l = log.clone();
        tm.add(Task::new(
            #[coroutine]
            move |_| {
                let got = wait!(recv(&sock, 100).timeout(5));
                l.borrow_mut().push(format!("recv {}", text(got)));
                Ok(())
            },
        ));
        let l = log.clone();
        tm.add(Task::new(
            #[coroutine]
            move |_| {
                wait!(sleep(seconds))?;
                l.borrow_mut().push(format!("slept {seconds} s"));
                Ok(())
            },
        ));
    }

    /// A caller's closure that would block on its ready fd (it waits for
    /// more bytes) is woken by step 1 and parks again: step 2 must not then
    /// sleep until the first deadline with the fds unwatched (a `recv` whose
    /// data comes 50 ms in would wait for the 2 s sleeper).
    #[test]
    fn a_closure_that_would_block_does_not_make_step_2_sleep_past_other_fds() {
        let (x, mut x_peer) = std::os::unix::net::UnixStream::pair().unwrap();
        x.set_nonblocking(true).unwrap();
        x_peer.write_all(b"x").unwrap(); // one byte of a four-byte header
        let (sock, mut peer) = tcp_pair();
        let log: Log = Rc::default();
        let tm = TaskManager::new();
        let xfd = x.as_raw_fd();
        tm.add(Task::new(
            #[coroutine]
            move |_| {
                let _ = wait!(fd_action(xfd, true, false, false, move || {
                    let mut header = [0u8; 4];
                    // SAFETY: a valid fd and a buffer of 4 bytes.
                    let n = unsafe { libc::recv(xfd, header.as_mut_ptr().cast(), 4, libc::MSG_PEEK) };
                    if n < 4 {
                        return Err(std::io::ErrorKind::WouldBlock.into());
                    }
                    Ok(n)
                })
                .timeout(3));
                drop(x);
                Ok(())
            },
        ));
        recv_beside_a_sleeper(&tm, sock, &log, 2);
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            peer.write_all(b"hello").unwrap();
            std::thread::sleep(Duration::from_secs(3));
            drop(x_peer);
        });
        tm.run().unwrap();
        writer.join().unwrap();
        assert_eq!(*log.borrow(), [r#"recv "hello""#, "slept 2 s"]);
    }

    /// A raw fd's read, ready before the step, does not see a send of the
    /// same step (reads are done before the poll, writes after it).
    #[test]
    fn a_raw_ready_read_does_not_see_a_send_of_the_same_step() {
        let (x, y) = std::os::unix::net::UnixStream::pair().unwrap();
        y.set_nonblocking(true).unwrap();
        (&x).write_all(b"1").unwrap();
        let x = Rc::new(UnixStream::from(x));
        let log: Log = Rc::default();
        let tm = TaskManager::new();
        let x1 = x.clone();
        tm.add(Task::new(
            #[coroutine]
            move |_| {
                wait!(writable(&*x1))?;
                wait!(multitask::send(&*x1, "2"))?;
                Ok(())
            },
        ));
        let l = log.clone();
        tm.add(Task::new(
            #[coroutine]
            move |_| {
                wait!(writable(&*x))?;
                let got = wait!(recv(y.as_raw_fd(), 100).timeout(1));
                l.borrow_mut().push(text(got));
                let got = wait!(recv(y.as_raw_fd(), 100).timeout(1));
                l.borrow_mut().push(text(got));
                Ok(())
            },
        ));
        tm.run().unwrap();
        assert_eq!(*log.borrow(), [r#""1""#, r#""2""#]);
    }

    /// A signal while step 1 blocks ends that poll early: it polls again
    /// for the time that is left, not for its whole wait (a sleeper due at
    /// 1 s, with a signal at 0.5 s, woke at 1.5 s, after the bytes that came
    /// at 1.25 s).
    #[test]
    fn a_signal_during_the_poll_does_not_delay_the_deadline() {
        let _handled = multitask::Signals::new(&[libc::SIGUSR2]).unwrap();
        let (sock, mut peer) = tcp_pair();
        let log: Log = Rc::default();
        let tm = TaskManager::new();
        recv_beside_a_sleeper(&tm, sock, &log, 1);
        // SAFETY: this thread's own id.
        let me = unsafe { libc::pthread_self() };
        let other = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(500));
            // SAFETY: a live thread (it runs the manager until the bytes
            // come), and a signal it handles.
            unsafe { libc::pthread_kill(me, libc::SIGUSR2) };
            std::thread::sleep(Duration::from_millis(750));
            peer.write_all(b"late").unwrap();
        });
        tm.run().unwrap();
        other.join().unwrap();
        assert_eq!(*log.borrow(), ["slept 1 s", r#"recv "late""#]);
    }
}
