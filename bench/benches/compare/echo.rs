//! TCP echo on loopback: a multitask server, a tokio `current_thread` server
//! and a bare mio event loop (no scheduler at all), each in a thread of its
//! own, driven by the same load generator: a mio client in another thread with
//! `conns` connections, each keeping `depth` 64-byte requests in flight
//! (1, or 16 for the pipelined variant), verifying every response.
//!
//! # How the server's CPU time is measured
//!
//! `getrusage(RUSAGE_THREAD)` only reports the calling thread, so the server
//! samples itself: the bench sets a flag and opens a *control connection*;
//! the server's accept loop, seeing the flag, records its thread's user and
//! system time, the bytes it has echoed so far, and the time, then closes the
//! connection. Two samples, after the warm-up and after the measurement
//! window, give requests per second and CPU per request over the same span,
//! and cost the server nothing per request. The same trick (a flag and one
//! more connection) stops the server at the end.
//!
//! The same servers also run alone in a process of their own
//! ([`server_process`], for `echo-cost`, under valgrind or strace): then they
//! stop at the first accept after a given number of bytes, and a
//! [`drive`]n client makes exactly that many requests and connects once more.

use std::cell::Cell;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};
use multitask::{accept, recv, send, wait, Task, TaskManager};

/// The size of every request and response.
pub const MSG: usize = 64;
/// What each server reads at most at once (16 pipelined requests).
const BUF: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Server {
    Multitask,
    Tokio,
    Mio,
}

impl Server {
    /// The server's name on the command line and in the table.
    pub fn name(self) -> &'static str {
        match self {
            Server::Multitask => "multitask",
            Server::Tokio => "tokio",
            Server::Mio => "mio",
        }
    }
}

/// One echo measurement's settings.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub conns: usize,
    /// Requests in flight per connection.
    pub depth: usize,
    pub warmup: Duration,
    pub window: Duration,
}

/// One echo measurement's figures.
#[derive(Clone, Copy, Debug, Default)]
pub struct Outcome {
    pub rps: f64,
    /// Server thread user CPU per request, ns (perf sampling; getrusage if
    /// perf is not available).
    pub user_ns: f64,
    /// Server thread user + system CPU per request, ns (CLOCK_THREAD_CPUTIME_ID).
    pub total_ns: f64,
    /// Server thread user CPU per request as getrusage(RUSAGE_THREAD) tells it, ns.
    pub rusage_user_ns: f64,
    /// User-mode samples behind `user_ns` (0: getrusage was used).
    pub user_samples: u64,
    /// Seconds from the first connect until every connection had a response.
    pub setup_s: f64,
    /// Responses the client verified over the whole run.
    pub responses: u64,
    /// Wrong responses, unexpected EOFs, I/O and connect errors, short sends.
    pub errors: u64,
}

/// What the server records when sampled.
#[derive(Clone, Copy, Debug)]
struct Sample {
    at: Instant,
    /// getrusage(RUSAGE_THREAD) user time.
    utime: Duration,
    /// CLOCK_THREAD_CPUTIME_ID: user + system, exact.
    cpu_ns: u64,
    /// User-mode samples of the perf sampler, if it runs.
    user_samples: Option<u64>,
    bytes: u64,
}

thread_local! {
    /// The server thread's user-time sampler (see `perf.rs`).
    static SAMPLER: std::cell::RefCell<Option<crate::perf::UserSampler>> = const { std::cell::RefCell::new(None) };
}

/// Starts sampling the calling (server) thread's user time.
fn start_sampler() {
    match crate::perf::UserSampler::open() {
        Ok(sampler) => SAMPLER.with(|s| *s.borrow_mut() = Some(sampler)),
        Err(e) => eprintln!("perf_event_open: {e}: user CPU time falls back to getrusage"),
    }
}

/// The flags the bench sets and the server reads at each accept.
#[derive(Default)]
struct Control {
    stop: AtomicBool,
    /// Stop at the first accept once this many bytes are echoed (a server in a
    /// process of its own, which the bench cannot flag).
    stop_at: Option<u64>,
    /// The bytes echoed when the server stopped.
    stopped_at: AtomicU64,
    sample: AtomicBool,
    samples: Mutex<Vec<Sample>>,
    /// Server-side errors (a short send the server could not finish).
    errors: AtomicU64,
}

enum Accepted {
    Serve,
    Control,
    Stop,
}

/// A `timeval` as a `Duration`.
fn timeval(tv: libc::timeval) -> Duration {
    Duration::from_secs(tv.tv_sec as u64) + Duration::from_micros(tv.tv_usec as u64)
}

/// The calling thread's (user, system) CPU time, as getrusage tells it.
fn rusage_thread() -> (Duration, Duration) {
    // SAFETY: rusage is plain data; getrusage fills it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer to a rusage.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
    assert_eq!(rc, 0, "getrusage(RUSAGE_THREAD)");
    (timeval(ru.ru_utime), timeval(ru.ru_stime))
}

impl Control {
    /// Called by the server's accept loop, on the server thread, after each accept.
    fn on_accept(&self, bytes: u64) -> Accepted {
        if self.stop.load(Ordering::Acquire) || self.stop_at.is_some_and(|n| bytes >= n) {
            self.stopped_at.store(bytes, Ordering::Relaxed);
            return Accepted::Stop;
        }
        if self.sample.swap(false, Ordering::AcqRel) {
            let (utime, _stime) = rusage_thread();
            let user_samples = SAMPLER.with(|s| s.borrow_mut().as_mut().map(|s| s.counts().0));
            let sample = Sample {
                at: Instant::now(),
                utime,
                cpu_ns: crate::perf::thread_cpu_ns(),
                user_samples,
                bytes,
            };
            self.samples.lock().expect("samples").push(sample);
            return Accepted::Control;
        }
        Accepted::Serve
    }

    /// Asks the server at `addr` for a sample, and waits for it.
    fn sample(&self, addr: SocketAddr) -> Result<Sample, String> {
        let had = self.samples.lock().expect("samples").len();
        self.sample.store(true, Ordering::Release);
        let conn = TcpStream::connect(addr).map_err(|e| format!("control connection: {e}"))?;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(s) = self.samples.lock().expect("samples").get(had) {
                drop(conn);
                return Ok(*s);
            }
            if Instant::now() > deadline {
                return Err("the server did not answer a sample request".into());
            }
            thread::sleep(Duration::from_micros(200));
        }
    }

    /// Stops the server at `addr`.
    fn stop(&self, addr: SocketAddr) {
        self.stop.store(true, Ordering::Release);
        let _ = TcpStream::connect(addr);
    }
}

/// A listener on 127.0.0.1, port 0, with a backlog big enough for 10,000
/// connections made in a burst (std's default is 128).
fn listener() -> io::Result<TcpListener> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    // SAFETY: listen() again on a listening socket only changes its backlog.
    if unsafe { libc::listen(listener.as_raw_fd(), 4096) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(listener)
}

// ---------------------------------------------------------------- multitask

/// The multitask server's socket type: the library's own, as a user porting
/// a program would use (`std::net::TcpListener` also works, on the library's
/// slower compatibility path). `client_handler` takes whatever stream
/// `accept` gives.
type Listener = multitask::net::TcpListener;

/// The multitask server: the port of the Python module's echo example, a
/// listener task adding a `client_handler` task per connection. The bench's
/// hooks: the byte count, `on_accept`, and TCP_NODELAY like the other servers.
fn multitask_server(listener: TcpListener, control: Arc<Control>) {
    let tm = TaskManager::new();
    let sock = Listener::from(listener);
    tm.add(multitask_listener(sock, tm.clone(), Rc::new(Cell::new(0)), control));
    if let Err(e) = tm.run() {
        eprintln!("multitask echo server failed: {e}");
    }
}

/// The multitask server's accept loop: a task per connection, and the control connections.
fn multitask_listener(sock: Listener, tm: TaskManager, bytes: Rc<Cell<u64>>, control: Arc<Control>) -> Task {
    Task::new(
        #[coroutine]
        move |_| loop {
            let (conn, _address) = wait!(accept(&sock))?;
            match control.on_accept(bytes.get()) {
                Accepted::Stop => return Ok(()),
                Accepted::Control => continue,
                Accepted::Serve => {}
            }
            nodelay(&conn);
            tm.add(client_handler(conn, bytes.clone(), control.clone()));
        },
    )
}

/// The multitask server's task for one connection: `recv` and `send` back.
fn client_handler<S: AsRawFd + 'static>(sock: S, bytes: Rc<Cell<u64>>, control: Arc<Control>) -> Task {
    Task::new(
        #[coroutine]
        move |_| loop {
            let request = match wait!(recv(&sock, BUF)) {
                Ok(data) if !data.is_empty() => data,
                _ => return Ok(()), // closed by the client, or reset
            };
            let len = request.len();
            bytes.set(bytes.get() + len as u64);
            match wait!(send(&sock, request)) {
                Ok(sent) if sent == len => {}
                Ok(_) => {
                    // Never seen with these message sizes; counted if it happens.
                    control.errors.fetch_add(1, Ordering::Relaxed);
                    return Ok(());
                }
                Err(_) => return Ok(()),
            }
        },
    )
}

/// Sets TCP_NODELAY through the fd, whatever socket type `accept` gives.
fn nodelay(sock: &impl AsRawFd) {
    let one: libc::c_int = 1;
    // SAFETY: a valid pointer to an int of the size given. An error is
    // ignored, as it was with `set_nodelay` here before.
    unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
}

// ---------------------------------------------------------------- tokio

/// The tokio server: `current_thread` runtime with the I/O driver, a
/// `LocalSet`, one `spawn_local` task per connection, read / `write_all`.
fn tokio_server(listener: TcpListener, control: Arc<Control>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("tokio runtime");
    let local = tokio::task::LocalSet::new();
    let bytes = Rc::new(Cell::new(0u64));
    local.block_on(&rt, async move {
        listener.set_nonblocking(true).expect("nonblocking");
        let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
        loop {
            let (mut conn, _addr) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    eprintln!("tokio accept: {e}");
                    continue;
                }
            };
            match control.on_accept(bytes.get()) {
                Accepted::Stop => return,
                Accepted::Control => continue,
                Accepted::Serve => {}
            }
            conn.set_nodelay(true).expect("nodelay");
            let bytes = bytes.clone();
            tokio::task::spawn_local(async move {
                let mut buf = [0u8; BUF];
                loop {
                    let n = match conn.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    bytes.set(bytes.get() + n as u64);
                    if conn.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
}

// ---------------------------------------------------------------- bare mio

struct MioConn {
    stream: mio::net::TcpStream,
    /// Bytes read but not yet written back (only if a write fell short).
    pending: Vec<u8>,
}

/// Writes as much of `data` as the socket takes; keeps the rest in `pending`.
fn mio_write(conn: &mut MioConn, data: &[u8]) -> io::Result<()> {
    let mut done = 0;
    while done < data.len() {
        match conn.stream.write(&data[done..]) {
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    conn.pending.extend_from_slice(&data[done..]);
    Ok(())
}

/// Serves one event on a connection; `false` once it is closed.
fn mio_serve(conn: &mut MioConn, buf: &mut [u8], bytes: &mut u64, writable: bool, read_closed: bool) -> bool {
    if writable && !conn.pending.is_empty() {
        let pending = std::mem::take(&mut conn.pending);
        if mio_write(conn, &pending).is_err() {
            return false;
        }
    }
    loop {
        match conn.stream.read(buf) {
            Ok(0) => return false,
            Ok(n) => {
                *bytes += n as u64;
                let result = if conn.pending.is_empty() {
                    mio_write(conn, &buf[..n])
                } else {
                    conn.pending.extend_from_slice(&buf[..n]);
                    Ok(())
                };
                if result.is_err() {
                    return false;
                }
                // A short read drained the socket: the next data brings a new edge.
                if n < buf.len() && !read_closed {
                    return true;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

/// The bare mio server: one epoll loop, a slab of connections, no tasks.
fn mio_server(listener: TcpListener, control: Arc<Control>) {
    const LISTENER: Token = Token(usize::MAX);
    listener.set_nonblocking(true).expect("nonblocking");
    let mut listener = mio::net::TcpListener::from_std(listener);
    let mut poll = Poll::new().expect("poll");
    let mut events = Events::with_capacity(1024);
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)
        .expect("register listener");
    let mut conns: Vec<Option<MioConn>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut bytes = 0u64;
    let mut buf = [0u8; BUF];
    loop {
        if let Err(e) = poll.poll(&mut events, None) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            panic!("mio poll: {e}");
        }
        for event in events.iter() {
            if event.token() == LISTENER {
                loop {
                    let (mut stream, _addr) = match listener.accept() {
                        Ok(accepted) => accepted,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => {
                            eprintln!("mio accept: {e}");
                            break;
                        }
                    };
                    match control.on_accept(bytes) {
                        Accepted::Stop => return,
                        Accepted::Control => continue,
                        Accepted::Serve => {}
                    }
                    stream.set_nodelay(true).expect("nodelay");
                    let i = free.pop().unwrap_or_else(|| {
                        conns.push(None);
                        conns.len() - 1
                    });
                    poll.registry()
                        .register(&mut stream, Token(i), Interest::READABLE | Interest::WRITABLE)
                        .expect("register");
                    conns[i] = Some(MioConn {
                        stream,
                        pending: Vec::new(),
                    });
                }
                continue;
            }
            let i = event.token().0;
            let Some(conn) = conns[i].as_mut() else { continue };
            let open = mio_serve(conn, &mut buf, &mut bytes, event.is_writable(), event.is_read_closed());
            if !open {
                let _ = poll.registry().deregister(&mut conn.stream);
                conns[i] = None;
                free.push(i);
            }
        }
    }
}

// ---------------------------------------------------------------- the client

/// The `seq`th request of connection `id`: its id, its number, and a pattern.
fn message(id: u32, seq: u64) -> [u8; MSG] {
    let mut m = [0u8; MSG];
    m[..4].copy_from_slice(&id.to_le_bytes());
    m[4..12].copy_from_slice(&seq.to_le_bytes());
    let base = (id as u64).wrapping_add(seq.wrapping_mul(7));
    for (i, b) in m[12..].iter_mut().enumerate() {
        *b = base.wrapping_add(i as u64) as u8;
    }
    m
}

/// What the client thread and the bench share.
#[derive(Default)]
struct ClientShared {
    stop: AtomicBool,
    /// Connections that got their first response.
    ready: AtomicUsize,
    /// Set if the client gave up (could not connect).
    failed: AtomicBool,
}

#[derive(Debug, Default)]
struct ClientReport {
    responses: u64,
    mismatches: u64,
    eofs: u64,
    io_errors: u64,
    connect_errors: u64,
}

impl ClientReport {
    /// Every error the client counted.
    fn errors(&self) -> u64 {
        self.mismatches + self.eofs + self.io_errors + self.connect_errors
    }
}

struct ClientConn {
    stream: mio::net::TcpStream,
    id: u32,
    sent: u64,
    received: u64,
    partial: [u8; MSG],
    partial_len: usize,
    out: Vec<u8>,
    alive: bool,
    /// Requests to make in all (`u64::MAX`: until told to stop).
    quota: u64,
}

impl ClientConn {
    /// Queues `count` more requests to send.
    fn queue(&mut self, count: usize) {
        for _ in 0..count {
            if self.sent == self.quota {
                break;
            }
            self.out.extend_from_slice(&message(self.id, self.sent));
            self.sent += 1;
        }
    }

    /// Writes what is queued, as far as the socket takes it.
    fn flush(&mut self) -> io::Result<()> {
        let mut done = 0;
        while done < self.out.len() {
            match self.stream.write(&self.out[done..]) {
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.out.drain(..done);
        Ok(())
    }

    /// Checks the responses in `data`; returns how many were complete.
    fn take(&mut self, mut data: &[u8], report: &mut ClientReport) -> usize {
        let mut complete = 0;
        while !data.is_empty() {
            let want = MSG - self.partial_len;
            let n = want.min(data.len());
            self.partial[self.partial_len..self.partial_len + n].copy_from_slice(&data[..n]);
            self.partial_len += n;
            data = &data[n..];
            if self.partial_len == MSG {
                if self.partial != message(self.id, self.received) {
                    report.mismatches += 1;
                }
                self.partial_len = 0;
                self.received += 1;
                complete += 1;
            }
        }
        complete
    }
}

/// A [`client`] that makes a given number of requests.
#[derive(Clone, Copy, Debug)]
struct Quota {
    /// Requests per connection.
    per_conn: u64,
    /// Before each request after a connection's first, wait until this
    /// process (the server) sleeps in `epoll_wait`.
    idle: Option<u32>,
}

/// The load generator: `conns` connections, `depth` requests in flight on
/// each, until told to stop, or with a `quota`, until each connection has had
/// that many responses (or has failed).
fn client(
    addr: SocketAddr,
    conns: usize,
    depth: usize,
    quota: Option<Quota>,
    shared: Arc<ClientShared>,
) -> ClientReport {
    let mut report = ClientReport::default();
    let mut poll = Poll::new().expect("poll");
    let mut events = Events::with_capacity(1024);
    let mut all: Vec<ClientConn> = Vec::with_capacity(conns);
    for id in 0..conns {
        let stream = match TcpStream::connect(addr) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("client: connect #{id}: {e}");
                report.connect_errors += 1;
                shared.failed.store(true, Ordering::Release);
                return report;
            }
        };
        stream.set_nodelay(true).expect("nodelay");
        stream.set_nonblocking(true).expect("nonblocking");
        let mut stream = mio::net::TcpStream::from_std(stream);
        poll.registry()
            .register(&mut stream, Token(id), Interest::READABLE | Interest::WRITABLE)
            .expect("register");
        let mut conn = ClientConn {
            stream,
            id: id as u32,
            sent: 0,
            received: 0,
            partial: [0; MSG],
            partial_len: 0,
            out: Vec::with_capacity(depth * MSG),
            alive: true,
            quota: quota.map_or(u64::MAX, |q| q.per_conn),
        };
        conn.queue(depth);
        if conn.flush().is_err() {
            report.io_errors += 1;
            conn.alive = false;
        }
        all.push(conn);
    }
    let mut scratch = vec![0u8; 64 * MSG];
    while !shared.stop.load(Ordering::Acquire) {
        if quota.is_some() && all.iter().all(|c| !c.alive || c.received == c.quota) {
            break;
        }
        if let Err(e) = poll.poll(&mut events, Some(Duration::from_millis(20))) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            panic!("client poll: {e}");
        }
        for event in events.iter() {
            let conn = &mut all[event.token().0];
            if !conn.alive {
                continue;
            }
            if event.is_writable() && !conn.out.is_empty() && conn.flush().is_err() {
                report.io_errors += 1;
                conn.alive = false;
                continue;
            }
            if !(event.is_readable() || event.is_read_closed() || event.is_error()) {
                continue;
            }
            let had = conn.received;
            let mut complete = 0;
            loop {
                match conn.stream.read(&mut scratch) {
                    Ok(0) => {
                        report.eofs += 1;
                        conn.alive = false;
                        break;
                    }
                    Ok(n) => {
                        complete += conn.take(&scratch[..n], &mut report);
                        if n < scratch.len() && !event.is_read_closed() {
                            break;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => {
                        report.io_errors += 1;
                        conn.alive = false;
                        break;
                    }
                }
            }
            if had == 0 && conn.received > 0 {
                shared.ready.fetch_add(1, Ordering::Release);
            }
            if conn.alive && complete > 0 {
                if let Some(pid) = quota.and_then(|q| q.idle) {
                    if conn.sent < conn.quota {
                        wait_until_idle(pid, Duration::from_secs(10));
                    }
                }
                conn.queue(complete);
                if conn.flush().is_err() {
                    report.io_errors += 1;
                    conn.alive = false;
                }
            }
        }
    }
    report.responses = all.iter().map(|c| c.received).sum();
    report
}

/// Waits until process `pid` sleeps in `epoll_wait` (its state in
/// `/proc/PID/stat` is `S` and `/proc/PID/wchan` names an epoll function; if
/// wchan cannot be read, the state alone), or is gone, or `limit` has passed.
fn wait_until_idle(pid: u32, limit: Duration) {
    let stat = format!("/proc/{pid}/stat");
    let wchan = format!("/proc/{pid}/wchan");
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        let Ok(text) = std::fs::read_to_string(&stat) else {
            return; // gone
        };
        // pid (comm) state ...: the state follows the last ')'.
        let state = text
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next());
        if state == Some('S') {
            match std::fs::read_to_string(&wchan) {
                Ok(w) if w.contains("epoll") => return,
                Ok(w) if w.trim().is_empty() || w.trim() == "0" => return,
                Err(_) => return,
                Ok(_) => {} // asleep elsewhere (not expected: epoll_wait is the server's only blocking call)
            }
        }
        thread::sleep(Duration::from_micros(20));
    }
}

// ---------------------------------------------------------------- the client's home

/// The running load generator: a thread of this process, or, when the
/// open-file limit cannot hold both ends of every connection in one process,
/// a child process (this bench binary re-executed with `--echo-client`)
/// running the same [`client`] function.
enum ClientHandle {
    Thread(thread::JoinHandle<ClientReport>, Arc<ClientShared>),
    Process(std::process::Child, std::sync::mpsc::Receiver<String>),
}

impl ClientHandle {
    /// Starts the client, in a thread or in a child process.
    fn start(addr: SocketAddr, cfg: Config, in_process: bool) -> Result<ClientHandle, String> {
        let (conns, depth) = (cfg.conns, cfg.depth);
        if in_process {
            let shared = Arc::new(ClientShared::default());
            let client_shared = shared.clone();
            let handle = thread::Builder::new()
                .name("echo-client".into())
                .spawn(move || client(addr, conns, depth, None, client_shared))
                .map_err(|e| e.to_string())?;
            return Ok(ClientHandle::Thread(handle, shared));
        }
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut child = std::process::Command::new(exe)
            .args([
                "--echo-client",
                &addr.to_string(),
                &conns.to_string(),
                &depth.to_string(),
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| format!("echo client process: {e}"))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        thread::spawn(move || {
            use std::io::BufRead;
            for line in io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(ClientHandle::Process(child, rx))
    }

    /// Waits until every connection has had its first response.
    fn wait_ready(&mut self, conns: usize, deadline: Instant) -> Result<(), String> {
        match self {
            ClientHandle::Thread(_, shared) => loop {
                let ready = shared.ready.load(Ordering::Acquire);
                if ready >= conns {
                    return Ok(());
                }
                if shared.failed.load(Ordering::Acquire) {
                    return Err("the client could not connect".to_string());
                }
                if Instant::now() > deadline {
                    return Err(format!("only {ready} of {conns} connections got a response"));
                }
                thread::sleep(Duration::from_millis(2));
            },
            ClientHandle::Process(_, lines) => {
                let wait = deadline.saturating_duration_since(Instant::now());
                match lines.recv_timeout(wait) {
                    Ok(line) if line == "ready" => Ok(()),
                    Ok(line) => Err(format!("the client process said: {line}")),
                    Err(_) => Err("the client process did not get ready".to_string()),
                }
            }
        }
    }

    /// Stops the client and collects its report.
    fn stop(self) -> Result<ClientReport, String> {
        match self {
            ClientHandle::Thread(handle, shared) => {
                shared.stop.store(true, Ordering::Release);
                handle.join().map_err(|_| "the client panicked".to_string())
            }
            ClientHandle::Process(mut child, lines) => {
                drop(child.stdin.take()); // EOF on its stdin: stop
                let status = child.wait().map_err(|e| e.to_string())?;
                let report = lines
                    .iter()
                    .find_map(|l| l.strip_prefix("report ").map(ClientReport::parse))
                    .flatten();
                report.ok_or_else(|| format!("the client process gave no report ({status})"))
            }
        }
    }
}

impl ClientReport {
    /// The report as one line, for a child client to print.
    fn line(&self) -> String {
        format!(
            "report {} {} {} {} {}",
            self.responses, self.mismatches, self.eofs, self.io_errors, self.connect_errors
        )
    }

    /// A report from the line a child client printed.
    fn parse(text: &str) -> Option<ClientReport> {
        let v: Vec<u64> = text.split_whitespace().map(|n| n.parse().ok()).collect::<Option<_>>()?;
        let [responses, mismatches, eofs, io_errors, connect_errors] = v[..] else {
            return None;
        };
        Some(ClientReport {
            responses,
            mismatches,
            eofs,
            io_errors,
            connect_errors,
        })
    }
}

/// The child process's side of `--echo-client ADDR CONNS DEPTH`: run the
/// client, say `ready` once every connection has had a response, stop at EOF
/// on stdin, print the report.
pub fn client_process(addr: &str, conns: usize, depth: usize) -> ! {
    let addr: SocketAddr = addr.parse().expect("client address");
    let shared = Arc::new(ClientShared::default());
    let client_shared = shared.clone();
    let handle = thread::spawn(move || client(addr, conns, depth, None, client_shared));
    loop {
        if shared.ready.load(Ordering::Acquire) >= conns {
            println!("ready");
            break;
        }
        if shared.failed.load(Ordering::Acquire) {
            println!("failed to connect");
            break;
        }
        thread::sleep(Duration::from_millis(2));
    }
    let _ = io::stdout().flush();
    let mut sink = Vec::new();
    let _ = io::stdin().read_to_end(&mut sink);
    shared.stop.store(true, Ordering::Release);
    let report = handle.join().expect("client thread");
    println!("{}", report.line());
    let _ = io::stdout().flush();
    std::process::exit(0)
}

// ---------------------------------------------------------------- a server process

impl Server {
    /// The server of a name, if any.
    pub fn from_name(name: &str) -> Option<Server> {
        [Server::Multitask, Server::Tokio, Server::Mio]
            .into_iter()
            .find(|s| s.name() == name)
    }
}

/// `--echo-server SERVER --requests N`: this binary re-executed as one echo
/// server, on its main thread and nothing else (no sampler, no client). It
/// prints its address and process id, serves until it has echoed `N` requests' bytes and a
/// connection comes after them (see [`drive`]), and exits: 0 if it echoed
/// exactly that many bytes, 1 if not.
pub fn server_process(name: &str, requests: u64) -> ! {
    let server = Server::from_name(name).unwrap_or_else(|| panic!("--echo-server {name}: no such server"));
    raise_nofile(65_536);
    let listener = listener().expect("listen");
    println!(
        "{} {}",
        listener.local_addr().expect("local address"),
        std::process::id()
    );
    let _ = io::stdout().flush();
    let expected = requests * MSG as u64;
    let control = Arc::new(Control {
        stop_at: Some(expected),
        ..Control::default()
    });
    match server {
        Server::Multitask => multitask_server(listener, control.clone()),
        Server::Tokio => tokio_server(listener, control.clone()),
        Server::Mio => mio_server(listener, control.clone()),
    }
    let echoed = control.stopped_at.load(Ordering::Relaxed);
    let errors = control.errors.load(Ordering::Relaxed);
    if echoed != expected || errors > 0 {
        eprintln!("echo server {name}: echoed {echoed} bytes of {expected}, {errors} short sends");
        std::process::exit(1);
    }
    std::process::exit(0)
}

/// The client of a [`server_process`] at `addr`: `conns` connections, one
/// request in flight on each, `requests` in all (a multiple of `conns`),
/// every response verified; then it closes them all and connects once more,
/// which stops the server. With `idle` (the server's process id), each
/// connection's next request waits until the server sleeps in `epoll_wait`.
/// Gives up (and says so) once `give_up` returns true, which it asks every
/// few milliseconds.
pub fn drive(
    addr: SocketAddr,
    conns: usize,
    requests: u64,
    idle: Option<u32>,
    mut give_up: impl FnMut() -> bool,
) -> Result<(), String> {
    if conns == 0 || !requests.is_multiple_of(conns as u64) {
        return Err(format!("{requests} requests do not divide among {conns} connections"));
    }
    let shared = Arc::new(ClientShared::default());
    let client_shared = shared.clone();
    let quota = Quota {
        per_conn: requests / conns as u64,
        idle,
    };
    let handle = thread::Builder::new()
        .name("echo-cost-client".into())
        .spawn(move || client(addr, conns, 1, Some(quota), client_shared))
        .map_err(|e| e.to_string())?;
    let mut gave_up = false;
    while !handle.is_finished() {
        if !gave_up && give_up() {
            gave_up = true;
            shared.stop.store(true, Ordering::Release);
        }
        thread::sleep(Duration::from_millis(5));
    }
    let report = handle.join().map_err(|_| "the client panicked".to_string())?;
    // Its connections are closed now (dropped with the client's state): the
    // one more connection stops the server.
    let _ = TcpStream::connect(addr);
    if gave_up {
        return Err(format!("gave up after {} of {requests} responses", report.responses));
    }
    if report.errors() > 0 || report.responses != requests {
        return Err(format!(
            "{} of {requests} responses; errors: {report:?}",
            report.responses
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------- one run

/// Runs one echo measurement against `server`. The client runs in a thread of
/// this process if `nofile` allows both ends of every connection here, else
/// in a child process.
pub fn run(server: Server, cfg: Config, nofile: u64) -> Result<Outcome, String> {
    let listener = listener().map_err(|e| format!("listen: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let control = Arc::new(Control::default());
    let server_control = control.clone();
    let server_thread = thread::Builder::new()
        .name(format!("echo-{}", server.name()))
        .spawn(move || {
            start_sampler();
            match server {
                Server::Multitask => multitask_server(listener, server_control),
                Server::Tokio => tokio_server(listener, server_control),
                Server::Mio => mio_server(listener, server_control),
            }
        })
        .map_err(|e| e.to_string())?;
    let in_process = client_in_process(cfg.conns, nofile);
    let started = Instant::now();
    let mut setup_s = f64::NAN;
    let measured = ClientHandle::start(addr, cfg, in_process).map(|mut client| {
        let measured = (|| {
            client.wait_ready(cfg.conns, Instant::now() + Duration::from_secs(60))?;
            setup_s = started.elapsed().as_secs_f64();
            thread::sleep(cfg.warmup);
            let s0 = control.sample(addr)?;
            thread::sleep(cfg.window);
            let s1 = control.sample(addr)?;
            Ok::<_, String>((s0, s1))
        })();
        (measured, client.stop())
    });
    control.stop(addr);
    server_thread.join().map_err(|_| "the server panicked".to_string())?;

    let (measured, report) = measured?;
    let report = report?;
    let (s0, s1) = measured?;
    let requests = (s1.bytes - s0.bytes) as f64 / MSG as f64;
    let secs = (s1.at - s0.at).as_secs_f64();
    let rusage_user = (s1.utime - s0.utime).as_nanos() as f64;
    let total = (s1.cpu_ns - s0.cpu_ns) as f64;
    let user_samples = match (s0.user_samples, s1.user_samples) {
        (Some(a), Some(b)) => b - a,
        _ => 0,
    };
    let user = if user_samples > 0 {
        (user_samples * crate::perf::PERIOD_NS) as f64
    } else {
        rusage_user
    };
    let errors = report.errors() + control.errors.load(Ordering::Relaxed);
    if errors > 0 {
        eprintln!("  echo {} {:?}: errors: {report:?}", server.name(), cfg);
    }
    Ok(Outcome {
        rps: requests / secs,
        user_ns: user / requests,
        total_ns: total / requests,
        rusage_user_ns: rusage_user / requests,
        user_samples,
        setup_s,
        responses: report.responses,
        errors,
    })
}

/// True if both ends of `conns` connections fit under the open-file limit.
pub fn client_in_process(conns: usize, nofile: u64) -> bool {
    (conns as u64) * 2 + 64 <= nofile
}

/// Raises this process's open-file limit to at least `want` (10,000
/// connections need two fds each here: client and server ends). Returns the
/// soft limit in force afterwards.
pub fn raise_nofile(want: u64) -> u64 {
    // SAFETY: plain data, filled by getrlimit.
    let mut lim: libc::rlimit = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    if lim.rlim_cur >= want {
        return lim.rlim_cur;
    }
    let raised = libc::rlimit {
        rlim_cur: want,
        rlim_max: lim.rlim_max.max(want),
    };
    // SAFETY: a valid rlimit. Raising the hard limit needs CAP_SYS_RESOURCE;
    // without it, go as high as the hard limit allows.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
        let soft = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: as above.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &soft) };
    }
    // SAFETY: as above.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    lim.rlim_cur
}
