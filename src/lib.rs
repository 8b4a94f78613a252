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
//! use multitask::{wait, Task};
//!
//! fn printer(message: &'static str) -> Task {
//!     Task::new(#[coroutine] move |_| {
//!         for _ in 0..3 { // the original loops forever
//!             println!("{message}");
//!             wait!();
//!         }
//!         Ok(())
//!     })
//! }
//!
//! multitask::add(printer("hello"));
//! multitask::add(printer("goodbye"));
//! multitask::run().unwrap(); // hello goodbye hello goodbye hello goodbye
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
//! ```no_run
//! #![feature(coroutines)]
//! use multitask::net::{TcpListener, TcpStream};
//! use multitask::{accept, recv, send, wait, Task};
//!
//! fn listener(sock: TcpListener) -> Task {
//!     Task::new(#[coroutine] move |_| loop {
//!         let (conn, _address) = wait!(multitask::accept(&sock))?;
//!         multitask::add(client_handler(conn));
//!     })
//! }
//!
//! fn client_handler(sock: TcpStream) -> Task {
//!     Task::new(#[coroutine] move |_| loop {
//!         let request = wait!(recv(&sock, 1024))?;
//!         if request.is_empty() {
//!             return Ok(());
//!         }
//!         let response = request; // handle_request(request): an echo here
//!         wait!(send(&sock, response))?;
//!     })
//! }
//!
//! let sock = TcpListener::bind("127.0.0.1:0").unwrap();
//! multitask::add(listener(sock));
//! multitask::run().unwrap();
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

#![feature(coroutine_trait)]
#![warn(missing_docs)]

mod action;
mod error;
mod fd;
mod generator;
mod io;
mod manager;
pub mod net;
mod op;
mod park;
mod queue;
mod queue_state;
mod reactor;
mod sched;
mod task;
mod time;
mod value;

pub use action::{
    accept, connect, read, readline, recv, recvfrom, send, sendall, sendto, write, Datagram, Listener, ToAddr, MAX_LINE,
};
pub use error::{Error, Result};
pub use fd::FileNo;
pub use io::{fd_action, fd_ready, readable, writable};
pub use manager::TaskManager;
pub use op::{sleep, value, Child, FdWait, Input, IntoOp, Op, Operation, QueueWait};
pub use queue::Queue;
pub use task::Task;
pub use time::{Clock, IntoSeconds, Seconds};
pub use value::Value;

thread_local! {
    static DEFAULT: TaskManager = TaskManager::new();
}

/// The default manager of this thread (Python's module-level one; here one
/// per thread, since tasks are not `Send`).
pub fn get_default_task_manager() -> TaskManager {
    DEFAULT.with(|m| m.clone())
}

/// Adds a task to this thread's default manager.
pub fn add<T: 'static>(task: Task<T>) {
    get_default_task_manager().add(task)
}

/// Runs this thread's default manager; see [`TaskManager::run`].
pub fn run() -> Result<()> {
    get_default_task_manager().run()
}
