//! Differential tests shaped like the applications written on multitask
//! 0.2.0 (rtmplite, p2p-sip / 39peers, a TURN-like relay, chat and proxy
//! servers): each test ports, line for line, a Python 2 program in
//! `tests/conformance/python_apps/` run on the original; the port must print
//! that program's transcript (`*.out`).
#![feature(coroutines, try_blocks)]
#![allow(clippy::type_complexity)]

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

use multitask::{accept, recv, recvfrom, send, sendto, sleep, wait, Error, Queue, TaskManager};

#[macro_use]
mod common;
use common::transcript::{check, check_each_pass_unordered, original, passes_at_most, repr};

fn py(name: &str) -> String {
    original("python_apps", name)
}

/// The programs' `passes(tm, limit)`.
fn passes(tm: &TaskManager, limit: usize) {
    passes_at_most(tm, limit);
}

/// `struct.pack('>BH', typ, size)`.
fn hdr(typ: u8, size: usize) -> Vec<u8> {
    vec![typ, (size >> 8) as u8, size as u8]
}

/// `struct.unpack('>BH', b[:3])`.
fn unhdr(b: &[u8]) -> (u8, usize) {
    (b[0], ((b[1] as usize) << 8) | b[2] as usize)
}

fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

multitask::exception!(ConnectionClosed);

// ---------------------------------------------------------------------------
two_ways!(a01_rtmp_server {
    use multitask::net::TcpStream;
    use std::net::SocketAddr;
    const HS: usize = 8;
    struct Conn {
        sock: RefCell<Option<TcpStream>>,
        server: Rc<Server>,
        n: i32,
        buf: RefCell<Vec<u8>>,
        write_queue: Queue<Option<Vec<u8>>>,
        messages: Queue<Option<(u8, Vec<u8>)>>,
    }
    impl Conn {
        multitask::task! {
            fn read(self: Rc<Self>, size: usize) -> Vec<u8> {
                while self.buf.borrow().len() < size {
                    let data = wait!(recv(self.sock.borrow().as_ref().unwrap(), 6))?;
                    if data.is_empty() {
                        return Err(ConnectionClosed.into());
                    }
                    self.buf.borrow_mut().extend(data);
                }
                let rest = self.buf.borrow_mut().split_off(size);
                self.buf.replace(rest)
            }
            fn handshake(self: Rc<Self>) {
                let c0c1 = wait!(self.clone().read(1 + HS))?;
                p!("conn {} C0C1 {}", self.n, repr(&c0c1));
                let mut s = vec![3u8];
                s.extend([b'S'; HS]);
                s.extend(&c0c1[1..]);
                wait!(self.write_queue.put(Some(s)))?;
                let c2 = wait!(self.clone().read(HS))?;
                p!("conn {} C2 {}", self.n, repr(&c2));
            }
            fn parse(self: Rc<Self>) {
                let r: multitask::Result<()> = try {
                    wait!(self.clone().handshake())?;
                    wait!(self.server.queue.put(self.clone()))?;
                    loop {
                        let h = wait!(self.clone().read(3))?;
                        let (typ, size) = unhdr(&h);
                        let body = wait!(self.clone().read(size))?;
                        p!("conn {} msg {typ} {}", self.n, repr(&body));
                        wait!(self.messages.put(Some((typ, body))))?;
                    }
                };
                match r {
                    Err(e) if e.is::<ConnectionClosed>() => {
                        p!("conn {} closed, buffered {}", self.n, self.buf.borrow().len());
                        wait!(self.messages.put(None))?;
                        wait!(self.write_queue.put(None))?;
                    }
                    r => r?,
                }
            }
            fn write(self: Rc<Self>) {
                loop {
                    let Some(data) = wait!(self.write_queue.get())? else { break };
                    let n = wait!(send(self.sock.borrow().as_ref().unwrap(), data))?;
                    p!("conn {} wrote {n}", self.n);
                }
                drop(self.sock.borrow_mut().take());
                p!("conn {} writer done", self.n);
            }
            fn write_message(self: Rc<Self>, typ: u8, body: Vec<u8>) {
                let mut m = hdr(typ, body.len());
                m.extend(body);
                wait!(self.write_queue.put(Some(m)))?;
            }
        }
    }
    struct Server {
        sock: Listener,
        queue: Queue<Rc<Conn>>,
    }
    impl Server {
        multitask::task! {
            fn run(self: Rc<Self>, tm: TaskManager) {
                let mut n = 0;
                loop {
                    let (conn, _remote) = match wait!(accept(&self.sock).timeout(0.3)) {
                        Err(Error::Timeout) => {
                            p!("listener idle");
                            break;
                        }
                        r => r?,
                    };
                    n += 1;
                    p!("accepted {n}");
                    let c = Rc::new(Conn {
                        sock: RefCell::new(Some(conn)),
                        server: self.clone(),
                        n,
                        buf: RefCell::new(Vec::new()),
                        write_queue: Queue::new(),
                        messages: Queue::new(),
                    });
                    tm.add(c.clone().parse());
                    tm.add(c.clone().write());
                }
            }
        }
    }
    multitask::task! {
        fn app(server: Rc<Server>, tm: TaskManager) {
            for _ in 0..2 {
                let client = wait!(server.queue.get())?;
                p!("app got conn {}", client.n);
                tm.add(session(client));
            }
            p!("app done");
        }
        fn session(client: Rc<Conn>) {
            loop {
                let Some((typ, body)) = wait!(client.messages.get())? else {
                    p!("session {} ends", client.n);
                    break;
                };
                if typ == 20 && body == b"reject" {
                    wait!(client.clone().write_message(20, b"_error".to_vec()))?;
                } else if typ == 20 {
                    let mut r = b"_result ".to_vec();
                    r.extend(body);
                    wait!(client.clone().write_message(20, r))?;
                } else {
                    wait!(client.clone().write_message(typ, body.to_ascii_uppercase()))?;
                }
            }
        }
        fn read_reply(c: Rc<Client>, buf: Vec<u8>) -> (u8, Vec<u8>, Vec<u8>) {
            let mut buf = buf;
            while buf.len() < 3 || buf.len() < 3 + unhdr(&buf).1 {
                let data = wait!(recv(&*c, 100))?;
                if data.is_empty() {
                    return Err(ConnectionClosed.into());
                }
                buf.extend(data);
            }
            let (typ, size) = unhdr(&buf);
            (typ, buf[3..3 + size].to_vec(), buf[3 + size..].to_vec())
        }
        fn peer(name: &'static str, addr: SocketAddr, hs_parts: Vec<&'static [u8]>, msgs: Vec<(u8, &'static [u8])>) {
            let c = Rc::new(wrap(std::net::TcpStream::connect(addr)?));
            for part in hs_parts {
                wait!(send(&*c, part))?;
            }
            let mut s = Vec::new();
            while s.len() < 1 + 2 * HS {
                s.extend(wait!(recv(&*c, 100))?);
            }
            p!("{name} S0S1S2 {}", repr(&s));
            wait!(send(&*c, s[1..1 + HS].to_vec()))?;
            for &(typ, body) in &msgs {
                let mut m = hdr(typ, body.len());
                m.extend(body);
                wait!(send(&*c, m))?;
            }
            let mut buf = Vec::new();
            for _ in 0..msgs.len() {
                let (typ, body, rest) = wait!(read_reply(c.clone(), buf))?;
                buf = rest;
                p!("{name} reply {typ} {}", repr(&body));
                if body == b"_error" {
                    break;
                }
            }
            wait!(send(&*c, b"\x12\x00"))?;
            drop(c);
            p!("{name} closed");
        }
        fn driver(addr: SocketAddr) {
            wait!(peer("p1", addr, vec![b"\x03CCC", b"CCCCC"], vec![(20, b"app"), (18, b"hello"), (18, b"x")]))?;
            wait!(peer("p2", addr, vec![b"\x03DDDDDDDD"], vec![(20, b"reject")]))?;
        }
    }
    #[test]
    fn run() {
        let ls = bind();
        let addr = ls.local_addr().unwrap();
        let tm = TaskManager::new();
        let server = Rc::new(Server { sock: ls, queue: Queue::new() });
        tm.add(server.clone().run(tm.clone()));
        tm.add(app(server, tm.clone()));
        tm.add(driver(addr));
        passes(&tm, 300);
        check_each_pass_unordered(&py("a01_rtmp_server"));
    }
});

/// A direct, blocking-style `sock.sendall(data)` (loops over `send`).
fn raw_sendall(fd: &impl std::os::fd::AsRawFd, data: &[u8]) -> std::io::Result<()> {
    let mut off = 0;
    while off < data.len() {
        // SAFETY: a valid fd and buffer.
        let n = unsafe {
            libc::send(
                fd.as_raw_fd(),
                data[off..].as_ptr().cast(),
                data.len() - off,
                libc::MSG_NOSIGNAL,
            )
        };
        if n < 0 {
            return Err(std::io::Error::last_os_error());
        }
        off += n as usize;
    }
    Ok(())
}

/// `shutdown(fd, how)` on a raw fd.
fn raw_shutdown(fd: std::os::fd::RawFd, how: i32) {
    // SAFETY: shutdown on a number; a bad fd just fails.
    unsafe { libc::shutdown(fd, how) };
}

multitask::exception!(EOFError(String));

// ---------------------------------------------------------------------------
two_ways!(a02_rtmp_chunks {
    type Msg = (u8, u32, u8, Vec<u8>);
    struct Reader {
        sock: Pair,
        buf: RefCell<Vec<u8>>,
        chunk_size: Cell<usize>,
        streams: RefCell<BTreeMap<u8, (u32, usize, u8, Vec<u8>)>>,
    }
    fn be(b: &[u8]) -> u32 {
        b.iter().fold(0, |a, &x| (a << 8) | x as u32)
    }
    impl Reader {
        multitask::task! {
            fn read(self: Rc<Self>, n: usize) -> Vec<u8> {
                while self.buf.borrow().len() < n {
                    let data = wait!(recv(&self.sock, 5))?;
                    if data.is_empty() {
                        return Err(EOFError::new(format!("eof with {} buffered", self.buf.borrow().len())).into());
                    }
                    self.buf.borrow_mut().extend(data);
                }
                let rest = self.buf.borrow_mut().split_off(n);
                self.buf.replace(rest)
            }
            fn read_chunk(self: Rc<Self>) -> Option<Msg> {
                let basic = wait!(self.clone().read(1))?[0];
                let (fmt, csid) = (basic >> 6, basic & 0x3f);
                if fmt == 0 {
                    let h = wait!(self.clone().read(7))?;
                    let ts = be(&h[..3]);
                    let size = be(&h[3..6]) as usize;
                    self.streams.borrow_mut().insert(csid, (ts, size, h[6], Vec::new()));
                }
                let want = {
                    let st = &self.streams.borrow()[&csid];
                    self.chunk_size.get().min(st.1 - st.3.len())
                };
                let data = wait!(self.clone().read(want))?;
                let mut streams = self.streams.borrow_mut();
                let st = streams.get_mut(&csid).unwrap();
                st.3.extend(data);
                if st.3.len() == st.1 {
                    let msg = (csid, st.0, st.2, std::mem::take(&mut st.3));
                    return Ok(Some(msg));
                }
                None
            }
            fn messages(self: Rc<Self>, out: Queue<Option<Msg>>) {
                let r: multitask::Result<()> = try {
                    loop {
                        let Some(msg) = wait!(self.clone().read_chunk())? else { continue };
                        let (csid, ts, typ, ref body) = msg;
                        if typ == 1 {
                            self.chunk_size.set(be(body) as usize);
                            p!("chunk size now {}", self.chunk_size.get());
                        } else {
                            p!("message cs {csid} ts {ts} type {typ} {}", repr(body));
                            wait!(out.put(Some(msg)))?;
                        }
                    }
                };
                match r {
                    Err(e) if e.is::<EOFError>() => {
                        p!("reader {e}");
                        wait!(out.put(None))?;
                    }
                    r => r?,
                }
            }
        }
    }
    fn chunks(csid: u8, ts: u32, typ: u8, body: &[u8], size: usize) -> Vec<Vec<u8>> {
        let mut first = vec![csid];
        first.extend(&ts.to_be_bytes()[1..]);
        first.extend(&(body.len() as u32).to_be_bytes()[1..]);
        first.push(typ);
        first.extend(&body[..size.min(body.len())]);
        let mut out = vec![first];
        let mut i = size;
        while i < body.len() {
            let mut c = vec![0xc0 | csid];
            c.extend(&body[i..(i + size).min(body.len())]);
            out.push(c);
            i += size;
        }
        out
    }
    multitask::task! {
        fn writer(a: Pair) {
            let m1 = chunks(3, 100, 8, b"audio-frame-one!", 8);
            let m2 = chunks(4, 200, 9, b"video-frame-number-one", 8);
            for c in [&m2[0], &m1[0], &m2[1], &m1[1], &m2[2]] {
                wait!(send(&a, c.clone()))?;
            }
            p!("writer sent interleaved");
            raw_sendall(&a, &chunks(2, 0, 1, &16u32.to_be_bytes(), 8)[0])?;
            p!("writer set chunk size");
            let mut m3 = chunks(3, 300, 8, &[&[b'a'; 20][..], &[b'b'; 10][..]].concat(), 16);
            let m4 = chunks(4, 400, 9, b"tiny", 16);
            m3.extend(m4);
            for c in m3 {
                wait!(send(&a, c))?;
                wait!(sleep(0.05))?;
            }
            wait!(send(&a, b"\x03\x00\x01"))?;
            a.shutdown(std::net::Shutdown::Write)?;
            p!("writer done");
        }
        fn consumer(q: Queue<Option<Msg>>) {
            let mut n = 0;
            loop {
                let Some(m) = wait!(q.get())? else { break };
                n += 1;
                p!("consumer {n} {} {}", m.0, m.3.len());
            }
            p!("consumer done {n}");
        }
    }
    #[test]
    fn run() {
        let (a, b) = pair();
        let tm = TaskManager::new();
        let q = Queue::new();
        let reader = Rc::new(Reader {
            sock: b,
            buf: RefCell::new(Vec::new()),
            chunk_size: Cell::new(8),
            streams: RefCell::new(BTreeMap::new()),
        });
        tm.add(reader.messages(q.clone()));
        tm.add(writer(a));
        tm.add(consumer(q));
        passes(&tm, 300);
        check(&py("a02_rtmp_chunks"));
    }
});

// ---------------------------------------------------------------------------
two_ways!(a03_rtmp_publish_fanout {
    struct Subscriber {
        name: &'static str,
        slow: bool,
        sock: RefCell<Option<Pair>>,
        peer: Pair,
        queue: Queue<Option<String>>,
    }
    impl Subscriber {
        multitask::task! {
            fn writer(self: Rc<Self>) {
                let mut sent = 0;
                loop {
                    let Some(data) = wait!(self.queue.get())? else { break };
                    if self.slow {
                        wait!(sleep(0.2))?;
                    }
                    wait!(send(self.sock.borrow().as_ref().unwrap(), data + ";"))?;
                    sent += 1;
                }
                p!("{} writer done after {sent}", self.name);
                drop(self.sock.borrow_mut().take());
            }
        }
    }
    type Subs = Rc<RefCell<Vec<Rc<Subscriber>>>>;
    multitask::task! {
        fn publisher(subscribers: Subs, sock: Pair) {
            let mut buf = String::new();
            loop {
                let data = wait!(recv(&sock, 64))?;
                if data.is_empty() {
                    break;
                }
                buf.push_str(&s(&data));
                while let Some((msg, rest)) = buf.clone().split_once(';') {
                    buf = rest.to_string();
                    let msg = msg.to_string();
                    if let Some(name) = msg.strip_prefix("leave ") {
                        let found = subscribers.borrow().iter().position(|s| s.name == name);
                        if let Some(i) = found {
                            let s = subscribers.borrow_mut().remove(i);
                            wait!(s.queue.put(None))?;
                            p!("removed {name}");
                        }
                        continue;
                    }
                    let subs = subscribers.borrow().clone();
                    for s in subs {
                        match wait!(s.queue.put(Some(msg.clone())).timeout(0.05)) {
                            Ok(()) => p!("queued {msg} for {} {}", s.name, s.queue.len()),
                            Err(Error::Timeout) => p!("drop {msg} for {}", s.name),
                            Err(e) => return Err(e),
                        }
                    }
                }
            }
            p!("publisher eof");
            let subs = subscribers.borrow().clone();
            for s in subs {
                wait!(s.queue.put(None))?;
                p!("ended {}", s.name);
            }
        }
        fn viewer(s: Rc<Subscriber>) {
            let mut got = 0;
            loop {
                let data = wait!(recv(&s.peer, 100))?;
                if data.is_empty() {
                    break;
                }
                got += data.iter().filter(|&&c| c == b';').count();
                p!("{} recv {}", s.name, repr(&data));
            }
            p!("{} eof, total {got}", s.name);
        }
        fn source(sock: Pair) {
            wait!(send(&sock, "m1;m2;m3;"))?;
            wait!(sleep(0.1))?;
            wait!(send(&sock, "leave fast;m4;"))?;
            wait!(sleep(0.25))?;
            wait!(send(&sock, "m5;"))?;
            sock.shutdown(std::net::Shutdown::Write)?;
            p!("source done");
        }
    }
    #[test]
    fn run() {
        let tm = TaskManager::new();
        let subs: Subs = Rc::new(RefCell::new(Vec::new()));
        let (src, publ) = pair();
        for (name, maxsize, slow) in [("fast", 2, false), ("slow", 1, true)] {
            let (sock, peer) = pair();
            let s = Rc::new(Subscriber { name, slow, sock: RefCell::new(Some(sock)), peer, queue: Queue::with_maxsize(maxsize) });
            subs.borrow_mut().push(s.clone());
            tm.add(s.clone().writer());
            tm.add(viewer(s));
        }
        tm.add(publisher(subs, publ));
        tm.add(source(src));
        passes(&tm, 300);
        check_each_pass_unordered(&py("a03_rtmp_publish_fanout"));
    }
});

// ---------------------------------------------------------------------------
two_ways!(a05_turn_relay {
    use std::net::SocketAddr;
    struct Allocation {
        client: SocketAddr,
        relay: RefCell<Option<Rc<Udp>>>,
        perms: RefCell<Vec<SocketAddr>>,
        refreshed: Cell<bool>,
    }
    struct World {
        srv: Udp,
        cli: Udp,
        peers: BTreeMap<&'static str, Udp>,
        names: BTreeMap<SocketAddr, &'static str>,
        allocs: RefCell<BTreeMap<SocketAddr, Rc<Allocation>>>,
        relay_addr: Cell<Option<SocketAddr>>,
        tm: TaskManager,
    }
    multitask::task! {
        fn server(w: Rc<World>) {
            loop {
                let (data, addr) = match wait!(recvfrom(&w.srv, 200).timeout(0.6)) {
                    Err(Error::Timeout) => {
                        p!("server idle, allocations {}", w.allocs.borrow().len());
                        break;
                    }
                    r => r?,
                };
                let data = s(&data);
                let cmd: Vec<&str> = data.splitn(3, ' ').collect();
                p!("server got {}", cmd[0]);
                let a = w.allocs.borrow().get(&addr).cloned();
                if cmd[0] == "ALLOCATE" {
                    let a = Rc::new(Allocation { client: addr, relay: RefCell::new(Some(Rc::new(udp()))), perms: RefCell::new(Vec::new()), refreshed: Cell::new(false) });
                    w.allocs.borrow_mut().insert(addr, a.clone());
                    w.relay_addr.set(Some(a.relay.borrow().as_ref().unwrap().local_addr()?));
                    w.tm.add(relay(w.clone(), a));
                    wait!(sendto(&w.srv, "ALLOCATED", addr))?;
                } else if a.is_none() {
                    wait!(sendto(&w.srv, "ERROR no allocation", addr))?;
                } else if cmd[0] == "PERMIT" {
                    let a = a.unwrap();
                    a.perms.borrow_mut().push(w.peers[cmd[1]].local_addr()?);
                    wait!(sendto(&w.srv, format!("PERMITTED {}", cmd[1]), addr))?;
                } else if cmd[0] == "SEND" {
                    let a = a.unwrap();
                    let relay_sock = a.relay.borrow().as_ref().unwrap().clone();
                    let n = wait!(sendto(&*relay_sock, cmd[2], w.peers[cmd[1]].local_addr()?))?;
                    p!("relayed {n} to {}", cmd[1]);
                } else if cmd[0] == "REFRESH" {
                    a.unwrap().refreshed.set(true);
                    wait!(sendto(&w.srv, "REFRESHED", addr))?;
                }
            }
        }
        fn relay(w: Rc<World>, a: Rc<Allocation>) {
            loop {
                let relay_sock = a.relay.borrow().as_ref().unwrap().clone();
                let (data, addr) = match wait!(recvfrom(&*relay_sock, 200).timeout(0.2)) {
                    Err(Error::Timeout) => {
                        if a.refreshed.get() {
                            a.refreshed.set(false);
                            p!("lifetime extended");
                            continue;
                        }
                        p!("allocation expired");
                        drop(relay_sock);
                        drop(a.relay.borrow_mut().take());
                        w.allocs.borrow_mut().remove(&a.client);
                        wait!(sendto(&w.srv, "EXPIRED", a.client))?;
                        break;
                    }
                    r => r?,
                };
                if a.perms.borrow().contains(&addr) {
                    wait!(sendto(&w.srv, format!("DATA {} {}", w.names[&addr], s(&data)), a.client))?;
                } else {
                    p!("relay drops from {}", w.names[&addr]);
                }
            }
        }
        fn peer(w: Rc<World>, name: &'static str) {
            let sock = &w.peers[name];
            loop {
                let (data, addr) = match wait!(recvfrom(sock, 200).timeout(1.0)) {
                    Err(Error::Timeout) => {
                        p!("{name} idle");
                        break;
                    }
                    r => r?,
                };
                p!("{name} got {} from relay {}", repr(&data), if Some(addr) == w.relay_addr.get() { "True" } else { "False" });
                wait!(sendto(sock, s(&data).to_uppercase(), addr))?;
            }
        }
        fn request(w: Rc<World>, msg: &'static str, timeout: f64) {
            wait!(sendto(&w.cli, msg, w.srv.local_addr()?))?;
            let (data, _addr) = match wait!(recvfrom(&w.cli, 200).timeout(timeout)) {
                Err(Error::Timeout) => {
                    p!("client: no answer to {}", msg.split(' ').next().unwrap());
                    return Ok(());
                }
                r => r?,
            };
            p!("client got {}", repr(&data));
        }
        fn client(w: Rc<World>) {
            wait!(request(w.clone(), "ALLOCATE", 0.3))?;
            wait!(request(w.clone(), "PERMIT p1", 0.3))?;
            wait!(request(w.clone(), "SEND p1 hello", 0.3))?;
            wait!(request(w.clone(), "SEND p2 hi", 0.1))?;
            wait!(request(w.clone(), "REFRESH", 0.3))?;
            wait!(sleep(0.2))?;
            wait!(request(w.clone(), "SEND p1 again", 0.3))?;
            let (data, _addr) = wait!(recvfrom(&w.cli, 200).timeout(0.5))?;
            p!("client got {}", repr(&data));
            wait!(request(w.clone(), "SEND p1 late", 0.3))?;
            p!("client done");
        }
    }
    #[test]
    fn run() {
        let tm = TaskManager::new();
        let peers: BTreeMap<&'static str, Udp> = [("p1", udp()), ("p2", udp())].into_iter().collect();
        let names = peers.iter().map(|(n, s)| (s.local_addr().unwrap(), *n)).collect();
        let w = Rc::new(World { srv: udp(), cli: udp(), peers, names, allocs: RefCell::new(BTreeMap::new()), relay_addr: Cell::new(None), tm: tm.clone() });
        tm.add(server(w.clone()));
        for n in ["p1", "p2"] {
            tm.add(peer(w.clone(), n));
        }
        tm.add(client(w));
        passes(&tm, 300);
        check_each_pass_unordered(&py("a05_turn_relay"));
    }
});

// ---------------------------------------------------------------------------
two_ways!(a07_chat_commands {
    use std::os::fd::{AsRawFd, RawFd};
    type Shared = Rc<RefCell<Option<Box<dyn AsRawFd>>>>;
    struct LineReader {
        sock: Shared,
        buf: RefCell<String>,
    }
    fn fd(sock: &Shared) -> RawFd {
        sock.borrow().as_ref().unwrap().as_raw_fd()
    }
    impl LineReader {
        multitask::task! {
            fn readline(self: Rc<Self>) -> String {
                while !self.buf.borrow().contains('\n') {
                    let data = wait!(recv(fd(&self.sock), 7))?;
                    if data.is_empty() {
                        return Err(ConnectionClosed.into());
                    }
                    self.buf.borrow_mut().push_str(&s(&data));
                }
                let b = self.buf.borrow().clone();
                let (line, rest) = b.split_once('\n').unwrap();
                *self.buf.borrow_mut() = rest.to_string();
                line.to_string()
            }
        }
    }
    type Clients = Rc<RefCell<Vec<Rc<ChatClient>>>>;
    struct ChatClient {
        sock: Shared,
        nick: RefCell<String>,
        queue: Queue<Option<String>>,
        reader: Rc<LineReader>,
        clients: Clients,
    }
    impl ChatClient {
        multitask::task! {
            fn writer(self: Rc<Self>) {
                loop {
                    let Some(line) = wait!(self.queue.get())? else { break };
                    wait!(send(fd(&self.sock), line + "\n"))?;
                }
                drop(self.sock.borrow_mut().take());
                p!("{} writer closed", self.nick.borrow());
            }
            fn broadcast(self: Rc<Self>, line: String) {
                // Python's `for c in clients:` over the live list, by index.
                let mut i = 0;
                loop {
                    let Some(c) = self.clients.borrow().get(i).cloned() else { break };
                    i += 1;
                    if !Rc::ptr_eq(&c, &self) {
                        wait!(c.queue.put(Some(line.clone())))?;
                    }
                }
            }
            fn handler(self: Rc<Self>) {
                let r: multitask::Result<()> = try {
                    loop {
                        let line = wait!(self.reader.clone().readline())?;
                        let (cmd, arg) = line.split_once(' ').unwrap_or((&line, ""));
                        let (cmd, arg) = (cmd.to_string(), arg.to_string());
                        p!("server {} {cmd} {}", self.nick.borrow(), repr(arg.as_bytes()));
                        if cmd == "NICK" {
                            let m = format!("* {} is now {arg}", self.nick.borrow());
                            wait!(self.clone().broadcast(m))?;
                            *self.nick.borrow_mut() = arg;
                            wait!(self.queue.put(Some("OK".to_string())))?;
                        } else if cmd == "SAY" {
                            let m = format!("<{}> {arg}", self.nick.borrow());
                            wait!(self.clone().broadcast(m))?;
                        } else if cmd == "WHO" {
                            let who: Vec<String> = self.clients.borrow().iter().map(|c| c.nick.borrow().clone()).collect();
                            wait!(self.queue.put(Some(format!("WHO {}", who.join(" ")))))?;
                        } else if cmd == "QUIT" {
                            break;
                        } else {
                            wait!(self.queue.put(Some(format!("ERR {cmd}"))))?;
                        }
                    }
                };
                match r {
                    Err(e) if e.is::<ConnectionClosed>() => p!("server {} connection closed", self.nick.borrow()),
                    r => r?,
                }
                self.clients.borrow_mut().retain(|c| !Rc::ptr_eq(c, &self));
                let m = format!("* {} left", self.nick.borrow());
                wait!(self.clone().broadcast(m))?;
                wait!(self.queue.put(None))?;
            }
        }
    }
    multitask::task! {
        fn listener(ls: Listener, clients: Clients, tm: TaskManager) {
            let mut n = 0;
            loop {
                let (conn, _) = match wait!(accept(&ls).timeout(0.3)) {
                    Err(Error::Timeout) => {
                        p!("listener idle");
                        break;
                    }
                    r => r?,
                };
                n += 1;
                let sock: Shared = Rc::new(RefCell::new(Some(Box::new(conn))));
                let c = Rc::new(ChatClient {
                    sock: sock.clone(),
                    nick: RefCell::new(format!("guest{n}")),
                    queue: Queue::new(),
                    reader: Rc::new(LineReader { sock, buf: RefCell::new(String::new()) }),
                    clients: clients.clone(),
                });
                clients.borrow_mut().push(c.clone());
                tm.add(c.clone().handler());
                tm.add(c.clone().writer());
            }
        }
        fn user(name: &'static str, addr: std::net::SocketAddr, delay: f64, script: Vec<&'static str>, until: Option<&'static str>) {
            if delay != 0.0 {
                wait!(sleep(delay))?;
            }
            let c = wrap(std::net::TcpStream::connect(addr)?);
            let sock: Shared = Rc::new(RefCell::new(Some(Box::new(c))));
            let r = Rc::new(LineReader { sock: sock.clone(), buf: RefCell::new(String::new()) });
            for line in script {
                if let Some(t) = line.strip_prefix("sleep ") {
                    wait!(sleep(t.parse::<f64>()?))?;
                } else if line == "EOF" {
                    raw_shutdown(fd(&sock), libc::SHUT_WR);
                } else {
                    wait!(send(fd(&sock), format!("{line}\n")))?;
                }
            }
            loop {
                let line = match wait!(r.clone().readline()) {
                    Err(e) if e.is::<ConnectionClosed>() => {
                        p!("{name} eof");
                        break;
                    }
                    r => r?,
                };
                p!("{name} hears {}", repr(line.as_bytes()));
                if Some(line.as_str()) == until {
                    break;
                }
            }
            drop(sock.borrow_mut().take());
        }
    }
    #[test]
    fn run() {
        let ls = bind();
        let addr = ls.local_addr().unwrap();
        let tm = TaskManager::new();
        let clients: Clients = Rc::new(RefCell::new(Vec::new()));
        tm.add(listener(ls, clients, tm.clone()));
        tm.add(user("ann", addr, 0.0, vec!["NICK ann", "sleep 0.1", "SAY hi all", "sleep 0.1", "WHO", "QUIT"], None));
        tm.add(user("bob", addr, 0.05, vec!["NICK bob", "sleep 0.25", "SAY bye", "EOF"], None));
        tm.add(user("cat", addr, 0.15, vec!["FOO", "NICK cat"], Some("* bob left")));
        passes(&tm, 400);
        check_each_pass_unordered(&py("a07_chat_commands"));
    }
});

// ---------------------------------------------------------------------------
two_ways!(a08_keepalive {
    use multitask::net::TcpStream;
    struct Conn {
        sock: RefCell<Option<TcpStream>>,
        alive: Cell<bool>,
        queue: Queue<Option<String>>,
        pings: Cell<i32>,
    }
    impl Conn {
        multitask::task! {
            fn reader(self: Rc<Self>) {
                let mut warned = false;
                loop {
                    let data = match wait!(recv(self.sock.borrow().as_ref().unwrap(), 100).timeout(0.2)) {
                        Err(Error::Timeout) => {
                            if !warned {
                                warned = true;
                                p!("server idle warning");
                                continue;
                            }
                            p!("server closes idle connection");
                            break;
                        }
                        r => r?,
                    };
                    if data.is_empty() {
                        p!("server eof");
                        break;
                    }
                    warned = false;
                    p!("server got {}", repr(&data));
                }
                self.alive.set(false);
                wait!(self.queue.put(None))?;
            }
            fn writer(self: Rc<Self>) {
                loop {
                    let Some(data) = wait!(self.queue.get())? else { break };
                    let _n = wait!(send(self.sock.borrow().as_ref().unwrap(), data))?;
                }
                self.sock.borrow().as_ref().unwrap().shutdown(std::net::Shutdown::Both)?;
                drop(self.sock.borrow_mut().take());
                p!("server writer closed");
            }
            fn pinger(self: Rc<Self>) {
                loop {
                    wait!(sleep(0.15))?;
                    if !self.alive.get() {
                        p!("pinger stops after {}", self.pings.get());
                        break;
                    }
                    self.pings.set(self.pings.get() + 1);
                    wait!(self.queue.put(Some(format!("PING {};", self.pings.get()))))?;
                }
            }
        }
    }
    multitask::task! {
        fn listener(ls: Listener, tm: TaskManager) {
            let (conn, _) = wait!(accept(&ls))?;
            let c = Rc::new(Conn { sock: RefCell::new(Some(conn)), alive: Cell::new(true), queue: Queue::new(), pings: Cell::new(0) });
            tm.add(c.clone().reader());
            tm.add(c.clone().writer());
            tm.add(c.clone().pinger());
            p!("listener accepted");
        }
        fn client(addr: std::net::SocketAddr) {
            let c = wrap(std::net::TcpStream::connect(addr)?);
            let mut answered = 0;
            loop {
                let data = wait!(recv(&c, 100))?;
                if data.is_empty() {
                    p!("client eof");
                    break;
                }
                p!("client got {}", repr(&data));
                if answered < 2 {
                    answered += 1;
                    wait!(send(&c, format!("PONG {answered}")))?;
                }
            }
            drop(c);
        }
    }
    #[test]
    fn run() {
        let ls = bind();
        let addr = ls.local_addr().unwrap();
        let tm = TaskManager::new();
        tm.add(listener(ls, tm.clone()));
        tm.add(client(addr));
        passes(&tm, 300);
        check_each_pass_unordered(&py("a08_keepalive"));
    }
});

// ---------------------------------------------------------------------------
two_ways!(a10_rtp_jitter {
    thread_local! {
        static NEXT: Cell<i32> = const { Cell::new(0) };
        static BYE: Cell<bool> = const { Cell::new(false) };
        static BUF: RefCell<BTreeMap<i32, String>> = const { RefCell::new(BTreeMap::new()) };
    }
    multitask::task! {
        fn sender(tx: Rc<Udp>, to: std::net::SocketAddr) {
            for seq in [0, 1, 3, 2, 5, 5, 6] {
                wait!(sendto(&*tx, format!("RTP {seq} payload{seq}"), to))?;
                wait!(sleep(0.1))?;
            }
            wait!(sendto(&*tx, "BYE", to))?;
            p!("sender done");
        }
        fn receiver(rx: Rc<Udp>) {
            loop {
                let (data, _addr) = wait!(recvfrom(&*rx, 100))?;
                if data == b"BYE" {
                    BYE.set(true);
                    let keys: Vec<String> = BUF.with_borrow(|b| b.keys().map(|k| k.to_string()).collect());
                    p!("receiver bye, buffered [{}]", keys.join(", "));
                    break;
                }
                let text = s(&data);
                let parts: Vec<&str> = text.split(' ').collect();
                let seq: i32 = parts[1].parse()?;
                if seq < NEXT.get() {
                    p!("late {seq}");
                } else if BUF.with_borrow(|b| b.contains_key(&seq)) {
                    p!("duplicate {seq}");
                } else {
                    BUF.with_borrow_mut(|b| b.insert(seq, parts[2].to_string()));
                    p!("buffered {seq}");
                }
            }
        }
        fn playout() {
            wait!(sleep(0.05))?;
            while !(BYE.get() && BUF.with_borrow(|b| b.is_empty())) {
                let seq = NEXT.get();
                match BUF.with_borrow_mut(|b| b.remove(&seq)) {
                    Some(payload) => p!("play {seq} {payload}"),
                    None => p!("gap {seq}"),
                }
                NEXT.set(NEXT.get() + 1);
                wait!(sleep(0.1))?;
            }
            p!("playout done at {}", NEXT.get());
        }
    }
    #[test]
    fn run() {
        let tx = Rc::new(udp());
        let rx = Rc::new(udp());
        let to = rx.local_addr().unwrap();
        let tm = TaskManager::new();
        tm.add(receiver(rx));
        tm.add(playout());
        tm.add(sender(tx, to));
        passes(&tm, 300);
        check_each_pass_unordered(&py("a10_rtp_jitter"));
    }
});

// ---------------------------------------------------------------------------
two_ways!(a11_http_pipelined {
    use multitask::net::TcpStream;
    use std::os::fd::{AsRawFd, RawFd};
    struct Buffered {
        sock: RawFd,
        buf: RefCell<String>,
    }
    impl Buffered {
        multitask::task! {
            fn fill(self: Rc<Self>) {
                let data = wait!(recv(self.sock, 10))?;
                if data.is_empty() {
                    return Err(ConnectionClosed.into());
                }
                self.buf.borrow_mut().push_str(&s(&data));
            }
            fn read_until(self: Rc<Self>, delim: &'static str) -> String {
                while !self.buf.borrow().contains(delim) {
                    wait!(self.clone().fill())?;
                }
                let b = self.buf.borrow().clone();
                let (out, rest) = b.split_once(delim).unwrap();
                *self.buf.borrow_mut() = rest.to_string();
                out.to_string()
            }
            fn read_exactly(self: Rc<Self>, n: usize) -> String {
                while self.buf.borrow().len() < n {
                    wait!(self.clone().fill())?;
                }
                let rest = self.buf.borrow_mut().split_off(n);
                self.buf.replace(rest)
            }
        }
    }
    multitask::task! {
        fn handler(conn: TcpStream, n: i32) {
            let r = Rc::new(Buffered { sock: conn.as_raw_fd(), buf: RefCell::new(String::new()) });
            let mut served = 0;
            let res: multitask::Result<()> = try {
                loop {
                    let head = wait!(r.clone().read_until("\r\n\r\n"))?;
                    let lines: Vec<&str> = head.split("\r\n").collect();
                    let first: Vec<&str> = lines[0].split(' ').collect();
                    let (method, path) = (first[0].to_string(), first[1].to_string());
                    let headers: BTreeMap<String, String> =
                        lines[1..].iter().map(|l| { let (k, v) = l.split_once(": ").unwrap(); (k.to_string(), v.to_string()) }).collect();
                    let mut body = String::new();
                    if let Some(len) = headers.get("Content-Length") {
                        body = wait!(r.clone().read_exactly(len.parse::<usize>().map_err(Error::from)?))?;
                    }
                    p!("conn {n} {method} {path} {}", repr(body.as_bytes()));
                    let rev: String = body.chars().rev().collect();
                    let reply = format!("{method} {path} {rev}");
                    wait!(send(&conn, format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{reply}", reply.len())))?;
                    served += 1;
                    if headers.get("Connection").map(String::as_str) == Some("close") {
                        break;
                    }
                }
            };
            match res {
                Err(e) if e.is::<ConnectionClosed>() => p!("conn {n} closed by peer, buffered {}", r.buf.borrow().len()),
                r => r?,
            }
            p!("conn {n} served {served}");
            conn.shutdown(std::net::Shutdown::Both)?;
            drop(conn);
        }
        fn listener(ls: Listener, tm: TaskManager) {
            let mut n = 0;
            loop {
                let (conn, _) = match wait!(accept(&ls).timeout(0.3)) {
                    Err(Error::Timeout) => {
                        p!("listener idle");
                        break;
                    }
                    r => r?,
                };
                n += 1;
                tm.add(handler(conn, n));
            }
        }
        fn client(name: &'static str, addr: std::net::SocketAddr, pieces: Vec<String>, responses: usize, wait_eof: bool) {
            let c = wrap(std::net::TcpStream::connect(addr)?);
            for piece in pieces {
                wait!(send(&c, piece))?;
            }
            let r = Rc::new(Buffered { sock: c.as_raw_fd(), buf: RefCell::new(String::new()) });
            let res: multitask::Result<()> = try {
                for _ in 0..responses {
                    let head = wait!(r.clone().read_until("\r\n\r\n"))?;
                    let size: usize = head.split("Content-Length: ").nth(1).unwrap().parse().map_err(Error::from)?;
                    let body = wait!(r.clone().read_exactly(size))?;
                    p!("{name} response {}", repr(body.as_bytes()));
                }
                if wait_eof {
                    wait!(r.clone().fill())?;
                    p!("{name} extra {}", repr(r.buf.borrow().as_bytes()));
                }
            };
            match res {
                Err(e) if e.is::<ConnectionClosed>() => p!("{name} eof"),
                r => r?,
            }
            drop(c);
            p!("{name} closed");
        }
        fn clients(addr: std::net::SocketAddr) {
            let req1 = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
            let req2 = "POST /echo HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello world";
            let req3 = "PUT /z HTTP/1.1\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc";
            wait!(client("c1", addr, vec![format!("{req1}{req2}"), req3[..7].to_string(), req3[7..30].to_string(), req3[30..].to_string()], 3, true))?;
            wait!(client("c2", addr, vec!["GET /b HTTP/1.1\r\n\r\nPOST /c HTTP/1.1\r\nContent-Length: 9\r\n\r\nabc".to_string()], 1, false))?;
        }
    }
    #[test]
    fn run() {
        let ls = bind();
        let addr = ls.local_addr().unwrap();
        let tm = TaskManager::new();
        tm.add(listener(ls, tm.clone()));
        tm.add(clients(addr));
        passes(&tm, 300);
        check_each_pass_unordered(&py("a11_http_pipelined"));
    }
});
