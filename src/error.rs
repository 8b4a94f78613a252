//! The one error type, `Error`.
//!
//! Python raises an exception at the `yield` whose operation failed; here the
//! value of that `yield` is an `Err(Error)`, so `?` carries it to the parent
//! task exactly as an uncaught exception would travel up the generator chain.
//! Each Python exception the original raises has its own variant, so a port can
//! `match` where the Python code had `except Timeout:`; a program's own
//! exception classes become types declared with [`exception!`](crate::exception),
//! carried in [`Error::Other`] and told apart with [`Error::is`].
//!
//! `Error` is `Send + Sync + 'static`, as `std::io::Error` and `anyhow::Error`
//! are: it converts into either (`run().map_err(io::Error::other)`, `?` in a
//! function returning `anyhow::Result`).

use std::fmt;
use std::io;

/// The result type of every operation and of every task.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong in a task, or in the task manager on a task's behalf.
///
/// ```
/// use multitask::Error;
///
/// assert_eq!(Error::msg("oops!").to_string(), "oops!");
/// assert!(Error::Timeout.is_timeout());
/// assert_eq!(Error::Timeout.to_string(), ""); // as str(Timeout()) in Python
/// let bad_fd = Error::from(std::io::Error::from_raw_os_error(9));
/// assert_eq!(bad_fd.to_string(), "[Errno 9] Bad file descriptor");
/// assert_eq!(bad_fd.name(), "OSError"); // type(e).__name__
/// ```
///
/// # `?` on std calls
///
/// In a task's body, `?` converts a std error into an `Error` by [`From`]:
/// an `io::Error` becomes [`Error::Io`], and the errors of parsing text
/// (`"80".parse::<u16>()`, `str::from_utf8`, an address) become
/// [`Error::Other`]. Any other error type converts with
/// `.map_err(Error::other)?`.
///
/// Inside a `try` block (nightly `try_blocks`), `?` does not convert: the
/// errors in a `try` block must all be of the block's own type (current
/// nightlies made `try` blocks homogeneous), so a std call there converts by
/// hand, with `.map_err(Error::from)?` (or `Error::other` for a type with no
/// `From`):
///
/// ```
/// #![feature(coroutines, try_blocks)]
/// use multitask::{wait, Error, Task, TaskManager};
///
/// fn read_config(path: &'static str) -> Task<String> {
///     Task::new(#[coroutine] move |_| {
///         wait!();
///         let text = std::fs::read_to_string(path)?; // in the body: io::Error -> Error::Io
///         Ok(text)
///     })
/// }
///
/// let tm = TaskManager::new();
/// tm.add(Task::new(#[coroutine] |_| {
///     // try:
///     //     text = yield read_config('/nonexistent/multitask.conf')
///     //     port = int(open('/nonexistent/port').read())
///     // except Exception, e:
///     //     print '%s: %s' % (type(e).__name__, e)
///     let result: multitask::Result<u16> = try {
///         let _text = wait!(read_config("/nonexistent/multitask.conf"))?; // already an Error
///         let port = std::fs::read_to_string("/nonexistent/port").map_err(Error::from)?;
///         port.trim().parse::<u16>().map_err(Error::from)?
///     };
///     let e = result.unwrap_err();
///     assert_eq!(format!("{}: {e}", e.name()), "OSError: [Errno 2] No such file or directory");
///     assert_eq!(e.io_error().unwrap().kind(), std::io::ErrorKind::NotFound);
///
///     let port: multitask::Result<u16> = try { "80x".parse::<u16>().map_err(Error::from)? };
///     let e = port.unwrap_err();
///     assert!(e.is::<std::num::ParseIntError>());
///     assert_eq!(format!("{}: {e}", e.name()), "ParseIntError: invalid digit found in string");
///     Ok(())
/// }));
/// tm.run().unwrap();
/// ```
///
/// # Into other error types
///
/// `Error` is `Send + Sync + 'static`, so it converts into `io::Error`
/// (`multitask::run().map_err(std::io::Error::other)`), into
/// `Box<dyn std::error::Error + Send + Sync>` by `?`, and into `anyhow::Error`.
///
/// ```
/// fn serve() -> std::io::Result<()> {
///     multitask::run().map_err(std::io::Error::other)
/// }
///
/// fn report() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
///     multitask::run()?;
///     Ok(())
/// }
///
/// serve().unwrap();
/// report().unwrap();
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The operation did not complete before its timeout (Python's
    /// `multitask.Timeout`). Like `str(Timeout())`, it displays as an empty
    /// string, so that ported programs print the same lines; its `Debug` is
    /// `Timeout`.
    Timeout,
    /// An operation was built with an argument it cannot take (Python's
    /// `ValueError`/`TypeError`), such as `sleep(0)` or an fd wait with no
    /// readiness flag set. The text says which argument and why.
    InvalidArgument(String),
    /// An I/O operation failed, or the file descriptor was bad (Python's
    /// `OSError`, `socket.error`).
    Io(io::Error),
    /// The task panicked; the text is the panic message. The task is dropped.
    Panic(String),
    /// The task was cancelled ([`TaskHandle::cancel`](crate::TaskHandle::cancel),
    /// its group's failure or drop) before it finished: what its joiner gets.
    /// Python's `gen.close()` raises `GeneratorExit` in the task; here the
    /// task is simply dropped where it waits, its destructors run.
    Cancelled,
    /// A task failed with a message of its own (Python's `raise RuntimeError('foo')`).
    Message(String),
    /// A task failed with an error of its own type (Python's `raise
    /// ConnectionClosed()` with a class of the program's): one declared with
    /// [`exception!`](crate::exception), or any error wrapped with
    /// [`Error::other`]. Tell which with [`Error::is`] and [`Error::downcast_ref`].
    Other {
        /// The type's name without its path (`"ConnectionClosed"`), as
        /// Python's `type(e).__name__`; [`Error::name`] gives it.
        name: &'static str,
        /// The error itself.
        error: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

impl Error {
    /// An error carrying `text`, for a task's own failures: the port of
    /// `raise RuntimeError(text)`. It displays as `text` alone, as `str(e)` does.
    pub fn msg(text: impl Into<String>) -> Error {
        Error::Message(text.into())
    }

    /// Wraps any error type of the task's own, as [`Error::Other`] named
    /// after the type.
    ///
    /// ```
    /// use multitask::Error;
    ///
    /// let e = Error::other(std::fmt::Error);
    /// assert_eq!(e.name(), "Error"); // the type's name, without its path
    /// assert!(e.is::<std::fmt::Error>());
    /// ```
    pub fn other<E: std::error::Error + Send + Sync + 'static>(err: E) -> Error {
        Error::Other {
            name: short_type_name::<E>(),
            error: Box::new(err),
        }
    }

    /// True for [`Error::Timeout`]: the port of `except Timeout:`.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout)
    }

    /// True for [`Error::Cancelled`]: the joined task was cancelled.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, Error::Cancelled)
    }

    /// The I/O error inside, if this is [`Error::Io`].
    pub fn io_error(&self) -> Option<&io::Error> {
        match self {
            Error::Io(e) => Some(e),
            _ => None,
        }
    }

    /// True if the error is an `E`: the port of `except E:` (and of
    /// `except (A, B):` with `e.is::<A>() || e.is::<B>()`). See
    /// [`downcast_ref`](Error::downcast_ref) for where it looks.
    pub fn is<E: std::error::Error + 'static>(&self) -> bool {
        self.downcast_ref::<E>().is_some()
    }

    /// The error as an `E`, if it is one: the error inside [`Error::Other`];
    /// for [`Error::Io`], the `io::Error` itself (`E` = `io::Error`) or the
    /// error it wraps (`io::Error::other(e)`). `None` for the other variants,
    /// which have no error type inside (match them instead).
    ///
    /// ```
    /// use multitask::Error;
    /// use std::io;
    ///
    /// multitask::exception!(ConnectionClosed);
    ///
    /// let e = Error::from(ConnectionClosed);
    /// assert_eq!(e.downcast_ref::<ConnectionClosed>(), Some(&ConnectionClosed));
    /// assert!(!e.is::<io::Error>());
    ///
    /// let e = Error::from(io::Error::other(ConnectionClosed));
    /// assert!(e.is::<io::Error>() && e.is::<ConnectionClosed>());
    /// ```
    pub fn downcast_ref<E: std::error::Error + 'static>(&self) -> Option<&E> {
        match self {
            Error::Other { error, .. } => error.downcast_ref::<E>(),
            Error::Io(e) => {
                let any: &dyn std::any::Any = e;
                any.downcast_ref::<E>()
                    .or_else(|| e.get_ref().and_then(|inner| inner.downcast_ref::<E>()))
            }
            _ => None,
        }
    }

    /// The error as an owned `E`, or the `Error` back if it is not one (the
    /// same places as [`downcast_ref`](Error::downcast_ref)).
    ///
    /// ```
    /// use multitask::Error;
    ///
    /// multitask::exception!(ProtocolError(String));
    ///
    /// let e = Error::from(ProtocolError::new("bad header"));
    /// let e = e.downcast::<std::fmt::Error>().unwrap_err(); // not one: e comes back
    /// assert_eq!(e.downcast::<ProtocolError>().unwrap().0, "bad header");
    /// ```
    pub fn downcast<E: std::error::Error + 'static>(self) -> Result<E, Error> {
        match self {
            Error::Other { name, error } => match error.downcast::<E>() {
                Ok(e) => Ok(*e),
                Err(error) => Err(Error::Other { name, error }),
            },
            Error::Io(e) => {
                let boxed: Box<dyn std::any::Any> = Box::new(e);
                let e = match boxed.downcast::<E>() {
                    Ok(e) => return Ok(*e),
                    Err(boxed) => *boxed
                        .downcast::<io::Error>()
                        .expect("boxed from an io::Error just above"),
                };
                if !e.get_ref().is_some_and(|inner| inner.is::<E>()) {
                    return Err(Error::Io(e));
                }
                let inner = e.into_inner().expect("checked to wrap an error just above");
                Ok(*inner.downcast::<E>().expect("checked to be an E just above"))
            }
            other => Err(other),
        }
    }

    /// The Python class this error stands for, as `type(e).__name__` gives
    /// it: `Timeout`; `ValueError` for [`Error::InvalidArgument`]; `OSError`
    /// for [`Error::Io`]; `RuntimeError` for [`Error::msg`]; the type's own
    /// name for [`Error::Other`] (`ConnectionClosed`); `Panic` for a task
    /// that panicked (which Python has no name for).
    ///
    /// ```
    /// use multitask::Error;
    ///
    /// multitask::exception!(ConnectionClosed);
    ///
    /// assert_eq!(Error::Timeout.name(), "Timeout");
    /// assert_eq!(Error::msg("foo").name(), "RuntimeError");
    /// assert_eq!(Error::from(ConnectionClosed).name(), "ConnectionClosed");
    /// ```
    pub fn name(&self) -> &'static str {
        match self {
            Error::Timeout => "Timeout",
            Error::InvalidArgument(_) => "ValueError",
            Error::Io(_) => "OSError",
            Error::Panic(_) => "Panic",
            Error::Cancelled => "GeneratorExit",
            Error::Message(_) => "RuntimeError",
            Error::Other { name, .. } => name,
        }
    }

    pub(crate) fn invalid(text: impl Into<String>) -> Error {
        Error::InvalidArgument(text.into())
    }
}

/// `T`'s name without its module path or generic arguments
/// (`my_server::ConnectionClosed` gives `ConnectionClosed`).
fn short_type_name<T: ?Sized>() -> &'static str {
    let full = std::any::type_name::<T>();
    let path = full.split('<').next().unwrap_or(full);
    path.rsplit("::").next().unwrap_or(path)
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Timeout => Ok(()),
            Error::InvalidArgument(text) | Error::Message(text) => f.write_str(text),
            Error::Io(e) => fmt_io_error(e, f),
            Error::Panic(text) => write!(f, "task panicked: {text}"),
            Error::Cancelled => f.write_str("task cancelled"),
            Error::Other { error, .. } => fmt::Display::fmt(error, f),
        }
    }
}

/// Formats an OS error as Python does (`[Errno 9] Bad file descriptor`), so
/// that ported programs print the same lines; other I/O errors print as usual.
fn fmt_io_error(e: &io::Error, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match e.raw_os_error() {
        Some(code) => {
            let text = e.to_string();
            let suffix = format!(" (os error {code})");
            let text = text.strip_suffix(&suffix).unwrap_or(&text);
            write!(f, "[Errno {code}] {text}")
        }
        None => fmt::Display::fmt(e, f),
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            Error::Other { error, .. } => Some(error.as_ref()),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::Io(e)
    }
}

impl From<Box<dyn std::error::Error + Send + Sync + 'static>> for Error {
    /// A boxed error of any type: an `io::Error` or an `Error` is taken out of
    /// its box; anything else becomes [`Error::Other`] named `Exception`
    /// (the box hides the type's name).
    fn from(error: Box<dyn std::error::Error + Send + Sync + 'static>) -> Error {
        let error = match error.downcast::<Error>() {
            Ok(e) => return *e,
            Err(error) => error,
        };
        match error.downcast::<io::Error>() {
            Ok(e) => Error::Io(*e),
            Err(error) => Error::Other {
                name: "Exception",
                error,
            },
        }
    }
}

/// `From` for the errors of parsing text, so that `?` takes them as it takes
/// an `io::Error`: the port of `int(text)` raising `ValueError`.
macro_rules! from_std_errors {
    ($($std:ty),* $(,)?) => {$(
        impl From<$std> for Error {
            fn from(e: $std) -> Error {
                Error::other(e)
            }
        }
    )*};
}
from_std_errors!(
    std::num::ParseIntError,
    std::num::ParseFloatError,
    std::num::TryFromIntError,
    std::str::ParseBoolError,
    std::str::Utf8Error,
    std::string::FromUtf8Error,
    std::net::AddrParseError,
);

/// Declares an exception type of the program's own, the port of
/// `class ConnectionClosed(Exception): pass`.
///
/// Two forms:
///
/// - `exception!(ConnectionClosed);` declares a unit struct, raised with
///   `return Err(ConnectionClosed.into())` (or `Err(ConnectionClosed)?`). It
///   displays as nothing, as `str(ConnectionClosed())` is `''`.
/// - `exception!(ProtocolError(String));` declares a struct carrying a
///   message, raised with `return Err(ProtocolError::new("bad header").into())`;
///   it displays as its message, as `str(ProtocolError('bad header'))`.
///
/// Attributes (doc comments) and a visibility may come first:
///
/// ```
/// multitask::exception! {
///     /// The peer closed the connection.
///     pub ConnectionClosed
/// }
/// assert_eq!(ConnectionClosed.to_string(), "");
/// ```
///
/// Each type
/// implements `Debug`, `Clone`, `PartialEq`, `Eq`, `Hash`, `Default`,
/// `Display` and `std::error::Error`, converts into [`Error`] as
/// [`Error::Other`], and has its name as a constant, `ConnectionClosed::NAME`,
/// which [`Error::name`] also gives (`type(e).__name__`). Catch one with
/// [`Error::is`]:
///
/// ```
/// #![feature(coroutines)]
/// use multitask::{wait, Task, TaskManager};
///
/// multitask::exception!(ConnectionClosed);
/// multitask::exception!(pub ProtocolError(String));
///
/// fn handle(request: &'static str) -> Task<&'static str> {
///     Task::new(#[coroutine] move |_| {
///         wait!();
///         match request {
///             "" => Err(ConnectionClosed.into()),              // raise ConnectionClosed()
///             "PING" => Ok("PONG"),
///             _ => Err(ProtocolError::new("unknown request").into()), // raise ProtocolError('...')
///         }
///     })
/// }
///
/// let lines = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
/// let out = lines.clone();
/// let tm = TaskManager::new();
/// tm.add(Task::new(#[coroutine] move |_| {
///     for request in ["PING", "HELO", ""] {
///         match wait!(handle(request)) {
///             Ok(reply) => out.borrow_mut().push(reply.to_string()),
///             // except ConnectionClosed: ...
///             Err(e) if e.is::<ConnectionClosed>() => out.borrow_mut().push("closed".to_string()),
///             // except Exception, e: print '%s: %s' % (type(e).__name__, e)
///             Err(e) => out.borrow_mut().push(format!("{}: {e}", e.name())),
///         }
///     }
///     Ok(())
/// }));
/// tm.run().unwrap();
/// assert_eq!(*lines.borrow(), ["PONG", "ProtocolError: unknown request", "closed"]);
/// assert_eq!(ConnectionClosed::NAME, "ConnectionClosed");
/// ```
///
/// Python's exception classes can subclass one another (`except
/// ConnectionError:` catches its subclasses); these types cannot: list the
/// types to catch (`e.is::<A>() || e.is::<B>()`).
#[macro_export]
macro_rules! exception {
    ($(#[$attr:meta])* $vis:vis $name:ident $(;)?) => {
        $(#[$attr])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        $vis struct $name;

        #[allow(dead_code)]
        impl $name {
            /// The type's name, as Python's `type(e).__name__`.
            $vis const NAME: &'static str = ::core::stringify!($name);
        }

        impl ::core::fmt::Display for $name {
            /// Nothing, as `str(e)` of an exception raised with no argument.
            fn fmt(&self, _: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                ::core::result::Result::Ok(())
            }
        }

        $crate::__exception_impls!($name);
    };
    ($(#[$attr:meta])* $vis:vis $name:ident(String) $(;)?) => {
        $(#[$attr])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
        $vis struct $name(pub ::std::string::String);

        #[allow(dead_code)]
        impl $name {
            /// The type's name, as Python's `type(e).__name__`.
            $vis const NAME: &'static str = ::core::stringify!($name);

            /// The exception with its message, as `ProtocolError('text')`.
            $vis fn new(message: impl ::core::convert::Into<::std::string::String>) -> $name {
                $name(message.into())
            }
        }

        impl ::core::fmt::Display for $name {
            /// The message, as `str(e)`.
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(&self.0)
            }
        }

        $crate::__exception_impls!($name);
    };
}

/// Used by [`exception!`]: what both forms implement.
#[doc(hidden)]
#[macro_export]
macro_rules! __exception_impls {
    ($name:ident) => {
        impl ::std::error::Error for $name {}

        impl ::core::convert::From<$name> for $crate::Error {
            fn from(e: $name) -> $crate::Error {
                $crate::Error::Other {
                    name: $name::NAME,
                    error: ::std::boxed::Box::new(e),
                }
            }
        }
    };
}
