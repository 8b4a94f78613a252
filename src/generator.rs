//! `task!`: a generator function in one line, as Python's `def f(..):`.
//!
//! # Why a macro, and why `static`
//!
//! A task function in the long form is five lines of ceremony around its body:
//! the signature returning `Task<T>`, `Task::new(`, `#[coroutine] move |_| {`,
//! the closing `Ok(())` and the closing brackets. Python needs one, `def f(..):`.
//! [`task!`](crate::task!) writes the rest from a plain function: it keeps the
//! signature, wraps the return type in [`Task`](crate::Task), moves the
//! arguments into the coroutine, and makes the body's value the task's result.
//!
//! The coroutine is `static` (it is pinned once it starts, and `Task::new`
//! boxes and pins it anyway), so a borrow may live across a `yield` as a
//! borrow in a Python generator may: `data.extend(wait!(recv(..))?)` borrows
//! `data` before it yields, `for s in &servers { wait!(..)?; }` holds the
//! iterator across each yield. Neither compiles in a plain coroutine. What a
//! `static` coroutine no longer stops is a `RefCell` borrow held across a
//! yield: that is a run-time error in whichever task borrows next (see the
//! macro's docs).
//!
//! A `macro_rules!` macro cannot rebind `self` inside the body (only a
//! method's own parameter can be named `self`), so a method's receiver is the
//! owned `self: Rc<Self>` the task keeps, not `&Rc<Self>`: the caller clones
//! (`wait!(self.clone().read(n))`).

/// Declares generator functions: the port of Python's `def f(..):` whose body
/// yields.
///
/// `task! { fn f(args) -> T { body } }` declares `fn f(args) -> Task<T>`, a
/// function returning a task made of `body` (a `static move` coroutine that
/// owns the arguments). Without `-> T`, the task is a `Task` (of `()`).
///
/// The body is written as a [`try` block](https://github.com/rust-lang/rust/issues/31436)
/// is: its value (of type `T`) is the task's result, `?` passes an error to the
/// parent as an uncaught exception would, and `return Ok(v)` / `return Err(e)`
/// end the task early (Python 2's `raise StopIteration(v)`, Python 3's
/// `return v`). `break` out of a `while True:` loop ends a task of `()`.
///
/// ```
/// #![feature(coroutines)]
/// use multitask::{wait, Error};
///
/// multitask::task! {
///     // def printer(message):
///     //     while True:
///     //         print message
///     //         yield
///     fn printer(message: &'static str, rounds: usize) {
///         for _ in 0..rounds { // the original loops forever
///             println!("{message}");
///             wait!();
///         }
///     }
///
///     // def child(bad=False):
///     //     if bad:
///     //         raise RuntimeError('oops!')
///     //     yield
///     //     raise StopIteration('Hi, Mom!')
///     fn child(bad: bool) -> &'static str {
///         if bad {
///             return Err(Error::msg("oops!"));
///         }
///         wait!();
///         "Hi, Mom!"
///     }
///
///     fn parent() {
///         println!("good child says: {}", wait!(child(false))?);
///         let e = wait!(child(true)).unwrap_err();
///         println!("caught exception: {e}");
///     }
/// }
///
/// multitask::add(printer("hello", 3));
/// multitask::add(printer("goodbye", 3));
/// multitask::add(parent());
/// multitask::run().unwrap();
/// ```
///
/// Several functions may be declared in one `task!`, with attributes, doc
/// comments and a visibility (`pub fn`). Arguments may be `impl Trait`; a
/// task function cannot have generic parameters or lifetimes (a task owns
/// everything it uses): write the long form, `Task::new(#[coroutine] ..)`, for
/// those.
///
/// # Methods
///
/// In an `impl` block, a method whose task uses `self` takes `self: Rc<Self>`:
/// the task keeps that `Rc` (Python's bound method keeps `self`) and the caller
/// passes a clone (`yield self.read(n)` becomes `wait!(self.clone().read(n))`).
/// A `&self` or `&Rc<Self>` receiver does not compile: the task outlives the
/// call, and a macro cannot make `self` in the body mean a clone. The object's
/// state that the methods change sits in `Cell`s and `RefCell`s, as in any `Rc`.
///
/// ```
/// #![feature(coroutines)]
/// use multitask::net::UnixStream;
/// use multitask::{recv, sendall, wait};
/// use std::cell::RefCell;
/// use std::rc::Rc;
///
/// // class LineReader(object):
/// //     def __init__(self, sock):
/// //         self.sock, self.buffer = sock, ''
/// //     def readline(self):
/// //         while '\n' not in self.buffer:
/// //             self.buffer += (yield multitask.recv(self.sock, 1024))
/// //         line, self.buffer = self.buffer.split('\n', 1)
/// //         raise StopIteration(line)
/// struct LineReader {
///     sock: UnixStream,
///     buffer: RefCell<Vec<u8>>,
/// }
///
/// impl LineReader {
///     multitask::task! {
///         fn readline(self: Rc<Self>) -> Vec<u8> {
///             while !self.buffer.borrow().contains(&b'\n') {
///                 let data = wait!(recv(&self.sock, 1024))?;
///                 self.buffer.borrow_mut().extend(data);
///             }
///             let mut buffer = self.buffer.borrow_mut();
///             let at = buffer.iter().position(|&b| b == b'\n').unwrap();
///             let line = buffer.drain(..=at).collect::<Vec<u8>>();
///             line[..at].to_vec()
///         }
///     }
/// }
///
/// let (a, b) = UnixStream::pair().unwrap();
/// let reader = Rc::new(LineReader { sock: b, buffer: RefCell::new(Vec::new()) });
/// multitask::task! {
///     fn client(a: UnixStream) {
///         wait!(sendall(&a, "GET /\nHost: x\n"))?;
///     }
///
///     fn server(reader: Rc<LineReader>) {
///         let mut lines = Vec::new();
///         for _ in 0..2 {
///             lines.push(wait!(reader.clone().readline())?); // borrows `lines` across a yield
///         }
///         assert_eq!(lines, [b"GET /".to_vec(), b"Host: x".to_vec()]);
///     }
/// }
/// multitask::add(client(a));
/// multitask::add(server(reader));
/// multitask::run().unwrap();
/// ```
///
/// # The one danger of `static`: a `RefCell` borrow across a yield
///
/// A `static` coroutine may hold any borrow across a `yield`, and the compiler
/// no longer objects to one that matters: a `RefCell` borrow (a `Ref` or
/// `RefMut`) alive while the task waits. Another task that borrows the same
/// cell meanwhile panics (`RefCell already mutably borrowed`, say), and that
/// task fails with [`Error::Panic`](crate::Error::Panic). The usual way in is
/// a method call whose argument yields: the receiver is borrowed first, so
///
/// ```text
/// self.buffer.borrow_mut().extend(wait!(recv(&self.sock, 1024))?); // RefMut held across the wait
/// ```
///
/// keeps `buffer` borrowed while it waits. Take the value first, then borrow
/// (`let data = wait!(..)?; self.buffer.borrow_mut().extend(data);`), as above.
/// A plain coroutine (`Task::new(#[coroutine] move |_| ..)`) rejects such a
/// borrow of its own captures at compile time:
///
/// ```compile_fail,E0626
/// #![feature(coroutines)]
/// use multitask::{value, wait, Task};
/// use std::cell::RefCell;
/// use std::rc::Rc;
///
/// let state = Rc::new(RefCell::new(Vec::new()));
/// let _task: Task = Task::new(#[coroutine] move |_| {
///     state.borrow_mut().push(wait!(value(1))?); // error[E0626]: borrow may still be in use when coroutine yields
///     Ok(())
/// });
/// ```
///
/// and so would `task!`, given a method with a borrowed receiver:
///
/// ```compile_fail,E0521
/// #![feature(coroutines)]
/// use multitask::wait;
/// use std::rc::Rc;
///
/// struct Counter(u32);
///
/// impl Counter {
///     multitask::task! {
///         fn get(self: &Rc<Self>) -> u32 { // error[E0521]: borrowed data escapes outside of method
///             wait!();
///             self.0
///         }
///     }
/// }
/// ```
#[macro_export]
macro_rules! task {
    () => {};
    (
        $(#[$attr:meta])*
        $vis:vis fn $name:ident ( $($params:tt)* ) -> $ret:ty $body:block
        $($rest:tt)*
    ) => {
        $(#[$attr])*
        $vis fn $name($($params)*) -> $crate::Task<$ret> {
            $crate::Task::new(
                #[coroutine]
                static move |_: $crate::Input| -> $crate::Result<$ret> {
                    let _value: $ret = $body;
                    #[allow(unreachable_code)] // a body that never ends (`loop`)
                    return ::core::result::Result::Ok(_value);
                },
            )
        }
        $crate::task! { $($rest)* }
    };
    (
        $(#[$attr:meta])*
        $vis:vis fn $name:ident ( $($params:tt)* ) $body:block
        $($rest:tt)*
    ) => {
        $crate::task! {
            $(#[$attr])*
            $vis fn $name($($params)*) -> () $body
            $($rest)*
        }
    };
}
