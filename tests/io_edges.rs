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
