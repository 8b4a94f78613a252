//! Helpers shared by the integration tests (each test file uses a part).
#![allow(dead_code)]

#[macro_use]
pub mod transcript;

use std::cell::Cell;
use std::os::fd::RawFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::rc::Rc;

use multitask::{recv, send, wait, Error, Task, TaskManager};

/// A timeout no passing test reaches: it only turns a lost wake-up into a
/// failure instead of a hung suite.
pub const GUARD: f64 = 20.0;

/// The numbers of this process's open fds whose `/proc/self/fd` link is
/// `link` (`"anon_inode:[eventfd]"`, `"anon_inode:[eventpoll]"`), in order.
pub fn fds_linked_to(link: &str) -> Vec<i32> {
    let mut fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .filter_map(|e| {
            let e = e.ok()?;
            let target = std::fs::read_link(e.path()).ok()?;
            if target.to_str()? == link {
                e.file_name().to_str()?.parse().ok()
            } else {
                None
            }
        })
        .collect();
    fds.sort();
    fds
}

/// The OS error number inside `e`, if any.
pub fn errno(e: &Error) -> Option<i32> {
    e.io_error().and_then(|e| e.raw_os_error())
}

/// Sets SO_LINGER to 0, so that closing `sock` resets the connection.
pub fn set_linger_zero(sock: &impl std::os::fd::AsRawFd) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket and a linger struct of the right size.
    let ret = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(ret, 0);
}

/// True if `fd` is not open in this process.
pub fn is_closed(fd: RawFd) -> bool {
    // SAFETY: F_GETFD on any number is harmless.
    let ret = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    ret == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EBADF)
}

/// Two tasks that ping-pong `rounds` messages over a socket pair of their
/// own: bystanders that a fault elsewhere must not disturb. The counter tells
/// how many round trips completed.
pub fn bystanders(tm: &TaskManager, rounds: usize) -> Rc<Cell<usize>> {
    let (a, b) = UnixStream::pair().unwrap();
    let done = Rc::new(Cell::new(0));
    tm.add(Task::<()>::new(
        #[coroutine]
        move |_| {
            for _ in 0..rounds {
                let data = wait!(recv(&b, 100).timeout(GUARD))?;
                wait!(send(&b, data).timeout(GUARD))?;
            }
            Ok(())
        },
    ));
    let counter = done.clone();
    tm.add(Task::<()>::new(
        #[coroutine]
        move |_| {
            for i in 0..rounds {
                let message = format!("round {i}");
                wait!(send(&a, message.clone()).timeout(GUARD))?;
                let reply = wait!(recv(&a, 100).timeout(GUARD))?;
                assert_eq!(reply, message.as_bytes());
                counter.set(counter.get() + 1);
            }
            Ok(())
        },
    ));
    done
}

/// The built example `name`, or a failure saying how to build it. `cargo
/// test` builds the examples into `target/<profile>/examples/`, next to the
/// `deps/` directory holding the test binaries.
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let deps = exe.parent().expect("the test binary's directory");
    let path = deps
        .join("..")
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "example binary {} is missing: build it first with `cargo build --example {name}` \
         (a plain `cargo test` builds the examples; a run limited with `--test` may not)",
        path.display()
    );
    path
}

/// `read` that retries when a signal interrupts it (the tests that spawn
/// processes or send signals run beside the others in one process).
pub fn read_retrying(mut reader: impl std::io::Read, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match reader.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// A server example started with stdout and stderr piped: the process, its
/// stdout past the first line, its stderr, and that first line (the address
/// it serves), trimmed.
pub struct Started {
    pub child: std::process::Child,
    pub stdout: std::io::BufReader<std::process::ChildStdout>,
    pub stderr: std::io::BufReader<std::process::ChildStderr>,
    pub addr: String,
}

/// Starts example `name` with `args` (see [`Started`]).
pub fn start_example(name: &str, args: &[&str]) -> Started {
    use std::io::BufRead;
    let mut child = std::process::Command::new(example(name))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut addr = String::new();
    stdout.read_line(&mut addr).unwrap();
    Started {
        child,
        stdout,
        stderr,
        addr: addr.trim().to_string(),
    }
}
