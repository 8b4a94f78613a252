//! Signals, each tested in a child process (this test binary run again,
//! with `MT_SIGNAL_CHILD` naming the scenario), so that the harness's own
//! signal dispositions are never touched: a SIGINT delivered to waiting
//! tasks, arrivals counted between waits, the old disposition restored, the
//! SIGCHLD path of child-process waits; and the echo server's clean exit on
//! SIGTERM and SIGINT (one thread and two).
//!
//! No test asserts on elapsed time. The child's lines of interest start with
//! `@@ ` (the harness prints its own lines around them).
#![feature(coroutines)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStderr, Command, Stdio};
use std::time::Duration;

mod common;
use common::{read_retrying, start_example, GUARD};

use multitask::process::Process;
use multitask::{readline, signal, wait, Error, Signals, Task, TaskManager};

/// Runs scenario `name` in a child process; gives it, its `@@` lines
/// reader, after the child printed `@@ ready`.
fn child(name: &str) -> (Child, impl Iterator<Item = String>) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_entry", "--nocapture", "--test-threads", "1"])
        .env("MT_SIGNAL_CHILD", name)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        // The harness's "test child_entry ... " may begin the first line.
        .filter_map(|l| l.split_once("@@ ").map(|(_, line)| line.to_string()));
    (child, lines)
}

fn kill(child: &Child, signum: libc::c_int) {
    // SAFETY: kill(2) to our own child.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, signum) }, 0);
}

/// The child's side: one scenario, chosen by the environment.
#[test]
fn child_entry() {
    let Ok(name) = std::env::var("MT_SIGNAL_CHILD") else {
        return; // run as a test of its own: nothing to do
    };
    match name.as_str() {
        "sigint" => sigint_scenario(),
        "counted" => counted_scenario(),
        "sigchld" => sigchld_scenario(),
        "late" => late_receiver_scenario(),
        other => panic!("no scenario {other}"),
    }
}

fn say(line: impl std::fmt::Display) {
    println!("@@ {line}");
    std::io::stdout().flush().unwrap();
}

fn disposition(signum: libc::c_int) -> libc::sighandler_t {
    // SAFETY: sigaction with a null new action only reads the current one.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(signum, std::ptr::null(), &mut old);
        old.sa_sigaction
    }
}

/// Three tasks wait with `signal(SIGINT)`, a fourth on a `Signals`; the
/// parent sends one SIGINT: all four resume with it, and once they are done
/// the default disposition is back.
fn sigint_scenario() {
    let tm = TaskManager::new();
    for i in 0..3 {
        tm.add(Task::new(
            #[coroutine]
            move |_| {
                let signum = wait!(signal(libc::SIGINT).timeout(GUARD))?;
                say(format!("waiter {i} got {signum}"));
                Ok(())
            },
        ));
    }
    let signals = Signals::new(&[libc::SIGINT, libc::SIGINT]).unwrap();
    say(format!("receiver of {:?}", signals.signals()));
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let signum = wait!(signals.wait().timeout(GUARD))?;
            say(format!("receiver got {signum}, {} pending", signals.pending()));
            Ok(())
        },
    ));
    tm.add(Task::new(
        #[coroutine]
        |_| {
            say("ready"); // every waiter has yielded its wait (it ran first)
            Ok(())
        },
    ));
    tm.run().unwrap();
    say(format!(
        "default restored: {}",
        disposition(libc::SIGINT) == libc::SIG_DFL
    ));
}

/// Arrivals before the waits are counted, one wait each; a wait with none
/// left times out; `SIG_IGN` is restored as it was; bad signals are refused.
fn counted_scenario() {
    let signals = Signals::new(&[libc::SIGUSR1]).unwrap();
    for _ in 0..3 {
        // SAFETY: raise(3): the handler has run when it returns.
        unsafe { libc::raise(libc::SIGUSR1) };
    }
    let tm = TaskManager::new();
    tm.add(Task::new(
        #[coroutine]
        static move |_| {
            let mut got = Vec::new();
            for _ in 0..3 {
                got.push(wait!(signals.wait().timeout(GUARD))?.to_string());
            }
            match wait!(signals.wait().timeout(0.1)) {
                Err(Error::Timeout) => got.push("timeout".into()),
                other => got.push(format!("{other:?}")),
            }
            say(got.join(" "));
            Ok(())
        },
    ));
    tm.run().unwrap();
    // SAFETY: SIG_IGN for SIGUSR2, then our handler, then back.
    unsafe { libc::signal(libc::SIGUSR2, libc::SIG_IGN) };
    let receiver = Signals::new(&[libc::SIGUSR2]).unwrap();
    let ours = disposition(libc::SIGUSR2) != libc::SIG_IGN;
    drop(receiver);
    say(format!(
        "SIGUSR2 ours while received: {ours}, SIG_IGN restored: {}",
        disposition(libc::SIGUSR2) == libc::SIG_IGN
    ));
    for bad in [libc::SIGKILL, libc::SIGSEGV, 0, 99] {
        say(Signals::new(&[bad]).unwrap_err());
    }
    say(format!(
        "default restored: {}",
        disposition(libc::SIGUSR1) == libc::SIG_DFL
    ));
    say("ready");
}

/// Child processes waited for through SIGCHLD (as where the kernel has no
/// pidfd): output line by line, exit status, a kill on timeout.
fn sigchld_scenario() {
    multitask::process::__force_sigchld(true);
    let tm = TaskManager::new();
    tm.add(Task::new(
        #[coroutine]
        static |_| {
            let p = Process::spawn(Command::new("sh").args(["-c", "echo one; echo two; exit 4"]))?;
            let stdout = p.stdout.as_ref().unwrap();
            let mut lines = Vec::new();
            loop {
                let line = wait!(readline(stdout).timeout(GUARD))?;
                if line.is_empty() {
                    break;
                }
                lines.push(String::from_utf8(line).unwrap().trim_end().to_string());
            }
            let status = wait!(p.wait())?;
            say(format!(
                "pidfd {} lines {lines:?} code {:?}",
                p.uses_pidfd(),
                status.code()
            ));
            let sleeper = Process::spawn(Command::new("sleep").arg("10"))?;
            let timed_out = wait!(sleeper.wait_timeout(0.1)).unwrap_err().is_timeout();
            use std::os::unix::process::ExitStatusExt;
            let signal = sleeper.try_wait()?.and_then(|s| s.signal());
            say(format!("timeout {timed_out}, killed by {signal:?}"));
            Ok(())
        },
    ));
    tm.run().unwrap();
    say("ready");
}

#[test]
fn sigint_reaches_every_waiting_task_and_the_default_comes_back() {
    let (mut child, mut lines) = child("sigint");
    assert_eq!(lines.next().unwrap(), "receiver of [2]");
    assert_eq!(lines.next().unwrap(), "ready");
    kill(&child, libc::SIGINT);
    let rest: Vec<String> = lines.collect();
    assert_eq!(
        rest,
        [
            // Each receiver gets the arrival, in the order they were made.
            "receiver got 2, 0 pending",
            "waiter 0 got 2",
            "waiter 1 got 2",
            "waiter 2 got 2",
            "default restored: true"
        ]
    );
    assert!(child.wait().unwrap().success());
}

#[test]
fn arrivals_between_waits_are_counted_and_dispositions_restored() {
    let (mut child, lines) = child("counted");
    let lines: Vec<String> = lines.collect();
    assert_eq!(
        lines,
        [
            "10 10 10 timeout",
            "SIGUSR2 ours while received: true, SIG_IGN restored: true",
            "signal 9 cannot be waited for",
            "signal 11 cannot be waited for",
            "0 is not a signal number",
            "99 is not a signal number",
            "default restored: true",
            "ready",
        ]
    );
    assert!(child.wait().unwrap().success());
}

/// A receiver made just after an arrival is not given it: the arrival is
/// the older receiver's alone (handed to it when the new one is made).
fn late_receiver_scenario() {
    let older = Signals::new(&[libc::SIGWINCH]).unwrap();
    let mut given = 0;
    for i in 1..=100 {
        // SAFETY: raise(3): the handler has run when it returns.
        unsafe { libc::raise(libc::SIGWINCH) };
        let newer = Signals::new(&[libc::SIGWINCH]).unwrap();
        // Until the older one has it (the dispatcher may hand it over later).
        let start = std::time::Instant::now();
        while older.pending() < i && start.elapsed() < Duration::from_secs_f64(GUARD) {
            std::thread::sleep(Duration::from_millis(1));
        }
        given += newer.pending();
    }
    say(format!(
        "older: {}, newer ones given an earlier arrival: {given}",
        older.pending()
    ));
}

#[test]
fn a_receiver_is_not_given_an_arrival_from_before_it_was_made() {
    let (mut child, lines) = child("late");
    let lines: Vec<String> = lines.collect();
    assert_eq!(lines, ["older: 100, newer ones given an earlier arrival: 0"]);
    assert!(child.wait().unwrap().success());
}

#[test]
fn child_processes_are_waited_for_through_sigchld_without_pidfds() {
    let (mut child, lines) = child("sigchld");
    let lines: Vec<String> = lines.collect();
    assert_eq!(
        lines,
        [
            "pidfd false lines [\"one\", \"two\"] code Some(4)",
            "timeout true, killed by Some(9)",
            "ready",
        ]
    );
    assert!(child.wait().unwrap().success());
}

/// The echo server, its address, and its stderr lines.
struct Server {
    child: Child,
    addr: String,
    stdout: BufReader<std::process::ChildStdout>,
    stderr: BufReader<ChildStderr>,
}

fn server(args: &[&str]) -> Server {
    let started = start_example("echo_server", &[&["0"], args].concat());
    Server {
        child: started.child,
        addr: started.addr,
        stdout: started.stdout,
        stderr: started.stderr,
    }
}

impl Server {
    fn connect(&self) -> TcpStream {
        let c = TcpStream::connect(&self.addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        c
    }

    fn stderr_line(&mut self) -> String {
        let mut line = String::new();
        self.stderr.read_line(&mut line).unwrap();
        line.trim_end().to_string()
    }

    /// Its last stdout line and its exit status, once it has exited.
    fn finish(mut self) -> (String, std::process::ExitStatus) {
        let mut rest = String::new();
        self.stdout.read_to_string(&mut rest).unwrap();
        (rest.trim_end().to_string(), self.child.wait().unwrap())
    }
}

fn echo(c: &mut TcpStream, message: &str) -> String {
    c.write_all(message.as_bytes()).unwrap();
    let mut reply = vec![0u8; message.len()];
    let mut got = 0;
    while got < reply.len() {
        let n = read_retrying(&mut *c, &mut reply[got..]).unwrap();
        assert!(n > 0, "the server closed the connection");
        got += n;
    }
    String::from_utf8(reply).unwrap()
}

#[test]
fn echo_server_stops_accepting_on_sigterm_lets_open_connections_finish_and_exits_0() {
    let mut server = server(&["--grace", "20"]);
    let mut a = server.connect();
    assert_eq!(echo(&mut a, "a1"), "a1");
    let mut b = server.connect();
    assert_eq!(echo(&mut b, "b1"), "b1");
    drop(b);
    // b's close reaches the server before the signal: one connection open then.
    let mut c = server.connect();
    assert_eq!(echo(&mut c, "c1"), "c1");
    drop(c);
    assert_eq!(echo(&mut a, "a2"), "a2");
    kill(&server.child, libc::SIGTERM);
    let line = server.stderr_line();
    assert!(line.starts_with("signal 15: stopping; "), "{line}");
    // No more accepts; the open connection is still served in the grace period.
    assert_eq!(
        TcpStream::connect(&server.addr).unwrap_err().kind(),
        std::io::ErrorKind::ConnectionRefused
    );
    assert_eq!(echo(&mut a, "a3"), "a3");
    drop(a);
    let (last, status) = server.finish();
    assert_eq!(last, "served 3 connections, 0 cut off after the grace period");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn echo_server_cuts_off_connections_left_after_the_grace_period() {
    let mut server = server(&["--grace", "0.2"]);
    let mut a = server.connect();
    assert_eq!(echo(&mut a, "idle"), "idle");
    kill(&server.child, libc::SIGINT);
    assert_eq!(server.stderr_line(), "signal 2: stopping; 1 connections open");
    let mut buf = [0u8; 8];
    assert_eq!(read_retrying(&mut a, &mut buf).unwrap(), 0, "closed by the server");
    let (last, status) = server.finish();
    assert_eq!(last, "served 1 connections, 1 cut off after the grace period");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn echo_server_with_two_threads_shuts_down_every_thread() {
    let server = server(&["--threads", "2", "--grace", "20"]);
    for i in 0..20 {
        let mut c = server.connect();
        assert_eq!(echo(&mut c, &format!("m{i}")), format!("m{i}"));
    }
    // The last close may still be on its way: the grace period covers it.
    kill(&server.child, libc::SIGTERM);
    let (last, status) = server.finish();
    let (total, rest) = last.split_once(" connections (").unwrap();
    assert_eq!(total, "served 20");
    let (per_thread, tail) = rest.split_once(" per thread), ").unwrap();
    let sum: usize = per_thread.split(" + ").map(|n| n.parse::<usize>().unwrap()).sum();
    assert_eq!((sum, per_thread.split(" + ").count()), (20, 2));
    assert_eq!(tail, "0 cut off after the grace period");
    assert_eq!(status.code(), Some(0));
}
