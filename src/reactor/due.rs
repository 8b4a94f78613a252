//! The actions due at the next step 1: a library action (`recv`, `send`,
//! `accept`, ...) yielded on an owned fd known ready for it, or on a raw fd.
//!
//! # Why they wait for step 1
//!
//! The original performs an action only in step 1, once `select` has found
//! its fd ready, never at the yield. What the other tasks of the pass do in
//! between is seen: a `recv` takes the bytes a task sent after it in the same
//! pass; a `send` is not on the wire before the tasks after it have run, so
//! a peer that waits to read it is found ready one poll later, not in the
//! poll that performs it. Performing it at the yield (where the fd is known
//! ready, it cannot block) would keep the run queue's order but not that.
//! So the action is kept in a list (with a timeout, numbered and its timer
//! set at the yield, as a parked waiter's) and performed at the next step 1,
//! in two parts around its poll, so that no action of the step sees what
//! another one of it did, as none did after that select's one look:
//!
//! - before the poll, the reads (`recv`, `read`, `readline`, `recvfrom`,
//!   `accept`): nothing of this step is written yet. An owned fd's READ may
//!   say ready where a read drained it without finding out (a datagram, a
//!   `read` that took all there was): such a read finds `EAGAIN` then, and
//!   parks, as select would not have found the fd ready;
//! - after it, the writes: the poll saw the fds as that select did, before
//!   them, and their effect (a peer made readable) is for the next poll. A
//!   write on one of the crate's TCP streams whose peer is not a stream of
//!   this reactor (a client elsewhere, `owned.rs`, `note_tcp`), while no raw
//!   fd waits or is due here (any might be that peer), goes before the poll
//!   too: no waiter here, and no action of the step, can see it, and the
//!   poll then finds the client's answer as soon as it can (a server's reply
//!   and the next request in one pass).
//!
//! One that would block parks, before the waiters that came after it; if
//! all would, and nothing else is runnable, step 1 blocks in a second poll,
//! as that select would have. The list costs a move in and out; a park
//! would cost the entry's FIFO and a serve.
//!
//! A readiness wait (`readable`, `writable`, `fd_ready`) on an owned fd
//! known ready is due too, as a look: its program does the I/O itself,
//! behind the reactor's back (a `recv` that drained the socket, sends that
//! filled it), so the bit kept from the last edge may be stale, and only a
//! look at the fd (one `poll(2)`) tells, as select's did. The looks go first
//! at step 1, before every action of the step, as select's one look did.
//!
//! On a raw fd the action is tried the same way, before any re-arm, and its
//! fd is first looked at by one `poll(2)` for all of them, as select would:
//! one not ready is tried before the poll (an fd it is wrong for, a `recv` on
//! a listening socket or a `read` on a pipe's write end, gives its error
//! there, where select would never find it ready and the task would wait
//! for ever; else it parks), one ready with the others of its kind (a read
//! before the poll, a write after).
//!
//! # Invariants
//!
//! - A due task is in no FIFO and counted in no entry; its header says
//!   `At::Io(fd, seq)` or an earlier wait's place, where it is not: a cancel
//!   finds it through `take_over`.
//! - The list is empty after every step 1.

use std::io;
use std::os::fd::RawFd;

use super::{bury, next_seq, number, regular_file_would_block, Reactor};
use crate::action::{perform, poll_all};
use crate::fd::{self, Flags, EXC, READ, WRITE};
use crate::op::{Action, FdWait};
use crate::sched::State;
use crate::task::{At, Stack};

/// A library action due at the next step 1.
pub(super) struct Due {
    pub(super) task: Stack,
    pub(super) fd: RawFd,
    /// The id of the owned fd of that number when it was yielded (0: none,
    /// a raw fd): a release since, or a reuse of the number, fails it.
    owner: u32,
    /// Registered with this reactor (the owned path), or not (the raw path:
    /// a raw fd, or an owned fd of another reactor).
    here: bool,
    pub(super) flags: Flags,
    /// `None`: a readiness wait (`readable`, `writable`, `fd_ready`) on an
    /// owned fd known ready, whose program does the I/O itself: its fd is
    /// looked at (one `poll(2)`), as select would, since what that I/O did
    /// behind the reactor's back, only a look can tell.
    pub(super) action: Option<Action>,
    /// Its number, taken at the yield (a waiter after it has a greater
    /// one): it parks, if it does, in that order. Recorded in the header
    /// then, or at the yield if it has a timeout (its timer names it).
    seq: u64,
}

impl Reactor {
    /// Keeps `wait`, a library action on `fd`, for the next step 1; `owner`
    /// is the id of the owned fd of that number (0: none), `here` true if it
    /// is registered here. Numbered now (see [`Due::seq`]).
    /// Inlined into the operation path (see `manager.rs`, `run_due`).
    #[inline(always)]
    pub(super) fn defer(&mut self, s: &mut State, mut task: Stack, wait: &mut FdWait, owner: u32, here: bool) {
        let (fd, flags, timeout) = (wait.fd, wait.flags, wait.timeout);
        let action = wait.action.take();
        debug_assert!(action.is_some() || here, "a look is deferred only on an owned fd");
        let seq = match timeout {
            Some(_) => number(s, &mut task, fd, timeout),
            None => next_seq(),
        };
        // Seen by none here (`Reactor::due_unseen`): a read, or a write on
        // a stream whose peer is elsewhere.
        // (A look goes first, before any write: not in place with them.)
        let unseen = here && action.is_some() && (flags & WRITE == 0 || self.entries[fd as usize].peer_elsewhere);
        self.due_unseen &= unseen;
        let due = Due {
            task,
            fd,
            owner,
            here,
            flags,
            action,
            seq,
        };
        // Inlined, the growth out of line (as `Reactor::complete`'s list).
        if let Err(due) = self.due.push_within_capacity(due) {
            self.due.push(due);
        }
    }

    /// The due actions of a reactor merged into this one: on the raw path
    /// here, which finds out whose their fds are at the next step 1.
    pub(super) fn take_due_of(&mut self, other: &mut Reactor) {
        self.due.extend(other.due.drain(..).map(|d| Due { here: false, ..d }));
        self.due_unseen = false;
    }

    /// Before step 1's poll, the due actions that must not see what this
    /// step's other actions do: the reads (an owned fd's READ
    /// may say ready where a read drained the fd without finding out: they
    /// find `EAGAIN` now and park, and never take what a write of this step
    /// sends, as the original's select, which looked first, would not have
    /// let them; on a raw fd, a read that is not ready gives the error of an
    /// fd it is wrong for, as a bad input must, or parks), and the writes on
    /// raw fds that one `poll(2)` for all finds not ready (the same). The
    /// other writes stay, to be performed after the poll (a write's effect
    /// is for the next poll to see, as it was for the original's next select).
    pub(super) fn perform_before_poll(&mut self, s: &mut State) {
        // A write on an owned TCP stream whose peer is not this reactor's
        // (a client elsewhere) goes now too, unless a raw fd waits or is
        // due, or a TCP stream here is not connected yet (any of them could
        // be that peer): no waiter, and no action of
        // this step, can see it; the poll then sees what that client sends
        // back as soon as it can.
        let quiet = self.raw_waiters == 0 && self.tcp_unconnected == 0;
        if quiet && self.due_unseen {
            // All of them now, known without a look at each.
            return self.perform_due(s);
        }
        let (mut owned_only, mut all_now, mut any_now) = (quiet, true, false);
        let mut looks = false;
        for d in &self.due {
            owned_only &= d.here;
            looks |= d.action.is_none();
            let now =
                d.flags & WRITE == 0 || d.action.is_none() || (d.here && self.entries[d.fd as usize].peer_elsewhere);
            all_now &= now;
            any_now |= now || !d.here;
        }
        if owned_only && all_now && !looks {
            // All of them now (a server's replies and reads): in place.
            return self.perform_due(s);
        }
        if !any_now {
            return; // sends on owned fds, all for after the poll
        }
        let entries = &self.entries;
        let unseen = move |d: &Due| owned_only && d.here && entries[d.fd as usize].peer_elsewhere;
        let raw_write = |d: &Due| !d.here && d.flags & WRITE != 0;
        let mut fds: Vec<libc::pollfd> = (self.due.iter().filter(|d| raw_write(d)))
            .map(|d| libc::pollfd {
                fd: d.fd,
                events: poll_events(d.flags),
                revents: 0,
            })
            .collect();
        // (On an error, EINTR or ENOMEM, the raw ones wait for after the poll.)
        let looked_at = fds.is_empty() || poll_all(&mut fds).is_ok();
        let mut looked = fds.iter();
        let now = |d: &mut Due| match raw_write(d) {
            // Each takes its look, in order.
            true => looked.next().is_some_and(|p| looked_at && p.revents == 0),
            false => d.flags & WRITE == 0 || d.action.is_none() || unseen(d),
        };
        let mut early = std::mem::take(&mut self.due_early);
        early.extend(self.due.extract_if(.., now));
        if early.iter().any(|d| d.action.is_none()) {
            // The looks first, as select's one look came before every
            // action of its step (the others keep their order).
            early.sort_by_key(|d| d.action.is_some());
        }
        for d in early.drain(..) {
            self.perform_one(s, d);
        }
        self.due_early = early; // its buffer kept
    }

    /// Step 1's first work: performs the due actions in order (see the top
    /// of the file); each done enqueues its task with its result.
    pub(super) fn perform_due(&mut self, s: &mut State) {
        let n = self.due.len();
        // In place, the list keeping its buffer (a step 1 allocates nothing).
        // SAFETY: the first `n` elements are initialized; with the length
        // set to 0 first, each is read out once and owned by the loop (a
        // panic could only leak the rest). Nothing in `perform_one` pushes
        // to the list (it performs, parks or enqueues), so the slots read
        // are not written meanwhile.
        unsafe {
            self.due.set_len(0);
            let base = self.due.as_ptr();
            for i in 0..n {
                let d = base.add(i).read();
                self.perform_one(s, d);
            }
        }
    }

    /// Performs one due action, or parks it if it would block, or if a
    /// waiter that came before it waits for that direction.
    #[inline(always)]
    fn perform_one(&mut self, s: &mut State, d: Due) {
        let Due {
            task,
            fd,
            owner,
            here,
            flags,
            action,
            seq,
        } = d;
        let released = match here {
            // A release of an fd registered here is on the closed list,
            // taken before this (the entry's owner is 0 then), and a new
            // owned fd of that number has an id of its own.
            true => self.entries[fd as usize].owner != owner,
            false => fd::id(fd) != owner,
        };
        if released {
            // Never the next file's bytes.
            bury(action, &mut s.graveyard);
            return s.ready(task, Err(io::Error::from_raw_os_error(libc::EBADF).into()));
        }
        if here {
            let entry = &mut self.entries[fd as usize];
            let direction = entry.ready & flags;
            if direction == 0 || self.waits_before(fd, flags, seq) {
                return self.park_due(task, fd, flags, action, seq);
            }
            let Some(mut action) = action else {
                return self.perform_look(s, task, fd, flags, seq);
            };
            let entry = &mut self.entries[fd as usize];
            let mut empty = 0;
            match perform(fd, Some(&mut action), &mut empty, &mut self.spare) {
                Some(input) => {
                    entry.ready &= !entry.told_by_short_io(empty);
                    Action::discard(Some(action));
                    s.ready_first(task, input);
                }
                None => {
                    entry.ready &= !direction; // drained by someone else
                    entry.urgent &= direction & READ == 0;
                    self.park_due(task, fd, flags, Some(action), seq);
                }
            }
            return;
        }
        self.perform_raw(s, task, fd, flags, action, seq);
    }

    /// A readiness wait on owned `fd`, known ready for some of `flags`,
    /// with no waiter before it for them: its fd is looked at now (the
    /// level-triggered truth, as select's look, [`super::look`]). Ready: its
    /// task resumes; not: those directions are no longer known ready (an
    /// edge will come when they are), and it parks.
    #[cold]
    #[inline(never)]
    fn perform_look(&mut self, s: &mut State, task: Stack, fd: RawFd, flags: Flags, seq: u64) {
        let now = super::look(fd) & flags;
        let entry = &mut self.entries[fd as usize];
        entry.ready = (entry.ready & !flags) | now;
        match now {
            0 => self.park_due(task, fd, flags, None, seq),
            _ => s.ready(task, crate::op::nothing()),
        }
    }

    /// A due action on the raw path: tried, then re-armed if it would block.
    /// (A look, merged in from another reactor, waits as a raw readiness
    /// wait does: re-armed, for what epoll finds.)
    #[inline(never)]
    fn perform_raw(
        &mut self,
        s: &mut State,
        task: Stack,
        fd: RawFd,
        flags: Flags,
        mut action: Option<Action>,
        seq: u64,
    ) {
        if action.is_some() && !self.waits_before(fd, flags, seq) {
            if let Some(input) = perform(fd, action.as_mut(), &mut 0, &mut self.spare) {
                bury(action, &mut s.graveyard);
                return s.ready_first(task, input);
            }
        }
        match self.register(fd, flags, &mut s.graveyard) {
            Ok(()) => self.park_due(task, fd, flags, action, seq),
            // A regular file: always ready for a readiness wait.
            Err(libc::EPERM) if action.is_none() => s.ready(task, crate::op::nothing()),
            Err(code) => {
                bury(action, &mut s.graveyard);
                let error = match code {
                    // A regular file: epoll refuses it, select calls it
                    // always ready; an action that would block on it would
                    // wait for ever.
                    libc::EPERM => regular_file_would_block(),
                    code => io::Error::from_raw_os_error(code),
                };
                s.ready(task, Err(error.into()));
            }
        }
    }

    /// Parks a due action that would block (or must wait its turn).
    fn park_due(&mut self, task: Stack, fd: RawFd, flags: Flags, action: Option<Action>, seq: u64) {
        task.cell().at.set(At::Io(fd, seq));
        self.enter(task, fd, flags, action, seq);
    }

    /// A wait that parks on owned `fd`, known ready for `flags`, behind
    /// other waiters: the due actions on that fd for those directions,
    /// yielded before it, go into the FIFO first, in their order, so that
    /// its serve at the next step 1 keeps the order they were yielded in.
    #[cold]
    #[inline(never)]
    pub(super) fn park_due_of(&mut self, fd: RawFd, flags: Flags) {
        let of_it = |d: &mut Due| d.here && d.fd == fd && d.flags & flags != 0;
        let moved: Vec<Due> = self.due.extract_if(.., of_it).collect();
        for d in moved {
            self.park_due(d.task, d.fd, d.flags, d.action, d.seq);
        }
    }

    /// True if a waiter parked on `fd` before number `seq` waits for one of `flags`.
    fn waits_before(&self, fd: RawFd, flags: Flags, seq: u64) -> bool {
        self.entries.get(fd as usize).is_some_and(|e| {
            e.live > 0
                && e.fifo
                    .iter()
                    .any(|w| w.seq < seq && w.flags & flags != 0 && w.task.is_some())
        })
    }
}

/// The `poll(2)` events of `flags` (an error or a hang-up is always reported).
fn poll_events(flags: Flags) -> libc::c_short {
    let mut events = 0;
    if flags & READ != 0 {
        events |= libc::POLLIN;
    }
    if flags & WRITE != 0 {
        events |= libc::POLLOUT;
    }
    if flags & EXC != 0 {
        events |= libc::POLLPRI;
    }
    events
}
