//! The description's server example, ported line for line: a `listener` task
//! accepts connections and adds a `client_handler` task for each, which echoes
//! what it receives.
//!
//! ```text
//! cargo run --release --example echo_server -- PORT [--max-fds N]
//! ```
//!
//! PORT 0 picks a free port. The first line printed is the address served.
//! The server raises its open-file limit to the hard limit (or lowers it to N
//! with `--max-fds`, to see it survive running out), and serves until killed.
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
use std::io::Write;

use multitask::{accept, recv, sendall, sleep, wait, Error, Task};

fn listener(sock: TcpListener) -> Task {
    Task::new(
        #[coroutine]
        move |_| loop {
            match wait!(accept(&sock)) {
                Ok((conn, _address)) => {
                    conn.set_nodelay(true)?;
                    multitask::add(client_handler(conn));
                }
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
    Task::new(
        #[coroutine]
        move |_| loop {
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
    let max_fds = args
        .iter()
        .position(|a| a == "--max-fds")
        .map(|i| args[i + 1].parse().expect("N must be a number"));
    set_open_file_limit(max_fds);

    let sock = TcpListener::bind(("127.0.0.1", port))?;
    println!("{}", sock.local_addr()?);
    std::io::stdout().flush()?;

    multitask::add(listener(sock));
    // A failing client (say, reset by its peer) leaves run() with its error;
    // every other task stays where it was, so log it and carry on.
    while let Err(e) = multitask::run() {
        eprintln!("client: {e}");
    }
    Ok(())
}
