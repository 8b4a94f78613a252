//! More differential tests: each test ports, line for line, a Python 2
//! program in `tests/conformance/python_new/` run on the original multitask
//! 0.2.0; the port must print that program's transcript (`*.out`).
#![feature(coroutines, try_blocks)]
#![allow(clippy::type_complexity)]

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use multitask::{
    accept, read, readable, readline, recv, recvfrom, send, sendto, sleep, value, wait, writable, write, Error, Queue,
    Task, TaskManager,
};

#[macro_use]
mod common;
use common::transcript::{
    check, check_each_pass_unordered, errno, original, passes, pyb, raw_recv, raw_recv_flags, raw_send, raw_send_flags,
    repr, ticker,
};

fn py(name: &str) -> String {
    original("python_new", name)
}

// ---------------------------------------------------------------------------
two_ways!(n01_readable_direct_recv {
    multitask::task! {
        fn reader(b: Rc<Pair>) {
            for i in 0..3 {
                let r: multitask::Result<()> = try {
                    wait!(readable(&*b).timeout(0.05))?;
                    let data = raw_recv(&*b, 1024).map_err(Error::from)?;
                    p!("reader got {}", repr(&data));
                };
                match r {
                    Err(Error::Timeout) => p!("reader timeout {i}"),
                    r => r?,
                }
            }
        }
        fn writer(a: Rc<Pair>) {
            wait!(sleep(0.01))?;
            raw_send(&*a, b"one")?;
            p!("writer sent one");
            wait!(sleep(0.03))?;
            raw_send(&*a, b"two")?;
            p!("writer sent two");
        }
    }
    #[test]
    fn run() {
        let (a, b) = pair();
        let (a, b) = (Rc::new(a), Rc::new(b));
        let tm = TaskManager::new();
        tm.add(reader(b.clone()));
        tm.add(writer(a.clone()));
        tm.add(ticker("tick", 4));
        passes(&tm);
        check(&py("n01_readable_direct_recv"));
    }
});

// ---------------------------------------------------------------------------
// `dst.sendall(data)` (a blocking, direct call in Python: no pass) ported as
// a direct call, as the README's port guide says; `wait!(sendall(..))`
// would wait for room without blocking, at the cost of a pass a call.
two_ways!(n02_relay_sendall {
    multitask::task! {
        fn relay(name: &'static str, src: Rc<Pair>, dst: Rc<Pair>) {
            loop {
                let data = wait!(recv(&*src, 5))?;
                if data.is_empty() {
                    p!("{name} eof");
                    dst.shutdown(std::net::Shutdown::Write)?;
                    break;
                }
                raw_send(&*dst, &data)?;
                p!("{name} relayed {}", repr(&data));
            }
        }
        fn server(server_end: Pair) {
            loop {
                let data = wait!(recv(&server_end, 100))?;
                if data.is_empty() {
                    break;
                }
                p!("server got {}", repr(&data));
                raw_send(&server_end, &data.to_ascii_uppercase())?;
            }
            p!("server eof");
            drop(server_end);
        }
        fn client(client_end: Pair) {
            raw_send(&client_end, b"hello relay")?;
            p!("client sent");
            let mut got = Vec::new();
            while got.len() < 11 {
                got.extend(wait!(recv(&client_end, 100))?);
                p!("client has {}", repr(&got));
            }
            client_end.shutdown(std::net::Shutdown::Write)?;
            let data = wait!(recv(&client_end, 100))?;
            p!("client final {}", repr(&data));
        }
    }
    #[test]
    fn run() {
        let (client_end, front) = pair();
        let (back, server_end) = pair();
        let (front, back) = (Rc::new(front), Rc::new(back));
        let tm = TaskManager::new();
        tm.add(relay("up", front.clone(), back.clone()));
        tm.add(relay("down", back.clone(), front.clone()));
        tm.add(server(server_end));
        tm.add(client(client_end));
        tm.add(ticker("tick", 12));
        passes(&tm);
        check_each_pass_unordered(&py("n02_relay_sendall"));
    }
});

// ---------------------------------------------------------------------------
#[test]
fn n03_chat_bounded() {
    type Clients = Rc<RefCell<BTreeMap<&'static str, Queue<Option<String>>>>>;
    multitask::task! {
        fn hub(inbox: Queue<(&'static str, &'static str)>, clients: Clients) {
            loop {
                let (src, msg) = match wait!(inbox.get().timeout(0.2)) {
                    Err(Error::Timeout) => {
                        p!("hub idle");
                        break;
                    }
                    r => r?,
                };
                let names: Vec<&'static str> = clients.borrow().keys().cloned().collect();
                for name in names {
                    if name == src {
                        continue;
                    }
                    let q = clients.borrow()[name].clone();
                    match wait!(q.put(Some(format!("{src}: {msg}"))).timeout(0.01)) {
                        Ok(()) => p!("hub -> {name} {msg}"),
                        Err(Error::Timeout) => p!("hub drop {name} {msg}"),
                        Err(e) => return Err(e),
                    }
                }
            }
            let names: Vec<&'static str> = clients.borrow().keys().cloned().collect();
            for name in names {
                let q = clients.borrow()[name].clone();
                wait!(q.put(None))?;
            }
        }
        fn client(name: &'static str, delay: f64, says: Vec<&'static str>,
                  inbox: Queue<(&'static str, &'static str)>, clients: Clients) {
            let q = Queue::with_maxsize(2);
            clients.borrow_mut().insert(name, q.clone());
            for s in &says {
                wait!(inbox.put((name, *s)))?;
            }
            loop {
                wait!(sleep(delay))?;
                let m = match wait!(q.get().timeout(0.3)) {
                    Err(Error::Timeout) => {
                        p!("{name} get timeout");
                        break;
                    }
                    r => r?,
                };
                let Some(m) = m else { break };
                p!("{name} heard {m} left {}", q.len());
            }
            p!("{name} done");
        }
    }
    let inbox = Queue::new();
    let clients: Clients = Rc::default();
    let tm = TaskManager::new();
    tm.add(hub(inbox.clone(), clients.clone()));
    tm.add(client("fast", 0.001, vec!["a1", "a2"], inbox.clone(), clients.clone()));
    tm.add(client("slow", 0.05, vec!["b1"], inbox.clone(), clients.clone()));
    tm.add(client("mute", 0.001, vec![], inbox.clone(), clients.clone()));
    passes(&tm);
    check(&py("n03_chat_bounded"));
}

// ---------------------------------------------------------------------------
two_ways!(n04_udp_spawn {
    use std::net::SocketAddr;
    multitask::task! {
        fn server(srv: Rc<Udp>, tm: TaskManager) {
            let mut n = 0;
            loop {
                let (data, addr) = match wait!(recvfrom(&*srv, 100).timeout(0.25)) {
                    Err(Error::Timeout) => {
                        p!("server idle");
                        break;
                    }
                    r => r?,
                };
                n += 1;
                p!("server request {n} {}", repr(&data));
                tm.add(handler(n, String::from_utf8(data).unwrap(), addr, srv.clone()));
                p!("server added {n}");
            }
        }
        fn handler(n: i32, data: String, addr: SocketAddr, srv: Rc<Udp>) {
            p!("handler {n} starts");
            let delay: f64 = data.split(' ').nth(1).unwrap().parse().unwrap();
            if delay > 0.0 {
                wait!(sleep(delay))?;
            }
            let k = wait!(sendto(&*srv, format!("done {data}"), addr))?;
            p!("handler {n} sent {k}");
        }
        fn client(cli: Udp, to: SocketAddr) {
            for req in ["r1 0.06", "r2 0.02", "r3 0", "r4 0.1"] {
                wait!(sendto(&cli, req, to))?;
                p!("client sent {req}");
            }
            loop {
                let (data, _addr) = match wait!(recvfrom(&cli, 100).timeout(0.3)) {
                    Err(Error::Timeout) => {
                        p!("client timeout");
                        break;
                    }
                    r => r?,
                };
                p!("client got {}", repr(&data));
            }
        }
    }
    #[test]
    fn run() {
        let srv = Rc::new(udp());
        let cli = udp();
        let to = srv.local_addr().unwrap();
        let tm = TaskManager::new();
        tm.add(server(srv.clone(), tm.clone()));
        tm.add(client(cli, to));
        passes(&tm);
        check_each_pass_unordered(&py("n04_udp_spawn"));
    }
});

// ---------------------------------------------------------------------------
multitask::exception!(ProtoError(String));

#[test]
fn n06_reraise_run_again() {
    multitask::task! {
        fn leaf(n: i32) {
            wait!();
            return Err(ProtoError::new(format!("leaf {n}")).into());
        }
        fn mid(n: i32) {
            match wait!(leaf(n)) {
                Err(e) if e.is::<ProtoError>() => {
                    p!("mid caught {e}");
                    return Err(Error::msg(format!("mid wraps {e}")));
                }
                r => r?,
            }
        }
        fn top(n: i32) {
            match wait!(mid(n)) {
                Err(e @ Error::Message(_)) => {
                    p!("top {n} caught {e}");
                    if n == 2 {
                        return Err(e);
                    }
                }
                r => r?,
            }
            p!("top {n} done");
        }
        fn unguarded(q: Queue<&'static str>) {
            wait!(q.get().timeout(0.02))?;
            p!("unguarded not reached");
        }
        fn sl(q: Queue<&'static str>) {
            wait!(sleep(0.05))?;
            p!("sleeper woke");
            wait!(q.put("late"))?;
            p!("sleeper put");
        }
        fn getter(q: Queue<&'static str>) {
            let x = wait!(q.get())?;
            p!("getter got {x}");
        }
    }
    let q = Queue::new();
    let tm = TaskManager::new();
    tm.add(top(1));
    tm.add(top(2));
    tm.add(unguarded(q.clone()));
    tm.add(sl(q.clone()));
    tm.add(getter(q.clone()));
    tm.add(ticker("tick", 6));
    let mut k = 0;
    loop {
        match tm.run() {
            Ok(()) => {
                p!("run returned");
                break;
            }
            Err(e) => {
                k += 1;
                p!(
                    "run raised {}: '{}' {} {} {}",
                    e.name(),
                    e,
                    pyb(tm.has_runnable()),
                    pyb(tm.has_io_waits()),
                    pyb(tm.has_timeouts())
                );
            }
        }
    }
    p!("end {k} {}", q.len());
    check(&py("n06_reraise_run_again"));
}

// ---------------------------------------------------------------------------
#[test]
fn n07_deadlines_pile_up() {
    multitask::task! {
        fn blocker(q: Queue<&'static str>) {
            wait!();
            p!("blocker blocks");
            std::thread::sleep(Duration::from_millis(100));
            p!("blocker unblocks");
            wait!(q.put("from blocker"))?;
            p!("blocker put");
        }
        fn g(name: &'static str, t: f64, q: Queue<&'static str>) {
            match wait!(q.get().timeout(t)) {
                Ok(x) => p!("{name} got {x}"),
                Err(Error::Timeout) => p!("{name} timeout"),
                Err(e) => return Err(e),
            }
        }
        fn pt(name: &'static str, t: f64, full: Queue<&'static str>) {
            match wait!(full.put(name).timeout(t)) {
                Ok(()) => p!("{name} put ok"),
                Err(Error::Timeout) => p!("{name} put timeout"),
                Err(e) => return Err(e),
            }
        }
        fn s(name: &'static str, t: f64, full: Queue<&'static str>) {
            wait!(sleep(t))?;
            p!("{name} woke");
            if name == "s2" {
                let x = wait!(full.get())?;
                p!("{name} took {x} len {}", full.len());
            }
        }
        fn late(q: Queue<&'static str>, full: Queue<&'static str>) {
            wait!(sleep(0.2))?;
            let x = wait!(full.get().timeout(0))?;
            p!("late took {x}");
            match wait!(q.get().timeout(0)) {
                Ok(x) => p!("late q {x}"),
                Err(Error::Timeout) => p!("late q timeout"),
                Err(e) => return Err(e),
            }
        }
    }
    let q = Queue::new();
    let full = Queue::with_contents(["x"], 1);
    let tm = TaskManager::new();
    tm.add(g("g1", 0.03, q.clone()));
    tm.add(s("s1", 0.02, full.clone()));
    tm.add(pt("p1", 0.05, full.clone()));
    tm.add(s("s2", 0.04, full.clone()));
    tm.add(g("g2", 0.06, q.clone()));
    tm.add(pt("p2", 0.3, full.clone()));
    tm.add(blocker(q.clone()));
    tm.add(late(q.clone(), full.clone()));
    passes(&tm);
    p!("end {} {} {}", q.len(), full.len(), pyb(tm.has_timeouts()));
    check(&py("n07_deadlines_pile_up"));
}

// ---------------------------------------------------------------------------
two_ways!(n08_io_vs_timeouts {
    multitask::task! {
        fn r(name: &'static str, sock: Rc<Pair>) {
            match wait!(recv(&*sock, 100).timeout(0.03)) {
                Ok(data) => p!("{name} got {}", repr(&data)),
                Err(Error::Timeout) => p!("{name} timeout"),
                Err(e) => return Err(e),
            }
        }
        fn qg(q: Queue<()>) {
            match wait!(q.get().timeout(0.01)) {
                Err(Error::Timeout) => p!("qg timeout"),
                r => r?,
            }
        }
        fn sl() {
            wait!(sleep(0.02))?;
            p!("sl woke");
        }
        fn blocker(a: Rc<Pair>) {
            wait!();
            raw_send(&*a, b"data")?;
            p!("blocker sent, blocks");
            std::thread::sleep(Duration::from_millis(80));
            p!("blocker unblocks");
            wait!();
            p!("blocker again");
        }
    }
    #[test]
    fn run() {
        let (a, b) = pair();
        let (c, d) = pair();
        let (a, b, d) = (Rc::new(a), Rc::new(b), Rc::new(d));
        let tm = TaskManager::new();
        tm.add(sl());
        tm.add(qg(Queue::new()));
        tm.add(r("r2", d.clone()));
        tm.add(r("r1", b.clone()));
        tm.add(blocker(a.clone()));
        passes(&tm);
        drop(c);
        check(&py("n08_io_vs_timeouts"));
    }
});

// ---------------------------------------------------------------------------
// The crate's own sockets only: a std socket closed under a waiter is found
// late (README, "Sockets").
mod n09_close_under_waiter {
    use super::*;
    type Shared = Rc<RefCell<Option<multitask::net::UnixStream>>>;
    multitask::task! {
        fn reader(b: Shared, tm: TaskManager) {
            // The borrow ends when the operation is built.
            let op = recv(b.borrow().as_ref().unwrap(), 100).timeout(1.0);
            match wait!(op) {
                Ok(data) => p!("reader got? {}", repr(&data)),
                // Python: select.error (9, ...), "except Exception"
                Err(e) => p!("reader other error {}", errno(&e)),
            }
            p!("reader timeouts pending {}", pyb(tm.has_timeouts()));
        }
        fn closer(b: Shared) {
            wait!();
            wait!();
            p!("closer closes b");
            drop(b.borrow_mut().take());
            wait!();
            p!("closer after");
        }
    }
    #[test]
    fn crate_sockets() {
        let (a, b) = multitask::net::UnixStream::pair().unwrap();
        let b: Shared = Rc::new(RefCell::new(Some(b)));
        let tm = TaskManager::new();
        tm.add(reader(b.clone(), tm.clone()));
        tm.add(closer(b));
        tm.add(ticker("tick", 6));
        passes(&tm);
        p!("end io {} timeouts {}", pyb(tm.has_io_waits()), pyb(tm.has_timeouts()));
        drop(a);
        check(&py("n09_close_under_waiter"));
    }
}

// ---------------------------------------------------------------------------
#[test]
fn n10_nested_run_next() {
    multitask::task! {
        fn worker(q: Queue<&'static str>, done: Rc<Cell<bool>>) {
            wait!();
            p!("worker puts");
            wait!(q.put("w"))?;
            p!("worker put done");
            done.set(true);
        }
        fn spinner(tm: TaskManager, done: Rc<Cell<bool>>) {
            p!("spinner starts");
            let mut n = 0;
            while !done.get() {
                tm.run_next(None)?;
                n += 1;
                p!("spinner inner pass {n}");
            }
            p!("spinner done after {n}");
            wait!();
            p!("spinner resumed");
        }
        fn getter(q: Queue<&'static str>) {
            let x = wait!(q.get())?;
            p!("getter got {x}");
        }
    }
    let q = Queue::new();
    let done = Rc::new(Cell::new(false));
    let tm = TaskManager::new();
    tm.add(ticker("a", 4));
    tm.add(getter(q.clone()));
    tm.add(worker(q.clone(), done.clone()));
    tm.add(ticker("b", 4));
    tm.add(spinner(tm.clone(), done.clone()));
    tm.add(ticker("c", 4));
    passes(&tm);
    check(&py("n10_nested_run_next"));
}

// ---------------------------------------------------------------------------
two_ways!(n11_merge_waiting {
    multitask::task! {
        fn s(name: &'static str, t: f64) {
            wait!(sleep(t))?;
            p!("{name} woke");
        }
        fn r(name: &'static str, sock: Rc<Pair>) {
            let data = wait!(recv(&*sock, 100))?;
            p!("{name} got {}", repr(&data));
        }
        fn g(name: &'static str, q: Queue<&'static str>) {
            let x = wait!(q.get().timeout(0.2))?;
            p!("{name} got {x}");
        }
        fn w(sock: Rc<Pair>, msg: &'static str, t: f64) {
            wait!(sleep(t))?;
            wait!(send(&*sock, msg))?;
            p!("sent {msg}");
        }
        fn pt(q: Queue<&'static str>) {
            wait!(sleep(0.07))?;
            wait!(q.put("qitem"))?;
            p!("put qitem");
        }
    }
    #[test]
    fn run() {
        let (a, b) = pair();
        let (c, d) = pair();
        let (a, b, c, d) = (Rc::new(a), Rc::new(b), Rc::new(c), Rc::new(d));
        let q = Queue::new();
        let tm1 = TaskManager::new();
        let tm2 = TaskManager::new();
        tm1.add(s("s1-40", 0.04));
        tm1.add(r("r-b", b.clone()));
        tm1.add(g("g1", q.clone()));
        tm2.add(s("s2-20", 0.02));
        tm2.add(r("r-d", d.clone()));
        tm2.add(s("s2-60", 0.06));
        tm1.run_next(None).unwrap();
        p!("tm1 pass");
        tm2.run_next(None).unwrap();
        p!("tm2 pass");
        tm1.merge(&tm2);
        p!("merged {} {} {}", pyb(tm1.has_runnable()), pyb(tm1.has_io_waits()), pyb(tm1.has_timeouts()));
        tm2.add(w(a.clone(), "to-b", 0.03));
        tm1.add(w(c.clone(), "to-d", 0.05));
        tm2.add(pt(q.clone()));
        passes(&tm1);
        check(&py("n11_merge_waiting"));
    }
});

// ---------------------------------------------------------------------------
two_ways!(n12_accept_burst {
    use std::net::SocketAddr;
    multitask::task! {
        fn listener(ls: Listener, tm: TaskManager) {
            for i in 0..3 {
                let (conn, _peer) = wait!(accept(&ls))?;
                p!("accepted {i}");
                tm.add(handler(conn, i));
            }
            match wait!(accept(&ls).timeout(0.05)) {
                Ok(_) => p!("accepted?"),
                Err(Error::Timeout) => p!("listener done"),
                Err(e) => return Err(e),
            }
        }
        fn handler(conn: multitask::net::TcpStream, i: i32) {
            let data = wait!(recv(&conn, 100))?;
            p!("handler {i} got {}", repr(&data));
            wait!(send(&conn, format!("reply {i} to {}", String::from_utf8_lossy(&data))))?;
            drop(conn);
        }
        fn client(name: &'static str, addr: SocketAddr) {
            let c = wrap(std::net::TcpStream::connect(addr)?);
            p!("{name} connected");
            wait!(send(&c, name))?;
            p!("{name} sent");
            let data = wait!(recv(&c, 100))?;
            p!("{name} got {}", repr(&data));
            let data = wait!(recv(&c, 100))?;
            p!("{name} eof {}", repr(&data));
            drop(c);
        }
        fn starter(tm: TaskManager, addr: SocketAddr) {
            wait!();
            for name in ["ca", "cb", "cc"] {
                tm.add(client(name, addr));
            }
            p!("starter added clients");
        }
    }
    #[test]
    fn run() {
        let ls = bind();
        let addr = ls.local_addr().unwrap();
        let tm = TaskManager::new();
        tm.add(listener(ls, tm.clone()));
        tm.add(starter(tm.clone(), addr));
        passes(&tm);
        check_each_pass_unordered(&py("n12_accept_burst"));
    }
});

// ---------------------------------------------------------------------------
two_ways!(n13_writable_direct_send {
    multitask::task! {
        fn sender(a: Rc<Pair>) {
            for i in 0..2 {
                let r: multitask::Result<()> = try {
                    wait!(writable(&*a).timeout(0.3))?;
                    let n = raw_send(&*a, format!("m{i}").as_bytes()).map_err(Error::from)?;
                    p!("sender sent {i} {n}");
                };
                match r {
                    Ok(()) => {}
                    Err(Error::Timeout) => p!("sender timeout {i}"),
                    Err(e) if e.io_error().is_some() => p!("sender error {i} {}", pyb(errno(&e) == libc::EAGAIN)),
                    Err(e) => return Err(e),
                }
            }
        }
        fn drainer(b: Rc<Pair>, filled: usize) {
            wait!(sleep(0.05))?;
            let mut total = 0;
            while total < filled {
                let data = wait!(recv(&*b, (filled - total).min(65536)))?;
                total += data.len();
            }
            p!("drainer drained {}", pyb(total == filled));
            wait!(sleep(0.05))?;
            let rest = wait!(recv(&*b, 100))?;
            p!("drainer rest {}", repr(&rest));
            match wait!(recv(&*b, 100).timeout(0.08)) {
                Ok(rest) => p!("drainer rest {}", repr(&rest)),
                Err(Error::Timeout) => p!("drainer timeout"),
                Err(e) => return Err(e),
            }
        }
    }
    #[test]
    fn run() {
        let (a, b) = pair();
        a.set_nonblocking(true).unwrap();
        let mut filled = 0;
        loop {
            match raw_send(&a, &[b'x'; 4096]) {
                Ok(n) => filled += n,
                Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => break,
                Err(e) => panic!("{e}"),
            }
        }
        p!("filled {}", pyb(filled > 0));
        let (a, b) = (Rc::new(a), Rc::new(b));
        let tm = TaskManager::new();
        tm.add(sender(a.clone()));
        tm.add(drainer(b.clone(), filled));
        tm.run().unwrap();
        p!("end");
        check(&py("n13_writable_direct_send"));
    }
});

// ---------------------------------------------------------------------------
#[test]
fn n14_add_midpass() {
    multitask::task! {
        fn leaf(name: &'static str) {
            p!("{name} runs");
            wait!();
            p!("{name} ends");
        }
        fn chain(depth: i32, tm: TaskManager) {
            p!("chain {depth}");
            if depth < 3 {
                tm.add(chain(depth + 1, tm.clone()));
            }
            wait!();
            p!("chain {depth} again");
        }
        fn ender(tm: TaskManager) {
            tm.add(leaf("from-ender"));
            p!("ender ends");
            if true {
                return Ok(());
            }
            wait!();
        }
        fn child_adder(tm: TaskManager) -> &'static str {
            wait!();
            tm.add(leaf("from-child"));
            p!("child added");
            "cv"
        }
        fn parent(tm: TaskManager, q: Queue<&'static str>) {
            let v = wait!(child_adder(tm.clone()))?;
            p!("parent got {v}");
            tm.add(leaf("from-parent"));
            let x = wait!(q.get())?;
            p!("parent got item {x}");
        }
        fn putter(tm: TaskManager, q: Queue<&'static str>) {
            wait!();
            wait!();
            tm.add(leaf("before-put"));
            wait!(q.put("it"))?;
            tm.add(leaf("after-put"));
            p!("putter done");
        }
    }
    let q = Queue::new();
    let tm = TaskManager::new();
    tm.add(ticker("tick", 7));
    tm.add(ender(tm.clone()));
    tm.add(parent(tm.clone(), q.clone()));
    tm.add(chain(1, tm.clone()));
    tm.add(putter(tm.clone(), q.clone()));
    passes(&tm);
    check(&py("n14_add_midpass"));
}

// ---------------------------------------------------------------------------
multitask::exception!(ValueError(String));

#[test]
fn n15_default_manager() {
    thread_local! {
        static Q: Queue<&'static str> = Queue::new();
    }
    fn q() -> Queue<&'static str> {
        Q.with(|q| q.clone())
    }
    multitask::task! {
        fn worker(name: &'static str, n: usize) {
            for i in 0..n {
                p!("{name} {i}");
                wait!();
            }
            multitask::add(follower(name));
        }
        fn follower(name: &'static str) {
            p!("follower of {name}");
            let x = wait!(q().get().timeout(0.01))?;
            p!("follower got {x}");
        }
        fn failing() {
            wait!(sleep(0.02))?;
            return Err(ValueError::new("late failure").into());
        }
        fn putter() {
            wait!(sleep(0.005))?;
            wait!(q().put("one"))?;
            p!("put one");
        }
    }
    fn run_all() {
        loop {
            match multitask::run() {
                Ok(()) => {
                    p!("run returned");
                    break;
                }
                Err(e) => p!("run raised {} '{}'", e.name(), e),
            }
        }
    }
    multitask::add(worker("w1", 2));
    multitask::add(worker("w2", 1));
    multitask::add(putter());
    multitask::add(failing());
    run_all();
    let tm = multitask::get_default_task_manager();
    p!(
        "state {} {} {}",
        pyb(tm.has_runnable()),
        pyb(tm.has_io_waits()),
        pyb(tm.has_timeouts())
    );
    multitask::add(worker("w3", 1));
    run_all();
    // `tm is multitask.get_default_task_manager()`: the same state (an `add`
    // to one is seen by the other)
    let again = multitask::get_default_task_manager();
    again.add(Task::new(
        #[coroutine]
        |_| Ok(()),
    ));
    p!("second run done {}", pyb(tm.has_runnable()));
    tm.run().unwrap();
    check(&py("n15_default_manager"));
}

// ---------------------------------------------------------------------------
#[test]
fn n16_values_and_children() {
    multitask::task! {
        fn kid_int(x: i32) -> i32 {
            let v = wait!(value(x))?;
            p!("kid own value {v}");
            v * 2
        }
        fn kid_str(x: String) -> String {
            let v = wait!(value(x))?;
            p!("kid own value {v}");
            v.repeat(2)
        }
        fn kid_tuple(x: (i32,)) -> (i32, i32) {
            let v = wait!(value(x))?;
            p!("kid own value ({},)", v.0);
            (v.0, v.0)
        }
        fn empty_kid() {
            if true {
                return Ok(());
            }
            wait!();
        }
        fn pair_kid() -> (i32, &'static str) {
            wait!();
            (1, "two")
        }
        fn t1() {
            let a = wait!(value(1))?;
            p!("t1 got {a}");
            let b = wait!(kid_int(a + 1))?;
            p!("t1 kid {b}");
            let c = wait!(value((b, b)))?;
            p!("t1 got ({}, {})", c.0, c.1);
            let () = wait!(empty_kid())?;
            p!("t1 empty None");
            let e = wait!(pair_kid())?;
            p!("t1 pair ({}, '{}')", e.0, e.1);
            let f = wait!(value(BTreeMap::from([("k", e.1)])))?;
            p!("t1 dict {{'k': '{}'}}", f["k"]);
        }
        fn t2() {
            let x = wait!(value(String::from("a")))?;
            p!("t2 got {x}");
            let y = wait!(kid_str(x + "b"))?;
            p!("t2 kid {y}");
            wait!();
            p!("t2 none None");
            let w = wait!(kid_tuple((1,)))?;
            p!("t2 kid tuple ({}, {})", w.0, w.1);
        }
    }
    let tm = TaskManager::new();
    tm.add(t1());
    tm.add(t2());
    passes(&tm);
    check(&py("n16_values_and_children"));
}

// ---------------------------------------------------------------------------
two_ways!(n17_error_with_io_ready {
    multitask::task! {
        fn r(name: &'static str, sock: Pair) {
            let data = wait!(recv(&sock, 100))?;
            p!("{name} got {}", repr(&data));
            let data = wait!(recv(&sock, 100))?;
            p!("{name} got {}", repr(&data));
        }
        fn bad() {
            wait!();
            wait!();
            p!("bad raising");
            return Err(Error::msg("bad"));
        }
        fn w(a: Rc<Pair>) {
            wait!();
            raw_send(&*a, b"1")?;
            p!("w sent 1");
            wait!();
            p!("w sends 2");
            raw_send(&*a, b"2")?;
            wait!();
            p!("w after");
        }
    }
    #[test]
    fn run() {
        let (a, b) = pair();
        let (_c, _d) = pair();
        let a = Rc::new(a);
        let tm = TaskManager::new();
        tm.add(r("rb", b));
        tm.add(bad());
        tm.add(w(a.clone()));
        tm.add(ticker("tick", 6));
        passes(&tm);
        check(&py("n17_error_with_io_ready"));
    }
});

// ---------------------------------------------------------------------------
two_ways!(n18_line_protocol {
    multitask::task! {
        fn server(b: Pair) {
            loop {
                let line = match wait!(readline(&b).timeout(0.1)) {
                    Err(Error::Timeout) => {
                        p!("server idle");
                        wait!(send(&b, "BYE\n"))?;
                        break;
                    }
                    r => r?,
                };
                if line.is_empty() {
                    p!("server eof");
                    break;
                }
                let cmd = String::from_utf8(line).unwrap().trim().to_string();
                p!("server cmd {}", repr(cmd.as_bytes()));
                if cmd == "QUIT" {
                    wait!(send(&b, "OK bye\n"))?;
                    break;
                }
                wait!(send(&b, format!("OK {}\n", cmd.to_lowercase())))?;
            }
            drop(b);
            p!("server closed");
        }
        fn client(a: Pair) {
            raw_send(&a, b"HELO\n")?;
            let line = wait!(readline(&a))?;
            p!("client got {}", repr(&line));
            raw_send(&a, b"ONE\nTWO\nTHREE\n")?;
            for _ in 0..3 {
                let line = wait!(readline(&a))?;
                p!("client got {}", repr(&line));
            }
            wait!(sleep(0.03))?;
            raw_send(&a, b"FOUR\n")?;
            for _ in 0..3 {
                let line = wait!(readline(&a))?;
                p!("client got {}", repr(&line));
            }
        }
    }
    #[test]
    fn run() {
        let (a, b) = pair();
        let tm = TaskManager::new();
        tm.add(server(b));
        tm.add(client(a));
        tm.add(ticker("tick", 5));
        passes(&tm);
        check_each_pass_unordered(&py("n18_line_protocol"));
    }
});

// ---------------------------------------------------------------------------
// Pipes as the crate's own fds (`net::Fd`): a raw fd number closed under a
// waiter is found late (README, "Sockets").
mod n19_pipe_close {
    use super::*;
    use multitask::net::Fd;
    use std::os::fd::{FromRawFd, OwnedFd};
    type Shared = Rc<RefCell<Option<Fd<OwnedFd>>>>;
    fn pipe() -> (Fd<OwnedFd>, Fd<OwnedFd>) {
        let mut fds = [0; 2];
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: two new fds, owned here.
        unsafe {
            (
                Fd::new(OwnedFd::from_raw_fd(fds[0])).unwrap(),
                Fd::new(OwnedFd::from_raw_fd(fds[1])).unwrap(),
            )
        }
    }
    multitask::task! {
        fn reader1(r1: Fd<OwnedFd>) {
            let data = wait!(read(&r1, 100))?;
            p!("reader1 got {}", repr(&data));
            let data = wait!(read(&r1, 100))?;
            p!("reader1 eof {}", repr(&data));
        }
        fn reader2(r2: Shared) {
            let op = read(r2.borrow().as_ref().unwrap(), 100).timeout(0.5);
            match wait!(op) {
                Ok(data) => p!("reader2 got? {}", repr(&data)),
                Err(Error::Timeout) => p!("reader2 timeout"),
                Err(e) => p!("reader2 error {}", errno(&e)),
            }
        }
        fn closer(w1: Fd<OwnedFd>, r2: Shared) {
            let n = wait!(write(&w1, "abc"))?;
            p!("closer wrote {n}");
            wait!();
            drop(w1);
            p!("closer closed w1");
            wait!();
            drop(r2.borrow_mut().take());
            p!("closer closed r2");
            wait!();
            p!("closer done");
        }
    }
    #[test]
    fn owned_fds() {
        let (r1, w1) = pipe();
        let (r2, w2) = pipe();
        let r2: Shared = Rc::new(RefCell::new(Some(r2)));
        let tm = TaskManager::new();
        tm.add(reader1(r1));
        tm.add(reader2(r2.clone()));
        tm.add(closer(w1, r2));
        tm.add(ticker("tick", 7));
        passes(&tm);
        p!("timeouts {}", pyb(tm.has_timeouts()));
        drop(w2);
        check(&py("n19_pipe_close"));
    }
}

// ---------------------------------------------------------------------------
two_ways!(n20_fdready_flags {
    use multitask::fd_ready;
    multitask::task! {
        fn rw(a: Rc<Pair>, b: Rc<Pair>) {
            raw_send(&*a, b"data")?;
            wait!(fd_ready(&*b, true, true, false))?;
            p!("rw resumed once");
            p!("rw got {}", repr(&raw_recv_flags(&*b, 100, 0).unwrap()));
            wait!(fd_ready(&*b, true, true, false))?;
            p!("rw resumed (writable)");
            match wait!(fd_ready(&*b, true, false, false).timeout(0.02)) {
                Ok(()) => p!("rw readable?"),
                Err(Error::Timeout) => p!("rw read timeout"),
                Err(e) => return Err(e),
            }
        }
        fn urgent(conn: Rc<Client>) {
            match wait!(fd_ready(&*conn, false, false, true).timeout(0.03)) {
                Ok(()) => p!("urgent ready?"),
                Err(Error::Timeout) => p!("urgent timeout"),
                Err(e) => return Err(e),
            }
            wait!(fd_ready(&*conn, false, false, true).timeout(0.5))?;
            p!("urgent ready");
            p!("urgent oob {}", repr(&raw_recv_flags(&*conn, 1, libc::MSG_OOB).unwrap()));
            wait!(fd_ready(&*conn, true, false, true).timeout(0.5))?;
            p!("urgent read+exc ready");
            p!("urgent data {}", repr(&raw_recv_flags(&*conn, 100, 0).unwrap()));
        }
        fn peer(c: Rc<Client>) {
            wait!(sleep(0.05))?;
            raw_send_flags(&*c, b"!", libc::MSG_OOB).unwrap();
            p!("peer sent oob");
            wait!(sleep(0.05))?;
            raw_send_flags(&*c, b"normal", 0).unwrap();
            p!("peer sent normal");
        }
    }
    #[test]
    fn run() {
        let ls = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let c = Rc::new(wrap(std::net::TcpStream::connect(ls.local_addr().unwrap()).unwrap()));
        let conn = Rc::new(wrap(ls.accept().unwrap().0));
        let (a, b) = pair();
        let (a, b) = (Rc::new(a), Rc::new(b));
        let tm = TaskManager::new();
        tm.add(rw(a.clone(), b.clone()));
        tm.add(urgent(conn.clone()));
        tm.add(peer(c.clone()));
        tm.add(ticker("tick", 4));
        passes(&tm);
        check(&py("n20_fdready_flags"));
    }
});

// ---------------------------------------------------------------------------
two_ways!(n21_writable_after_fill {
    fn fill(a: &Pair) -> usize {
        let mut n = 0;
        loop {
            match raw_send(a, &[b'x'; 4096]) {
                Ok(k) => n += k,
                Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => return n,
                Err(e) => panic!("{e}"),
            }
        }
    }
    multitask::task! {
        fn sender(a: Rc<Pair>) {
            wait!(writable(&*a))?;
            p!("sender writable");
            p!("sender filled {}", pyb(fill(&a) > 0));
            let r: multitask::Result<()> = try {
                wait!(writable(&*a).timeout(0.05))?;
                p!("sender writable again?");
                raw_send(&*a, b"more").map_err(Error::from)?;
                p!("sender sent more?");
            };
            match r {
                Ok(()) => {}
                Err(Error::Timeout) => p!("sender timeout"),
                Err(e) if e.io_error().is_some() => p!("sender error {}", pyb(errno(&e) == libc::EAGAIN)),
                Err(e) => return Err(e),
            }
        }
    }
    #[test]
    fn run() {
        let (a, b) = pair();
        a.set_nonblocking(true).unwrap();
        let a = Rc::new(a);
        let tm = TaskManager::new();
        tm.add(sender(a.clone()));
        tm.add(ticker("tick", 3));
        passes(&tm);
        drop(b);
        check(&py("n21_writable_after_fill"));
    }
});

// ---------------------------------------------------------------------------
two_ways!(n22_udp_stale_reply {
    use std::net::SocketAddr;
    multitask::task! {
        fn server(srv: Rc<Udp>, tm: TaskManager) {
            loop {
                let (data, addr) = match wait!(recvfrom(&*srv, 100).timeout(0.3)) {
                    Err(Error::Timeout) => {
                        p!("server idle");
                        break;
                    }
                    r => r?,
                };
                let data = String::from_utf8(data).unwrap();
                let (rid, delay) = data.split_once(' ').unwrap();
                p!("server got {rid}");
                tm.add(answer(rid.to_string(), delay.parse().unwrap(), addr, srv.clone()));
            }
        }
        fn answer(rid: String, delay: f64, addr: SocketAddr, srv: Rc<Udp>) {
            wait!(sleep(delay))?;
            wait!(sendto(&*srv, rid.clone(), addr))?;
            p!("server answered {rid}");
        }
        fn request(cli: Rc<Udp>, to: SocketAddr, rid: &'static str, delay: &'static str, timeout: f64) -> Option<String> {
            wait!(sendto(&*cli, format!("{rid} {delay}"), to))?;
            loop {
                let (data, _addr) = match wait!(recvfrom(&*cli, 100).timeout(timeout)) {
                    Err(Error::Timeout) => {
                        p!("request {rid} timed out");
                        return Ok(None);
                    }
                    r => r?,
                };
                let data = String::from_utf8(data).unwrap();
                if data == rid {
                    return Ok(Some(data));
                }
                p!("request {rid} discards stale {data}");
            }
        }
        fn client(cli: Rc<Udp>, to: SocketAddr) {
            // Python's str(float): 0.08, 0.0, 0.01
            for (rid, delay) in [("q1", "0.08"), ("q2", "0.0"), ("q3", "0.01")] {
                let r = wait!(request(cli.clone(), to, rid, delay, 0.05))?;
                p!("client result {rid} {}", r.unwrap_or_else(|| "None".into()));
            }
        }
    }
    #[test]
    fn run() {
        let srv = Rc::new(udp());
        let cli = Rc::new(udp());
        let to = srv.local_addr().unwrap();
        let tm = TaskManager::new();
        tm.add(server(srv.clone(), tm.clone()));
        tm.add(client(cli.clone(), to));
        passes(&tm);
        check(&py("n22_udp_stale_reply"));
    }
});
