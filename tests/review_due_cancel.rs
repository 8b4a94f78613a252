#![feature(coroutines)]
use std::io::Write;
use std::rc::Rc;
use std::time::Duration;

use multitask::net::UnixStream;
use multitask::{readable, recv, timeout_after, wait, Task, TaskManager};

/// A due recv with a timeout, cancelled in the pass that yielded it: not
/// performed, its timer gone, nothing left waiting.
#[test]
fn cancel_of_a_timed_due_recv() {
    let tm = TaskManager::new();
    let (a, mut peer) = std::os::unix::net::UnixStream::pair().unwrap();
    peer.write_all(b"data").unwrap();
    let a = Rc::new(UnixStream::from(a));
    let a1 = a.clone();
    let h = tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(readable(&*a1))?;
            let v = wait!(recv(&*a1, 100).timeout(30))?;
            Ok(v)
        },
    ));
    let h = Rc::new(std::cell::RefCell::new(Some(h)));
    let (a2, h2) = (a.clone(), h.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(readable(&*a2))?;
            h2.borrow_mut().take().unwrap().cancel();
            Ok(())
        },
    ));
    for _ in 0..10 {
        tm.run_next(Some(Duration::from_millis(100))).unwrap();
    }
    assert!(!tm.has_timeouts() && !tm.has_io_waits() && !tm.has_runnable(), "{tm:?}");
    let a1 = a.clone();
    let got = Rc::new(std::cell::RefCell::new(Vec::new()));
    let g = got.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let v = wait!(recv(&*a1, 100).timeout(2))?;
            g.borrow_mut().extend(v);
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(&*got.borrow(), b"data");
}

/// timeout_after around a child whose recv is due and then parks: the
/// deadline cuts it at its time (manual clock), no panic.
#[test]
fn timeout_after_a_due_recv_that_parks() {
    let clock = multitask::Clock::manual();
    let tm = TaskManager::with_clock(clock.clone());
    let (a, mut peer) = std::os::unix::net::UnixStream::pair().unwrap();
    peer.write_all(b"x").unwrap();
    let a = Rc::new(UnixStream::from(a));
    let a1 = a.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(readable(&*a1))?;
            wait!(recv(&*a1, 100))?; // takes x (due)
            Ok(())
        },
    ));
    let (a2, c2) = (a.clone(), clock.clone());
    let out = Rc::new(std::cell::RefCell::new(String::new()));
    let o = out.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(readable(&*a2))?;
            let t0 = c2.now();
            let a3 = a2.clone();
            let r = wait!(timeout_after(
                3,
                Task::new(
                    #[coroutine]
                    move |_| {
                        let v = wait!(recv(&*a3, 100))?; // due, then drained by the other: parks
                        Ok(v)
                    }
                )
            ));
            *o.borrow_mut() = format!("{:?} after {:?}", r.map_err(|e| e.is_timeout()), c2.now() - t0);
            Ok(())
        },
    ));
    for _ in 0..30 {
        if !out.borrow().is_empty() {
            break;
        }
        tm.run_next(Some(Duration::ZERO)).unwrap();
        clock.advance(Duration::from_secs(1));
    }
    assert_eq!(&*out.borrow(), "Err(true) after 3s");
}
