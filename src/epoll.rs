//! The calls the reactor makes on mio's epoll instance: the three
//! `epoll_ctl`s (add, modify and delete an fd's registration) and the
//! `epoll_wait`.
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
//! the same flags, edge-triggered, the token in the event's data).
//!
//! # Why not `mio::Poll::poll`
//!
//! The wait is made here too, into a plain buffer of `epoll_event`s: mio's
//! `Events` and `Event` wrappers, moved in and out of the reactor, cost
//! about 40 instructions a poll (measured, lockstep echo), and step 1 polls
//! once a pass. The timeout is rounded up to a millisecond as mio rounds it.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

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

/// Waits up to `timeout` (`None`: for ever) for events on the epoll
/// instance `poll`, into `events` (as many as its capacity; it is cleared
/// first). A signal's interruption is the caller's to retry.
pub(crate) fn wait(
    poll: &impl AsRawFd,
    events: &mut Vec<libc::epoll_event>,
    timeout: Option<Duration>,
) -> io::Result<()> {
    // Rounded up, as mio does: a sub-millisecond wait must not become a
    // zero one (a busy loop), unless zero is what was asked.
    let timeout = timeout.map_or(-1, |to| {
        let ms = to.checked_add(Duration::from_nanos(999_999)).unwrap_or(to).as_millis();
        libc::c_int::try_from(ms).unwrap_or(libc::c_int::MAX)
    });
    events.clear();
    let capacity = libc::c_int::try_from(events.capacity()).unwrap_or(libc::c_int::MAX);
    // SAFETY: the buffer has room for `capacity` events, which the kernel
    // writes from its start; it returns how many it wrote.
    let n = unsafe { libc::epoll_wait(poll.as_raw_fd(), events.as_mut_ptr(), capacity, timeout) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `epoll_wait` initialized the first `n` events.
    unsafe { events.set_len(n as usize) };
    Ok(())
}
