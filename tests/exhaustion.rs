//! Running out of file descriptors: the echo server example, started with a
//! low open-file limit, gets more connections than it can hold. `accept` gives
//! the listener `EMFILE`; the server logs it, backs off, keeps serving the
//! clients it has, and accepts the others once some leave.
#![feature(coroutines)]

mod common;
use common::{start_example, Started};

use std::io::{BufRead, Read, Write};
use std::net::TcpStream;
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn echo(stream: &mut TcpStream, message: &str) -> std::io::Result<String> {
    stream.write_all(message.as_bytes())?;
    let mut buf = vec![0; message.len()];
    stream.read_exact(&mut buf)?;
    Ok(String::from_utf8(buf).unwrap())
}

/// Waits (bounded) until `lines` holds a line containing `text`.
fn wait_for_line(lines: &Mutex<Vec<String>>, text: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if lines.lock().unwrap().iter().any(|l| l.contains(text)) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

#[test]
fn echo_server_survives_running_out_of_file_descriptors() {
    let Started {
        child,
        stdout: _stdout,
        stderr,
        addr,
    } = start_example("echo_server", &["0", "--max-fds", "32"]);
    let server = Server(child);

    let log = Arc::new(Mutex::new(Vec::new()));
    let log2 = log.clone();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            log2.lock().unwrap().push(line);
        }
    });

    // 40 connections: the kernel queues them all; the server can hold ~27.
    let mut clients: Vec<TcpStream> = (0..40).map(|_| TcpStream::connect(&addr).unwrap()).collect();
    for c in &clients {
        c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    }
    for (i, c) in clients.iter_mut().enumerate().take(20) {
        assert_eq!(echo(c, &format!("hello {i}")).unwrap(), format!("hello {i}"));
    }
    assert!(
        wait_for_line(&log, "Too many open files"),
        "no EMFILE logged: {:?}",
        log.lock().unwrap()
    );
    assert!(log
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains("[Errno 24]") && l.contains("backing off")));

    // While out of fds it backs off instead of spinning on accept: over half a
    // second at 100 ms a back-off, a handful of lines, not thousands.
    let before = log.lock().unwrap().len();
    std::thread::sleep(Duration::from_millis(500));
    let during = log.lock().unwrap().len() - before;
    assert!(during < 50, "{during} back-off lines in 0.5 s: the server spins");

    // The clients it holds are still served.
    for (i, c) in clients.iter_mut().enumerate().take(20) {
        assert_eq!(echo(c, &format!("again {i}")).unwrap(), format!("again {i}"));
    }
    // When clients leave, the waiting ones are accepted and served.
    let waiting = clients.split_off(20);
    drop(clients);
    for (i, mut c) in waiting.into_iter().enumerate() {
        assert_eq!(echo(&mut c, &format!("late {i}")).unwrap(), format!("late {i}"));
    }
    drop(server);
}
