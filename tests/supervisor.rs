//! `examples/supervisor.rs`, run as a user runs it: clients served in a
//! group, an idle one dropped by its `timeout_after`, the task table on a
//! line of stdin, and a clean stop at the end of stdin.
#![feature(coroutines)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

/// The supervisor, started with `--idle idle`: its stdin, its stdout, the address.
fn start(idle: &str) -> (Child, ChildStdin, BufReader<ChildStdout>, String) {
    let mut child = Command::new(common::example("supervisor"))
        .args(["0", "--idle", idle])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    (child, stdin, out, line.trim().to_string())
}

/// Closes the supervisor's stdin; gives its last line once it has exited 0.
fn stop(mut child: Child, stdin: ChildStdin, mut out: BufReader<ChildStdout>) -> String {
    drop(stdin);
    let mut last = String::new();
    out.read_line(&mut last).unwrap();
    assert!(child.wait().unwrap().success());
    last
}

#[test]
fn an_idle_client_is_told_and_dropped_by_its_timeout_after() {
    let (child, stdin, out, addr) = start("0.2");
    let mut idle = BufReader::new(TcpStream::connect(&addr).unwrap());
    let mut bye = String::new();
    idle.read_line(&mut bye).unwrap();
    assert_eq!(bye, "idle, bye\n");
    assert_eq!(idle.read(&mut [0u8; 8]).unwrap(), 0); // closed
    assert_eq!(stop(child, stdin, out), "served 1 clients\n");
}

#[test]
fn a_line_on_stdin_prints_the_task_table_and_its_end_cancels_the_group() {
    // Idle timeout far away (a guard only): the client below is never idle.
    let (child, mut stdin, mut out, addr) = start("60");
    let mut busy = BufReader::new(TcpStream::connect(&addr).unwrap());
    busy.get_mut().write_all(b"hello\n").unwrap();
    let mut reply = String::new();
    busy.read_line(&mut reply).unwrap();
    assert_eq!(reply, "HELLO\n");

    stdin.write_all(b"ps\n").unwrap();
    let mut table = Vec::new();
    for _ in 0..4 {
        let mut row = String::new();
        out.read_line(&mut row).unwrap();
        table.push(row.split_whitespace().map(str::to_string).collect::<Vec<_>>());
    }
    assert_eq!(table[0], ["id", "name", "state", "depth", "resumed"]);
    // The listener waits on its fd (resumed at its start and for the one
    // accept); the console is the task printing. The client is in the group,
    // on its way to its next line (where exactly depends on when `ps` came).
    let rows: Vec<String> = table[1..].iter().map(|r| r[1..].join(" ")).collect();
    assert!(
        rows.iter()
            .any(|r| r.starts_with("listener (group) action fd") && r.ends_with(" 1 2")),
        "{rows:?}"
    );
    assert!(
        rows.iter()
            .any(|r| r.starts_with("client 127.0.0.1:") && r.contains(" (group) ")),
        "{rows:?}"
    );
    assert!(rows.iter().any(|r| r == "console running 1 2"), "{rows:?}");

    // End of stdin: the group's members are cancelled, the client's socket closes.
    let last = stop(child, stdin, out);
    assert_eq!(busy.read(&mut [0u8; 8]).unwrap(), 0);
    assert_eq!(last, "served 1 clients\n");
}
