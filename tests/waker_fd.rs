//! A raw fd number that is now the manager's own waker (the eventfd that
//! results from other threads wake it through, made at the first
//! `run_in_thread`): a task waiting on it gets EBADF, and the waker keeps
//! working for every other task.
//!
//! A file of its own, so that it runs in a process of its own: it finds the
//! manager's eventfd as the one that appears in `/proc/self/fd` when the
//! waker is made, which another test's manager on another thread could
//! confuse.
#![feature(coroutines)]

mod common;

use std::cell::RefCell;
use std::rc::Rc;

use multitask::{readable, run_in_thread, wait, Task, TaskManager};

/// The eventfds this process has open.
fn eventfds() -> Vec<i32> {
    common::fds_linked_to("anon_inode:[eventfd]")
}

#[test]
fn a_wait_on_the_number_of_the_managers_waker_is_ebadf_and_the_waker_still_wakes() {
    let tm = TaskManager::new();
    let before = eventfds();
    tm.add(Task::new(
        #[coroutine]
        |_| {
            wait!(run_in_thread(|| ()))?;
            Ok(())
        },
    ));
    tm.run().unwrap();
    let made: Vec<i32> = eventfds().into_iter().filter(|fd| !before.contains(fd)).collect();
    assert_eq!(made.len(), 1, "the waker's eventfd: {made:?}");
    let waker = made[0];

    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    // A task holding a stale number (its own fd closed, the number reused).
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let got = wait!(readable(waker)).map_err(|e| e.to_string());
            l.borrow_mut().push(format!("readable: {got:?}"));
            Ok(())
        },
    ));
    tm.run().unwrap();
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            // Bounded, so that a lost wake-up fails the test instead of hanging it.
            let got = wait!(run_in_thread(|| 42).timeout(30)).map_err(|e| e.to_string());
            l.borrow_mut().push(format!("run_in_thread: {got:?}"));
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(
        *log.borrow(),
        [
            r#"readable: Err("[Errno 9] Bad file descriptor")"#,
            "run_in_thread: Ok(42)"
        ]
    );
}
