//! A due write on one of the crate's TCP streams goes before step 1's poll
//! only if its peer is not a stream this manager waits on (`due.rs`). Each
//! test runs the ping of `p42_socketpair_ping` (reader, writer, ticker; `|`
//! after each run_next) over a TCP connection whose two ends are both
//! waited on here, set up in a way that could hide that (several accepted
//! sockets sharing one local address, an IPv4-mapped dual-stack listener, a
//! socket connected to itself, a `connect` whose handshake ends late, a peer
//! registered later in the pass, in another manager, merged in, waited on
//! through the compatibility path, or duplicated by `try_clone`), and compares with the original's
//! transcript: multitask 0.2.0 under Python 2.7 printed p42's for each of
//! them, and `tests/conformance/tcp_peers/*.out` for those whose set-up
//! adds lines of its own.
#![feature(coroutines)]

use std::net::{SocketAddr, TcpListener as StdListener, TcpStream as StdStream};
use std::os::fd::AsRawFd;
use std::rc::Rc;

use multitask::net::{TcpListener, TcpStream};
use multitask::{accept, connect, readable, recv, send, wait, writable, FileNo, Task, TaskManager};

#[macro_use]
mod common;
use common::transcript::{check, check_each_pass_unordered as check_unordered, passes, repr, ticker};

const P42: &str = include_str!("conformance/python/p42_socketpair_ping.out");

fn reader<B: 'static>(b: B) -> Task
where
    for<'x> &'x B: FileNo,
{
    Task::new(
        #[coroutine]
        move |_| {
            for _ in 0..3 {
                let data = wait!(recv(&b, 100))?;
                p!("reader got {}", repr(&data));
            }
            Ok(())
        },
    )
}
fn writer<A: 'static>(a: A) -> Task
where
    for<'x> &'x A: FileNo,
{
    Task::new(
        #[coroutine]
        move |_| {
            for m in ["one", "two", "three"] {
                let n = wait!(send(&a, m))?;
                p!("writer sent {n}");
                wait!();
            }
            Ok(())
        },
    )
}
/// p42: reader(b), writer(a), ticker.
fn p42<A: 'static, B: 'static>(a: A, b: B)
where
    for<'x> &'x A: FileNo,
    for<'x> &'x B: FileNo,
{
    let tm = TaskManager::new();
    tm.add(reader(b));
    tm.add(writer(a));
    tm.add(ticker("tick", 8));
    passes(&tm);
    check(P42);
}

fn tcp_pair(listen: &str, to: Option<SocketAddr>) -> (StdStream, StdStream) {
    let l = StdListener::bind(listen).unwrap();
    let c = StdStream::connect(to.unwrap_or(l.local_addr().unwrap()).to_string().as_str()).unwrap();
    let _ = to.map(|mut t| t.set_port(l.local_addr().unwrap().port()));
    let s = l.accept().unwrap().0;
    (s, c)
}

// ---- controls: both ends crate TCP streams, registered here ----
#[test]
fn control_v4() {
    let (s, c) = tcp_pair("127.0.0.1:0", None);
    p42(TcpStream::from(s), TcpStream::from(c));
}
#[test]
fn control_v6_loopback() {
    let (s, c) = tcp_pair("[::1]:0", None);
    p42(TcpStream::from(s), TcpStream::from(c));
}

// ---- 1. dual-stack listener, IPv4 client: v4-mapped vs plain v4 addresses ----
#[test]
fn v4_mapped_peer() {
    let l = StdListener::bind("[::]:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let c = StdStream::connect(("127.0.0.1", port)).unwrap();
    let s = l.accept().unwrap().0;
    eprintln!(
        "s local {:?} peer {:?}; c local {:?} peer {:?}",
        s.local_addr(),
        s.peer_addr(),
        c.local_addr(),
        c.peer_addr()
    );
    p42(TcpStream::from(s), TcpStream::from(c));
}

// ---- 2. accepted sockets share their local address: the map keeps one ----
#[test]
fn two_accepted_client_registered_last() {
    let l = StdListener::bind("127.0.0.1:0").unwrap();
    let c1 = StdStream::connect(l.local_addr().unwrap()).unwrap();
    let s1 = l.accept().unwrap().0;
    let _c2 = StdStream::connect(l.local_addr().unwrap()).unwrap(); // a client elsewhere
    let s2 = l.accept().unwrap().0;
    let (s1, s2, c1) = (TcpStream::from(s1), TcpStream::from(s2), TcpStream::from(c1));
    let tm = TaskManager::new();
    tm.add(writer(s1)); // s1 registered: its peer c1 not yet -> "elsewhere"
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(writable(&s2))?; // s2 registered: the map's 127.0.0.1:P is s2 now
            wait!(multitask::sleep(1.0))?; // keep s2 open
            Ok(())
        },
    ));
    tm.add(reader(c1)); // c1 registered: finds s2 under its peer address, not s1
    tm.add(ticker("tick", 8));
    passes(&tm);
    // Python 2.7, the same program (writer, reg, reader, ticker):
    check(include_str!("conformance/tcp_peers/two_accepted.out"));
}

/// A client task that `connect`s to `addr` and reads three messages, and a
/// server task that takes `skip` connections from `l` first, then the
/// client's, and sends them.
fn connect_and_accept(tm: &TaskManager, addr: SocketAddr, l: TcpListener, skip: usize) {
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let c: TcpStream = wait!(connect(addr))?;
            p!("connected");
            for _ in 0..3 {
                let data = wait!(recv(&c, 100))?;
                p!("reader got {}", repr(&data));
            }
            Ok(())
        },
    ));
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let mut skipped = Vec::new();
            for _ in 0..skip {
                let (conn, _) = wait!(accept(&l))?;
                skipped.push(conn);
            }
            let (s, _) = wait!(accept(&l))?;
            p!("accepted");
            for m in ["one", "two", "three"] {
                let n = wait!(send(&s, m))?;
                p!("writer sent {n}");
                wait!();
            }
            Ok(())
        },
    ));
}

// ---- 3. client made by the crate's own `connect`, server end by `accept` ----
#[test]
fn connect_op_and_accept_op() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let tm = TaskManager::new();
    connect_and_accept(&tm, addr, l, 0);
    tm.add(ticker("tick", 10));
    passes(&tm);
    check(include_str!("conformance/tcp_peers/connect.out"));
}

// ---- 4. a self-connected TCP socket (simultaneous open): its own peer ----
fn self_connected() -> StdStream {
    use std::os::fd::FromRawFd;
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        let mut sa: libc::sockaddr_in = std::mem::zeroed();
        sa.sin_family = libc::AF_INET as _;
        sa.sin_addr.s_addr = u32::from_be_bytes([127, 0, 0, 1]).to_be();
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        assert_eq!(libc::bind(fd, (&sa as *const libc::sockaddr_in).cast(), len), 0);
        let mut got = sa;
        let mut l = len;
        libc::getsockname(fd, (&mut got as *mut libc::sockaddr_in).cast(), &mut l);
        assert_eq!(libc::connect(fd, (&got as *const libc::sockaddr_in).cast(), len), 0);
        StdStream::from_raw_fd(fd)
    }
}
#[test]
fn self_connected_socket() {
    let s = self_connected();
    assert_eq!(s.local_addr().unwrap(), s.peer_addr().unwrap());
    s.set_nodelay(true).unwrap();
    let s = Rc::new(TcpStream::from(s));
    let (a, b) = (s.clone(), s);
    let tm = TaskManager::new();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            for _ in 0..3 {
                let data = wait!(recv(&*b, 100))?;
                p!("reader got {}", repr(&data));
            }
            Ok(())
        },
    ));
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            for m in ["one", "two", "three"] {
                let n = wait!(send(&*a, m))?;
                p!("writer sent {n}");
                wait!();
            }
            Ok(())
        },
    ));
    tm.add(ticker("tick", 8));
    passes(&tm);
    check(P42);
}

// ---- should hold: peers waited on through the raw path ----
#[test]
fn raw_peer_recv_by_number() {
    let (s, c) = tcp_pair("127.0.0.1:0", None);
    c.set_nonblocking(true).unwrap();
    let fd = c.as_raw_fd();
    let _keep = c;
    p42(TcpStream::from(s), fd);
}
#[test]
fn raw_peer_readable_std() {
    let (s, c) = tcp_pair("127.0.0.1:0", None);
    c.set_nonblocking(true).unwrap();
    let tm = TaskManager::new();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            for _ in 0..3 {
                wait!(readable(&c))?;
                let mut buf = [0u8; 100];
                let n = std::io::Read::read(&mut &c, &mut buf).unwrap();
                p!("reader got {}", repr(&buf[..n]));
            }
            Ok(())
        },
    ));
    tm.add(writer(TcpStream::from(s)));
    tm.add(ticker("tick", 8));
    passes(&tm);
    check(P42);
}
/// Peer owned but registered with another manager, the two run in turn.
#[test]
fn peer_in_other_manager() {
    let (s, c) = tcp_pair("127.0.0.1:0", None);
    let (tm1, tm2) = (TaskManager::new(), TaskManager::new());
    tm2.add(reader(TcpStream::from(c)));
    tm1.add(writer(TcpStream::from(s)));
    tm1.add(ticker("tick", 8));
    for _ in 0..30 {
        let live = |tm: &TaskManager| tm.has_runnable() || tm.has_io_waits() || tm.has_timeouts();
        if !live(&tm1) && !live(&tm2) {
            break;
        }
        tm2.run_next(Some(std::time::Duration::ZERO)).unwrap();
        p!("2|");
        tm1.run_next(Some(std::time::Duration::ZERO)).unwrap();
        p!("1|");
    }
    check(include_str!("conformance/tcp_peers/two_managers.out"));
}
/// Peer's manager merged in after the first pass.
#[test]
fn peer_merged_in() {
    let (s, c) = tcp_pair("127.0.0.1:0", None);
    let (tm1, tm2) = (TaskManager::new(), TaskManager::new());
    tm2.add(reader(TcpStream::from(c)));
    tm1.add(writer(TcpStream::from(s)));
    tm1.add(ticker("tick", 8));
    tm2.run_next(Some(std::time::Duration::ZERO)).unwrap();
    p!("2|");
    tm1.run_next(Some(std::time::Duration::ZERO)).unwrap();
    p!("1|");
    tm1.merge(&tm2);
    passes(&tm1);
    check(include_str!("conformance/tcp_peers/merged.out"));
}

// ---- 5. `connect` registers the stream before it is connected: never noted ----
#[test]
fn connect_op_completing_late() {
    let std_l = StdListener::bind("127.0.0.1:0").unwrap();
    assert_eq!(unsafe { libc::listen(std_l.as_raw_fd(), 0) }, 0); // accept queue of one
    let addr = std_l.local_addr().unwrap();
    let _c0 = StdStream::connect(addr).unwrap(); // fills it
    std::thread::sleep(std::time::Duration::from_millis(50));
    let l = TcpListener::from(std_l);
    let tm = TaskManager::new();
    connect_and_accept(&tm, addr, l, 1); // its SYN dropped, retried after 1 s
    tm.add(ticker("tick", 4));
    passes(&tm);
    check_unordered(include_str!("conformance/tcp_peers/backlog.out"));
}

// ---- 2b. the same map slot removed by the close of another accepted socket ----
#[test]
fn other_accepted_closed_before_client_registered() {
    let l = StdListener::bind("127.0.0.1:0").unwrap();
    let c1 = StdStream::connect(l.local_addr().unwrap()).unwrap();
    let s1 = l.accept().unwrap().0;
    let _c2 = StdStream::connect(l.local_addr().unwrap()).unwrap();
    let s2 = l.accept().unwrap().0;
    let (s1, s2, c1) = (TcpStream::from(s1), TcpStream::from(s2), TcpStream::from(c1));
    let tm = TaskManager::new();
    tm.add(writer(s1));
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(writable(&s2))?; // registered: 127.0.0.1:P -> s2
            drop(s2); // forget_tcp(s2) removes 127.0.0.1:P: s1 is in the map no more
            wait!(multitask::sleep(1.0))?;
            Ok(())
        },
    ));
    tm.add(reader(c1)); // its peer address is in no entry: c1 "elsewhere" too
    tm.add(ticker("tick", 8));
    passes(&tm);
    check(include_str!("conformance/tcp_peers/two_accepted.out"));
}

// ---- should hold: one connection, the peer registered by a later task of the pass ----
#[test]
fn peer_registered_later_in_pass() {
    let (s, c) = tcp_pair("127.0.0.1:0", None);
    let tm = TaskManager::new();
    tm.add(writer(TcpStream::from(s)));
    tm.add(reader(TcpStream::from(c)));
    tm.add(ticker("tick", 8));
    passes(&tm);
    check(include_str!("conformance/tcp_peers/later.out"));
}

// ---- 14. a duplicated socket (`try_clone`): one connection, two fds ----

/// p42's writer, after `delay` bare yields.
fn writer_after<A: 'static>(a: A, delay: usize) -> Task
where
    for<'x> &'x A: FileNo,
{
    Task::new(
        #[coroutine]
        move |_| {
            for _ in 0..delay {
                wait!();
            }
            for m in ["one", "two", "three"] {
                let n = wait!(send(&a, m))?;
                p!("writer sent {n}");
                wait!();
            }
            Ok(())
        },
    )
}

fn std_pair() -> (StdStream, StdStream) {
    let l = StdListener::bind("127.0.0.1:0").unwrap();
    let c = StdStream::connect(l.local_addr().unwrap()).unwrap();
    let s = l.accept().unwrap().0;
    (s, c)
}

/// A duplicate of the writer's end registered after it: the reader's
/// registration must find both fds of that connection (the map kept one,
/// the duplicate, and the writer's end went on sending before the poll).
#[test]
fn a_duplicate_of_the_writers_end_registered_after_it() {
    let (s, c) = std_pair();
    let s2 = s.try_clone().unwrap();
    let (s, c, s2) = (TcpStream::from(s), TcpStream::from(c), TcpStream::from(s2));
    let tm = TaskManager::new();
    tm.add(writer(s)); // s registered: its peer c not yet -> "elsewhere"
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(writable(&s2))?; // the same connection, a second fd
            wait!(multitask::sleep(1.0))?;
            Ok(())
        },
    ));
    tm.add(reader(c)); // c registered: both s and s2 have their peer here
    tm.add(ticker("tick", 8));
    passes(&tm);
    // The same shape as two_accepted's program, and its transcript.
    check(include_str!("conformance/tcp_peers/two_accepted.out"));
}

/// A duplicate of the reader's end registered and dropped: the reader's end
/// stays registered with its connection (the map forgot it with the
/// duplicate), so the writer's duplicate registered later finds its peer here.
#[test]
fn a_duplicate_of_the_readers_end_registered_and_dropped() {
    let (s, c) = std_pair();
    let (s2, c2) = (s.try_clone().unwrap(), c.try_clone().unwrap());
    let (s, c, s2, c2) = (
        TcpStream::from(s),
        TcpStream::from(c),
        TcpStream::from(s2),
        TcpStream::from(c2),
    );
    let tm = TaskManager::new();
    tm.add(reader(s));
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(writable(&c))?;
            wait!(writable(&s2))?;
            drop(s2);
            let _keep = c;
            Ok(())
        },
    ));
    tm.add(writer_after(c2, 4));
    tm.add(ticker("tick", 12));
    passes(&tm);
    // Python 2.7, conformance/tcp_peers/dup_dropped.py (`socket.fromfd` for
    // `try_clone`):
    check(include_str!("conformance/tcp_peers/dup_dropped.out"));
}
