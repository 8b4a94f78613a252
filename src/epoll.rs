//! The three `epoll_ctl` calls the reactor makes on mio's epoll instance:
//! add, modify and delete an fd's registration.
//!
//! # Why not `mio::Registry::register`
//!
//! mio's `Registry` logs every registration through `log` (a `trace!`) when
//! mio's `log` feature is on. This crate depends on mio without that
//! feature, but Cargo unifies features: any crate of the program that
//! depends on mio with its default features turns it back on, and mio's
//! record would then reach the user's logger while the manager's state is
//! borrowed (a logger may call the manager: a panic). So the calls are made
//! here, as mio's epoll selector makes them (`sys/unix/selector/epoll.rs`:
//! the same flags, edge-triggered, the token in the event's data), and their
//! events come back through `mio::Poll::poll` as mio's own.

use std::io;
use std::os::fd::{AsRawFd, RawFd};

use mio::{Interest, Token};

/// Registers `fd` with the epoll instance `registry` for `interest`, its
/// events carrying `token` (`EPOLL_CTL_ADD`).
pub(crate) fn add(registry: &impl AsRawFd, fd: RawFd, token: Token, interest: Interest) -> io::Result<()> {
    ctl(registry, libc::EPOLL_CTL_ADD, fd, Some((token, interest)))
}

/// Changes `fd`'s registration (`EPOLL_CTL_MOD`): an edge-triggered fd that
/// is ready already queues an event again.
pub(crate) fn modify(registry: &impl AsRawFd, fd: RawFd, token: Token, interest: Interest) -> io::Result<()> {
    ctl(registry, libc::EPOLL_CTL_MOD, fd, Some((token, interest)))
}

/// Takes `fd` out of the epoll instance (`EPOLL_CTL_DEL`).
pub(crate) fn delete(registry: &impl AsRawFd, fd: RawFd) -> io::Result<()> {
    ctl(registry, libc::EPOLL_CTL_DEL, fd, None)
}

fn ctl(registry: &impl AsRawFd, op: libc::c_int, fd: RawFd, event: Option<(Token, Interest)>) -> io::Result<()> {
    let mut event = event.map(|(token, interest)| libc::epoll_event {
        events: flags(interest),
        u64: token.0 as u64,
    });
    let event = event
        .as_mut()
        .map_or(std::ptr::null_mut(), |e| e as *mut libc::epoll_event);
    // SAFETY: `event` is null (DEL) or points at an event that lives across the call.
    if unsafe { libc::epoll_ctl(registry.as_raw_fd(), op, fd, event) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// mio's flags for `interest` (its `interests_to_epoll`).
fn flags(interest: Interest) -> u32 {
    let mut flags = libc::EPOLLET;
    if interest.is_readable() {
        flags |= libc::EPOLLIN | libc::EPOLLRDHUP;
    }
    if interest.is_writable() {
        flags |= libc::EPOLLOUT;
    }
    if interest.is_priority() {
        flags |= libc::EPOLLPRI;
    }
    flags as u32
}
