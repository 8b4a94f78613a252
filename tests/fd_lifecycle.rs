//! An fd's waiters through the changes of its life that are not a close:
//! managers merged while tasks wait on it, a raw-waited socket wrapped in the
//! crate's type or unwrapped from it, an `fd_action` that would block, a
//! closure that runs a nested pass, a manager cleared with such a closure
//! pending; and an `accept` on a raw number that is not a TCP listener.
//! Every waiter keeps waiting on its own file and is woken when it is ready.
#![feature(coroutines)]

use std::cell::{Cell, RefCell};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::Duration;

use multitask::net::UnixStream;
use multitask::{accept, fd_action, readable, send, wait, writable, Task, TaskManager};

type Log = Rc<RefCell<Vec<String>>>;

fn log() -> Log {
    Rc::default()
}

fn lines(log: &Log) -> Vec<String> {
    log.borrow().clone()
}

/// Logs `what` when dropped.
struct Noisy(&'static str, Log);

impl Drop for Noisy {
    fn drop(&mut self) {
        self.1.borrow_mut().push(format!("drop {}", self.0));
    }
}

/// The manager merged into registered the owned fd earlier and has no
/// waiter on it now; the other waits on it through the compatibility path.
/// After the merge the waiter waits on, and is woken by the data.
#[test]
fn a_merge_keeps_a_waiter_on_an_owned_fd_the_manager_merged_into_registered() {
    let (a, mut peer) = std::os::unix::net::UnixStream::pair().unwrap();
    let a = Rc::new(UnixStream::from(a));
    let (tm1, tm2) = (TaskManager::new(), TaskManager::new());
    let a1 = a.clone();
    tm1.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(writable(&*a1).timeout(5))?;
            Ok(())
        },
    ));
    tm1.run().unwrap(); // registered with tm1, no waiter left
    let log = log();
    let (a2, l) = (a.clone(), log.clone());
    tm2.add(Task::new(
        #[coroutine]
        move |_| {
            let got = wait!(readable(&*a2).timeout(5));
            l.borrow_mut().push(format!("{:?}", got.map_err(|e| e.to_string())));
            Ok(())
        },
    ));
    tm2.run_next(Some(Duration::ZERO)).unwrap();
    tm1.merge(&tm2);
    peer.write_all(b"x").unwrap();
    tm1.run().unwrap();
    assert_eq!(lines(&log), ["Ok(())"]);
}

/// The manager merged into knows the owned fd readable already (its event
/// came): the waiter that the merge brings is served at the next pass,
/// without an edge.
#[test]
fn a_merged_waiter_on_an_owned_fd_known_ready_is_served_at_the_next_pass() {
    let (x, mut peer) = std::os::unix::net::UnixStream::pair().unwrap();
    let x = Rc::new(UnixStream::from(x));
    let (tm1, tm2) = (TaskManager::new(), TaskManager::new());
    let x1 = x.clone();
    tm1.add(Task::new(
        #[coroutine]
        move |_| {
            let _ = wait!(multitask::fd_ready(&*x1, false, false, true).timeout(3));
            Ok(())
        },
    ));
    tm1.run_next(Some(Duration::ZERO)).unwrap(); // registers X with tm1
    peer.write_all(b"x").unwrap();
    tm1.run_next(Some(Duration::ZERO)).unwrap(); // the event: tm1 knows X readable
    let log = log();
    let (x2, l) = (x.clone(), log.clone());
    tm2.add(Task::new(
        #[coroutine]
        move |_| {
            let got = wait!(readable(&*x2).timeout(2));
            l.borrow_mut().push(format!("{:?}", got.map_err(|e| e.name())));
            Ok(())
        },
    ));
    tm2.run_next(Some(Duration::ZERO)).unwrap(); // the compatibility path in tm2
    tm1.merge(&tm2);
    tm1.run_next(Some(Duration::ZERO)).unwrap(); // served
    tm1.run_next(Some(Duration::ZERO)).unwrap(); // resumed
    assert_eq!(lines(&log), ["Ok(())"]);
}

/// A task whose `fd_action` on a regular file (always ready, not in epoll)
/// waits to be called when its manager is merged into another carries on
/// there; the task's values are dropped outside the borrow.
#[test]
fn a_merge_keeps_a_pending_fd_action_on_a_regular_file() {
    let file = std::fs::File::open("Cargo.toml").unwrap();
    let log = log();
    let (tm1, tm2) = (TaskManager::new(), TaskManager::new());
    let (l, manager) = (log.clone(), tm1.clone());
    tm2.add(Task::new(
        #[coroutine]
        move |_| {
            let _n = Noisy("the task's value", l.clone());
            let _m = manager; // its drop may use the manager
            let n = wait!(fd_action(&file, true, false, false, || Ok(7)))?;
            l.borrow_mut().push(format!("got {n}"));
            Ok(())
        },
    ));
    tm2.run_next(Some(Duration::ZERO)).unwrap(); // the closure waits to be called
    tm1.merge(&tm2);
    tm1.run().unwrap();
    assert_eq!(lines(&log), ["got 7", "drop the task's value"]);
}

/// Panics when dropped.
struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("drop panics");
    }
}

/// A `clear` drops a task whose `fd_action` waits to be called one at a
/// time, as every other task: a panic in its drop is caught and reported,
/// not let out of `clear`.
#[test]
fn a_clear_catches_a_panic_in_the_drop_of_a_task_whose_fd_action_waits_to_be_called() {
    let file = std::fs::File::open("Cargo.toml").unwrap();
    let tm = TaskManager::new();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let _g = PanicsOnDrop;
            wait!(fd_action(&file, true, false, false, || Ok(7)))?;
            Ok(())
        },
    ));
    tm.run_next(Some(Duration::ZERO)).unwrap();
    let cleared = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| tm.clear()));
    assert!(cleared.is_ok(), "a panic came out of clear()");
    assert_eq!(tm.__counts(), (0, 0, 0));
}

/// An `fd_action` waiting for read or write whose closure would block (it
/// reads, and nothing came) while the socket is writable gets the closure's
/// `EAGAIN`, in that pass, as the original raised it; and the reactor does
/// not forget that the socket is writable: another task's `send` goes
/// through at once.
#[test]
fn an_fd_action_that_would_block_leaves_what_the_fd_is_ready_for_known() {
    let (a, _peer) = UnixStream::pair().unwrap();
    let a = Rc::new(a);
    let tm = TaskManager::new();
    let log = log();
    let (a1, l) = (a.clone(), log.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let fd = a1.clone();
            let got = wait!(fd_action(&*a1, true, true, false, move || {
                let mut buf = [0u8; 16];
                fd.get_ref().read(&mut buf) // nothing to read: WouldBlock
            })
            .timeout(1.0));
            l.borrow_mut().push(format!("A: {:?}", got.map_err(|e| e.name())));
            Ok(())
        },
    ));
    let (a2, l) = (a.clone(), log.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(); // A's closure is called and parks again meanwhile
            wait!();
            wait!();
            let got = wait!(send(&*a2, "hello").timeout(0.5));
            l.borrow_mut().push(format!("B: {:?}", got.map_err(|e| e.name())));
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(lines(&log), [r#"A: Err("OSError")"#, "B: Ok(5)"]);
}

/// A task's `fd_action` closure that runs a nested pass of its manager, in
/// which the task's own timeout passes, and then would block: the task gets
/// `Timeout`, instead of waiting on with no timeout at all.
#[test]
fn a_timeout_that_passes_while_the_fd_action_closure_runs_a_nested_pass_is_kept() {
    let (a, _peer) = UnixStream::pair().unwrap();
    let tm = TaskManager::new();
    let log = log();
    let (manager, l, first) = (tm.clone(), log.clone(), Rc::new(Cell::new(true)));
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let got = wait!(fd_action(&a, false, true, false, move || {
                if first.replace(false) {
                    manager.run_next(Some(Duration::from_millis(500))).unwrap();
                }
                Err::<(), _>(std::io::ErrorKind::WouldBlock.into())
            })
            .timeout(0.2));
            l.borrow_mut().push(format!("{:?}", got.map_err(|e| e.name())));
            Ok(())
        },
    ));
    // Bounded, so that a lost timeout fails the test instead of hanging it.
    for _ in 0..30 {
        if !log.borrow().is_empty() {
            break;
        }
        tm.run_next(Some(Duration::from_millis(100))).unwrap();
    }
    assert_eq!(lines(&log), [r#"Err("Timeout")"#]);
    assert_eq!(tm.__counts(), (0, 0, 0));
}

/// A socket that a task waits on by its number (the compatibility path) and
/// that is then wrapped in the crate's type, still the same file: the raw
/// waiter waits on, with the owned one, and both are woken by the data.
#[test]
fn wrapping_a_socket_waited_on_by_its_number_keeps_those_waiters() {
    let (a, mut peer) = std::os::unix::net::UnixStream::pair().unwrap();
    let fd = a.as_raw_fd();
    let tm = TaskManager::new();
    let log = log();
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let got = wait!(readable(fd).timeout(5));
            l.borrow_mut()
                .push(format!("raw waiter: {:?}", got.map_err(|e| e.to_string())));
            Ok(())
        },
    ));
    tm.run_next(Some(Duration::ZERO)).unwrap(); // parks on the compatibility path
    let owned = UnixStream::from(a);
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let got = wait!(readable(&owned).timeout(5));
            l.borrow_mut()
                .push(format!("owned waiter: {:?}", got.map_err(|e| e.to_string())));
            Ok(())
        },
    ));
    tm.run_next(Some(Duration::ZERO)).unwrap();
    peer.write_all(b"x").unwrap();
    tm.run().unwrap();
    assert_eq!(lines(&log), ["raw waiter: Ok(())", "owned waiter: Ok(())"]);
}

/// An owned fd registered with one manager (waited on by its number there,
/// which is the owned fd's wait), waited on by its number in a
/// second, then unwrapped (`into_inner`: still open): the second's waiter
/// gets EBADF (its owned fd is gone), and later raw waits there on the open
/// std socket work.
#[test]
fn after_into_inner_the_open_socket_can_be_waited_on_by_its_number_again() {
    let (x, mut peer) = std::os::unix::net::UnixStream::pair().unwrap();
    let x = Rc::new(RefCell::new(Some(UnixStream::from(x))));
    let fd = x.borrow().as_ref().unwrap().as_raw_fd();
    let (tm1, tm2) = (TaskManager::new(), TaskManager::new());
    let x1 = x.clone();
    tm1.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(writable(fd).timeout(1))?;
            drop(x1);
            Ok(())
        },
    ));
    tm1.run().unwrap(); // X registered with tm1
    let log = log();
    let l = log.clone();
    tm2.add(Task::new(
        #[coroutine]
        move |_| {
            let got = wait!(readable(fd).timeout(1));
            l.borrow_mut()
                .push(format!("compat waiter: {:?}", got.map_err(|e| e.to_string())));
            Ok(())
        },
    ));
    tm2.run_next(Some(Duration::ZERO)).unwrap();
    let std_sock = x.borrow_mut().take().unwrap().into_inner();
    tm2.run_next(Some(Duration::ZERO)).unwrap();
    peer.write_all(b"x").unwrap();
    let l = log.clone();
    tm2.add(Task::new(
        #[coroutine]
        move |_| {
            for _ in 0..2 {
                let got = wait!(readable(&std_sock).timeout(1));
                l.borrow_mut()
                    .push(format!("a later wait: {:?}", got.map_err(|e| e.to_string())));
            }
            Ok(())
        },
    ));
    tm2.run().unwrap();
    assert_eq!(
        lines(&log),
        [
            r#"compat waiter: Err("[Errno 9] Bad file descriptor")"#,
            "a later wait: Ok(())",
            "a later wait: Ok(())"
        ]
    );
}

/// `accept` on the number of a Unix listener refuses it (the raw form takes
/// TCP listeners) before it takes a connection: the connection stays in the
/// backlog for an accept that can take it.
#[test]
fn accept_on_the_number_of_a_unix_listener_refuses_it_and_leaves_the_connection() {
    let path = std::env::temp_dir().join(format!("multitask-accept-unix-{}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let client = std::os::unix::net::UnixStream::connect(&path).unwrap();
    let fd = listener.as_raw_fd();
    let tm = TaskManager::new();
    let log = log();
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let got = wait!(accept(fd));
            l.borrow_mut()
                .push(format!("{:?}", got.map(|_| ()).map_err(|e| e.to_string())));
            Ok(())
        },
    ));
    tm.run().unwrap();
    listener.set_nonblocking(true).unwrap();
    let again = listener.accept();
    let _ = std::fs::remove_file(&path);
    assert_eq!(
        lines(&log),
        [r#"Err("accept on a raw fd takes TCP listeners only; pass a Unix listener as itself")"#]
    );
    assert!(again.is_ok(), "the connection was taken: {again:?}");
    drop(client);
}
