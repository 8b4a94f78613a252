//! Asynchronous I/O on real descriptors: TCP, UDP, Unix stream and datagram
//! sockets, pipes and regular files, all on loopback (127.0.0.1, ports chosen
//! by the OS). Echo servers with 1,000 and 10,000 clients, every kind of
//! timeout, refused and reset connections, half-close, descriptors closed or
//! never opened while a task waits, several tasks on one descriptor, the
//! order of I/O completions against timeouts, and `recv` through each of its
//! buffers with sent messages' buffers reused.
//!
//! No test asserts on elapsed time. Waits that a library bug could turn into a
//! hang carry a generous timeout ([`GUARD`]), so the suite fails instead of
//! hanging.
#![feature(coroutines)]

use std::cell::{Cell, RefCell};
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

mod common;
use common::{bystanders, errno, is_closed, set_linger_zero, GUARD};

use multitask::{
    accept, connect, fd_ready, read, readable, readline, recv, recvfrom, send, sendto, wait, writable, write, Clock,
    Error, Queue, Task, TaskManager, MAX_LINE,
};

/// The same, shorter, for waits that a regression would turn into timeouts
/// (rather than hangs), so that a failing run stays short.
const SHORT_GUARD: f64 = 5.0;

/// Held by the tests that open hundreds of descriptors, and by the test that
/// needs a descriptor number to stay unused, so that they never overlap.
static MANY_FDS: Mutex<()> = Mutex::new(());

fn many_fds_lock() -> std::sync::MutexGuard<'static, ()> {
    MANY_FDS.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Raises the soft open-file limit towards `want` (at most the hard limit);
/// returns the soft limit now in force.
fn raise_nofile(want: libc::rlim_t) -> libc::rlim_t {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid rlimit struct.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        let target = want.min(limit.rlim_max);
        if limit.rlim_cur < target {
            limit.rlim_cur = target;
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
        }
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
    }
    limit.rlim_cur
}

/// A TCP listener on 127.0.0.1 at a port the OS picks, with `backlog`.
fn tcp_listener(backlog: i32) -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    // listen() on a listening socket only sets its backlog.
    // SAFETY: a valid socket.
    assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), backlog) }, 0);
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

/// A connected TCP pair on loopback, made with blocking std calls.
fn tcp_pair() -> (TcpStream, TcpStream) {
    let (listener, addr) = tcp_listener(16);
    let a = TcpStream::connect(addr).unwrap();
    let (b, _) = listener.accept().unwrap();
    (a, b)
}

/// A path for a Unix socket, unique to this process and `name`.
fn socket_path(name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("multitask-io-{}-{name}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

/// `len` bytes that differ from client to client.
fn pattern(seed: usize, len: usize) -> Vec<u8> {
    let mut message = format!("client {seed}:").into_bytes();
    message.extend((0..len).map(|j| (seed.wrapping_mul(131) ^ j.wrapping_mul(7) ^ (j >> 8)) as u8));
    message.truncate(len);
    message
}

/// Fills `sock`'s send buffer (the peer never reads) until a write would block.
fn fill(sock: &UnixStream) {
    sock.set_nonblocking(true).unwrap();
    let chunk = [0u8; 65536];
    loop {
        match (&*sock).write(&chunk) {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) => panic!("filling the buffer: {e}"),
        }
    }
}

/// Sends all of `data` on `fd`, however many sends it takes.
fn send_all(fd: RawFd, data: Vec<u8>) -> Task {
    Task::new(
        #[coroutine]
        move |_| {
            let mut sent = 0;
            while sent < data.len() {
                let n = wait!(send(fd, data[sent..].to_vec()).timeout(GUARD))?;
                sent += n;
            }
            Ok(())
        },
    )
}

/// Receives exactly `n` bytes from `fd`; end of file before that is an error.
fn recv_exact(fd: RawFd, n: usize) -> Task<Vec<u8>> {
    Task::new(
        #[coroutine]
        move |_| {
            let mut got = Vec::with_capacity(n);
            while got.len() < n {
                let data = wait!(recv(fd, n - got.len()).timeout(GUARD))?;
                if data.is_empty() {
                    return Err(Error::msg(format!("end of file after {} of {n} bytes", got.len())));
                }
                got.extend_from_slice(&data);
            }
            Ok(got)
        },
    )
}

/// Echoes what `conn` receives until end of file.
fn echo_handler(conn: multitask::net::TcpStream) -> Task {
    Task::new(
        #[coroutine]
        move |_| loop {
            let data = wait!(recv(&conn, 4096).timeout(GUARD))?;
            if data.is_empty() {
                return Ok(());
            }
            wait!(send_all(conn.as_raw_fd(), data))?;
        },
    )
}

/// Accepts `n` connections and starts an echo handler on each.
fn acceptor(tm: TaskManager, listener: TcpListener, n: usize) -> Task {
    Task::new(
        #[coroutine]
        move |_| {
            for _ in 0..n {
                let (conn, peer) = wait!(accept(&listener).timeout(GUARD))?;
                assert!(peer.ip().is_loopback());
                tm.add(echo_handler(conn));
            }
            Ok(())
        },
    )
}

// ---------------------------------------------------------------------------
// Echo servers

#[test]
fn echo_server_with_1000_concurrent_clients() {
    const CLIENTS: usize = 1000;
    let _lock = many_fds_lock();
    assert!(
        raise_nofile(4096) >= 2 * CLIENTS as libc::rlim_t + 64,
        "too few file descriptors allowed"
    );
    let (listener, addr) = tcp_listener(4096);
    let tm = TaskManager::new();
    tm.add(acceptor(tm.clone(), listener, CLIENTS));
    let done = Rc::new(Cell::new(0));
    for i in 0..CLIENTS {
        let done = done.clone();
        tm.add(Task::new(
            #[coroutine]
            move |_| {
                let stream = wait!(connect(addr).timeout(GUARD))?;
                let fd = stream.as_raw_fd();
                let message = pattern(i, 100 + (i * 37) % 8000);
                wait!(send_all(fd, message.clone()))?;
                let echoed = wait!(recv_exact(fd, message.len()))?;
                assert!(echoed == message, "client {i}: the echo differs from what was sent");
                stream.shutdown(Shutdown::Write)?;
                let eof = wait!(recv(&stream, 16).timeout(GUARD))?;
                assert!(eof.is_empty(), "client {i}: more bytes than were sent");
                done.set(done.get() + 1);
                Ok(())
            },
        ));
    }
    tm.run().unwrap();
    assert_eq!(done.get(), CLIENTS);
    assert!(!tm.has_io_waits());
}

/// Set in a copy of this test binary started by a test: what it should do.
const CHILD_ENV: &str = "MULTITASK_IO_TEST_CHILD";

/// A copy of this test binary that runs only `test`, in child mode `mode`.
fn child_command(test: &str, mode: &str) -> Command {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([test, "--exact", "--nocapture", "--include-ignored", "--test-threads=1"])
        .env(CHILD_ENV, mode);
    command
}

fn child_mode() -> Option<String> {
    std::env::var(CHILD_ENV).ok()
}

/// Kills the child process if the test fails before it exits.
struct Reap(Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const TEN_K: usize = 10_000;
const TEN_K_MESSAGE: usize = 32;

/// The echo server of the 10,000-connection run, in a process of its own: a
/// hard open-file limit of 20,000 (common in containers, and not raisable
/// without privilege) cannot hold both ends of 10,000 connections in one
/// process. It prints its port, echoes one message on each
/// connection, and exits once all `n` are echoed: so every client sees end of
/// file only when all `n` connections were open at once.
fn ten_k_echo_server(n: usize) {
    let limit = raise_nofile(30_000);
    assert!(
        limit >= n as libc::rlim_t + 64,
        "the server may open only {limit} files"
    );
    let (listener, addr) = tcp_listener(4096);
    println!("PORT {}", addr.port());
    std::io::stdout().flush().unwrap();
    let tm = TaskManager::new();
    let echoed = Rc::new(Cell::new(0));
    let handlers = tm.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            for _ in 0..n {
                let (conn, _) = wait!(accept(&listener))?;
                let echoed = echoed.clone();
                handlers.add(Task::<()>::new(
                    #[coroutine]
                    move |_| {
                        let mut total = 0;
                        while total < TEN_K_MESSAGE {
                            let data = wait!(recv(&conn, 64))?;
                            if data.is_empty() {
                                return Err(Error::msg("a client left before its echo"));
                            }
                            total += data.len();
                            wait!(send_all(conn.as_raw_fd(), data))?;
                        }
                        echoed.set(echoed.get() + 1);
                        if echoed.get() == n {
                            // All echoed: exit, closing every connection at once.
                            std::process::exit(0);
                        }
                        let more = wait!(recv(&conn, 64))?;
                        Err(Error::msg(format!("unexpected {} more bytes", more.len())))
                    },
                ));
            }
            Ok(())
        },
    ));
    let outcome = tm.run();
    eprintln!("echo server: {outcome:?}");
    std::process::exit(1);
}

/// 10,000 clients connect with `multitask::connect`, each sends a message, gets
/// it echoed back, and keeps its connection until the server has echoed all of
/// them; every error is counted, and there must be none. At most 1,000 clients
/// are between `connect` and their echo at a time, so the server's accept queue
/// (capped by `net.core.somaxconn`) never overflows into SYN retransmits.
#[test]
fn ten_thousand_connections() {
    if child_mode().as_deref() == Some("ten-k-echo-server") {
        ten_k_echo_server(TEN_K);
        return;
    }
    let _lock = many_fds_lock();
    let limit = raise_nofile(30_000);
    assert!(
        limit >= TEN_K as libc::rlim_t + 64,
        "only {limit} open files allowed; 10,000 connections need more"
    );
    let mut server = child_command("ten_thousand_connections", "ten-k-echo-server")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(server.stdout.take().unwrap());
    let server = Reap(server);
    let port: u16 = stdout
        .lines()
        .map_while(|line| line.ok())
        .find_map(|line| line.split_once("PORT ").map(|(_, p)| p.trim().parse().unwrap()))
        .expect("the server printed no port");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));

    let start = Instant::now();
    let tm = TaskManager::new();
    let gate = Queue::with_contents(vec![(); 1000], 0);
    let (echoed, closed) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
    let errors = Rc::new(RefCell::new(Vec::<String>::new()));
    for i in 0..TEN_K {
        let (gate, echoed, closed, errors) = (gate.clone(), echoed.clone(), closed.clone(), errors.clone());
        tm.add(Task::new(
            #[coroutine]
            move |_| {
                wait!(gate.get())?;
                let exchange: Task<multitask::net::TcpStream> = Task::new(
                    #[coroutine]
                    move |_| {
                        let stream = wait!(connect(addr).timeout(GUARD))?;
                        let message = format!("client {i:05} says hello {:>8}", "!").into_bytes();
                        assert_eq!(message.len(), TEN_K_MESSAGE);
                        wait!(send_all(stream.as_raw_fd(), message.clone()))?;
                        let reply = wait!(recv_exact(stream.as_raw_fd(), message.len()))?;
                        if reply != message {
                            return Err(Error::msg(format!("client {i}: wrong echo {reply:?}")));
                        }
                        Ok(stream)
                    },
                );
                let outcome = wait!(exchange);
                wait!(gate.put(()))?;
                let stream = match outcome {
                    Ok(stream) => stream,
                    Err(e) => {
                        errors.borrow_mut().push(format!("client {i}: {e}"));
                        return Ok(());
                    }
                };
                echoed.set(echoed.get() + 1);
                // The server closes every connection once all are echoed.
                match wait!(recv(&stream, 16).timeout(2.0 * GUARD)) {
                    Ok(eof) if eof.is_empty() => closed.set(closed.get() + 1),
                    Ok(more) => errors
                        .borrow_mut()
                        .push(format!("client {i}: {} unexpected bytes", more.len())),
                    Err(e) => errors
                        .borrow_mut()
                        .push(format!("client {i} waiting for the close: {e}")),
                }
                Ok(())
            },
        ));
    }
    let outcome = tm.run();
    let elapsed = start.elapsed();
    let errors = errors.borrow();
    println!(
        "10,000 connections: {} echoed, {} closed by the server, {} errors, in {elapsed:.2?}",
        echoed.get(),
        closed.get(),
        errors.len()
    );
    outcome.unwrap();
    assert!(
        errors.is_empty(),
        "{} errors, the first: {:?}",
        errors.len(),
        &errors[..errors.len().min(5)]
    );
    assert_eq!(echoed.get(), TEN_K);
    assert_eq!(closed.get(), TEN_K);
    let mut server = server;
    assert!(server.0.wait().unwrap().success(), "the echo server failed");
}

// ---------------------------------------------------------------------------
// Datagram, Unix, pipe and file descriptors

#[test]
fn udp_round_trips_with_recvfrom_and_sendto() {
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
    let tm = TaskManager::new();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            for _ in 0..100 {
                let (data, from) = wait!(recvfrom(&b, 1500).timeout(GUARD))?;
                assert_eq!(from, a_addr);
                wait!(sendto(&b, data, from).timeout(GUARD))?;
            }
            Ok(())
        },
    ));
    let count = Rc::new(Cell::new(0));
    let counted = count.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            for i in 0..100 {
                let message = pattern(i, 1 + i * 13);
                let sent = wait!(sendto(&a, message.clone(), b_addr).timeout(GUARD))?;
                assert_eq!(sent, message.len());
                let (reply, from) = wait!(recvfrom(&a, 1500).timeout(GUARD))?;
                assert_eq!(from, b_addr);
                assert_eq!(reply, message);
                counted.set(counted.get() + 1);
            }
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(count.get(), 100);
}

#[test]
fn connected_udp_sockets_use_recv_and_send() {
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    a.connect(b.local_addr().unwrap()).unwrap();
    b.connect(a.local_addr().unwrap()).unwrap();
    let tm = TaskManager::new();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            for i in 0..20 {
                let data = wait!(recv(&b, 1500).timeout(GUARD))?;
                assert_eq!(data, pattern(i, 100));
                wait!(send(&b, data).timeout(GUARD))?;
            }
            Ok(())
        },
    ));
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            for i in 0..20 {
                wait!(send(&a, pattern(i, 100)).timeout(GUARD))?;
                let reply = wait!(recv(&a, 1500).timeout(GUARD))?;
                assert_eq!(reply, pattern(i, 100));
            }
            Ok(())
        },
    ));
    tm.run().unwrap();
}

#[test]
fn unix_stream_sockets() {
    let path = socket_path("stream");
    let listener = UnixListener::bind(&path).unwrap();
    let tm = TaskManager::new();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            for _ in 0..3 {
                let (conn, _) = wait!(accept(&listener).timeout(GUARD))?;
                // read and write work on sockets too.
                let line = wait!(readline(&conn).timeout(GUARD))?;
                let n = wait!(write(&conn, line.clone()).timeout(GUARD))?;
                assert_eq!(n, line.len());
                let rest = wait!(read(&conn, 100).timeout(GUARD))?;
                assert_eq!(rest, b"");
            }
            Ok(())
        },
    ));
    let replies = Rc::new(RefCell::new(Vec::new()));
    for i in 0..3 {
        let (path, replies) = (path.clone(), replies.clone());
        tm.add(Task::new(
            #[coroutine]
            move |_| {
                let stream = UnixStream::connect(&path)?;
                let line = format!("hello from {i}\n");
                wait!(send(&stream, line.clone()).timeout(GUARD))?;
                let reply = wait!(recv_exact(stream.as_raw_fd(), line.len()))?;
                assert_eq!(reply, line.as_bytes());
                stream.shutdown(Shutdown::Write)?;
                replies.borrow_mut().push(String::from_utf8(reply).unwrap());
                Ok(())
            },
        ));
    }
    tm.run().unwrap();
    let _ = std::fs::remove_file(&path);
    let mut replies = replies.borrow().clone();
    replies.sort();
    assert_eq!(replies, ["hello from 0\n", "hello from 1\n", "hello from 2\n"]);
}

#[test]
fn unix_datagram_sockets() {
    let (path_a, path_b) = (socket_path("dgram-a"), socket_path("dgram-b"));
    let a = UnixDatagram::bind(&path_a).unwrap();
    let b = UnixDatagram::bind(&path_b).unwrap();
    let (pa, pb) = (path_a.clone(), path_b.clone());
    let tm = TaskManager::new();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            for _ in 0..10 {
                let (data, from) = wait!(recvfrom(&b, 1024).timeout(GUARD))?;
                assert_eq!(from.as_pathname(), Some(pa.as_path()));
                wait!(sendto(&b, data, from).timeout(GUARD))?;
            }
            Ok(())
        },
    ));
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            for i in 0..10 {
                let message = pattern(i, 200);
                let to = std::os::unix::net::SocketAddr::from_pathname(&pb)?;
                wait!(sendto(&a, message.clone(), to).timeout(GUARD))?;
                let (reply, from) = wait!(recvfrom(&a, 1024).timeout(GUARD))?;
                assert_eq!(from.as_pathname(), Some(pb.as_path()));
                assert_eq!(reply, message);
            }
            Ok(())
        },
    ));
    // A connected pair: recv and send, message boundaries kept.
    let (c, d) = UnixDatagram::pair().unwrap();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(send(&c, "one").timeout(GUARD))?;
            wait!(send(&c, "two").timeout(GUARD))?;
            assert_eq!(wait!(recv(&d, 100).timeout(GUARD))?, b"one");
            assert_eq!(wait!(recv(&d, 100).timeout(GUARD))?, b"two");
            Ok(())
        },
    ));
    tm.run().unwrap();
    let _ = std::fs::remove_file(&path_a);
    let _ = std::fs::remove_file(&path_b);
}

#[test]
fn pipe_read_write_and_readline() {
    let (reader, writer) = std::io::pipe().unwrap();
    let tm = TaskManager::new();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            for i in 0..50 {
                let line = format!("line {i}\n");
                let n = wait!(write(&writer, line.clone()).timeout(GUARD))?;
                assert_eq!(n, line.len());
                wait!(); // let the reader drain it
            }
            let n = wait!(write(&writer, "no newline").timeout(GUARD))?;
            assert_eq!(n, 10);
            Ok(()) // drops the writer: end of file
        },
    ));
    let lines = Rc::new(RefCell::new(Vec::new()));
    let got = lines.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            loop {
                let line = wait!(readline(&reader).timeout(GUARD))?;
                if line.is_empty() {
                    break;
                }
                got.borrow_mut().push(String::from_utf8(line).unwrap());
            }
            assert_eq!(wait!(read(&reader, 10).timeout(GUARD))?, b"");
            Ok(())
        },
    ));
    tm.run().unwrap();
    let mut expected: Vec<String> = (0..50).map(|i| format!("line {i}\n")).collect();
    expected.push("no newline".into());
    assert_eq!(*lines.borrow(), expected);
}

#[test]
fn pipe_carries_large_writes() {
    let (reader, writer) = std::io::pipe().unwrap();
    let data = pattern(7, 1 << 20); // larger than a pipe's buffer: partial writes
    let expected = data.clone();
    let tm = TaskManager::new();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let mut written = 0;
            while written < data.len() {
                let n = wait!(write(&writer, data[written..].to_vec()).timeout(GUARD))?;
                assert!(n > 0);
                written += n;
            }
            Ok(())
        },
    ));
    let received = Rc::new(RefCell::new(Vec::new()));
    let into = received.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| loop {
            let chunk = wait!(read(&reader, 65536).timeout(GUARD))?;
            if chunk.is_empty() {
                return Ok(());
            }
            into.borrow_mut().extend_from_slice(&chunk);
        },
    ));
    tm.run().unwrap();
    assert!(*received.borrow() == expected);
}

/// Steps `tm` one pass without ever blocking.
fn step(tm: &TaskManager) {
    tm.run_next(Some(Duration::ZERO)).unwrap();
}

/// A task that reads lines from `fd` into `lines` until end of file.
fn line_reader(fd: RawFd, lines: Rc<RefCell<Vec<String>>>) -> Task {
    Task::new(
        #[coroutine]
        move |_| loop {
            let line = wait!(readline(fd).timeout(GUARD))?;
            let eof = line.is_empty();
            lines.borrow_mut().push(String::from_utf8(line).unwrap());
            if eof {
                return Ok(());
            }
        },
    )
}

/// A buffered line comes back at the next pass, even from a poll that does not
/// block; a partial line waits for its newline or end of file; at end of file
/// (`writer` dropped) the rest comes back, then an empty line.
fn readline_steps(fd: RawFd, mut writer: impl Write) {
    writer.write_all(b"one\ntwo\nthr").unwrap();
    let lines = Rc::new(RefCell::new(Vec::new()));
    let tm = TaskManager::new();
    tm.add(line_reader(fd, lines.clone()));
    step(&tm); // the task starts and yields readline: the line is there already
    assert!(lines.borrow().is_empty());
    step(&tm);
    assert_eq!(*lines.borrow(), ["one\n"]);
    step(&tm);
    assert_eq!(*lines.borrow(), ["one\n", "two\n"]);
    for _ in 0..3 {
        step(&tm); // "thr" has no newline yet: the task waits
        assert_eq!(lines.borrow().len(), 2);
        assert!(tm.has_io_waits());
    }
    drop(writer);
    step(&tm);
    assert_eq!(*lines.borrow(), ["one\n", "two\n", "thr"]);
    step(&tm);
    assert_eq!(*lines.borrow(), ["one\n", "two\n", "thr", ""]);
    assert!(!tm.has_io_waits() && !tm.has_runnable());
}

#[test]
fn readline_returns_buffered_lines_at_once_and_the_rest_at_eof_on_a_socket() {
    let (a, b) = UnixStream::pair().unwrap();
    readline_steps(b.as_raw_fd(), a);
}

#[test]
fn readline_returns_buffered_lines_at_once_and_the_rest_at_eof_on_a_pipe() {
    let (reader, writer) = std::io::pipe().unwrap();
    readline_steps(reader.as_raw_fd(), writer);
}

#[test]
fn readline_joins_a_line_that_arrives_in_pieces() {
    let (a, b) = UnixStream::pair().unwrap();
    let tm = TaskManager::new();
    let lines = Rc::new(RefCell::new(Vec::new()));
    tm.add(line_reader(b.as_raw_fd(), lines.clone()));
    for piece in ["hel", "lo, ", "world", "\nbye\n"] {
        (&a).write_all(piece.as_bytes()).unwrap();
        for _ in 0..3 {
            step(&tm);
        }
    }
    drop(a);
    tm.run().unwrap();
    drop(b);
    assert_eq!(*lines.borrow(), ["hello, world\n", "bye\n", ""]);
}

#[test]
fn readline_returns_long_lines_whole_and_longer_ones_in_max_line_pieces() {
    let (a, b) = UnixStream::pair().unwrap();
    let long = "x".repeat(10_000) + "\n";
    let longer = "y".repeat(MAX_LINE + 100) + "\n";
    let tm = TaskManager::new();
    let (l1, l2) = (long.clone(), longer.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(send_all(a.as_raw_fd(), l1.into_bytes()))?;
            wait!(send_all(a.as_raw_fd(), l2.into_bytes()))?;
            Ok(())
        },
    ));
    let lines = Rc::new(RefCell::new(Vec::new()));
    tm.add(line_reader(b.as_raw_fd(), lines.clone()));
    tm.run().unwrap();
    drop(b);
    let lines = lines.borrow();
    assert_eq!(
        lines.len(),
        4,
        "lines of {:?} bytes",
        lines.iter().map(String::len).collect::<Vec<_>>()
    );
    assert_eq!(lines[0], long);
    assert_eq!(lines[1].len(), MAX_LINE);
    assert_eq!(lines[1].clone() + &lines[2], longer);
    assert_eq!(lines[3], "");
}

/// A line sent a byte at a time: each byte is a buffer of its own in a Unix
/// socket's queue, so the queue fills after a few hundred bytes (278 here)
/// although the line is far shorter than `MAX_LINE`. `readline` must still
/// return it; peeking for the newline while the bytes stay queued deadlocks:
/// the writer waits for room, and `readline` waits for a newline that cannot
/// arrive.
#[test]
fn readline_returns_a_line_sent_a_byte_at_a_time() {
    let (a, b) = UnixStream::pair().unwrap();
    let line = pattern(3, 1000)
        .iter()
        .map(|b| b'a' + b % 26)
        .chain(*b"\n")
        .collect::<Vec<u8>>();
    let expected = line.clone();
    let tm = TaskManager::new();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            for byte in line {
                wait!(send(&a, vec![byte]).timeout(SHORT_GUARD))?;
            }
            Ok(())
        },
    ));
    let got = Rc::new(RefCell::new(None));
    let into = got.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            *into.borrow_mut() = Some(wait!(readline(&b).timeout(SHORT_GUARD)));
            Ok(())
        },
    ));
    let run = tm.run();
    let got = got.borrow_mut().take();
    match got {
        Some(Ok(line)) => assert!(line == expected, "a different line of {} bytes", line.len()),
        other => panic!("readline: {other:?} (run: {run:?})"),
    }
    run.unwrap();
}

#[test]
fn regular_files_are_always_ready() {
    let path = std::env::temp_dir().join(format!("multitask-io-{}-file.txt", std::process::id()));
    std::fs::write(&path, "first\nsecond\nlast").unwrap();
    let file = std::fs::File::open(&path).unwrap();
    let tm = TaskManager::new();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(readable(&file).timeout(GUARD))?;
            wait!(writable(&file).timeout(GUARD))?;
            assert_eq!(wait!(readline(&file).timeout(GUARD))?, b"first\n");
            assert_eq!(wait!(read(&file, 3).timeout(GUARD))?, b"sec");
            assert_eq!(wait!(readline(&file).timeout(GUARD))?, b"ond\n");
            assert_eq!(wait!(readline(&file).timeout(GUARD))?, b"last");
            assert_eq!(wait!(readline(&file).timeout(GUARD))?, b"");
            assert_eq!(wait!(read(&file, 3).timeout(GUARD))?, b"");
            Ok(())
        },
    ));
    tm.run().unwrap();
    let _ = std::fs::remove_file(&path);
}

#[test]
fn exceptional_condition_wakes_an_exc_wait() {
    let (a, b) = tcp_pair();
    let tm = TaskManager::new();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(fd_ready(&b, false, false, true).timeout(GUARD))?;
            Ok(())
        },
    ));
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!();
            // SAFETY: a valid socket and a one-byte buffer.
            let sent = unsafe { libc::send(a.as_raw_fd(), b"!".as_ptr().cast(), 1, libc::MSG_OOB) };
            assert_eq!(sent, 1);
            Ok(())
        },
    ));
    tm.run().unwrap();
}

// ---------------------------------------------------------------------------
// Timeouts

/// One task waits on `op` with a 5-second timeout on a manual clock: it gets
/// `Timeout`, at exactly 5 seconds, and leaves no fd wait behind.
macro_rules! times_out {
    ($name:literal, $setup:expr, |$s:ident| $op:expr) => {{
        let clock = Clock::manual();
        let tm = TaskManager::with_clock(clock.clone());
        let start = clock.now();
        let $s = $setup;
        let outcome = Rc::new(RefCell::new(None));
        let out = outcome.clone();
        tm.add(Task::new(
            #[coroutine]
            move |_| {
                let result = wait!($op.timeout(5));
                *out.borrow_mut() = Some(result.map(|_| ()));
                let _keep = &$s;
                Ok(())
            },
        ));
        tm.run().unwrap();
        let outcome = outcome.borrow_mut().take();
        assert!(matches!(outcome, Some(Err(Error::Timeout))), "{}: {outcome:?}", $name);
        assert_eq!(clock.now() - start, Duration::from_secs(5), "{}", $name);
        assert!(!tm.has_io_waits(), "{}", $name);
    }};
}

#[test]
fn every_kind_of_wait_times_out() {
    times_out!("readable", UnixStream::pair().unwrap(), |s| readable(&s.1));
    times_out!(
        "writable on a full buffer",
        {
            let (a, b) = UnixStream::pair().unwrap();
            fill(&a);
            (a, b)
        },
        |s| writable(&s.0)
    );
    times_out!("fd_ready exc", tcp_pair(), |s| fd_ready(&s.1, false, false, true));
    times_out!("recv", UnixStream::pair().unwrap(), |s| recv(&s.1, 100));
    times_out!(
        "send on a full buffer",
        {
            let (a, b) = UnixStream::pair().unwrap();
            fill(&a);
            (a, b)
        },
        |s| send(&s.0, vec![1u8; 65536])
    );
    times_out!("accept", tcp_listener(16), |s| accept(&s.0));
    times_out!(
        "accept on a Unix listener",
        UnixListener::bind(socket_path("accept-timeout")).unwrap(),
        |s| { accept(&s) }
    );
    times_out!("read on a pipe", std::io::pipe().unwrap(), |s| read(&s.0, 100));
    times_out!(
        "write on a full pipe",
        {
            let (r, w) = std::io::pipe().unwrap();
            // SAFETY: FIONBIO on a valid fd.
            unsafe { libc::ioctl(w.as_raw_fd(), libc::FIONBIO, &1) };
            while (&w).write(&[0u8; 4096]).is_ok() {}
            (r, w)
        },
        |s| write(&s.1, "more")
    );
    times_out!("readline on a socket", UnixStream::pair().unwrap(), |s| readline(&s.1));
    times_out!(
        "readline on a pipe, half a line there",
        {
            let (r, mut w) = std::io::pipe().unwrap();
            w.write_all(b"half a line").unwrap();
            (r, w)
        },
        |s| readline(&s.0)
    );
    times_out!("recvfrom", UdpSocket::bind("127.0.0.1:0").unwrap(), |s| recvfrom(
        &s, 1500
    ));
    times_out!(
        "recvfrom on a Unix datagram socket",
        UnixDatagram::pair().unwrap(),
        |s| recvfrom(&s.1, 1500)
    );
    let _ = std::fs::remove_file(socket_path("accept-timeout"));
}

/// A `readline` that times out before any byte of the line has arrived loses
/// nothing: the line that arrives later comes back whole. (A partial line
/// already taken when the timeout fires is dropped, as the crate documents.)
#[test]
fn readline_that_times_out_loses_no_later_line() {
    let clock = Clock::manual();
    let tm = TaskManager::with_clock(clock);
    let (a, b) = UnixStream::pair().unwrap();
    let lines = Rc::new(RefCell::new(Vec::new()));
    let got = lines.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let first = wait!(readline(&b).timeout(1));
            assert!(matches!(first, Err(Error::Timeout)), "{first:?}");
            (&a).write_all(b"partial\nrest")?;
            drop(a);
            for _ in 0..3 {
                let line = wait!(readline(&b).timeout(1))?;
                got.borrow_mut().push(line);
            }
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(*lines.borrow(), [b"partial\n".to_vec(), b"rest".to_vec(), b"".to_vec()]);
}

/// A connection to a listener whose accept queue is full gets no answer to its
/// SYN: connect must give `Timeout` (backlog 0 queues one connection).
#[test]
fn connect_times_out_when_the_backlog_is_full() {
    let (listener, addr) = tcp_listener(0);
    let tm = TaskManager::new();
    let outcome = Rc::new(RefCell::new(None));
    let out = outcome.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let mut held = Vec::new();
            for _ in 0..16 {
                match wait!(connect(addr).timeout(0.25)) {
                    Ok(stream) => held.push(stream),
                    Err(e) => {
                        *out.borrow_mut() = Some((held.len(), e));
                        break;
                    }
                }
            }
            Ok(())
        },
    ));
    tm.run().unwrap();
    drop(listener);
    let outcome = outcome.borrow_mut().take();
    match outcome {
        Some((connected, Error::Timeout)) => assert!(connected >= 1, "not even one connection was queued"),
        other => panic!("expected a connect to time out, got {other:?}"),
    }
}

#[test]
fn timeouts_do_not_disturb_other_waiters_on_the_same_fd() {
    let clock = Clock::manual();
    let tm = TaskManager::with_clock(clock.clone());
    let (a, b) = UnixStream::pair().unwrap();
    let fd = b.as_raw_fd();
    let got = Rc::new(RefCell::new(Vec::new()));
    let g = got.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let r = wait!(recv(fd, 100).timeout(1));
            g.borrow_mut().push(format!("short: {r:?}"));
            Ok(())
        },
    ));
    let g = got.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let data = wait!(recv(fd, 100).timeout(10))?;
            g.borrow_mut()
                .push(format!("long: {}", String::from_utf8(data).unwrap()));
            Ok(())
        },
    ));
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            // Sleeping moves the manual clock past the first timeout only.
            wait!(multitask::sleep(2))?;
            (&a).write_all(b"data")?;
            Ok(())
        },
    ));
    tm.run().unwrap();
    drop(b);
    assert_eq!(*got.borrow(), ["short: Err(Timeout)", "long: data"]);
}

// ---------------------------------------------------------------------------
// Errors on connections

#[test]
fn connect_to_a_closed_port_is_refused() {
    let (listener, addr) = tcp_listener(16);
    drop(listener);
    let tm = TaskManager::new();
    let outcome = Rc::new(RefCell::new(None));
    let out = outcome.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let result = wait!(connect(addr).timeout(GUARD));
            *out.borrow_mut() = Some(result.map(|_| ()));
            Ok(())
        },
    ));
    tm.run().unwrap();
    let outcome = outcome.borrow_mut().take();
    match &outcome {
        Some(Err(Error::Io(e))) => assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "{e}"),
        other => panic!("expected ECONNREFUSED, got {other:?}"),
    }
}

#[test]
fn a_reset_connection_fails_recv_and_send_in_that_task_only() {
    let (client, server) = tcp_pair();
    set_linger_zero(&client);
    let tm = TaskManager::new();
    let outcome = Rc::new(RefCell::new(Vec::new()));
    let out = outcome.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let received = wait!(recv(&server, 100).timeout(GUARD));
            let sent = wait!(send(&server, "anyone there?").timeout(GUARD));
            out.borrow_mut().push(received.map(|_| 0));
            out.borrow_mut().push(sent);
            Ok(())
        },
    ));
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!();
            wait!();
            drop(client); // SO_LINGER 0: a reset, while the other task waits
            Ok(())
        },
    ));
    let done = bystanders(&tm, 50);
    tm.run().unwrap();
    assert_eq!(done.get(), 50);
    let outcome = outcome.borrow();
    assert_eq!(outcome.len(), 2);
    match &outcome[0] {
        Err(e) => assert_eq!(errno(e), Some(libc::ECONNRESET), "recv: {e}"),
        Ok(_) => panic!("recv after a reset succeeded"),
    }
    match &outcome[1] {
        Err(e) => assert!(matches!(errno(e), Some(libc::EPIPE | libc::ECONNRESET)), "send: {e}"),
        Ok(n) => panic!("send after a reset sent {n} bytes"),
    }
}

/// Sends to `sock` until it fails (the peer is gone); returns the error.
fn send_until_error(sock: TcpStream) -> Task<Error> {
    Task::new(
        #[coroutine]
        move |_| {
            for _ in 0..1000 {
                if let Err(e) = wait!(send(&sock, vec![7u8; 1000]).timeout(GUARD)) {
                    return Ok(e);
                }
                wait!(multitask::sleep(0.001))?; // let the peer's reset arrive
            }
            Err(Error::msg("1000 sends to a closed peer all succeeded"))
        },
    )
}

fn send_to_closed_peer() {
    let (a, b) = tcp_pair();
    drop(b);
    let (c, d) = UnixStream::pair().unwrap();
    drop(d);
    let tm = TaskManager::new();
    let errors = Rc::new(RefCell::new(Vec::new()));
    let out = errors.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let tcp = wait!(send_until_error(a))?;
            let unix = wait!(send(&c, "x").timeout(GUARD));
            out.borrow_mut().push(tcp);
            out.borrow_mut()
                .push(unix.expect_err("send on a Unix socket whose peer is gone"));
            Ok(())
        },
    ));
    tm.run().unwrap();
    for e in errors.borrow().iter() {
        assert!(matches!(errno(e), Some(libc::EPIPE | libc::ECONNRESET)), "{e}");
    }
    assert_eq!(errors.borrow().len(), 2);
}

/// The test harness ignores SIGPIPE, as Rust programs do by default; a child
/// copy of this test restores the default action (death), so that a `send`
/// that raised SIGPIPE would kill it.
#[test]
fn send_to_a_closed_peer_is_an_error_and_never_sigpipe() {
    if child_mode().as_deref() == Some("sigpipe-default") {
        // SAFETY: restoring a signal's default action.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
        send_to_closed_peer();
        return;
    }
    send_to_closed_peer();
    let output = child_command("send_to_a_closed_peer_is_an_error_and_never_sigpipe", "sigpipe-default")
        .output()
        .unwrap();
    assert_ne!(output.status.signal(), Some(libc::SIGPIPE), "the child died of SIGPIPE");
    assert!(
        output.status.success(),
        "{:?}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout)
    );
}

#[test]
fn write_to_a_pipe_whose_reader_is_gone_is_epipe() {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let tm = TaskManager::new();
    let outcome = Rc::new(RefCell::new(None));
    let out = outcome.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            *out.borrow_mut() = Some(wait!(write(&writer, "x").timeout(GUARD)));
            Ok(())
        },
    ));
    tm.run().unwrap();
    let outcome = outcome.borrow_mut().take();
    match outcome {
        Some(Err(e)) => assert_eq!(errno(&e), Some(libc::EPIPE), "{e}"),
        other => panic!("expected EPIPE, got {other:?}"),
    }
}

#[test]
fn half_close_gives_eof_while_the_other_way_still_works() {
    let (client, server) = tcp_pair();
    let tm = TaskManager::new();
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let request = wait!(recv_exact(server.as_raw_fd(), 7))?;
            assert_eq!(request, b"request");
            let eof = wait!(recv(&server, 100).timeout(GUARD))?;
            l.borrow_mut()
                .push(format!("server got end of file: {}", eof.is_empty()));
            // The client's half is closed; ours still sends.
            wait!(send_all(server.as_raw_fd(), b"response after your EOF".to_vec()))?;
            Ok(())
        },
    ));
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(send_all(client.as_raw_fd(), b"request".to_vec()))?;
            client.shutdown(Shutdown::Write)?;
            let mut response = Vec::new();
            loop {
                let data = wait!(recv(&client, 100).timeout(GUARD))?;
                if data.is_empty() {
                    break;
                }
                response.extend(data);
            }
            l.borrow_mut().push(String::from_utf8(response).unwrap());
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(
        *log.borrow(),
        ["server got end of file: true", "response after your EOF"]
    );
}

// ---------------------------------------------------------------------------
// Descriptors closed, reused or never opened

#[test]
fn an_fd_closed_while_a_task_waits_gives_it_ebadf() {
    let (a, b) = UnixStream::pair().unwrap();
    let fd = b.as_raw_fd();
    let slot = Rc::new(RefCell::new(Some(b)));
    let tm = TaskManager::new();
    let outcome = Rc::new(RefCell::new(None));
    let out = outcome.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            *out.borrow_mut() = Some(wait!(recv(fd, 100).timeout(GUARD)));
            Ok(())
        },
    ));
    let closer = slot.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!();
            closer.borrow_mut().take(); // closes the fd the other task waits on
            Ok(())
        },
    ));
    let done = bystanders(&tm, 20);
    tm.run().unwrap();
    drop(a);
    assert_eq!(done.get(), 20);
    let outcome = outcome.borrow_mut().take();
    match outcome {
        Some(Err(e)) => assert_eq!(errno(&e), Some(libc::EBADF), "{e}"),
        other => panic!("expected EBADF, got {other:?}"),
    }
    assert!(!tm.has_io_waits());
}

/// The fd a task waits on is closed and its number at once reused (`dup2`
/// onto it). The next wait on that number re-arms it, finds the old file gone,
/// and gives the old waiter `EBADF`; the new waiter is served by the new file.
#[test]
fn an_fd_number_reused_while_a_task_waits_gives_the_old_waiter_ebadf() {
    let (_a, b) = UnixStream::pair().unwrap();
    let (mut c, d) = UnixStream::pair().unwrap();
    c.write_all(b"for the new file").unwrap();
    let fd = b.as_raw_fd();
    let tm = TaskManager::new();
    let outcome = Rc::new(RefCell::new(Vec::new()));
    let out = outcome.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let r = wait!(readable(fd).timeout(GUARD));
            out.borrow_mut().push(format!(
                "old waiter: {}",
                r.map_or_else(|e| e.to_string(), |_| "ready".into())
            ));
            Ok(())
        },
    ));
    let out = outcome.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!();
            // SAFETY: both fds are open; dup2 closes b's file and reuses its number.
            assert_eq!(unsafe { libc::dup2(d.as_raw_fd(), fd) }, fd);
            let data = wait!(recv(fd, 100).timeout(GUARD))?;
            out.borrow_mut()
                .push(format!("new waiter: {}", String::from_utf8(data).unwrap()));
            Ok(())
        },
    ));
    tm.run().unwrap();
    drop(b); // now closes the dup
    let outcome = outcome.borrow();
    assert_eq!(outcome.len(), 2, "{outcome:?}");
    assert!(
        outcome.contains(&"old waiter: [Errno 9] Bad file descriptor".to_string()),
        "{outcome:?}"
    );
    assert!(
        outcome.contains(&"new waiter: for the new file".to_string()),
        "{outcome:?}"
    );
}

#[test]
fn a_never_opened_fd_fails_only_the_task_that_waits_on_it() {
    let _lock = many_fds_lock();
    const NEVER: RawFd = 999;
    assert!(is_closed(NEVER), "fd {NEVER} is open");
    let tm = TaskManager::new();
    let errors = Rc::new(RefCell::new(Vec::new()));
    for (name, kind) in [
        ("readable", 0),
        ("writable", 1),
        ("recv", 2),
        ("read", 3),
        ("readline", 4),
    ] {
        let out = errors.clone();
        tm.add(Task::new(
            #[coroutine]
            move |_| {
                let result = match kind {
                    0 => wait!(readable(NEVER).timeout(GUARD)),
                    1 => wait!(writable(NEVER).timeout(GUARD)),
                    2 => wait!(recv(NEVER, 10).timeout(GUARD)).map(drop),
                    3 => wait!(read(NEVER, 10).timeout(GUARD)).map(drop),
                    _ => wait!(readline(NEVER).timeout(GUARD)).map(drop),
                };
                out.borrow_mut().push((name, result.map_err(|e| errno(&e))));
                wait!(); // the task carries on after its error
                Ok(())
            },
        ));
    }
    let done = bystanders(&tm, 20);
    tm.run().unwrap();
    assert!(is_closed(NEVER));
    assert_eq!(done.get(), 20);
    let errors = errors.borrow();
    assert_eq!(errors.len(), 5);
    for (name, result) in errors.iter() {
        assert_eq!(*result, Err(Some(libc::EBADF)), "{name}");
    }
    assert!(!tm.has_io_waits());
}

// ---------------------------------------------------------------------------
// Several tasks on one descriptor

#[test]
fn one_task_reads_and_another_writes_the_same_socket() {
    let (a, b) = UnixStream::pair().unwrap();
    let fd = a.as_raw_fd();
    let tm = TaskManager::new();
    let log = Rc::new(RefCell::new(Vec::new()));
    // The reader tells the writer when it has each echo: one message in flight.
    let ack = Queue::new();
    let (l, reader_ack) = (log.clone(), ack.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            for _ in 0..10 {
                let reply = wait!(recv(fd, 100).timeout(GUARD))?;
                l.borrow_mut().push(String::from_utf8(reply).unwrap());
                wait!(reader_ack.put(()))?;
            }
            Ok(())
        },
    ));
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            for i in 0..10 {
                // While the reader waits to read fd, this task waits to write it.
                wait!(writable(fd).timeout(GUARD))?;
                wait!(send(fd, format!("message {i}")).timeout(GUARD))?;
                wait!(ack.get().timeout(GUARD))?;
            }
            Ok(())
        },
    ));
    // The peer echoes each message back to the reader.
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            for _ in 0..10 {
                let data = wait!(recv(&b, 100).timeout(GUARD))?;
                wait!(send(&b, data).timeout(GUARD))?;
            }
            Ok(())
        },
    ));
    tm.run().unwrap();
    drop(a);
    let expected: Vec<String> = (0..10).map(|i| format!("message {i}")).collect();
    assert_eq!(*log.borrow(), expected);
}

#[test]
fn two_readers_of_one_socket_each_get_their_own_message() {
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let udp_addr = udp.local_addr().unwrap();
    let (c, d) = UnixDatagram::pair().unwrap();
    let tm = TaskManager::new();
    let got = Rc::new(RefCell::new(Vec::new()));
    for reader in 0..2 {
        let (udp_fd, d_fd, got) = (udp.as_raw_fd(), d.as_raw_fd(), got.clone());
        tm.add(Task::new(
            #[coroutine]
            move |_| {
                let data = wait!(recv(udp_fd, 100).timeout(GUARD))?;
                got.borrow_mut()
                    .push(format!("udp reader {reader}: {}", String::from_utf8(data).unwrap()));
                let data = wait!(recv(d_fd, 100).timeout(GUARD))?;
                got.borrow_mut()
                    .push(format!("unix reader {reader}: {}", String::from_utf8(data).unwrap()));
                Ok(())
            },
        ));
    }
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(); // both readers wait by now
            let sender = UdpSocket::bind("127.0.0.1:0")?;
            wait!(sendto(&sender, "first", udp_addr).timeout(GUARD))?;
            wait!(sendto(&sender, "second", udp_addr).timeout(GUARD))?;
            wait!(multitask::sleep(0.01))?;
            wait!(send(&c, "first").timeout(GUARD))?;
            wait!(send(&c, "second").timeout(GUARD))?;
            Ok(())
        },
    ));
    tm.run().unwrap();
    drop((udp, d));
    // A ready fd serves its waiters in the order they began to wait.
    assert_eq!(
        *got.borrow(),
        [
            "udp reader 0: first",
            "udp reader 1: second",
            "unix reader 0: first",
            "unix reader 1: second"
        ]
    );
}

// ---------------------------------------------------------------------------
// The manager's view

#[test]
fn has_io_waits_while_a_task_waits_and_not_after() {
    let (a, b) = UnixStream::pair().unwrap();
    let tm = TaskManager::new();
    assert!(!tm.has_io_waits());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let data = wait!(recv(&b, 100))?;
            assert_eq!(data, b"wake up");
            let timed_out = wait!(readable(&b).timeout(0));
            assert!(matches!(timed_out, Err(Error::Timeout)));
            Ok(())
        },
    ));
    step(&tm);
    assert!(tm.has_io_waits());
    step(&tm);
    assert!(tm.has_io_waits());
    (&a).write_all(b"wake up").unwrap();
    step(&tm); // the data arrives; the task yields the readable wait with a zero timeout
    assert!(tm.has_io_waits());
    assert!(tm.has_timeouts());
    step(&tm); // the timeout fires and the task ends
    assert!(!tm.has_io_waits());
    assert!(!tm.has_timeouts());
    assert!(!tm.has_runnable());
}

/// In one `run_next`, an fd that became ready is handled before a timeout that
/// expired, even a timeout set earlier: the I/O task runs first.
#[test]
fn io_completions_are_enqueued_before_timeouts_of_the_same_pass() {
    let (a, b) = UnixStream::pair().unwrap();
    (&a).write_all(b"data").unwrap();
    let (_c, d) = UnixStream::pair().unwrap();
    let tm = TaskManager::new();
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let r = wait!(readable(&d).timeout(0)); // already due when set
            assert!(matches!(r, Err(Error::Timeout)));
            l.borrow_mut().push("timeout");
            Ok(())
        },
    ));
    let (l, b_fd) = (log.clone(), b.as_raw_fd());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(readable(b_fd))?; // ready already
            l.borrow_mut().push("readable");
            Ok(())
        },
    ));
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let data = wait!(recv(b_fd, 2))?; // completes when tried
            assert_eq!(data, b"da");
            l.borrow_mut().push("recv");
            Ok(())
        },
    ));
    step(&tm); // all three yield: the timeout is set first
    assert!(log.borrow().is_empty());
    step(&tm);
    // The two completions may come in either order (both are on one fd), but
    // both before the timeout.
    let mut log = log.borrow().clone();
    assert_eq!(log.pop(), Some("timeout"));
    log.sort();
    assert_eq!(log, ["readable", "recv"]);
    drop(b);
}

/// Data that arrives while the manager has nothing else to do but wait for a
/// timeout wakes its task when it arrives, not when the timeout is due. Here
/// it arrives after an idle second (the manager's fd-sweep interval); the
/// reader hands it over a queue to a witness that waits with a timeout: the
/// witness must get the data, not `Timeout`.
#[test]
fn data_arriving_while_a_timeout_is_pending_wakes_its_task_at_once() {
    let (a, b) = UnixStream::pair().unwrap();
    let queue = Queue::new();
    let tm = TaskManager::new();
    let q = queue.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let data = wait!(recv(&b, 100).timeout(GUARD))?;
            wait!(q.put(data))?;
            Ok(())
        },
    ));
    let outcome = Rc::new(RefCell::new(None));
    let out = outcome.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            *out.borrow_mut() = Some(wait!(queue.get().timeout(SHORT_GUARD)));
            Ok(())
        },
    ));
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        (&a).write_all(b"hello").unwrap();
        a
    });
    tm.run().unwrap();
    drop(writer.join().unwrap());
    let outcome = outcome.borrow_mut().take();
    match outcome {
        Some(Ok(data)) => assert_eq!(data, b"hello"),
        other => panic!("the witness got {other:?}: the data was handled only after its timeout"),
    }
}

/// More fds are ready at once than one poll returns (mio's event buffer holds
/// 1,024): each waiter's zero timeout is due too, yet every one of them must
/// get its fd, since I/O completions come before the timeouts of the same
/// `run_next` (the original's `select` returns every ready fd).
#[test]
fn every_ready_fd_beats_its_due_timeout_however_many_are_ready() {
    const N: usize = 2000;
    let _lock = many_fds_lock();
    assert!(
        raise_nofile(4096) >= 2 * N as libc::rlim_t + 64,
        "too few file descriptors allowed"
    );
    let tm = TaskManager::new();
    let (ready, timed_out) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
    for _ in 0..N {
        let (a, b) = UnixStream::pair().unwrap();
        (&a).write_all(b"x").unwrap();
        drop(a);
        let (ready, timed_out) = (ready.clone(), timed_out.clone());
        tm.add(Task::new(
            #[coroutine]
            move |_| {
                match wait!(readable(&b).timeout(0)) {
                    Ok(()) => ready.set(ready.get() + 1),
                    Err(Error::Timeout) => timed_out.set(timed_out.get() + 1),
                    Err(e) => return Err(e),
                }
                Ok(())
            },
        ));
    }
    tm.run().unwrap();
    assert_eq!((ready.get(), timed_out.get()), (N, 0), "(ready, timed out)");
}

/// `recv` through each of its buffers (a small one and a large one on the
/// stack, one of the asked size on the heap), on an owned stream whose sent
/// messages' buffers are reused for the next ones received: every byte comes
/// back in order, each `recv` gives at most what it asked for, and a message
/// copied into a reused buffer holds its own bytes, not the last message's.
#[test]
fn recv_of_every_size_and_reused_buffers_give_every_byte_in_order() {
    let (a, b) = UnixStream::pair().unwrap();
    let (ours, theirs) = (multitask::net::UnixStream::from(a), multitask::net::UnixStream::from(b));
    let total = 200_000;
    let data = pattern(7, total);
    let expected = data.clone();
    let got = Rc::new(RefCell::new(Vec::new()));
    let sizes = Rc::new(RefCell::new(Vec::new()));
    let tm = TaskManager::new();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            // The same message size again and again: each send leaves its
            // buffer for the next recv of that size.
            for start in (0..total).step_by(1000) {
                let chunk = data[start..total.min(start + 1000)].to_vec();
                let len = chunk.len();
                let n = wait!(send(&theirs, chunk).timeout(GUARD))?;
                assert_eq!(n, len);
            }
            Ok(())
        },
    ));
    let (got2, sizes2) = (got.clone(), sizes.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            const ASKS: [usize; 6] = [1000, 2048, 2049, 16 * 1024, 16 * 1024 + 1, 100_000];
            let mut i = 0;
            while got2.borrow().len() < total {
                let n = ASKS[i % ASKS.len()];
                i += 1;
                let bytes = wait!(recv(&ours, n).timeout(GUARD))?;
                assert!(
                    !bytes.is_empty() && bytes.len() <= n,
                    "{} bytes for recv({n})",
                    bytes.len()
                );
                sizes2.borrow_mut().push(n);
                got2.borrow_mut().extend_from_slice(&bytes);
            }
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(got.borrow().len(), total);
    assert!(*got.borrow() == expected, "the bytes came back in order");
    let asked: std::collections::BTreeSet<usize> = sizes.borrow().iter().copied().collect();
    assert_eq!(asked.len(), 6, "every buffer size was used: {asked:?}");
}
