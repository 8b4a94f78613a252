//! Still more differential tests: each test ports, line for line, a Python 2
//! program in `tests/conformance/python_more/` run on the original multitask
//! 0.2.0; the port must print that program's transcript (`*.out`).
#![allow(clippy::let_and_return)] // line for line: `body = yield ...` then `return body`
#![feature(coroutines, try_blocks)]
#![allow(clippy::type_complexity)]

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use multitask::{
    accept, fd_action, fd_ready, read, readable, readline, recv, recvfrom, send, sendto, sleep, value, wait, writable,
    write, Error, Queue, TaskManager,
};

#[macro_use]
mod common;
use common::transcript::{
    check, check_each_pass_unordered, errno, original, passes, pyb, raw_recv, raw_recv_flags, raw_send, repr, ticker,
};

fn py(name: &str) -> String {
    original("python_more", name)
}

fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

// ---------------------------------------------------------------------------
two_ways!(m03_fdaction_custom {
    fn peek(b: Rc<Pair>) -> impl FnMut() -> std::io::Result<(usize, Vec<u8>)> {
        move || {
            let data = raw_recv_flags(&*b, 100, libc::MSG_PEEK)?;
            p!("peek called {}", repr(&data));
            Ok((data.len(), data.to_ascii_uppercase()))
        }
    }
    fn boom() -> std::io::Result<()> {
        p!("boom called");
        Err(std::io::Error::other("boom"))
    }
    fn take(b: Rc<Pair>) -> impl FnMut() -> std::io::Result<Vec<u8>> {
        move || {
            let data = raw_recv(&*b, 3)?;
            p!("take called {}", repr(&data));
            Ok(data)
        }
    }
    multitask::task! {
        fn t1(b: Rc<Pair>) {
            let r = wait!(fd_action(&*b, true, false, false, peek(b.clone())))?;
            p!("t1 got ({}, {})", r.0, repr(&r.1));
            match wait!(fd_action(&*b, true, false, false, boom)) {
                Ok(()) => p!("t1 boom?"),
                Err(e) => p!("t1 caught {e}"),
            }
            let r = wait!(fd_action(&*b, true, false, false, take(b.clone())))?;
            p!("t1 take {}", repr(&r));
            let r = wait!(fd_action(&*b, true, false, false, take(b.clone())))?;
            p!("t1 take {}", repr(&r));
        }
        fn t2(b: Rc<Pair>, c: Rc<Pair>, d: Rc<Pair>) {
            match wait!(fd_action(&*d, true, false, false, take(b.clone())).timeout(0.1)) {
                Ok(_) => p!("t2 not reached"),
                Err(Error::Timeout) => p!("t2 timeout"),
                Err(e) => return Err(e),
            }
            let r = wait!(fd_action(&*c, false, true, false, || Ok("w-ok")))?;
            p!("t2 writable action {r}");
        }
    }
    #[test]
    fn run() {
        let (a, b) = pair();
        let (c, d) = pair();
        let (b, c, d) = (Rc::new(b), Rc::new(c), Rc::new(d));
        raw_send(&a, b"abcdef").unwrap();
        let tm = TaskManager::new();
        tm.add(t1(b.clone()));
        tm.add(t2(b.clone(), c.clone(), d.clone()));
        tm.add(ticker("tick", 5));
        passes(&tm);
        check(&py("m03_fdaction_custom"));
    }
});

// ---------------------------------------------------------------------------
// The action's EAGAIN (from another fd) while `b` is ready is the task's
// error, in the pass the action is called, as in the original (the port kept
// the task waiting, for an edge that never came).
two_ways!(m04_fdaction_would_block {
    multitask::task! {
        fn waiter(b: Rc<Pair>, d: Rc<Pair>) {
            let other = move || {
                p!("other called");
                raw_recv(&*d, 100)
            };
            match wait!(fd_action(&*b, true, false, false, other).timeout(0.2)) {
                Ok(r) => p!("waiter got {}", repr(&r)),
                Err(Error::Timeout) => p!("waiter timeout"),
                Err(e) => p!("waiter error {}", errno(&e)),
            }
        }
    }
    #[test]
    fn run() {
        let (a, b) = pair();
        let (_c, d) = pair();
        d.set_nonblocking(true).unwrap();
        raw_send(&a, b"x").unwrap();
        let tm = TaskManager::new();
        tm.add(waiter(Rc::new(b), Rc::new(d)));
        tm.add(ticker("tick", 3));
        passes(&tm);
        check(&py("m04_fdaction_would_block"));
    }
});

// ---------------------------------------------------------------------------
two_ways!(m05_udp_stun {
    use std::net::SocketAddr;
    type State = Rc<RefCell<BTreeMap<String, i32>>>;
    multitask::task! {
        fn server(srv: Rc<Udp>, state: State) {
            let mut dropped = false;
            loop {
                let (data, peer) = match wait!(recvfrom(&*srv, 100).timeout(0.4)) {
                    Err(Error::Timeout) => {
                        p!("server idle");
                        break;
                    }
                    r => r?,
                };
                let data = s(&data);
                let (name, txn) = data.split_once(' ').unwrap();
                if name == "b" && !dropped {
                    dropped = true;
                    p!("server drops {data}");
                    continue;
                }
                let n = {
                    let mut st = state.borrow_mut();
                    let e = st.entry(name.to_string()).or_insert(0);
                    *e += 1;
                    *e
                };
                p!("server answers {data} {n}");
                wait!(sendto(&*srv, format!("ok {name} {txn} {n}"), peer))?;
            }
        }
        fn client(name: &'static str, delay: f64, addr: SocketAddr) {
            let sk = udp();
            wait!(sleep(delay))?;
            for txn in ["t1", "t2"] {
                let mut tries = 0;
                loop {
                    tries += 1;
                    wait!(sendto(&sk, format!("{name} {txn}"), addr))?;
                    let data = match wait!(recvfrom(&sk, 100).timeout(0.1)) {
                        Err(Error::Timeout) => {
                            p!("{name} {txn} retransmit");
                            continue;
                        }
                        r => r?.0,
                    };
                    p!("{name} got {} tries {tries}", repr(&data));
                    break;
                }
            }
            drop(sk);
        }
    }
    #[test]
    fn run() {
        let srv = Rc::new(udp());
        let addr = srv.local_addr().unwrap();
        let state: State = Rc::default();
        let tm = TaskManager::new();
        tm.add(server(srv.clone(), state.clone()));
        tm.add(client("a", 0.05, addr));
        tm.add(client("b", 0.15, addr));
        passes(&tm);
        let items: Vec<String> = state.borrow().iter().map(|(k, v)| format!("('{k}', {v})")).collect();
        p!("[{}]", items.join(", "));
        check(&py("m05_udp_stun"));
    }
});

// ---------------------------------------------------------------------------
two_ways!(m06_accept_timeout {
    use std::net::SocketAddr;
    multitask::task! {
        fn server(ls: Listener) {
            for i in 0..3 {
                let (conn, _) = match wait!(accept(&ls).timeout(0.1)) {
                    Err(Error::Timeout) => {
                        p!("accept timeout {i}");
                        continue;
                    }
                    r => r?,
                };
                p!("accepted {i}");
                let data = wait!(recv(&conn, 100))?;
                p!("server got {}", repr(&data));
                let rev: Vec<u8> = data.iter().rev().cloned().collect();
                wait!(send(&conn, rev))?;
                drop(conn);
                break;
            }
            drop(ls);
            p!("server done");
        }
        fn client(addr: SocketAddr) {
            wait!(sleep(0.15))?;
            let c = wrap(std::net::TcpStream::connect(addr)?);
            p!("client connected");
            raw_send(&c, b"stressed")?;
            let data = wait!(recv(&c, 100))?;
            p!("client got {}", repr(&data));
            let data = wait!(recv(&c, 100))?;
            p!("client eof {}", repr(&data));
            drop(c);
        }
    }
    #[test]
    fn run() {
        let ls = bind();
        let addr = ls.local_addr().unwrap();
        let tm = TaskManager::new();
        tm.add(server(ls));
        tm.add(client(addr));
        passes(&tm);
        check(&py("m06_accept_timeout"));
    }
});

// ---------------------------------------------------------------------------
two_ways!(m07_same_sock_rw {
    multitask::task! {
        fn r(name: &'static str, b: Rc<Pair>) {
            wait!(readable(&*b))?;
            p!("{name} readable");
            wait!(readable(&*b).timeout(0.1))?;
            p!("{name} readable again");
        }
        fn w(b: Rc<Pair>) {
            wait!(writable(&*b))?;
            p!("w writable");
            let got = raw_recv(&*b, 100)?;
            p!("w drains {}", repr(&got));
            wait!(writable(&*b))?;
            p!("w writable again");
        }
        fn rw(b: Rc<Pair>) {
            wait!(fd_ready(&*b, true, true, false))?;
            p!("rw ready");
        }
        fn feeder(a: Rc<Pair>) {
            wait!(sleep(0.05))?;
            raw_send(&*a, b"more")?;
            p!("feeder sent");
        }
    }
    #[test]
    fn run() {
        let (a, b) = pair();
        let (a, b) = (Rc::new(a), Rc::new(b));
        raw_send(&*a, b"data").unwrap();
        let tm = TaskManager::new();
        tm.add(r("r1", b.clone()));
        tm.add(w(b.clone()));
        tm.add(rw(b.clone()));
        tm.add(feeder(a.clone()));
        passes(&tm);
        p!("left {}", repr(&raw_recv(&*b, 100).unwrap()));
        check_each_pass_unordered(&py("m07_same_sock_rw"));
    }
});

// ---------------------------------------------------------------------------
two_ways!(m08_drained_between {
    multitask::task! {
        fn waiter(b: Rc<Pair>) {
            wait!(readable(&*b))?;
            let got = raw_recv(&*b, 100)?;
            p!("waiter readable, reads {}", repr(&got));
        }
        fn drainer(b: Rc<Pair>) {
            let got = raw_recv(&*b, 100)?;
            p!("drainer takes {}", repr(&got));
            wait!();
            p!("drainer done");
        }
        fn receiver(b: Rc<Pair>) {
            let data = wait!(recv(&*b, 100))?;
            p!("receiver got {}", repr(&data));
        }
    }
    #[test]
    fn run() {
        let (a, b) = pair();
        let b = Rc::new(b);
        raw_send(&a, b"first").unwrap();
        let tm = TaskManager::new();
        tm.add(waiter(b.clone()));
        tm.add(drainer(b.clone()));
        let t = Some(Duration::from_millis(50));
        for _ in 0..3 {
            tm.run_next(t).unwrap();
            p!("| io {} run {}", pyb(tm.has_io_waits()), pyb(tm.has_runnable()));
        }
        raw_send(&a, b"second").unwrap();
        p!("main sent second");
        tm.add(receiver(b.clone()));
        for _ in 0..3 {
            tm.run_next(t).unwrap();
            p!("| io {} run {}", pyb(tm.has_io_waits()), pyb(tm.has_runnable()));
        }
        raw_send(&a, b"third").unwrap();
        p!("main sent third");
        for _ in 0..2 {
            tm.run_next(t).unwrap();
            p!("| io {} run {}", pyb(tm.has_io_waits()), pyb(tm.has_runnable()));
        }
        check(&py("m08_drained_between"));
    }
});

// ---------------------------------------------------------------------------
#[test]
fn m09_two_managers_queue() {
    multitask::task! {
        fn producer(q: Queue<String>) {
            for i in 0..3 {
                wait!(q.put(format!("p{i}")))?;
                p!("tm2 put p{i} len {}", q.len());
            }
        }
        fn consumer(q: Queue<String>) {
            wait!(sleep(0.05))?;
            for _ in 0..3 {
                let x = wait!(q.get())?;
                p!("tm1 got {x} len {}", q.len());
            }
            match wait!(q.get().timeout(0.1)) {
                Ok(x) => p!("tm1 got late {x}"),
                Err(Error::Timeout) => p!("tm1 timeout, len {}", q.len()),
                Err(e) => return Err(e),
            }
        }
        fn late(q: Queue<String>) {
            wait!(sleep(0.1))?;
            wait!(q.put("late".to_string()))?;
            p!("tm2 put late");
        }
    }
    let q = Queue::new();
    let tm1 = TaskManager::new();
    let tm2 = TaskManager::new();
    tm1.add(consumer(q.clone()));
    tm2.add(producer(q.clone()));
    tm2.add(late(q.clone()));
    let t = Some(Duration::from_millis(30));
    for _ in 0..12 {
        if tm1.has_runnable() || tm1.has_timeouts() || tm1.has_io_waits() {
            tm1.run_next(t).unwrap();
            p!("| tm1 {} {}", pyb(tm1.has_runnable()), pyb(tm1.has_timeouts()));
        }
        if tm2.has_runnable() || tm2.has_timeouts() || tm2.has_io_waits() {
            tm2.run_next(t).unwrap();
            p!("| tm2 {} {}", pyb(tm2.has_runnable()), pyb(tm2.has_timeouts()));
        }
    }
    p!("len {}", q.len());
    check(&py("m09_two_managers_queue"));
}

// ---------------------------------------------------------------------------
multitask::exception!(ConnectionClosed(String));

two_ways!(m10_child_io_exceptions {
    multitask::task! {
        fn read_exactly(sock: Rc<Pair>, n: usize, t: f64) -> Vec<u8> {
            let mut data = Vec::new();
            while data.len() < n {
                let chunk = wait!(recv(&*sock, n - data.len()).timeout(t))?;
                if chunk.is_empty() {
                    return Err(ConnectionClosed::new(format!("after {} bytes", data.len())).into());
                }
                data.extend(chunk);
            }
            data
        }
        fn frame(sock: Rc<Pair>) -> Vec<u8> {
            let header = wait!(read_exactly(sock.clone(), 2, 0.1))?;
            let n: usize = s(&header).parse().unwrap();
            let body = wait!(read_exactly(sock.clone(), n, 0.1))?;
            body
        }
        fn reader(b: Rc<Pair>) {
            for i in 0..4 {
                match wait!(frame(b.clone())) {
                    Ok(body) => p!("reader frame {}", repr(&body)),
                    Err(Error::Timeout) => p!("reader timeout {i}"),
                    Err(e) if e.is::<ConnectionClosed>() => {
                        p!("reader closed {e}");
                        break;
                    }
                    Err(e) => return Err(e),
                }
            }
            let r: multitask::Result<()> = try {
                wait!(send(&*b, "x".repeat(10)))?;
                wait!(sleep(0.05))?;
                wait!(send(&*b, "y".repeat(10)))?;
                p!("reader sent?");
            };
            if let Err(e) = r {
                p!("reader send error {}", errno(&e));
            }
        }
        fn writer(a: Pair) {
            raw_send(&a, b"05hel")?;
            wait!(sleep(0.05))?;
            raw_send(&a, b"lo")?;
            wait!(sleep(0.15))?;
            raw_send(&a, b"03ab")?;
            wait!(sleep(0.05))?;
            drop(a);
            p!("writer closed");
        }
    }
    #[test]
    fn run() {
        let (a, b) = pair();
        let tm = TaskManager::new();
        tm.add(reader(Rc::new(b)));
        tm.add(writer(a));
        passes(&tm);
        check(&py("m10_child_io_exceptions"));
    }
});

// ---------------------------------------------------------------------------
#[test]
fn m11_queue_zero_timeouts() {
    multitask::task! {
        fn early_putter(q: Queue<&'static str>) {
            wait!(q.put("e1"))?;
            p!("early put e1");
        }
        fn zero_getter(name: &'static str, q: Queue<&'static str>) {
            match wait!(q.get().timeout(0.0)) {
                Ok(x) => p!("{name} got {x}"),
                Err(Error::Timeout) => p!("{name} timeout"),
                Err(e) => return Err(e),
            }
        }
        fn late_putter(q: Queue<&'static str>) {
            wait!(q.put("l1"))?;
            p!("late put l1");
        }
        fn small_getter(q: Queue<&'static str>) {
            for _ in 0..2 {
                match wait!(q.get().timeout(0.05)) {
                    Ok(x) => p!("small got {x}"),
                    Err(Error::Timeout) => p!("small timeout"),
                    Err(e) => return Err(e),
                }
            }
        }
        fn sleeper_putter(q: Queue<&'static str>) {
            wait!(sleep(0.2))?;
            wait!(q.put("s1"))?;
            p!("sleeper put s1");
            wait!(q.put("s2"))?;
            p!("sleeper put s2");
        }
    }
    let q = Queue::new();
    let tm = TaskManager::new();
    tm.add(zero_getter("z1", q.clone()));
    tm.add(early_putter(q.clone()));
    tm.add(zero_getter("z2", q.clone()));
    tm.add(zero_getter("z3", q.clone()));
    tm.add(late_putter(q.clone()));
    tm.add(zero_getter("z4", q.clone()));
    tm.add(small_getter(q.clone()));
    tm.add(sleeper_putter(q.clone()));
    tm.add(ticker("tick", 4));
    passes(&tm);
    p!("len {} timeouts {}", q.len(), pyb(tm.has_timeouts()));
    check(&py("m11_queue_zero_timeouts"));
}

// ---------------------------------------------------------------------------
#[test]
fn m12_value_child_sleep_loop() {
    multitask::task! {
        fn child(name: &'static str, i: i32) -> i32 {
            let x = wait!(value(i * 10))?;
            p!("{name} child got {x}");
            wait!();
            x + 1
        }
        fn task(name: &'static str, delay: f64, n: i32) {
            for i in 0..n {
                let v = wait!(value(format!("v{i}")))?;
                p!("{name} value {v}");
                let c = wait!(child(name, i))?;
                p!("{name} child returned {c}");
                wait!(sleep(delay))?;
                p!("{name} slept {i}");
            }
        }
    }
    let tm = TaskManager::new();
    tm.add(task("A", 0.05, 2));
    tm.add(task("B", 0.12, 2));
    tm.add(ticker("tick", 6));
    passes(&tm);
    check(&py("m12_value_child_sleep_loop"));
}

// ---------------------------------------------------------------------------
#[test]
fn m13_run_again_parked() {
    multitask::task! {
        fn getter(name: &'static str, q: Queue<&'static str>) {
            p!("{name} waits");
            let x = wait!(q.get())?;
            p!("{name} got {x}");
        }
        fn putter(item: &'static str, q: Queue<&'static str>) {
            p!("putter puts {item}");
            wait!(q.put(item))?;
            p!("putter done {item}");
        }
        fn tgetter(q: Queue<&'static str>) {
            match wait!(q.get().timeout(0.1)) {
                Ok(x) => p!("tgetter got {x}"),
                Err(Error::Timeout) => p!("tgetter timeout"),
                Err(e) => return Err(e),
            }
        }
    }
    let q = Queue::new();
    let tm = TaskManager::new();
    tm.add(getter("g1", q.clone()));
    tm.add(getter("g2", q.clone()));
    tm.run().unwrap();
    p!(
        "run 1 returned {} {} {}",
        pyb(tm.has_runnable()),
        pyb(tm.has_io_waits()),
        pyb(tm.has_timeouts())
    );
    tm.add(putter("a", q.clone()));
    tm.run().unwrap();
    p!("run 2 returned {}", q.len());
    tm.add(tgetter(q.clone()));
    tm.add(putter("b", q.clone()));
    tm.add(putter("c", q.clone()));
    tm.run().unwrap();
    p!("run 3 returned {}", q.len());
    tm.add(tgetter(q.clone()));
    tm.run().unwrap();
    p!("run 4 returned {}", q.len());
    check(&py("m13_run_again_parked"));
}

// ---------------------------------------------------------------------------
two_ways!(m14_chat_socketpairs {
    type Inbox = Queue<(&'static str, Option<String>)>;
    type Outq = Rc<RefCell<BTreeMap<&'static str, Queue<Option<String>>>>>;
    multitask::task! {
        fn client_reader(name: &'static str, sock: Rc<Pair>, inbox: Inbox) {
            let mut buf = String::new();
            loop {
                let data = wait!(recv(&*sock, 100))?;
                if data.is_empty() {
                    p!("server: {name} left");
                    wait!(inbox.put((name, None)))?;
                    break;
                }
                buf.push_str(&s(&data));
                while let Some((line, rest)) = buf.split_once('\n') {
                    let (line, rest) = (line.to_string(), rest.to_string());
                    buf = rest;
                    wait!(inbox.put((name, Some(line))))?;
                }
            }
        }
        fn client_writer(name: &'static str, sock: Rc<Pair>, q: Queue<Option<String>>) {
            loop {
                let msg = wait!(q.get())?;
                let Some(msg) = msg else { break };
                if let Err(e) = wait!(send(&*sock, msg + "\n")) {
                    p!("server: send to {name} failed {}", errno(&e));
                    break;
                }
            }
            p!("server: writer {name} done");
        }
        fn hub(inbox: Inbox, outq: Outq) {
            loop {
                let (name, line) = match wait!(inbox.get().timeout(0.3)) {
                    Err(Error::Timeout) => {
                        p!("hub idle");
                        break;
                    }
                    r => r?,
                };
                let Some(line) = line else {
                    let q = outq.borrow_mut().remove(name).unwrap();
                    wait!(q.put(None))?;
                    continue;
                };
                p!("hub: {name} says {line}");
                let others: Vec<&'static str> = outq.borrow().keys().cloned().collect();
                for other in others {
                    if other != name {
                        let q = outq.borrow()[other].clone();
                        match wait!(q.put(Some(format!("{name}: {line}"))).timeout(0.05)) {
                            Ok(()) => {}
                            Err(Error::Timeout) => p!("hub: {other} is slow, drop"),
                            Err(e) => return Err(e),
                        }
                    }
                }
            }
            let names: Vec<&'static str> = outq.borrow().keys().cloned().collect();
            for name in names {
                let q = outq.borrow()[name].clone();
                wait!(q.put(None))?;
            }
        }
        fn user(name: &'static str, sock: Pair, start: f64, says: Vec<&'static str>, delay: f64, leave_after: usize) {
            if start != 0.0 {
                wait!(sleep(start))?;
            }
            for sm in &says {
                raw_send(&sock, format!("{sm}\n").as_bytes())?;
                wait!(sleep(delay))?;
            }
            let mut got = 0;
            while got < leave_after {
                let data = match wait!(recv(&sock, 1000).timeout(0.2)) {
                    Err(Error::Timeout) => {
                        p!("{name} timeout");
                        break;
                    }
                    r => r?,
                };
                if data.is_empty() {
                    break;
                }
                got += data.iter().filter(|&&c| c == b'\n').count();
                p!("{name} heard {}", repr(&data));
            }
            drop(sock);
            p!("{name} closed");
        }
    }
    #[test]
    fn run() {
        let inbox: Inbox = Queue::new();
        let outq: Outq = Rc::default();
        let tm = TaskManager::new();
        let users: Vec<(&'static str, f64, Vec<&'static str>, f64, usize)> = vec![
            ("ann", 0.0, vec!["hi", "how are you"], 0.1, 99),
            ("bob", 0.05, vec!["yo"], 0.2, 1),
            ("cat", 0.0, vec![], 0.05, 99),
        ];
        for (name, start, says, delay, leave) in users {
            let (s_end, c_end) = pair();
            let s_end = Rc::new(s_end);
            let q = Queue::with_maxsize(2);
            outq.borrow_mut().insert(name, q.clone());
            tm.add(client_reader(name, s_end.clone(), inbox.clone()));
            tm.add(client_writer(name, s_end.clone(), q));
            tm.add(user(name, c_end, start, says, delay, leave));
        }
        tm.add(hub(inbox.clone(), outq.clone()));
        passes(&tm);
        check_each_pass_unordered(&py("m14_chat_socketpairs"));
    }
});

// ---------------------------------------------------------------------------
// Raw fd numbers (as the program's os.pipe() ints: the compatibility path),
// and the same pipes as the crate's own fds (`net::Fd`).
macro_rules! pipe_ways {
    ($name:ident { $($body:tt)* }) => {
        mod $name {
            mod raw_fds {
                #[allow(unused_imports)]
                use super::super::*;
                type P = std::os::fd::OwnedFd;
                fn wrap(o: std::os::fd::OwnedFd) -> P { o }
                $($body)*
            }
            mod owned_fds {
                #[allow(unused_imports)]
                use super::super::*;
                type P = multitask::net::Fd<std::os::fd::OwnedFd>;
                fn wrap(o: std::os::fd::OwnedFd) -> P { multitask::net::Fd::new(o).unwrap() }
                $($body)*
            }
        }
    };
}

pipe_ways!(m15_pipe_pieces {
    use std::os::fd::FromRawFd;
    fn pipe() -> (P, P) {
        let mut fds = [0; 2];
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: two new fds, owned here.
        unsafe {
            (
                wrap(std::os::fd::OwnedFd::from_raw_fd(fds[0])),
                wrap(std::os::fd::OwnedFd::from_raw_fd(fds[1])),
            )
        }
    }
    multitask::task! {
        fn writer(w: P) {
            for piece in ["ab", "cdefg", "h"] {
                let n = wait!(write(&w, piece))?;
                p!("writer wrote {n}");
                wait!(sleep(0.05))?;
                p!("writer slept");
            }
            drop(w);
            p!("writer closed");
        }
        fn reader(r: P) {
            loop {
                let data = wait!(read(&r, 3))?;
                p!("reader got {}", repr(&data));
                if data.is_empty() {
                    break;
                }
            }
            drop(r);
        }
        fn liner(r2: P, w2: P) {
            let n = wait!(write(&w2, "one\ntwo\n"))?;
            p!("liner wrote {n}");
            for _ in 0..2 {
                let line = wait!(readline(&r2))?;
                p!("liner got {}", repr(&line));
            }
            let _n = wait!(write(&w2, "three\n"))?;
            drop(w2);
            for _ in 0..2 {
                let line = wait!(readline(&r2))?;
                p!("liner got {}", repr(&line));
            }
            drop(r2);
        }
    }
    #[test]
    fn run() {
        let (r, w) = pipe();
        let (r2, w2) = pipe();
        let tm = TaskManager::new();
        tm.add(writer(w));
        tm.add(reader(r));
        tm.add(liner(r2, w2));
        passes(&tm);
        check_each_pass_unordered(&py("m15_pipe_pieces"));
    }
});

// ---------------------------------------------------------------------------
two_ways!(m16_flags_snapshot {
    multitask::task! {
        fn r(b: Rc<Pair>) {
            match wait!(readable(&*b).timeout(0.1)) {
                Ok(()) => p!("r readable"),
                Err(Error::Timeout) => p!("r timeout"),
                Err(e) => return Err(e),
            }
            wait!(readable(&*b))?;
            p!("r readable 2");
        }
        fn child() -> &'static str {
            wait!(sleep(0.05))?;
            "c"
        }
        fn g(q: Queue<&'static str>) {
            let x = wait!(q.get().timeout(0.3))?;
            p!("g got {x}");
            let x = wait!(child())?;
            p!("g child {x}");
            wait!(q.put("back"))?;
            p!("g put back");
        }
        fn pt(q: Queue<&'static str>, a: Rc<Pair>) {
            wait!(sleep(0.15))?;
            wait!(q.put("item"))?;
            p!("p put");
            raw_send(&*a, b"z")?;
            p!("p sent");
        }
    }
    #[test]
    fn run() {
        let (a, b) = pair();
        let q = Queue::new();
        let tm = TaskManager::new();
        tm.add(r(Rc::new(b)));
        tm.add(g(q.clone()));
        tm.add(pt(q.clone(), Rc::new(a)));
        for _ in 0..20 {
            if !(tm.has_runnable() || tm.has_io_waits() || tm.has_timeouts()) {
                break;
            }
            tm.run_next(None).unwrap();
            p!(
                "| {} {} {} {}",
                pyb(tm.has_runnable()),
                pyb(tm.has_io_waits()),
                pyb(tm.has_timeouts()),
                q.len()
            );
        }
        check(&py("m16_flags_snapshot"));
    }
});

// ---------------------------------------------------------------------------
two_ways!(m17_zero_timeout_io {
    multitask::task! {
        fn ready(b: Rc<Pair>) {
            wait!(readable(&*b).timeout(0.0))?;
            p!("ready: readable");
            wait!(writable(&*b).timeout(0.0))?;
            p!("ready: writable");
            let line = wait!(readline(&*b).timeout(0.0))?;
            p!("ready: line {}", repr(&line));
            let data = wait!(recv(&*b, 100).timeout(0.0))?;
            p!("ready: recv {}", repr(&data));
            match wait!(recv(&*b, 100).timeout(0.0)) {
                Ok(_) => p!("ready: recv?"),
                Err(Error::Timeout) => p!("ready: recv timeout"),
                Err(e) => return Err(e),
            }
        }
        fn notready(d: Rc<Pair>) {
            match wait!(readable(&*d).timeout(0.0)) {
                Ok(()) => p!("notready: readable?"),
                Err(Error::Timeout) => p!("notready: timeout"),
                Err(e) => return Err(e),
            }
            match wait!(recv(&*d, 100).timeout(0.0)) {
                Err(Error::Timeout) => p!("notready: recv timeout"),
                r => {
                    r?;
                }
            }
        }
    }
    #[test]
    fn run() {
        let (a, b) = pair();
        let (_c, d) = pair();
        raw_send(&a, b"line\nrest").unwrap();
        let tm = TaskManager::new();
        tm.add(ready(Rc::new(b)));
        tm.add(notready(Rc::new(d)));
        tm.add(ticker("tick", 8));
        passes(&tm);
        check(&py("m17_zero_timeout_io"));
    }
});

// ---------------------------------------------------------------------------
two_ways!(m18_direct_write_same_pass {
    multitask::task! {
        fn waiter(name: &'static str, sock: Rc<Pair>, n: usize) {
            for _ in 0..n {
                wait!(readable(&*sock))?;
                let got = raw_recv(&*sock, 100)?;
            p!("{name} readable {}", repr(&got));
            }
        }
        fn rwaiter(name: &'static str, sock: Rc<Pair>) {
            let data = wait!(recv(&*sock, 100))?;
            p!("{name} recv {}", repr(&data));
        }
        fn writer(a: Rc<Pair>, c: Rc<Pair>) {
            raw_send(&*a, b"w1")?;
            p!("writer sent w1");
            wait!();
            raw_send(&*a, b"w2")?;
            p!("writer sent w2");
            raw_send(&*c, b"c1")?;
            p!("writer sent c1");
            wait!();
            p!("writer done");
        }
    }
    #[test]
    fn run() {
        let (a, b) = pair();
        let (c, d) = pair();
        let (a, b, c, d) = (Rc::new(a), Rc::new(b), Rc::new(c), Rc::new(d));
        let tm = TaskManager::new();
        tm.add(writer(a.clone(), c.clone()));
        tm.add(waiter("wb", b.clone(), 3));
        tm.add(rwaiter("rd", d.clone()));
        for i in 0..6 {
            tm.run_next(Some(Duration::from_millis(50))).unwrap();
            p!("|");
            if i == 3 {
                raw_send(&*a, b"main").unwrap();
                p!("main sent");
            }
        }
        p!("io {}", pyb(tm.has_io_waits()));
        check(&py("m18_direct_write_same_pass"));
    }
});

// ---------------------------------------------------------------------------
two_ways!(m19_action_adds_task {
    multitask::task! {
        fn hello(name: &'static str) {
            p!("{name} runs");
            wait!();
            p!("{name} ends");
        }
        fn waiter(a: Rc<Pair>, b: Rc<Pair>, tm: TaskManager) {
            let (b1, tm1) = (b.clone(), tm.clone());
            let act = move || {
                tm1.add(hello("added1"));
                p!("act called");
                raw_recv(&*b1, 100)
            };
            let tm2 = tm.clone();
            let bad = move || -> std::io::Result<()> {
                tm2.add(hello("added2"));
                p!("bad called");
                Err(std::io::Error::other("bad action"))
            };
            let data = wait!(fd_action(&*b, true, false, false, act))?;
            p!("waiter got {}", repr(&data));
            raw_send(&*a, b"more")?;
            if let Err(e) = wait!(fd_action(&*b, true, false, false, bad)) {
                p!("waiter caught {e}");
            }
            let got = raw_recv(&*b, 100)?;
            p!("waiter left {}", repr(&got));
        }
    }
    #[test]
    fn run() {
        let (a, b) = pair();
        let (a, b) = (Rc::new(a), Rc::new(b));
        raw_send(&*a, b"data").unwrap();
        let tm = TaskManager::new();
        tm.add(waiter(a.clone(), b.clone(), tm.clone()));
        tm.add(ticker("tick", 5));
        passes(&tm);
        check(&py("m19_action_adds_task"));
    }
});

// ---------------------------------------------------------------------------
fn raw_pipe() -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
    use std::os::fd::FromRawFd;
    let mut fds = [0; 2];
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: two new fds, owned here.
    unsafe {
        (
            std::os::fd::OwnedFd::from_raw_fd(fds[0]),
            std::os::fd::OwnedFd::from_raw_fd(fds[1]),
        )
    }
}

/// A direct `os.write(fd, data)`.
fn raw_write(fd: &impl std::os::fd::AsRawFd, data: &[u8]) -> std::io::Result<usize> {
    // SAFETY: a valid fd and buffer.
    let n = unsafe { libc::write(fd.as_raw_fd(), data.as_ptr().cast(), data.len()) };
    if n < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// A direct `os.read(fd, n)`.
fn raw_read(fd: &impl std::os::fd::AsRawFd, n: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; n];
    // SAFETY: a valid fd and buffer.
    let k = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), n) };
    if k < 0 {
        return Err(std::io::Error::last_os_error());
    }
    buf.truncate(k as usize);
    Ok(buf)
}

pipe_ways!(m20_pipe_eof_epipe {
    multitask::task! {
        fn liner(f: P) {
            for _ in 0..3 {
                let line = wait!(readline(&f))?;
                p!("liner got {}", repr(&line));
            }
            drop(f);
        }
        fn broken(w2: P) {
            wait!(writable(&w2))?;
            p!("broken writable");
            match wait!(write(&w2, "data")) {
                Ok(n) => p!("broken wrote? {n}"),
                Err(e) => p!("broken error {}", errno(&e)),
            }
            drop(w2);
        }
    }
    #[test]
    fn run() {
        let (r, w) = raw_pipe();
        let f = wrap(r);
        let (r2, w2) = raw_pipe();
        raw_write(&w, b"x\ntail").unwrap();
        drop(w);
        drop(r2);
        let tm = TaskManager::new();
        tm.add(liner(f));
        tm.add(broken(wrap(w2)));
        tm.add(ticker("tick", 4));
        passes(&tm);
        check(&py("m20_pipe_eof_epipe"));
    }
});

pipe_ways!(m21_pipe_write_full_timeout {
    multitask::task! {
        fn writer(w: P) {
            match wait!(write(&w, "abc").timeout(0.1)) {
                Ok(n) => p!("writer wrote? {n}"),
                Err(Error::Timeout) => p!("writer timeout"),
                Err(e) => return Err(e),
            }
            let n = wait!(write(&w, "abc").timeout(0.3))?;
            p!("writer wrote {n}");
        }
        fn drainer(r: P, total: usize) {
            wait!(sleep(0.15))?;
            let mut got = 0;
            while got < total {
                got += raw_read(&r, 65536)?.len();
            }
            p!("drainer drained {}", pyb(got == total));
            let data = wait!(read(&r, 100))?;
            p!("drainer read {}", repr(&data));
        }
    }
    #[test]
    fn run() {
        use std::os::fd::AsRawFd;
        let (r, w) = raw_pipe();
        let fl = unsafe { libc::fcntl(w.as_raw_fd(), libc::F_GETFL) };
        unsafe { libc::fcntl(w.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK) };
        let mut total = 0;
        while let Ok(n) = raw_write(&w, &[b'z'; 1024]) {
            total += n;
        }
        unsafe { libc::fcntl(w.as_raw_fd(), libc::F_SETFL, fl) };
        p!("filled {}", pyb(total > 0));
        let tm = TaskManager::new();
        tm.add(writer(wrap(w)));
        tm.add(drainer(wrap(r), total));
        passes(&tm);
        check(&py("m21_pipe_write_full_timeout"));
    }
});

// ---------------------------------------------------------------------------
two_ways!(m22_two_managers_io {
    multitask::task! {
        fn first(name: &'static str, b: Rc<Pair>, c: Rc<Pair>) {
            let data = wait!(recv(&*b, 100))?;
            p!("{name} got {}", repr(&data));
            wait!(send(&*c, "to-d"))?;
            p!("{name} sent to-d");
        }
        fn second(name: &'static str, b: Rc<Pair>, d: Rc<Pair>) {
            let data = wait!(recv(&*d, 100))?;
            p!("{name} got {}", repr(&data));
            wait!(send(&*d, "to-c"))?;
            let data = wait!(recv(&*b, 100).timeout(0.2))?;
            p!("{name} got {}", repr(&data));
        }
        fn third(name: &'static str, a: Rc<Pair>, c: Rc<Pair>) {
            let data = wait!(recv(&*c, 100))?;
            p!("{name} got {}", repr(&data));
            raw_send(&*a, b"again")?;
            p!("{name} sent again");
        }
    }
    #[test]
    fn run() {
        let (a, b) = pair();
        let (c, d) = pair();
        let (a, b, c, d) = (Rc::new(a), Rc::new(b), Rc::new(c), Rc::new(d));
        let tm1 = TaskManager::new();
        let tm2 = TaskManager::new();
        tm1.add(first("t1a", b.clone(), c.clone()));
        tm2.add(second("t2a", b.clone(), d.clone()));
        tm1.add(third("t1b", a.clone(), c.clone()));
        raw_send(&*a, b"hello").unwrap();
        for _ in 0..10 {
            for (name, tm) in [("tm1", &tm1), ("tm2", &tm2)] {
                if tm.has_runnable() || tm.has_timeouts() || tm.has_io_waits() {
                    if let Err(e) = tm.run_next(Some(Duration::from_millis(30))) {
                        p!("ERR {}: {}", e.name(), e);
                    }
                    p!("| {name} {}", pyb(tm.has_io_waits()));
                }
            }
        }
        check(&py("m22_two_managers_io"));
    }
});
