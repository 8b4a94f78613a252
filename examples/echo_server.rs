//! The description's server example, ported line for line: a `listener` task
//! accepts connections and adds a `client_handler` task for each, which echoes
//! what it receives.
//!
//! ```text
//! cargo run --release --example echo_server -- PORT [--max-fds N] [--threads N] [--grace SECONDS]
//! ```
//!
//! PORT 0 picks a free port. The first line printed is the address served.
//! The server raises its open-file limit to the hard limit (or lowers it to N
//! with `--max-fds`, to see it survive running out), and serves until SIGINT
//! or SIGTERM: then it stops accepting, lets the open connections finish for
//! the grace period (`--grace`, 5 seconds by default), closes those still
//! open, prints what it served (`served N connections, M cut off after the
//! grace period`) and exits 0. With `--threads N` it runs N managers, one per
//! thread, each accepting on its own `SO_REUSEPORT` listener of the address.
//!
//! The lines that shut it down and count (marked `// shutdown:`) are not in
//! the README's copy, which is the line-for-line port.
//!
//! ```python
//! def listener(sock):
//!     while True:
//!         conn, address = (yield multitask.accept(sock))
//!         multitask.add(client_handler(conn))
//!
//! def client_handler(sock):
//!     while True:
//!         request = (yield multitask.recv(sock, 1024))
//!         if not request:
//!             break
//!         response = handle_request(request)
//!         yield multitask.send(sock, response)
//!
//! multitask.add(listener(sock))
//! multitask.run()
//! ```
#![feature(coroutines)]

use multitask::net::{TcpListener, TcpStream};
use std::cell::Cell;
use std::io::Write;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Mutex;

use multitask::{accept, recv, sendall, sleep, wait, Error, Task};
use multitask::{cores, Signals}; // shutdown and --threads

thread_local! {
    // shutdown: this thread's counts, and whether it is shutting down.
    static SERVED: Cell<usize> = const { Cell::new(0) };
    static OPEN: Cell<usize> = const { Cell::new(0) };
    static STOPPING: Cell<bool> = const { Cell::new(false) };
    static CUT: Cell<usize> = const { Cell::new(0) };
}

fn listener(sock: TcpListener) -> Task {
    Task::new(
        #[coroutine]
        move |_| loop {
            match wait!(accept(&sock)) {
                Ok((conn, _address)) => {
                    conn.set_nodelay(true)?;
                    SERVED.set(SERVED.get() + 1); // shutdown: counted
                    multitask::add(client_handler(conn));
                }
                Err(_) if STOPPING.get() => return Ok(()), // shutdown: no more accepts
                // Out of file descriptors: the connection waits in the backlog.
                // Back off briefly (never spin on the error), serve the clients we
                // have, and accept again once some have left.
                Err(e) if is_out_of_fds(&e) => {
                    eprintln!("accept: {e}; backing off");
                    wait!(sleep(0.1))?;
                }
                Err(e) => return Err(e),
            }
        },
    )
}

fn client_handler(sock: TcpStream) -> Task {
    let open = Open::new(); // shutdown: open while the task lives
    Task::new(
        #[coroutine]
        move |_| loop {
            let _open = &open; // shutdown: the task owns it
            let request = wait!(recv(&sock, 1024))?;
            if request.is_empty() {
                return Ok(());
            }
            let response = handle_request(request);
            // Python's send may send less than asked, and the original ignores
            // it; a real server sends it all.
            wait!(sendall(&sock, response))?;
        },
    )
}

fn handle_request(request: Vec<u8>) -> Vec<u8> {
    request
}

fn is_out_of_fds(e: &Error) -> bool {
    matches!(
        e.io_error().and_then(|e| e.raw_os_error()),
        Some(libc::EMFILE | libc::ENFILE)
    )
}

/// shutdown: counts a connection open from its handler's start to its end
/// (however it ends: returned, failed, or dropped at the end of the grace).
struct Open;

impl Open {
    fn new() -> Open {
        OPEN.set(OPEN.get() + 1);
        Open
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        OPEN.set(OPEN.get() - 1);
    }
}

/// shutdown: on SIGINT or SIGTERM, stops the listener (`shutdown(2)` on its
/// fd fails its `accept`), gives the open connections `grace` seconds to
/// finish, then drops those left (clearing the manager). Gives (connections
/// served, connections cut off).
fn shutdown(signals: Signals, listener: RawFd, grace: f64) -> Task<(usize, usize)> {
    Task::new(
        #[coroutine]
        move |_| {
            let signum = wait!(signals.wait())?;
            STOPPING.set(true);
            // SAFETY: shutdown(2) on the listener's fd, which stays open.
            unsafe { libc::shutdown(listener, libc::SHUT_RD) };
            // Said once no connection can come in any more.
            eprintln!("signal {signum}: stopping; {} connections open", OPEN.get());
            let mut waited = 0.0;
            while OPEN.get() > 0 && waited < grace {
                wait!(sleep(0.05))?;
                waited += 0.05;
            }
            let cut = OPEN.get();
            CUT.set(cut);
            if cut > 0 {
                // Drops every other task of this manager: their sockets close.
                multitask::get_default_task_manager().clear();
            }
            Ok((SERVED.get(), cut))
        },
    )
}

/// The value after `flag` on the command line, parsed.
fn option<T: std::str::FromStr>(args: &[String], flag: &str) -> Option<T> {
    let i = args.iter().position(|a| a == flag)?;
    let value = args.get(i + 1).and_then(|v| v.parse().ok());
    Some(value.unwrap_or_else(|| panic!("{flag} needs a value")))
}

/// The signals that stop the server, received on this thread.
fn stop_signals() -> std::io::Result<Signals> {
    Signals::new(&[libc::SIGINT, libc::SIGTERM]).map_err(std::io::Error::other)
}

/// `--threads N`: one manager per thread, each with its own listener on
/// `port` (`SO_REUSEPORT`), each shutting down on the signals.
fn serve_per_core(port: u16, threads: usize, grace: f64) -> std::io::Result<()> {
    let first = cores::bind_reuseport(("127.0.0.1", port))?;
    let addr = first.local_addr()?;
    println!("{addr}");
    std::io::stdout().flush()?;
    let first = Mutex::new(Some(first));
    let per_core = cores::Cores::new(threads)
        .on_error(|_, e| eprintln!("client: {e}"))
        .run(move |_core| {
            let std_listener = match first.lock().unwrap().take() {
                Some(listener) => listener,
                None => cores::bind_reuseport(addr)?,
            };
            let sock = TcpListener::from(std_listener);
            let fd = sock.as_raw_fd();
            multitask::add(listener(sock));
            Ok(shutdown(stop_signals()?, fd, grace))
        })
        .map_err(std::io::Error::other)?;
    let served: Vec<String> = per_core.iter().map(|(n, _)| n.to_string()).collect();
    let (total, cut) = per_core.iter().fold((0, 0), |(t, c), (n, k)| (t + n, c + k));
    println!(
        "served {total} connections ({} per thread), {cut} cut off after the grace period",
        served.join(" + ")
    );
    Ok(())
}

/// Sets the soft open-file limit to `max`, or to the hard limit.
fn set_open_file_limit(max: Option<u64>) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain libc calls on a valid struct.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur = max.map_or(limit.rlim_max, |max| max.min(limit.rlim_max));
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
    }
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let port: u16 = args
        .first()
        .map_or(Ok(0), |p| p.parse())
        .expect("PORT must be a number");
    set_open_file_limit(option(&args, "--max-fds"));
    let grace: f64 = option(&args, "--grace").unwrap_or(5.0);
    let threads: usize = option(&args, "--threads").unwrap_or(1);
    if threads > 1 {
        return serve_per_core(port, threads, grace);
    }

    let sock = TcpListener::bind(("127.0.0.1", port))?;
    println!("{}", sock.local_addr()?);
    std::io::stdout().flush()?;

    let fd = sock.as_raw_fd(); // shutdown: the listener to stop
    multitask::add(shutdown(stop_signals()?, fd, grace));
    multitask::add(listener(sock));
    // A failing client (say, reset by its peer) leaves run() with its error;
    // every other task stays where it was, so log it and carry on.
    while let Err(e) = multitask::run() {
        eprintln!("client: {e}");
    }
    // shutdown: what it served.
    println!(
        "served {} connections, {} cut off after the grace period",
        SERVED.get(),
        CUT.get()
    );
    Ok(())
}
