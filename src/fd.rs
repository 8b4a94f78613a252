//! File descriptors as the library sees them: owned by the library, or raw.
//!
//! # Why a table of owned fds
//!
//! An fd is a number, and numbers are reused: the moment one file closes, the
//! next `socket()` or `accept()` may get its number. A reactor that only knows
//! numbers cannot tell the old file from the new one, so it must re-check an fd
//! on every wait (the compatibility path, `reactor.rs`). The library's own fd
//! types (`net.rs`) avoid that: each records itself here, under its number and
//! a fresh *id*, when it is made, and removes itself when it is dropped. So at
//! every wait the reactor asks this table whether the number is an owned fd,
//! and which one, whatever form the caller gave it in (the crate's socket, a
//! borrowed std object, a raw number: Python's "an int or an object with
//! `fileno()`" all lead here); and a close reaches, at once, the reactor that
//! registered the fd, through its [`Closed`] list.
//!
//! The table is per thread (tasks and their fds never leave their thread),
//! indexed by fd number (small integers): a lookup is an index.
//!
//! # Invariants
//!
//! - An entry exists exactly while its owner is open; its id is never reused
//!   on the thread (a 32-bit counter: four billion fds before it comes round).
//! - An owner registered with a reactor has that reactor's [`Closed`] list in
//!   its entry; the reactor keeps the fd in epoll until the owner is released,
//!   and the release deregisters it and tells the reactor, which fails the fd's
//!   waiters with `EBADF` at its next step 1.
//! - Nothing here runs user code, so the table's `RefCell` is only ever
//!   borrowed for the length of one of these functions.

use std::cell::{Cell, RefCell};
use std::os::fd::{AsRawFd, RawFd};
use std::rc::{Rc, Weak};

/// Anything with a file descriptor, as the original accepts "an integer or an
/// object with a `fileno()` method": a plain [`RawFd`], or a reference to a
/// socket, pipe or file (`&sock`). The operation keeps only the number: an fd
/// of the crate's own types ([`net`](crate::net)) is then found by its number
/// in the thread's table of owned fds and takes the fast path, anything else
/// the compatibility path (see the [`net`](crate::net) docs).
pub trait FileNo {
    /// The file descriptor.
    fn fileno(&self) -> RawFd;
}

impl FileNo for RawFd {
    fn fileno(&self) -> RawFd {
        *self
    }
}

impl<T: AsRawFd + ?Sized> FileNo for &T {
    fn fileno(&self) -> RawFd {
        self.as_raw_fd()
    }
}

/// Readiness flags of a wait, as in `select`'s three sets.
pub(crate) type Flags = u8;
pub(crate) const READ: Flags = 1;
pub(crate) const WRITE: Flags = 2;
pub(crate) const EXC: Flags = 4;

/// The part of a reactor an owned fd reaches when it is released: the epoll
/// instance to leave, and the list where the reactor finds which of its fds
/// closed (as `(fd, id)`).
pub(crate) struct Closed {
    pub(crate) registry: mio::Registry,
    pub(crate) list: RefCell<Vec<(RawFd, u32)>>,
}

/// One owned fd.
struct Owned {
    id: u32,
    /// The reactor that registered it, if one has.
    registered: Option<Weak<Closed>>,
    /// Other reactors of the thread whose tasks wait on it through the
    /// compatibility path (it is registered with another): told of its
    /// release too, so that their waiters fail at their next pass rather
    /// than read the file that gets its number next.
    watchers: Vec<Weak<Closed>>,
    /// The part of a line `readline` has read and not returned yet.
    partial_line: Vec<u8>,
    /// The error a read after the partial line met (see
    /// `action::after_partial_line`): the stream's next event, after the
    /// line. A socket reports its error once, so it must not be lost.
    kept_error: Option<std::io::Error>,
}

impl Owned {
    /// True if the fd keeps something for its next read.
    fn keeps(&self) -> bool {
        !self.partial_line.is_empty() || self.kept_error.is_some()
    }
}

thread_local! {
    static TABLE: RefCell<Vec<Option<Owned>>> = const { RefCell::new(Vec::new()) };
    static NEXT_ID: Cell<u32> = const { Cell::new(1) };
    /// How many owned fds keep a partial line or an error after it: while
    /// none does (the usual case), a `recv` or `read` asks one load, not the table.
    static PARTIAL_LINES: Cell<usize> = const { Cell::new(0) };
}

/// True if any owned fd of the thread keeps a partial line (or an error after one).
#[inline(always)]
pub(crate) fn any_partial_line() -> bool {
    PARTIAL_LINES.with(|n| n.get() > 0)
}

/// Counts an fd that starts (`true`) or stops keeping something.
fn count_partial_line(kept: bool) {
    PARTIAL_LINES.with(|n| n.set(if kept { n.get() + 1 } else { n.get().saturating_sub(1) }));
}

/// Changes owned `fd`'s kept state with `f`, keeping the count; `None` if
/// `fd` is not owned.
fn change_kept<R>(fd: RawFd, f: impl FnOnce(&mut Owned) -> R) -> Option<R> {
    TABLE.with(|t| match t.borrow_mut().get_mut(fd as usize) {
        Some(Some(o)) => {
            let before = o.keeps();
            let result = f(o);
            if o.keeps() != before {
                count_partial_line(!before);
            }
            Some(result)
        }
        _ => None,
    })
}

/// Records `fd` as owned by the library; gives its id.
pub(crate) fn adopt(fd: RawFd) -> u32 {
    let id = NEXT_ID.with(|n| {
        let id = n.get();
        n.set(id.wrapping_add(1).max(1));
        id
    });
    TABLE.with(|t| {
        let mut t = t.borrow_mut();
        let i = fd as usize;
        if t.len() <= i {
            t.resize_with(i + 1, || None);
        }
        t[i] = Some(Owned {
            id,
            registered: None,
            watchers: Vec::new(),
            partial_line: Vec::new(),
            kept_error: None,
        });
    });
    id
}

/// Forgets the owned fd `(fd, id)`, which is about to close or change
/// hands: it leaves its reactor's epoll, and the reactor learns that it is gone.
pub(crate) fn release(fd: RawFd, id: u32) {
    // Taken out first, dropped after the borrow (a Weak and a Vec: no user
    // code). At thread exit the table may be gone already: nothing to tell.
    let owned = TABLE
        .try_with(|t| {
            let mut t = t.borrow_mut();
            match t.get_mut(fd as usize) {
                Some(slot) if slot.as_ref().is_some_and(|o| o.id == id) => slot.take(),
                _ => None,
            }
        })
        .ok()
        .flatten();
    let Some(owned) = owned else { return };
    if owned.keeps() {
        count_partial_line(false);
    }
    if let Some(closed) = owned.registered.and_then(|w| w.upgrade()) {
        let _ = crate::epoll::delete(&closed.registry, fd);
        closed.list.borrow_mut().push((fd, id));
    }
    for closed in owned.watchers.iter().filter_map(Weak::upgrade) {
        closed.list.borrow_mut().push((fd, id));
    }
}

/// Notes that the reactor of `closed` waits on owned `(fd, id)` through the
/// compatibility path ([`Owner::Elsewhere`]), to be told of its release.
pub(crate) fn watch(fd: RawFd, id: u32, closed: &Rc<Closed>) {
    TABLE.with(|t| {
        if let Some(Some(o)) = t.borrow_mut().get_mut(fd as usize) {
            let known = o.watchers.iter().any(|w| std::ptr::eq(w.as_ptr(), Rc::as_ptr(closed)));
            if o.id == id && !known {
                o.watchers.retain(|w| w.strong_count() > 0);
                o.watchers.push(Rc::downgrade(closed));
            }
        }
    });
}

/// What the table says of `fd` for the reactor owning `closed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Owner {
    /// Not an owned fd: the compatibility path.
    Raw,
    /// Owned (id), and registered with this reactor.
    Here(u32),
    /// Owned (id), registered with no reactor yet.
    Unregistered(u32),
    /// Owned (id), but registered with another reactor: the compatibility
    /// path here.
    Elsewhere(u32),
}

impl Owner {
    /// The owned fd a wait on the compatibility path is for: its id if it
    /// is registered elsewhere, 0 for a raw fd.
    pub(crate) fn elsewhere(self) -> u32 {
        match self {
            Owner::Elsewhere(id) => id,
            _ => 0,
        }
    }
}

/// Who owns `fd`, as seen from the reactor whose list is `closed`.
pub(crate) fn owner(fd: RawFd, closed: &Rc<Closed>) -> Owner {
    TABLE.with(|t| match t.borrow().get(fd as usize) {
        Some(Some(o)) => match &o.registered {
            // Registered with a reactor since dropped (or merged away).
            Some(w) if w.strong_count() == 0 => Owner::Unregistered(o.id),
            None => Owner::Unregistered(o.id),
            Some(w) if std::ptr::eq(w.as_ptr(), Rc::as_ptr(closed)) => Owner::Here(o.id),
            Some(_) => Owner::Elsewhere(o.id),
        },
        _ => Owner::Raw,
    })
}

/// Notes that the owned fd `(fd, id)` is now registered with the reactor of `closed`.
pub(crate) fn set_registered(fd: RawFd, id: u32, closed: &Rc<Closed>) {
    TABLE.with(|t| {
        if let Some(Some(o)) = t.borrow_mut().get_mut(fd as usize) {
            if o.id == id {
                o.registered = Some(Rc::downgrade(closed));
            }
        }
    });
}

/// The id of the owned fd numbered `fd`, 0 if the number is not owned.
pub(crate) fn id(fd: RawFd) -> u32 {
    TABLE.with(|t| match t.borrow().get(fd as usize) {
        Some(Some(o)) => o.id,
        _ => 0,
    })
}

/// True if `fd` is owned by the library (and so non-blocking).
pub(crate) fn is_owned(fd: RawFd) -> bool {
    TABLE.with(|t| matches!(t.borrow().get(fd as usize), Some(Some(_))))
}

/// Takes the partial line kept for owned `fd` (empty if none, or not owned).
pub(crate) fn take_partial_line(fd: RawFd) -> Vec<u8> {
    if !any_partial_line() {
        return Vec::new();
    }
    change_kept(fd, |o| std::mem::take(&mut o.partial_line)).unwrap_or_default()
}

/// True if owned `fd` keeps something for its next read: a partial line,
/// or the error a read after one met.
pub(crate) fn keeps_for_next_read(fd: RawFd) -> bool {
    any_partial_line() && TABLE.with(|t| matches!(t.borrow().get(fd as usize), Some(Some(o)) if o.keeps()))
}

/// Keeps `error` as owned `fd`'s next read's (it came after the partial
/// line that read gave); dropped if `fd` is not owned.
pub(crate) fn keep_error(fd: RawFd, error: std::io::Error) {
    change_kept(fd, |o| o.kept_error = Some(error));
}

/// Takes the error owned `fd` keeps for its next read, if any.
pub(crate) fn take_kept_error(fd: RawFd) -> Option<std::io::Error> {
    if !any_partial_line() {
        return None;
    }
    change_kept(fd, |o| o.kept_error.take()).flatten()
}

/// Keeps `line` as owned `fd`'s partial line, for its next `readline`.
/// Gives it back if `fd` is not owned (the caller keeps it then).
pub(crate) fn keep_partial_line(fd: RawFd, line: Vec<u8>) -> Option<Vec<u8>> {
    let mut line = Some(line);
    // (What it held, if anything, was taken before it was read on.)
    change_kept(fd, |o| o.partial_line = line.take().unwrap_or_default());
    line
}

/// True if `fd` is a listening socket.
pub(crate) fn is_listening(fd: RawFd) -> bool {
    let mut on: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: SO_ACCEPTCONN writes one c_int into `on`.
    let ret = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ACCEPTCONN,
            (&mut on as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    ret == 0 && on != 0
}

/// True if `fd` is a stream socket.
pub(crate) fn is_stream(fd: RawFd) -> bool {
    let mut kind: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: SO_TYPE writes one c_int into `kind`.
    let ret = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_TYPE,
            (&mut kind as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    ret == 0 && kind == libc::SOCK_STREAM
}
