//! A raw fd number that is now the manager's own epoll instance (made at the
//! first fd wait, with a second number for its registry): a task waiting on
//! either gets EBADF, as for any fd that closed, not the kernel's EINVAL for
//! an epoll instance added to itself.
//!
//! A file of its own, so that it runs in a process of its own: it finds the
//! manager's epoll fds as those that appear in `/proc/self/fd` at its first
//! wait, which another test's manager could confuse.
#![feature(coroutines)]

mod common;

use std::cell::RefCell;
use std::os::fd::AsRawFd;
use std::rc::Rc;

use multitask::{readable, wait, Task, TaskManager};

/// The epoll instances this process has open.
fn epoll_fds() -> Vec<i32> {
    common::fds_linked_to("anon_inode:[eventpoll]")
}

#[test]
fn a_wait_on_the_number_of_the_managers_epoll_fd_is_ebadf() {
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    let a_fd = a.as_raw_fd();
    let tm = TaskManager::new();
    let before = epoll_fds();
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            // The first fd wait makes the epoll instance.
            let got = wait!(readable(a_fd).timeout(0.01)).map_err(|e| format!("{e:?}"));
            l.borrow_mut().push(format!("first: {got:?}"));
            Ok(())
        },
    ));
    tm.run().unwrap();
    let made: Vec<i32> = epoll_fds().into_iter().filter(|fd| !before.contains(fd)).collect();
    assert_eq!(made.len(), 2, "the poll's and its registry's numbers: {made:?}");
    for fd in made {
        let l = log.clone();
        // A task holding a stale number (its own fd closed, the number reused).
        tm.add(Task::new(
            #[coroutine]
            move |_| {
                let got = wait!(readable(fd)).map_err(|e| e.to_string());
                l.borrow_mut().push(format!("readable: {got:?}"));
                Ok(())
            },
        ));
        tm.run().unwrap();
    }
    assert_eq!(
        *log.borrow(),
        [
            r#"first: Err("Timeout")"#,
            r#"readable: Err("[Errno 9] Bad file descriptor")"#,
            r#"readable: Err("[Errno 9] Bad file descriptor")"#,
        ]
    );
    drop(a);
}
