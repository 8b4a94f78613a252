//! Cooperative multitasking and asynchronous I/O with coroutines: a port of
//! Python's [multitask] 0.2.0 (Christopher Stawarz, 2007) to Rust.
//!
//! A task is a nightly `#[coroutine]` closure. Whenever it would block, it
//! yields an *operation* (recv, send, accept, a queue get or put, a sleep, a
//! child task, ...) to a task manager, which runs other tasks meanwhile and
//! resumes it when the operation is complete, with the result as the value of
//! the `yield`. Programs written with the Python module port nearly line for
//! line, and run in the same order.
//!
//! [multitask]: https://pypi.org/project/multitask/
//!
//! The package is `multitask-coro`, not on crates.io: depend on it by path
//! (`multitask = { package = "multitask-coro", path = "../multitask" }`) or
//! from git. It needs nightly Rust in the crate that uses it too: a
//! `rust-toolchain.toml` with `channel = "nightly"` next to that crate's
//! `Cargo.toml`, and `#![feature(coroutines)]` in its crate root.
//!
//! # Two tasks
//!
//! ```python
//! def printer(message):
//!     while True:
//!         print message
//!         yield
//!
//! multitask.add(printer('hello'))
//! multitask.add(printer('goodbye'))
//! multitask.run()
//! ```
//!
//! ```
//! #![feature(coroutines)]
//!
//! use multitask::{wait, Task};
//!
//! fn printer(message: &'static str, rounds: usize) -> Task {
//!     Task::new(
//!         #[coroutine]
//!         move |_| {
//!             for _ in 0..rounds {
//!                 println!("{message}");
//!                 wait!();
//!             }
//!             Ok(())
//!         },
//!     )
//! }
//!
//! fn main() -> multitask::Result<()> {
//!     // The original loops forever; three rounds here.
//!     multitask::add(printer("hello", 3));
//!     multitask::add(printer("goodbye", 3));
//!     multitask::run() // hello goodbye hello goodbye hello goodbye
//! }
//! ```
//!
//! The same with [`task!`], which writes the `Task::new` around the body:
//!
//! ```
//! #![feature(coroutines)]
//! use multitask::wait;
//!
//! multitask::task! {
//!     fn printer(message: &'static str, rounds: usize) {
//!         for _ in 0..rounds {
//!             println!("{message}");
//!             wait!();
//!         }
//!     }
//! }
//!
//! multitask::add(printer("hello", 3));
//! multitask::add(printer("goodbye", 3));
//! multitask::run().unwrap();
//! ```
//!
//! # A server
//!
//! ```python
//! def listener(sock):
//!     while True:
//!         conn, address = (yield multitask.accept(sock))
//!         multitask.add(client_handler(conn))
//!
//! def client_handler(sock):
//!     while True:
//!         request = (yield multitask.recv(sock, 1024))
//!         if not request:
//!             break
//!         response = handle_request(request)
//!         yield multitask.send(sock, response)
//!
//! multitask.add(listener(sock))
//! multitask.run()
//! ```
//!
//! `examples/echo_server.rs`, which also survives running out of file
//! descriptors and a client's reset:
//!
//! ```no_run
//! #![feature(coroutines)]
//!
//! use multitask::net::{TcpListener, TcpStream};
//!
//! use multitask::{accept, recv, sendall, sleep, wait, Error, Task};
//!
//! fn listener(sock: TcpListener) -> Task {
//!     Task::new(
//!         #[coroutine]
//!         move |_| loop {
//!             match wait!(accept(&sock)) {
//!                 Ok((conn, _address)) => {
//!                     conn.set_nodelay(true)?;
//!                     multitask::add(client_handler(conn));
//!                 }
//!                 // Out of file descriptors: the connection waits in the backlog.
//!                 // Back off briefly (never spin on the error), serve the clients we
//!                 // have, and accept again once some have left.
//!                 Err(e) if is_out_of_fds(&e) => {
//!                     eprintln!("accept: {e}; backing off");
//!                     wait!(sleep(0.1))?;
//!                 }
//!                 Err(e) => return Err(e),
//!             }
//!         },
//!     )
//! }
//!
//! fn client_handler(sock: TcpStream) -> Task {
//!     Task::new(
//!         #[coroutine]
//!         move |_| loop {
//!             let request = wait!(recv(&sock, 1024))?;
//!             if request.is_empty() {
//!                 return Ok(());
//!             }
//!             let response = handle_request(request);
//!             // Python's send may send less than asked, and the original ignores
//!             // it; a real server sends it all.
//!             wait!(sendall(&sock, response))?;
//!         },
//!     )
//! }
//!
//! fn handle_request(request: Vec<u8>) -> Vec<u8> {
//!     request
//! }
//!
//! fn is_out_of_fds(e: &Error) -> bool {
//!     matches!(
//!         e.io_error().and_then(|e| e.raw_os_error()),
//!         Some(libc::EMFILE | libc::ENFILE)
//!     )
//! }
//!
//! fn main() -> std::io::Result<()> {
//!     let port = 0; // examples/echo_server.rs: the first argument (0 picks a free port)
//!     let sock = TcpListener::bind(("127.0.0.1", port))?;
//!     println!("{}", sock.local_addr()?);
//!
//!     multitask::add(listener(sock));
//!     // A failing client (say, reset by its peer) leaves run() with its error;
//!     // every other task stays where it was, so log it and carry on.
//!     while let Err(e) = multitask::run() {
//!         eprintln!("client: {e}");
//!     }
//!     Ok(())
//! }
//! ```
//!
//! The sockets are the crate's own ([`net`]): registered once with epoll,
//! their readiness tracked, their close seen at once. std's sockets and raw
//! fd numbers work too, on a slower compatibility path ([`net`] says how).
//!
//! # Children
//!
//! A task can yield another task: the child runs until it returns or fails,
//! and its result (typed) or its error comes back to the parent.
//!
//! ```python
//! def parent():
//!     try:
//!         print 'good child says: %s' % (yield child())
//!         print 'bad child says: %s' % (yield child(bad=True))
//!     except Exception, e:
//!         print 'caught exception: %s' % e
//!
//! def child(bad=False):
//!     if bad:
//!         raise RuntimeError('oops!')
//!     raise StopIteration('Hi, Mom!')
//!     yield
//! ```
//!
//! Python's `try:` becomes a `try` block (nightly `try_blocks`): the first `?`
//! that fails leaves it, as the first exception leaves `try:`.
//!
//! ```
//! #![feature(coroutines, try_blocks)]
//! use multitask::{wait, Error, Task};
//!
//! fn parent() -> Task {
//!     Task::new(#[coroutine] |_| {
//!         let result: multitask::Result<()> = try {
//!             println!("good child says: {}", wait!(child(false))?); // Hi, Mom!
//!             println!("bad child says: {}", wait!(child(true))?); // not printed
//!         };
//!         if let Err(e) = result {
//!             println!("caught exception: {e}"); // caught exception: oops!
//!         }
//!         Ok(())
//!     })
//! }
//!
//! fn child(bad: bool) -> Task<&'static str> {
//!     Task::new(#[coroutine] move |_| {
//!         if bad {
//!             return Err(Error::msg("oops!"));
//!         }
//!         if false {
//!             wait!(); // never runs: it only makes this a coroutine, as in the original
//!         }
//!         Ok("Hi, Mom!")
//!     })
//! }
//!
//! multitask::add(parent());
//! multitask::run().unwrap();
//! ```
//!
//! The module docstring's example:
//!
//! ```python
//! def parent():
//!     print (yield return_none())
//!     print (yield return_one())
//!     print (yield return_many())
//!     try:
//!         yield raise_exception()
//!     except Exception, e:
//!         print 'caught exception: %s' % e
//!
//! def return_none():
//!     yield
//!
//! def return_one():
//!     yield
//!     raise StopIteration(1)
//!
//! def return_many():
//!     yield
//!     raise StopIteration(2, 3)
//!
//! def raise_exception():
//!     yield
//!     raise RuntimeError('foo')
//! ```
//!
//! ```
//! #![feature(coroutines)]
//! use multitask::{wait, Error, Task};
//!
//! fn parent() -> Task {
//!     Task::new(#[coroutine] |_| {
//!         println!("{:?}", wait!(return_none())?); // None
//!         println!("{:?}", wait!(return_one())?); // 1
//!         println!("{:?}", wait!(return_many())?); // (2, 3)
//!         match wait!(raise_exception()) {
//!             Err(e) => println!("caught exception: {e}"), // caught exception: foo
//!             Ok(()) => unreachable!(),
//!         }
//!         Ok(())
//!     })
//! }
//!
//! fn return_none() -> Task<Option<()>> {
//!     Task::new(#[coroutine] |_| {
//!         wait!();
//!         Ok(None)
//!     })
//! }
//!
//! fn return_one() -> Task<i32> {
//!     Task::new(#[coroutine] |_| {
//!         wait!();
//!         Ok(1)
//!     })
//! }
//!
//! fn return_many() -> Task<(i32, i32)> {
//!     Task::new(#[coroutine] |_| {
//!         wait!();
//!         Ok((2, 3))
//!     })
//! }
//!
//! fn raise_exception() -> Task {
//!     Task::new(#[coroutine] |_| {
//!         wait!();
//!         Err(Error::msg("foo"))
//!     })
//! }
//!
//! multitask::add(parent());
//! multitask::run().unwrap();
//! ```
//!
//! # The raw form
//!
//! [`wait!`] is shorthand. A task may `yield` an [`Operation`] itself and
//! receive the raw [`Input`], a `Result<Value>` ([`Value`] is a type-erased value):
//!
//! ```
//! #![feature(coroutines)]
//! use multitask::{sleep, Input, Op, Operation, Task};
//!
//! let task: Task = Task::new(#[coroutine] |_: Input| {
//!     let _: Input = yield Operation::Yield; // a bare `yield`
//!     let input: Input = yield sleep(0.001).into();
//!     Op::<()>::output(input)?; // what wait! does: Err passes up, Ok is downcast
//!     Ok(())
//! });
//! multitask::add(task);
//! multitask::run().unwrap();
//! ```
//!
//! # Stopping and waiting for tasks
//!
//! Python programs stop a task with the generator's `close()`, and wait for
//! one by looping `run_next()` until a global flag is set:
//!
//! ```python
//! completed = False
//! def worker():
//!     global completed
//!     yield multitask.sleep(0.01)
//!     completed = True
//! def forever():
//!     while True:
//!         yield multitask.sleep(3600)
//! g = forever()
//! multitask.add(worker()); multitask.add(g)
//! while not completed:
//!     multitask.get_default_task_manager().run_next()
//! g.close()
//! ```
//!
//! [`add`] gives back a [`TaskHandle`] (ignore it and nothing changes):
//! [`join`](TaskHandle::join) it, [`cancel`](TaskHandle::cancel) it. A
//! [`TaskGroup`] ends its tasks together, [`timeout_after`] gives a child a
//! deadline, [`TaskManager::tasks`] and [`TaskManager::dump`] show what each
//! task waits on; [`Event`], [`Semaphore`] and [`Queue::get_matching`] are
//! there too. The README's "Stopping, waiting for and watching tasks" has the
//! table of equivalents and the corner cases.
//!
//! ```
//! #![feature(coroutines)]
//! use multitask::{sleep, wait, Task};
//!
//! let worker = multitask::add(Task::new(#[coroutine] |_| {
//!     wait!(sleep(0.01))?;
//!     Ok("done")
//! }));
//! let forever = multitask::add(Task::<()>::new(#[coroutine] |_| loop {
//!     wait!(sleep(3600))?;
//! }));
//! multitask::add(Task::new(#[coroutine] move |_| {
//!     assert_eq!(wait!(worker.join())?, "done");
//!     forever.cancel(); // dropped where it sleeps
//!     Ok(())
//! }));
//! multitask::run().unwrap();
//! ```
//!
//! # Beyond one thread
//!
//! A blocking call runs on a worker with [`run_in_thread`] (curio's
//! `run_in_thread`); [`connect`] to a host name looks it up there. A
//! [`UniversalQueue`] passes items between managers and plain threads;
//! [`Signals`] and [`signal`] wait for SIGINT, SIGTERM, ...;
//! [`process::Process`] runs a child with piped stdio and waits for its
//! exit; [`cores`] runs one manager per thread (`SO_REUSEPORT` for
//! servers). Each is a *remote wait*: the task is parked, the manager runs
//! the others (or sleeps in epoll), and the thread that finishes the wait
//! wakes the manager through its `mio::Waker`.
//!
//! ```
//! #![feature(coroutines)]
//! use multitask::{run_in_thread, wait, TaskManager};
//!
//! multitask::task! {
//!     fn main_task() {
//!         let host = wait!(run_in_thread(|| std::env::var("HOSTNAME").unwrap_or_default()))?;
//!         println!("{host}");
//!     }
//! }
//! let tm = TaskManager::new();
//! tm.add(main_task());
//! tm.run().unwrap();
//! ```
//!
//! # Scheduling
//!
//! The order is the original's, exactly (see [`TaskManager::run_next`]): a
//! FIFO run queue; each pass runs the tasks that were runnable when it began;
//! an operation that completes at once still sends the task to the back of
//! the queue; a child's result reaches its parent one pass later; I/O
//! completions are enqueued before timeouts that expire in the same pass.
//!
//! # Errors
//!
//! The value of a `yield` is a `Result`: timeouts, bad arguments, I/O errors
//! and a child's error arrive as `Err` at that line, and `?` passes them to
//! the parent, as an uncaught exception would. A top-level task's error
//! leaves [`run`] as `Err`; the other tasks stay, and `run` again carries on.
//! A task that panics is dropped and the panic becomes its error.
//!
//! A program's own exception classes are types declared with [`exception!`];
//! `except ConnectionClosed:` is [`Error::is`], and `type(e).__name__` is
//! [`Error::name`]:
//!
//! ```
//! #![feature(coroutines)]
//! use multitask::{wait, TaskManager};
//!
//! multitask::exception!(ConnectionClosed);
//!
//! multitask::task! {
//!     fn reader(closed: bool) -> u32 {
//!         wait!();
//!         if closed {
//!             return Err(ConnectionClosed.into()); // raise ConnectionClosed()
//!         }
//!         42
//!     }
//!
//!     fn main_task() {
//!         assert_eq!(wait!(reader(false))?, 42);
//!         match wait!(reader(true)) {
//!             Err(e) if e.is::<ConnectionClosed>() => assert_eq!(e.name(), "ConnectionClosed"),
//!             other => panic!("{other:?}"),
//!         }
//!     }
//! }
//!
//! let tm = TaskManager::new();
//! tm.add(main_task());
//! tm.run().unwrap();
//! ```

#![feature(
    allocator_api,
    cfg_sanitize,
    coroutine_trait,
    coroutines,
    ptr_metadata,
    vec_push_within_capacity
)]
#![warn(missing_docs)]
#![doc(test(attr(deny(warnings))))]

mod action;
pub mod blocking;
mod cell;
mod control;
pub mod cores;
mod epoll;
mod error;
mod event;
mod fd;
mod generator;
mod group;
mod handle;
mod io;
mod manager;
mod monitor;
pub mod net;
mod op;
mod park;
mod pool;
pub mod process;
mod queue;
mod queue_state;
mod reactor;
mod remote;
mod resolve;
mod runq;
mod sched;
mod semaphore;
mod signal;
mod spare;
mod sync_state;
mod task;
mod time;
mod universal;
mod value;
mod wait;

pub use action::{
    accept, connect, read, readline, recv, recvfrom, send, sendall, sendto, write, Datagram, Listener, ToAddr, MAX_LINE,
};
pub use blocking::run_in_thread;
pub use error::{Error, Result};
pub use event::Event;
pub use fd::FileNo;
pub use group::{GroupSpawner, TaskGroup};
pub use handle::TaskHandle;
pub use io::{fd_action, fd_ready, readable, writable};
pub use manager::{add, get_default_task_manager, run, TaskManager};
pub use monitor::{TaskInfo, TaskState};
pub use op::{sleep, value, Child, FdWait, Input, IntoOp, Op, Operation, QueueWait, SyncWait};
pub use queue::Queue;
pub use resolve::{ConnectAddr, Resolved};
pub use semaphore::{Permit, Semaphore};
pub use signal::{signal, Signals};
pub use task::{timeout_after, Task};
pub use time::{Clock, IntoSeconds, Seconds};
pub use universal::UniversalQueue;
pub use value::Value;

/// The README's Rust blocks, compiled and run as doctests (`cargo test --doc`),
/// so that what it shows is what builds.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
