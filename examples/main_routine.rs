//! The original module's own test routine (what `python multitask.py` runs):
//! three managers, merged into the first, then run.
//!
//! ```text
//! cargo run --example main_routine
//! ```
#![feature(coroutines)]

use multitask::{readable, sleep, wait, Error, Queue, Task, TaskManager};

fn printer(name: &'static str) -> Task {
    Task::new(
        #[coroutine]
        move |_| {
            for i in 1..4 {
                println!("{name}:\t{i}");
                wait!();
            }
            Ok(())
        },
    )
}

fn receiver(queue: Queue<&'static str>) -> Task {
    Task::new(
        #[coroutine]
        move |_| {
            println!("receiver started");
            println!("receiver received: {}", wait!(queue.get())?);
            println!("receiver finished");
            Ok(())
        },
    )
}

fn sender(queue: Queue<&'static str>) -> Task {
    Task::new(
        #[coroutine]
        move |_| {
            println!("sender started");
            wait!(queue.put("from sender"))?;
            println!("sender finished");
            Ok(())
        },
    )
}

fn bad_descriptor() -> Task {
    Task::new(
        #[coroutine]
        |_| {
            println!("bad_descriptor running");
            if let Err(e) = wait!(readable(BAD_FD)) {
                println!("exception in bad_descriptor: {e}");
            }
            Ok(())
        },
    )
}

fn sleeper() -> Task {
    Task::new(
        #[coroutine]
        |_| {
            println!("sleeper started");
            wait!(sleep(1))?;
            println!("sleeper finished");
            Ok(())
        },
    )
}

fn timeout_immediately() -> Task {
    Task::new(
        #[coroutine]
        |_| {
            println!("timeout_immediately running");
            if let Err(Error::Timeout) = wait!(Queue::<()>::new().get().timeout(0)) {
                println!("timeout_immediately timed out");
            }
            Ok(())
        },
    )
}

fn parent() -> Task {
    Task::new(
        #[coroutine]
        |_| {
            println!("child returned: {:?}", wait!(child(false))?);
            if let Err(e) = wait!(child(true)) {
                println!("exception in child: {e}");
            }
            Ok(())
        },
    )
}

fn child(raise_exc: bool) -> Task<(i32, i32, i32)> {
    Task::new(
        #[coroutine]
        move |_| {
            wait!();
            if raise_exc {
                return Err(Error::msg("foo"));
            }
            Ok((1, 2, 3))
        },
    )
}

/// The fd the original waits on, which must not be open.
const BAD_FD: i32 = 12;

fn main() -> multitask::Result<()> {
    // A parent process (cargo's jobserver, a shell) may have left fd 12 open
    // in this process; close it so that the wait really meets a bad fd.
    // SAFETY: nothing in this program uses fd 12.
    unsafe { libc::close(BAD_FD) };

    let t = TaskManager::new();
    t.add(printer("first"));
    t.add(printer("second"));
    t.add(printer("third"));

    let queue = Queue::new();
    let t2 = TaskManager::new();
    t2.add(receiver(queue.clone()));
    t2.add(bad_descriptor());
    t2.add(sender(queue));
    t2.add(sleeper());
    t2.add(timeout_immediately());

    let t3 = TaskManager::new();
    t3.add(parent());

    t.merge(&t2);
    t.merge(&t3);
    t.run()?;

    assert!(!(t.has_runnable() || t.has_io_waits() || t.has_timeouts()));
    Ok(())
}
