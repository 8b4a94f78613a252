//! What the echo server example asks of the kernel, counted with strace:
//! per connection one `EPOLL_CTL_ADD` and one `EPOLL_CTL_DEL`, none failing;
//! per request one `recvfrom` and one `sendto`, no `EAGAIN` try, no re-arm.
//! (Skipped, saying so, where strace is not installed.)
#![feature(coroutines)]

mod common;
use common::example;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::{Command, Stdio};

const CONNECTIONS: usize = 20;
const REQUESTS: usize = 10;

#[test]
fn the_echo_server_registers_each_connection_once_and_never_retries() {
    if Command::new("strace").arg("-V").output().is_err() {
        eprintln!("strace is not installed: syscall counts not checked");
        return;
    }
    let dir = std::env::temp_dir().join(format!("multitask-syscalls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let trace = dir.join("trace.txt");
    let mut server = Command::new("strace")
        .args(["-f", "-e", "trace=epoll_ctl,recvfrom,sendto", "-o"])
        .arg(&trace)
        .arg(example("echo_server"))
        .arg("0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("strace starts");
    let mut addr = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut addr)
        .unwrap();
    let addr = addr.trim().to_string();
    for c in 0..CONNECTIONS {
        let mut conn = TcpStream::connect(&addr).unwrap();
        conn.set_nodelay(true).unwrap();
        for r in 0..REQUESTS {
            let message = format!("{c:04}:{r:04}:{}", "x".repeat(54));
            conn.write_all(message.as_bytes()).unwrap();
            let mut reply = vec![0u8; message.len()];
            conn.read_exact(&mut reply).unwrap();
            assert_eq!(reply, message.as_bytes());
        }
        // Once the server has closed its end, it has also deregistered it.
        conn.shutdown(Shutdown::Write).unwrap();
        assert_eq!(conn.read(&mut [0u8; 16]).unwrap(), 0);
    }
    // Stop the traced server itself (killing strace would leave it running,
    // detached); strace then writes its last lines and exits.
    let children = format!("/proc/{0}/task/{0}/children", server.id());
    for pid in std::fs::read_to_string(children).unwrap_or_default().split_whitespace() {
        // SAFETY: kill(2) on the traced server's pid.
        unsafe { libc::kill(pid.parse().unwrap(), libc::SIGKILL) };
    }
    let _ = server.wait();
    let text = std::fs::read_to_string(&trace).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let calls = |name: &str| {
        text.lines()
            .filter(|l| l.contains(&format!("{name}(")))
            .collect::<Vec<_>>()
    };
    let failed: Vec<&str> = text.lines().filter(|l| l.contains("= -1")).collect();
    assert_eq!(failed, Vec::<&str>::new(), "no syscall fails (no EAGAIN, no ENOENT)");
    let ctl = calls("epoll_ctl");
    let adds = ctl.iter().filter(|l| l.contains("EPOLL_CTL_ADD")).count();
    let dels = ctl.iter().filter(|l| l.contains("EPOLL_CTL_DEL")).count();
    let mods = ctl.iter().filter(|l| l.contains("EPOLL_CTL_MOD")).count();
    assert_eq!(
        (adds, dels, mods),
        (2 + CONNECTIONS, CONNECTIONS, 0),
        "the listener, the manager's waker (its shutdown task waits for SIGINT/SIGTERM) and each \
         connection added once, each connection deleted once, nothing re-armed"
    );
    // Each request: one recvfrom with data, one sendto; each connection: one recvfrom at EOF.
    assert_eq!(calls("recvfrom").len(), CONNECTIONS * (REQUESTS + 1));
    assert_eq!(calls("sendto").len(), CONNECTIONS * REQUESTS);
}
