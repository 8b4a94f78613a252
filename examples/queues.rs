//! A producer/consumer pipeline: a fast producer, a bounded queue that makes it
//! wait for the slower workers, and a consumer that gives up when no result
//! has come for a while.
//!
//! ```text
//! cargo run --example queues
//! ```
//!
//! ```python
//! def producer(jobs):
//!     for n in range(1, 11):
//!         yield jobs.put(n)          # waits while the queue is full
//!     for _ in range(WORKERS):
//!         yield jobs.put(None)       # one "stop" per worker
//!
//! def worker(name, jobs, results):
//!     while True:
//!         n = (yield jobs.get())
//!         if n is None:
//!             break
//!         yield multitask.sleep(0.01 * n)   # the work
//!         yield results.put((name, n, n * n))
//!
//! def consumer(results):
//!     try:
//!         while True:
//!             print '%s: %d squared is %d' % (yield results.get(timeout=0.5))
//!     except multitask.Timeout:
//!         print 'no more results'
//! ```
#![feature(coroutines)]

use multitask::{sleep, wait, Error, Queue, Task};

const WORKERS: usize = 3;

fn producer(jobs: Queue<Option<u64>>) -> Task {
    Task::new(
        #[coroutine]
        move |_| {
            for n in 1..=10 {
                wait!(jobs.put(Some(n)))?; // waits while the queue is full
            }
            for _ in 0..WORKERS {
                wait!(jobs.put(None))?; // one "stop" per worker
            }
            Ok(())
        },
    )
}

fn worker(name: &'static str, jobs: Queue<Option<u64>>, results: Queue<(&'static str, u64, u64)>) -> Task {
    Task::new(
        #[coroutine]
        move |_| {
            while let Some(n) = wait!(jobs.get())? {
                wait!(sleep(0.01 * n as f64))?; // the work
                wait!(results.put((name, n, n * n)))?;
            }
            Ok(())
        },
    )
}

fn consumer(results: Queue<(&'static str, u64, u64)>) -> Task {
    Task::new(
        #[coroutine]
        move |_| {
            loop {
                match wait!(results.get().timeout(0.5)) {
                    Ok((name, n, square)) => println!("{name}: {n} squared is {square}"),
                    Err(Error::Timeout) => break,
                    Err(e) => return Err(e),
                }
            }
            println!("no more results");
            Ok(())
        },
    )
}

fn main() -> multitask::Result<()> {
    let jobs = Queue::with_maxsize(2);
    let results = Queue::new();
    multitask::add(producer(jobs.clone()));
    for name in ["ann", "bob", "cy"] {
        multitask::add(worker(name, jobs.clone(), results.clone()));
    }
    multitask::add(consumer(results));
    multitask::run()
}
