//! `run_in_thread`: a blocking call run on a worker thread while the
//! manager runs the other tasks (curio's `run_in_thread`, trio's
//! `to_thread.run_sync`, tokio's `spawn_blocking`).
//!
//! # Why it is built this way
//!
//! A blocking call (a DNS lookup, a file read, a library with no
//! non-blocking API) made in a task stops every task of its manager. So the
//! call goes to a worker thread of a small pool, and the task waits for its
//! result as a remote wait (`remote.rs`): parked under a ticket, woken
//! through its manager's `mio::Waker` when the worker hands the result over.
//! Meanwhile the manager runs the other tasks, or sleeps in epoll.
//!
//! The pool belongs to the manager's thread (a thread-local, as the default
//! manager is): every manager of a thread shares it, managers on other
//! threads have their own, and none of them pays anything until its first
//! call. It is bounded ([`MAX_THREADS`] workers; more calls wait in its FIFO
//! for a free worker), starts workers on demand (only when no idle one can
//! take the call) and lets a worker end after [`IDLE`] with nothing to do.
//! The workers and their queue are plain std (a `Mutex` and a `Condvar`):
//! the manager only ever locks the queue to push one job.
//!
//! A panic in the closure is caught on the worker, which lives on, and
//! becomes the task's `Error::Panic`. A timeout (`run_in_thread(f).timeout(5)`)
//! gives up waiting: the task gets `Timeout` at once; the call cannot be
//! interrupted (no thread can be, safely), so it finishes on its own and its
//! result is dropped on the worker.

use std::any::Any;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::error::Error;
use crate::op::{Op, Operation};
use crate::remote::{convert, lock, Completer, Convert, Payload, RemoteWait};
use crate::task::panic_message;

/// The most worker threads a thread's pool runs at once; more calls wait
/// in the pool's FIFO for a free worker.
///
/// ```
/// assert_eq!(multitask::blocking::MAX_THREADS, 16);
/// ```
pub const MAX_THREADS: usize = 16;

/// How long a worker with nothing to do waits for a call before it ends.
///
/// ```
/// assert_eq!(multitask::blocking::IDLE.as_secs(), 10);
/// ```
pub const IDLE: Duration = Duration::from_secs(10);

/// A call waiting for a worker: the closure and who gets its result.
struct Job {
    call: Box<dyn FnOnce() -> Payload + Send>,
    completer: Completer,
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    /// Workers alive.
    threads: usize,
    /// Workers waiting for a job.
    idle: usize,
    /// The owning thread has exited: idle workers end.
    closing: bool,
}

#[derive(Default)]
struct Shared {
    queue: Mutex<Queue>,
    ready: Condvar,
}

/// A thread's pool; its drop (at thread exit) lets the workers go.
struct Pool(Arc<Shared>);

impl Drop for Pool {
    fn drop(&mut self) {
        lock(&self.0.queue).closing = true;
        self.0.ready.notify_all();
    }
}

thread_local! {
    static POOL: RefCell<Option<Pool>> = const { RefCell::new(None) };
}

/// This thread's pool, made at the first call.
fn pool() -> Arc<Shared> {
    POOL.with(|p| p.borrow_mut().get_or_insert_with(|| Pool(Arc::default())).0.clone())
}

/// Hands `job` to a worker, starting one if none is idle and the pool is
/// not full. Gives the job back if no worker could be started and none is
/// alive to take it later.
fn submit(shared: &Arc<Shared>, job: Job) -> Result<(), (Job, std::io::Error)> {
    let mut queue = lock(&shared.queue);
    queue.jobs.push_back(job);
    if queue.idle >= queue.jobs.len() {
        drop(queue);
        shared.ready.notify_one();
        return Ok(());
    }
    if queue.threads >= MAX_THREADS {
        return Ok(()); // a busy worker takes it when done
    }
    queue.threads += 1;
    drop(queue);
    let worker = shared.clone();
    let spawned = std::thread::Builder::new()
        .name("multitask-worker".into())
        .spawn(move || work(&worker));
    match spawned {
        Ok(_) => Ok(()),
        Err(e) => {
            let mut queue = lock(&shared.queue);
            queue.threads -= 1;
            if queue.threads > 0 {
                return Ok(());
            }
            let job = queue.jobs.pop_back().expect("pushed above, and no worker to take it");
            Err((job, e))
        }
    }
}

/// A worker: takes jobs until none comes for [`IDLE`] or the pool closes.
fn work(shared: &Shared) {
    let mut queue = lock(&shared.queue);
    loop {
        if let Some(job) = queue.jobs.pop_front() {
            drop(queue);
            run(job);
            queue = lock(&shared.queue);
            continue;
        }
        if queue.closing {
            break;
        }
        queue.idle += 1;
        let (q, waited) = shared
            .ready
            .wait_timeout(queue, IDLE)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        queue = q;
        queue.idle -= 1;
        if waited.timed_out() && queue.jobs.is_empty() {
            break;
        }
    }
    queue.threads -= 1;
}

/// Runs one call and hands its result over; a result no one waits for any
/// more (a timeout) is dropped here, its `Drop` caught.
fn run(job: Job) {
    let Job { call, completer } = job;
    let payload = catch_unwind(AssertUnwindSafe(call)).unwrap_or_else(|p| Err(Error::Panic(panic_message(p))));
    if let Err(unwanted) = completer.complete(payload) {
        let _ = catch_unwind(AssertUnwindSafe(move || drop(unwanted)));
    }
}

/// Runs `f` on a worker thread and resumes the task with its result
/// (curio's `await run_in_thread(f)`, trio's `await to_thread.run_sync(f)`).
///
/// The other tasks run meanwhile; with nothing else to do the manager sleeps
/// in epoll until the result comes. A panic in `f` is the task's
/// [`Error::Panic`]. With [`.timeout(t)`](Op::timeout) the task stops
/// waiting after `t` with [`Error::Timeout`]; `f` cannot be interrupted, so
/// it finishes on its own and its result is dropped. The workers are a pool
/// of at most [`MAX_THREADS`] per manager thread, started on demand and ended
/// after [`IDLE`] without work.
///
/// ```python
/// # curio
/// data = await run_in_thread(blocking_read, path)
/// ```
///
/// ```
/// #![feature(coroutines)]
/// use multitask::{run_in_thread, wait, Error, TaskManager};
///
/// multitask::task! {
///     fn main_task() {
///         let sum = wait!(run_in_thread(|| (1..=10u64).sum::<u64>()))?;
///         assert_eq!(sum, 55);
///         match wait!(run_in_thread(|| -> u64 { panic!("boom") })) {
///             Err(Error::Panic(message)) => assert_eq!(message, "boom"),
///             other => panic!("{other:?}"),
///         }
///         let slow = run_in_thread(|| std::thread::sleep(std::time::Duration::from_millis(200)));
///         assert!(wait!(slow.timeout(0.01)).unwrap_err().is_timeout());
///     }
/// }
///
/// let tm = TaskManager::new();
/// tm.add(main_task());
/// tm.run().unwrap();
/// ```
pub fn run_in_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Op<T> {
    remote_call::<T>(move || Ok(Box::new(f()) as Box<dyn Any + Send>), convert::<T>)
}

/// A call on a worker whose payload `convert` turns into the task's `T`
/// on the manager's thread.
pub(crate) fn remote_call<T: 'static>(call: impl FnOnce() -> Payload + Send + 'static, convert: Convert) -> Op<T> {
    let call: Box<dyn FnOnce() -> Payload + Send> = Box::new(call);
    Op::new(Operation::Remote(RemoteWait::with_convert(
        convert,
        move |completer, _| {
            match submit(&pool(), Job { call, completer }) {
                Ok(()) => None,
                Err((job, e)) => {
                    let Job { call, completer } = job;
                    let _ = completer.complete(Err(e.into()));
                    Some(Box::new(call)) // the caller's closure: dropped outside the manager's borrow
                }
            }
        },
    )))
}

/// How many workers this thread's pool runs now (for tests).
#[doc(hidden)]
pub fn __workers() -> usize {
    POOL.with(|p| p.borrow().as_ref().map_or(0, |p| lock(&p.0.queue).threads))
}
