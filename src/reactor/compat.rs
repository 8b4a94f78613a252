//! The compatibility path: raw fd numbers and borrowed std objects, which the
//! library does not own and cannot follow (Python's "an int or an object with
//! `fileno()`").
//!
//! Such an fd is re-armed on every wait (`EPOLL_CTL_MOD`: the kernel checks
//! readiness at that moment and queues an event if the fd is ready already),
//! and the library's own actions are tried first. Its close shows up when it
//! is next re-armed (the kernel answers `ENOENT`: its waiters get `EBADF`), or
//! in a *sweep* that re-arms every waited raw fd at most once per
//! [`SWEEP_AFTER`] while tasks run; only running tasks close fds, so once a
//! sweep has found nothing and no task has run since, an idle server sleeps in
//! the poll for good. Each registration's token carries a generation, so
//! events of a stale registration (a closed fd kept open by a duplicate) are
//! ignored; a number closed and reused between two waits is taken for the new
//! file.

use std::any::Any;
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use mio::Interest;

use super::{token, Reactor};
use crate::epoll;
use crate::fd::{self, Flags, EXC, READ, WRITE};

/// While tasks run, waited raw fds are checked for closure this often.
pub(super) const SWEEP_AFTER: Duration = Duration::from_secs(1);

impl Reactor {
    /// Registers (or re-registers, re-arming) raw `fd` with interest `want`,
    /// for waiters of the owned fd `elsewhere` registered with another
    /// reactor (0: of a raw fd). A failed waiter's action goes to `graveyard`
    /// (it may be the caller's).
    pub(super) fn arm(
        &mut self,
        fd: RawFd,
        want: Flags,
        elsewhere: u32,
        graveyard: &mut Vec<Box<dyn Any>>,
    ) -> std::result::Result<(), i32> {
        let closed = self.poller().map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))?;
        if self.entries.get(fd as usize).is_some_and(|e| e.owner != 0) {
            // The number was an owned fd's here, and the table says it is not
            // now: that fd closed (its number perhaps reused at once), and its
            // waiters get EBADF before the number is taken for a raw fd.
            let mut failed = Vec::new();
            self.take_closed(&mut failed, graveyard);
            if self.entries[fd as usize].owner != 0 {
                self.fail_all(fd, libc::EBADF, &mut failed, graveyard);
            }
            self.complete_all(failed);
        }
        let registry = &closed.registry;
        let (registered, owner, generation) = self
            .entries
            .get(fd as usize)
            .map_or((0, 0, 0), |e| (e.registered, e.owner, e.generation));
        let interest = interest(want);
        let fresh = token(fd, self.raw_generation.wrapping_add(1), false);
        let own_epoll = self.poll.as_ref().is_some_and(|(poll, _)| poll.as_raw_fd() == fd);
        let result = if own_epoll || fd == registry.as_raw_fd() {
            // The manager's own epoll instance (its two numbers, made lazily
            // after the task's fd closed) took the number: the kernel would
            // refuse to add it to itself (EINVAL). The task's fd is gone, EBADF.
            Err(std::io::Error::from_raw_os_error(libc::EBADF))
        } else if registered == 0 || owner != 0 {
            match epoll::add(registry, fd, fresh, interest) {
                // In this epoll already, under a registration no entry has: the
                // manager's own waker (`remote.rs`), an eventfd that took the
                // number of the task's fd after it closed. Taken over, it would
                // wake no task again (every result from another thread lost):
                // the task's fd is gone, EBADF.
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) && owner == 0 => {
                    Err(std::io::Error::from_raw_os_error(libc::EBADF))
                }
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) => epoll::modify(registry, fd, fresh, interest),
                other => other,
            }
            .map(|()| true)
        } else {
            match epoll::modify(registry, fd, token(fd, generation, false), interest) {
                Ok(()) => Ok(false),
                // Closed since it was registered (its number perhaps reused):
                // whoever waited on the old file gets EBADF.
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                    let registered = epoll::add(registry, fd, fresh, interest).map(|()| true);
                    let mut failed = Vec::new();
                    self.fail_all(fd, libc::EBADF, &mut failed, graveyard);
                    self.complete_all(failed);
                    registered
                }
                Err(e) => Err(e),
            }
        };
        let is_new = result.map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))?;
        if is_new {
            self.raw_generation = self.raw_generation.wrapping_add(1);
        }
        let raw_generation = self.raw_generation;
        let entry = self.entry(fd);
        entry.registered = want;
        entry.owner = 0;
        entry.elsewhere = elsewhere;
        if elsewhere != 0 {
            fd::watch(fd, elsewhere, &closed);
        }
        if is_new {
            entry.generation = raw_generation;
        }
        Ok(())
    }

    /// Re-arms every waited raw fd; those closed meanwhile fail their waiters
    /// (their actions go to `graveyard`).
    pub(super) fn sweep(&mut self, graveyard: &mut Vec<Box<dyn Any>>) {
        for fd in 0..self.entries.len() {
            let entry = &self.entries[fd];
            let want = entry.wanted();
            if entry.owner == 0 && want != 0 {
                let elsewhere = entry.elsewhere;
                if let Err(code) = self.arm(fd as RawFd, want, elsewhere, graveyard) {
                    let mut failed = Vec::new();
                    self.fail_all(fd as RawFd, code, &mut failed, graveyard);
                    self.complete_all(failed);
                }
            }
        }
        self.swept = true;
        self.last_sweep = Instant::now();
    }
}

pub(super) fn interest(flags: Flags) -> Interest {
    let mut interest: Option<Interest> = None;
    for (flag, i) in [
        (READ, Interest::READABLE),
        (WRITE, Interest::WRITABLE),
        (EXC, Interest::PRIORITY),
    ] {
        if flags & flag != 0 {
            interest = Some(interest.map_or(i, |have| have | i));
        }
    }
    interest.unwrap_or(Interest::READABLE)
}
