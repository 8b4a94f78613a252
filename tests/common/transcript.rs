//! The harness of the tests that port a program of the original: what the
//! port prints (`p!`) is kept as lines, `passes` runs a manager as the
//! programs' `passes(tm)` helper does (`|` after each `run_next`), and
//! `check` compares it all with the transcript the original printed.

use std::cell::RefCell;

use multitask::{wait, Task, TaskManager};

thread_local! {
    /// The lines printed so far by this test's thread.
    pub static OUT: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Prints a line of the transcript, as the Python program's `print`.
#[allow(unused_macros)]
macro_rules! p {
    ($($arg:tt)*) => { $crate::common::transcript::OUT.with_borrow_mut(|o| o.push(format!($($arg)*))) };
}

/// What was printed, a line each.
pub fn transcript() -> String {
    OUT.with_borrow(|o| o.iter().map(|l| format!("{l}\n")).collect())
}

/// The lines of `text`, pass by pass, each pass's sorted.
fn by_pass(text: &str) -> Vec<Vec<String>> {
    text.split("|\n")
        .map(|pass| {
            let mut lines: Vec<String> = pass.lines().map(str::to_string).collect();
            lines.sort();
            lines
        })
        .collect()
}

/// Asserts that the transcript is `expected`, exactly; the message says if
/// only the order of lines within a pass differs.
pub fn check(expected: &str) {
    let got = transcript();
    if got != expected {
        let kind = match by_pass(&got) == by_pass(expected) {
            true => "only the order within a pass differs",
            false => "differs",
        };
        panic!("transcript {kind}\n--- python\n{expected}--- rust\n{got}");
    }
}

/// As [`check`], but the lines within each pass compared as a set: for the
/// programs where several fds are ready at once, whose order the original
/// leaves arbitrary (its `select`'s lists go through a `set`; DESIGN.md §2).
pub fn check_each_pass_unordered(expected: &str) {
    let got = transcript();
    assert_eq!(
        by_pass(&got),
        by_pass(expected),
        "--- python\n{expected}--- rust\n{got}"
    );
}

/// Runs `tm` as the programs' `passes(tm)` does: while anything is runnable,
/// waits on I/O or on a timeout, one `run_next` and a `|`; an error escaping
/// it is printed; at most 100 passes.
pub fn passes(tm: &TaskManager) {
    passes_at_most(tm, 100);
}

/// [`passes`], with the programs' own limit (`passes(tm, limit)`).
pub fn passes_at_most(tm: &TaskManager, limit: usize) {
    let mut n = 0;
    while tm.has_runnable() || tm.has_io_waits() || tm.has_timeouts() {
        if let Err(e) = tm.run_next(None) {
            p!("ERR {}: {}", e.name(), e);
        }
        p!("|");
        n += 1;
        if n >= limit {
            p!("LIMIT");
            break;
        }
    }
}

/// Python 2 repr of a byte string (the ASCII cases the programs use).
pub fn repr(b: &[u8]) -> String {
    let mut s = String::from("'");
    for &c in b {
        match c {
            b'\n' => s += "\\n",
            b'\'' => s += "\\'",
            b'\\' => s += "\\\\",
            0x20..=0x7e => s.push(c as char),
            _ => s += &format!("\\x{c:02x}"),
        }
    }
    s + "'"
}

/// A task that prints `name i` and yields, `n` times.
pub fn ticker(name: &'static str, n: usize) -> Task {
    Task::new(
        #[coroutine]
        move |_| {
            for i in 0..n {
                p!("{name} {i}");
                wait!();
            }
            Ok(())
        },
    )
}

/// The transcript `name.out` the original printed, from
/// `tests/conformance/<dir>/`.
pub fn original(dir: &str, name: &str) -> String {
    let path = format!("{}/tests/conformance/{dir}/{name}.out", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Python 2's `str(x)` of a bool.
pub fn pyb(x: bool) -> &'static str {
    if x {
        "True"
    } else {
        "False"
    }
}

/// The OS error number of `e`, or -1: what a port prints for `e.args[0]`.
pub fn errno(e: &multitask::Error) -> i32 {
    e.io_error().and_then(|e| e.raw_os_error()).unwrap_or(-1)
}

/// A direct `sock.send(data, flags)`, not yielded (what the original's
/// programs do beside the manager's calls): the bytes sent, or the error.
pub fn raw_send_flags(s: &impl std::os::fd::AsRawFd, data: &[u8], flags: i32) -> std::io::Result<usize> {
    // SAFETY: a valid fd, and a buffer of `data.len()` readable bytes.
    let n = unsafe {
        libc::send(
            s.as_raw_fd(),
            data.as_ptr().cast(),
            data.len(),
            flags | libc::MSG_NOSIGNAL,
        )
    };
    if n < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// A direct `sock.send(data)`.
pub fn raw_send(s: &impl std::os::fd::AsRawFd, data: &[u8]) -> std::io::Result<usize> {
    raw_send_flags(s, data, 0)
}

/// A direct `sock.recv(n, flags)`.
pub fn raw_recv_flags(s: &impl std::os::fd::AsRawFd, n: usize, flags: i32) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; n];
    // SAFETY: a valid fd, and a buffer of `n` writable bytes.
    let k = unsafe { libc::recv(s.as_raw_fd(), buf.as_mut_ptr().cast(), n, flags) };
    if k < 0 {
        return Err(std::io::Error::last_os_error());
    }
    buf.truncate(k as usize);
    Ok(buf)
}

/// A direct `sock.recv(n)`.
pub fn raw_recv(s: &impl std::os::fd::AsRawFd, n: usize) -> std::io::Result<Vec<u8>> {
    raw_recv_flags(s, n, 0)
}

/// `two_ways!(name { ... })`: the ported program `...` twice, in modules
/// `name::std_sockets` and `name::crate_sockets`, with `Listener`, `Client`,
/// `Pair` and `Udp` the std types in one and the crate's own (`multitask::net`)
/// in the other, and `wrap`, `own`, `bind`, `pair` and `udp` to make them:
/// the original took both kinds alike.
#[allow(unused_macros)]
macro_rules! two_ways {
    ($name:ident { $($body:tt)* }) => {
        mod $name {
            mod std_sockets {
                #[allow(unused_imports)]
                use super::super::*;
                #[allow(dead_code)]
                type Listener = std::net::TcpListener;
                #[allow(dead_code)]
                type Client = std::net::TcpStream;
                #[allow(dead_code)]
                type Pair = std::os::unix::net::UnixStream;
                #[allow(dead_code)]
                type Udp = std::net::UdpSocket;
                #[allow(dead_code)]
                fn wrap(s: std::net::TcpStream) -> Client { s }
                #[allow(dead_code)]
                fn own(s: std::os::unix::net::UnixStream) -> Pair { s }
                #[allow(dead_code)]
                fn bind() -> Listener { std::net::TcpListener::bind("127.0.0.1:0").unwrap() }
                #[allow(dead_code)]
                fn pair() -> (Pair, Pair) { std::os::unix::net::UnixStream::pair().unwrap() }
                #[allow(dead_code)]
                fn udp() -> Udp { std::net::UdpSocket::bind("127.0.0.1:0").unwrap() }
                $($body)*
            }
            mod crate_sockets {
                #[allow(unused_imports)]
                use super::super::*;
                #[allow(dead_code)]
                type Listener = multitask::net::TcpListener;
                #[allow(dead_code)]
                type Client = multitask::net::TcpStream;
                #[allow(dead_code)]
                type Pair = multitask::net::UnixStream;
                #[allow(dead_code)]
                type Udp = multitask::net::UdpSocket;
                #[allow(dead_code)]
                fn wrap(s: std::net::TcpStream) -> Client { multitask::net::TcpStream::from(s) }
                #[allow(dead_code)]
                fn own(s: std::os::unix::net::UnixStream) -> Pair { multitask::net::UnixStream::from(s) }
                #[allow(dead_code)]
                fn bind() -> Listener { multitask::net::TcpListener::bind(("127.0.0.1", 0)).unwrap() }
                #[allow(dead_code)]
                fn pair() -> (Pair, Pair) { multitask::net::UnixStream::pair().unwrap() }
                #[allow(dead_code)]
                fn udp() -> Udp { multitask::net::UdpSocket::bind(("127.0.0.1", 0)).unwrap() }
                $($body)*
            }
        }
    };
}
