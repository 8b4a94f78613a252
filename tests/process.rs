//! Child processes on the pidfd path: output read line by line, input
//! written, stderr apart, exit statuses, a kill on timeout, several children
//! at once with other tasks running, and a command that does not exist.
//! (The SIGCHLD path is in tests/signals.rs, in a child process: it
//! installs a handler.)
#![feature(coroutines)]

use std::cell::RefCell;
use std::os::fd::AsRawFd;
use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::rc::Rc;

mod common;
use common::GUARD;

use multitask::process::Process;
use multitask::{read, readline, wait, write, Task, TaskManager};

fn run(task: Task) {
    let tm = TaskManager::new();
    tm.add(task);
    tm.run().unwrap();
}

/// Every line until EOF, without newlines.
fn lines_of(p: &Process) -> Task<Vec<String>> {
    // The fd number: an owned fd's, found in the thread's table (fast path).
    let stdout = p.stdout.as_ref().map(|s| s.as_raw_fd());
    Task::new(
        #[coroutine]
        move |_| {
            let fd = stdout.expect("piped stdout");
            let mut lines = Vec::new();
            loop {
                let line = wait!(readline(fd).timeout(GUARD))?;
                if line.is_empty() {
                    return Ok(lines);
                }
                lines.push(String::from_utf8(line).unwrap().trim_end_matches('\n').to_string());
            }
        },
    )
}

#[test]
fn output_line_by_line_and_the_exit_status() {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    run(Task::new(
        #[coroutine]
        move |_| {
            let p = Process::spawn(Command::new("sh").args(["-c", "echo one; echo two; printf three; exit 3"]))?;
            assert!(p.uses_pidfd(), "this kernel has pidfd_open");
            let lines = wait!(lines_of(&p))?;
            let status = wait!(p.wait())?;
            s.borrow_mut().push(format!("{lines:?} {:?}", status.code()));
            Ok(())
        },
    ));
    assert_eq!(*seen.borrow(), ["[\"one\", \"two\", \"three\"] Some(3)"]);
}

#[test]
fn input_written_output_and_stderr_read_apart() {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    run(Task::new(
        #[coroutine]
        static move |_| {
            let mut p = Process::spawn(Command::new("sh").args([
                "-c",
                "while read l; do echo \"out $l\"; echo \"err $l\" >&2; done; exit 0",
            ]))?;
            for word in ["a", "b"] {
                wait!(write(p.stdin.as_ref().unwrap(), format!("{word}\n")))?;
                let line = wait!(readline(p.stdout.as_ref().unwrap()).timeout(GUARD))?;
                s.borrow_mut().push(String::from_utf8(line).unwrap());
            }
            drop(p.stdin.take()); // EOF: the loop ends
            let mut err = Vec::new();
            loop {
                let data = wait!(read(p.stderr.as_ref().unwrap(), 100).timeout(GUARD))?;
                if data.is_empty() {
                    break;
                }
                err.extend(data);
            }
            s.borrow_mut().push(String::from_utf8(err).unwrap());
            let status = wait!(p.wait())?;
            s.borrow_mut().push(format!("{:?}", status.code()));
            Ok(())
        },
    ));
    assert_eq!(*seen.borrow(), ["out a\n", "out b\n", "err a\nerr b\n", "Some(0)"]);
}

#[test]
fn a_timeout_kills_and_reaps_the_process() {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    run(Task::new(
        #[coroutine]
        move |_| {
            let p = Process::spawn(Command::new("sleep").arg("30"))?;
            let pid = p.id();
            let result = wait!(p.wait_timeout(0.05));
            s.borrow_mut().push(format!("{}", result.unwrap_err().is_timeout()));
            let status = p.try_wait()?.expect("reaped");
            s.borrow_mut().push(format!("{:?}", status.signal()));
            // SAFETY: kill(pid, 0) only asks whether the pid exists.
            let gone = unsafe { libc::kill(pid as libc::pid_t, 0) } == -1;
            s.borrow_mut().push(format!("gone {gone}"));
            // A process that ends in time: its status, no kill.
            let quick = Process::spawn(&mut Command::new("true"))?;
            let status = wait!(quick.wait_timeout(GUARD))?;
            s.borrow_mut().push(format!("{:?}", status.code()));
            // Exited already: its status, even with a zero timeout.
            let again = wait!(quick.wait_timeout(0))?;
            s.borrow_mut().push(format!("{:?}", again.code()));
            Ok(())
        },
    ));
    assert_eq!(*seen.borrow(), ["true", "Some(9)", "gone true", "Some(0)", "Some(0)"]);
}

#[test]
fn several_children_at_once_beside_a_ticking_task() {
    let codes = Rc::new(RefCell::new(Vec::new()));
    let ticks = Rc::new(std::cell::Cell::new(0));
    let done = Rc::new(std::cell::Cell::new(false));
    let tm = TaskManager::new();
    for i in 0..8 {
        let codes = codes.clone();
        tm.add(Task::new(
            #[coroutine]
            move |_| {
                let p = Process::spawn(Command::new("sh").args(["-c", &format!("sleep 0.0{i}; exit {i}")]))?;
                let status = wait!(p.wait())?;
                codes.borrow_mut().push(status.code().unwrap());
                Ok(())
            },
        ));
    }
    let (t, d, c) = (ticks.clone(), done.clone(), codes.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            while c.borrow().len() < 8 {
                t.set(t.get() + 1);
                wait!(multitask::sleep(0.005))?;
            }
            d.set(true);
            Ok(())
        },
    ));
    tm.run().unwrap();
    let mut got = codes.borrow().clone();
    got.sort();
    assert_eq!(got, [0, 1, 2, 3, 4, 5, 6, 7]);
    assert!(
        done.get() && ticks.get() >= 2,
        "the ticker ran meanwhile: {} ticks",
        ticks.get()
    );
}

#[test]
fn a_command_that_does_not_exist_is_an_error_at_spawn() {
    let e = Process::spawn(&mut Command::new("/nonexistent/multitask-test")).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
}
