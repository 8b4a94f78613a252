//! The one error type, `Error`.
//!
//! Python raises an exception at the `yield` whose operation failed; here the
//! value of that `yield` is an `Err(Error)`, so `?` carries it to the parent
//! task exactly as an uncaught exception would travel up the generator chain.
//! Each Python exception the original raises has its own variant, so a port can
//! `match` where the Python code had `except Timeout:`.

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
    /// An I/O operation failed, or the file descriptor was bad.
    Io(io::Error),
    /// The task panicked; the text is the panic message. The task is dropped.
    Panic(String),
    /// A task failed with a message of its own (Python's `raise RuntimeError('foo')`).
    Message(String),
    /// A task failed with an error of its own type.
    Other(Box<dyn std::error::Error + 'static>),
}

impl Error {
    /// An error carrying `text`, for a task's own failures: the port of
    /// `raise RuntimeError(text)`. It displays as `text` alone, as `str(e)` does.
    pub fn msg(text: impl Into<String>) -> Error {
        Error::Message(text.into())
    }

    /// Wraps any error type of the task's own.
    pub fn other(err: impl std::error::Error + 'static) -> Error {
        Error::Other(Box::new(err))
    }

    /// True for [`Error::Timeout`]: the port of `except Timeout:`.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout)
    }

    /// The I/O error inside, if this is [`Error::Io`].
    pub fn io_error(&self) -> Option<&io::Error> {
        match self {
            Error::Io(e) => Some(e),
            _ => None,
        }
    }

    pub(crate) fn invalid(text: impl Into<String>) -> Error {
        Error::InvalidArgument(text.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Timeout => Ok(()),
            Error::InvalidArgument(text) | Error::Message(text) => f.write_str(text),
            Error::Io(e) => fmt_io_error(e, f),
            Error::Panic(text) => write!(f, "task panicked: {text}"),
            Error::Other(e) => fmt::Display::fmt(e, f),
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
            Error::Other(e) => Some(e.as_ref()),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::Io(e)
    }
}
