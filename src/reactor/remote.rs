//! The reactor's side of remote waits (`remote.rs`): the tasks parked under
//! their tickets, the inbox drained at step 1, and the waker's token.
//!
//! # Why here
//!
//! A remote wait ends the way an fd wait does: something outside the task
//! says it is over, at step 1, and the manager sleeping in epoll must wake
//! for it. So the waiting tasks live beside the fd waiters, the manager's
//! `mio::Waker` is registered with the same epoll instance under a token no
//! fd can have ([`WAKER`]), and `has_waits` counts them: `run()` keeps going
//! and blocks in epoll while a result is on its way, as it does for a socket.
//!
//! A timeout reuses the fd waits' timer kind, `Expiry::Io`, under the number
//! [`REMOTE_FD`] (no fd is that high: the kernel caps fd numbers far below),
//! with the ticket as the waiter's number, so the scheduler's timer code
//! needs nothing new. The reactor still knows nothing of what is waited for:
//! a pool, a queue, a signal are all a ticket and a completer to it.

use std::any::Any;
use std::collections::HashMap;
use std::io;
use std::os::fd::RawFd;
use std::sync::Arc;

use mio::{Token, Waker};

use super::{Reactor, Woken};
use crate::op::Input;
use crate::remote::{self, Completer, Convert, Inbox, Keep, RemoteWait, Slot};
use crate::sched::{Expiry, State};
use crate::task::{At, Stack};

/// The token of a manager's waker: no fd's token (`token()`) is ever this.
pub(crate) const WAKER: Token = Token(usize::MAX);

/// The fd number under which remote waits' timeouts are set (`Expiry::Io`).
pub(crate) const REMOTE_FD: RawFd = RawFd::MAX;

/// A task waiting for a remote result.
struct Waiter {
    task: Stack,
    slot: Arc<Slot>,
    convert: Convert,
    /// What `start` asked to keep until the wait is over.
    keep: Keep,
}

/// One manager's remote waits.
pub(super) struct Remote {
    inbox: Arc<Inbox>,
    waiters: HashMap<u64, Waiter>,
    /// The inbox's list, swapped in and out so a drain allocates nothing.
    spare: Vec<(u64, remote::Payload)>,
}

impl Remote {
    pub(super) fn waiting(&self) -> usize {
        self.waiters.len()
    }

    /// The tasks waiting, for `tasks()`.
    pub(super) fn tasks(&self) -> impl Iterator<Item = &Stack> {
        self.waiters.values().map(|w| &w.task)
    }
}

impl Drop for Remote {
    /// The manager is gone (or merged away: then the inbox forwards, and
    /// this does nothing): completions are given back to whoever makes them.
    fn drop(&mut self) {
        let mut inbox = self.inbox.lock();
        if inbox.forward.is_none() {
            inbox.closed = true;
        }
    }
}

impl Reactor {
    /// This manager's remote side, made (with its waker) at the first remote wait.
    fn remote(&mut self) -> io::Result<&mut Remote> {
        if self.remote.is_none() {
            self.poller()?;
            let (poll, _) = self.poll.as_ref().expect("made by poller");
            let waker = Waker::new(poll.registry(), WAKER)?;
            self.remote = Some(Remote {
                inbox: Inbox::new(waker),
                waiters: HashMap::new(),
                spare: Vec::new(),
            });
        }
        Ok(self.remote.as_mut().expect("made above"))
    }

    /// How many tasks wait for remote results.
    pub(super) fn remote_waiting(&self) -> usize {
        self.remote.as_ref().map_or(0, Remote::waiting)
    }

    /// Moves the remote results that have arrived into `woken`; a result
    /// whose task no longer waits (it timed out) goes to the graveyard.
    pub(super) fn take_remote(&mut self, woken: &mut Vec<Woken>, graveyard: &mut Vec<Box<dyn Any>>) {
        let Some(remote) = &mut self.remote else { return };
        {
            let mut inbox = remote.inbox.lock();
            if inbox.done.is_empty() {
                return;
            }
            std::mem::swap(&mut inbox.done, &mut remote.spare);
        }
        for (ticket, payload) in remote.spare.drain(..) {
            match remote.waiters.remove(&ticket) {
                Some(waiter) => {
                    let input: Input = payload.and_then(waiter.convert);
                    if let Some(keep) = waiter.keep {
                        graveyard.push(keep);
                    }
                    let mut task = waiter.task;
                    task.set_input(input);
                    woken.push(Woken::Ready(task));
                }
                None => graveyard.push(Box::new(payload)),
            }
        }
    }

    /// A timeout fired for the remote wait `ticket` (or, with `cancel`, its
    /// task is cancelled): its task. A timeout that lost the race to the
    /// result leaves the task, which gets the result; a cancel takes it all
    /// the same, and the result, when it comes, is dropped (`take_remote`).
    pub(super) fn withdraw_remote(
        &mut self,
        ticket: u64,
        cancel: bool,
        graveyard: &mut Vec<Box<dyn Any>>,
    ) -> Option<Stack> {
        let remote = self.remote.as_mut()?;
        if !remote.waiters.get(&ticket)?.slot.give_up() && !cancel {
            return None;
        }
        let waiter = remote.waiters.remove(&ticket)?;
        if let Some(keep) = waiter.keep {
            graveyard.push(keep);
        }
        Some(waiter.task)
    }

    /// Takes every remote waiter and result out (the manager is being dropped).
    pub(super) fn drain_remote(&mut self, all: &mut Vec<Box<dyn Any>>) {
        let Some(remote) = &mut self.remote else { return };
        let done = {
            let mut inbox = remote.inbox.lock();
            inbox.closed = true;
            std::mem::take(&mut inbox.done)
        };
        all.extend(done.into_iter().map(|d| Box::new(d) as Box<dyn Any>));
        for (_, waiter) in remote.waiters.drain() {
            all.push(Box::new(waiter.task));
            if let Some(keep) = waiter.keep {
                all.push(keep);
            }
        }
    }

    /// Takes over `other`'s remote waits (`merge`): its inbox forwards here.
    pub(super) fn absorb_remote(&mut self, other: &mut Reactor, graveyard: &mut Vec<Box<dyn Any>>) {
        let Some(mut theirs) = other.remote.take() else { return };
        let mine = match self.remote() {
            Ok(mine) => mine,
            Err(_) => {
                // No epoll here: their waits cannot be kept. Failing them
                // is all that is left (their results are given back).
                let mut all = Vec::new();
                other.remote = Some(theirs);
                other.drain_remote(&mut all);
                graveyard.extend(all);
                return;
            }
        };
        let moved = {
            let mut inbox = theirs.inbox.lock();
            inbox.forward = Some(mine.inbox.clone());
            std::mem::take(&mut inbox.done)
        };
        // Same thread: drained at this manager's next step 1, no wake-up needed.
        mine.inbox.lock().done.extend(moved);
        mine.waiters.extend(theirs.waiters.drain());
        // `theirs` forwards now: its drop leaves the inbox open.
    }
}

/// Handles a task that yielded a remote wait (step 3): parks it under a
/// fresh ticket, sets its timeout, and starts the wait.
pub(crate) fn wait(io: &mut Reactor, s: &mut State, mut stack: Stack, wait: RemoteWait) {
    let RemoteWait {
        start,
        convert,
        timeout,
    } = wait;
    let remote = match io.remote() {
        Ok(remote) => remote,
        Err(e) => {
            // Never started: what it holds (a caller's closure) is the user's.
            s.graveyard.push(Box::new(start));
            return io.finish(s, stack, None, Err(e.into()));
        }
    };
    let ticket = remote::ticket();
    let (completer, slot): (Completer, _) = Completer::new(ticket, remote.inbox.clone());
    if let Some(timeout) = timeout {
        stack.set_timer(s.set_timer(timeout, Expiry::Io(REMOTE_FD, ticket)));
    }
    // A cancel finds it as it finds a timed-out wait: by fd and number.
    stack.cell().at.set(At::Io(REMOTE_FD, ticket));
    remote.waiters.insert(
        ticket,
        Waiter {
            task: stack,
            slot,
            convert,
            keep: None,
        },
    );
    // Library code (a pool's submit, a queue's hand-off, a receiver's
    // check): it runs no user code, and may finish the wait at once (the
    // result then waits in the inbox for the next step 1).
    let keep = start(completer, &mut s.graveyard);
    if let Some(keep) = keep {
        match io.remote.as_mut().and_then(|r| r.waiters.get_mut(&ticket)) {
            Some(waiter) => waiter.keep = Some(keep),
            None => s.graveyard.push(keep),
        }
    }
}
