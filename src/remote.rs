//! Remote waits: a task waiting for something another thread will hand it
//! (a worker's result, an item from a queue between threads, a signal).
//!
//! # Why it is built this way
//!
//! Everything else a task waits for happens on its manager's thread: an fd
//! event, a timer, a queue hand-off. A blocking call run in a worker thread,
//! a [`UniversalQueue`](crate::UniversalQueue) put from a plain thread or
//! another manager, a signal: these finish on some other thread, which must
//! reach the waiting task's manager and wake it if it sleeps in epoll.
//!
//! One mechanism serves all of them. A task yields an
//! [`Operation::Remote`](crate::Operation::Remote) carrying a `start`
//! closure; the manager parks the task under a fresh *ticket* and calls
//! `start` with a [`Completer`] for that ticket. The completer is `Send`: it
//! goes to whoever will finish the wait (the pool's job, the queue's waiter
//! list, the signal receiver), which calls [`Completer::complete`] with the
//! result. That pushes `(ticket, result)` into the manager's [`Inbox`] (a
//! mutex-guarded list) and, if the list was empty and the caller is not on
//! the manager's thread, wakes the manager through its `mio::Waker` (one
//! eventfd write, which epoll reports on the manager's next poll). The manager
//! drains the inbox at step 1 and enqueues the tasks, as it does fd waiters.
//!
//! Each wait has an atomic state (waiting, done, given up), so that a timeout
//! and a completion racing each other agree on one outcome: whoever moves it
//! out of "waiting" first wins. A completion that loses gets its result back
//! (a queue then hands the item to someone else: nothing is lost, nothing
//! delivered twice); a timeout that loses leaves the task waiting for the
//! result already on its way.
//!
//! This file is plain data, below the operations: it knows nothing of tasks
//! or the manager. The reactor's side (parking, draining, the waker's token)
//! is `reactor/remote.rs`.

use std::any::Any;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::value::Input;

/// What a remote wait is finished with: a value of the type the operation
/// promised (boxed, `Send`), or an error.
pub(crate) type Payload = Result<Box<dyn Any + Send>>;

/// Turns a payload's value into the task's input, on the manager's thread.
pub(crate) type Convert = fn(Box<dyn Any + Send>) -> Input;

/// What `start` gives back: anything that must live as long as the wait
/// (a signal receiver, items to drop), dropped by the manager once the wait
/// is over, outside its borrow.
pub(crate) type Keep = Option<Box<dyn Any>>;

/// How a remote wait starts, under the manager's borrow: with its
/// completer, and the manager's graveyard, where it puts what it is done
/// with and whose drop may run user code (a queue's last handle, whose
/// items are the user's), to be dropped once the borrow ends.
pub(crate) type Start = Box<dyn FnOnce(Completer, &mut Vec<Box<dyn Any>>) -> Keep>;

/// A remote wait inside [`Operation::Remote`](crate::Operation::Remote).
pub struct RemoteWait {
    pub(crate) start: Start,
    pub(crate) convert: Convert,
    pub(crate) timeout: Option<Duration>,
}

impl RemoteWait {
    /// A wait whose value is a `T`, started by `start`.
    pub(crate) fn new<T: 'static>(
        start: impl FnOnce(Completer, &mut Vec<Box<dyn Any>>) -> Keep + 'static,
    ) -> RemoteWait {
        RemoteWait::with_convert(convert::<T>, start)
    }

    /// A wait whose payload `convert` turns into the task's input.
    pub(crate) fn with_convert(
        convert: Convert,
        start: impl FnOnce(Completer, &mut Vec<Box<dyn Any>>) -> Keep + 'static,
    ) -> RemoteWait {
        RemoteWait {
            start: Box::new(start),
            convert,
            timeout: None,
        }
    }
}

/// The payload's value as the `T` the operation promised.
pub(crate) fn convert<T: 'static>(value: Box<dyn Any + Send>) -> Input {
    match value.downcast::<T>() {
        Ok(value) => Ok(crate::value::Value::new(*value)),
        Err(_) => Err(Error::invalid(format!(
            "a remote wait was finished with a value that is not a {}",
            std::any::type_name::<T>()
        ))),
    }
}

const WAITING: u8 = 0;
const DONE: u8 = 1;
const GIVEN_UP: u8 = 2;

/// One wait's state, shared by its completer and the manager.
pub(crate) struct Slot(AtomicU8);

impl Slot {
    /// The manager gives up waiting (a timeout): false if the wait was
    /// finished first (its result is on its way).
    pub(crate) fn give_up(&self) -> bool {
        self.0
            .compare_exchange(WAITING, GIVEN_UP, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}

/// Where a manager receives the results of its remote waits.
pub(crate) struct Inbox {
    state: Mutex<InboxState>,
    waker: mio::Waker,
    /// The manager's thread (see [`thread_mark`]): a completion made there
    /// needs no wake-up, the manager drains the inbox before it sleeps.
    home: usize,
}

#[derive(Default)]
pub(crate) struct InboxState {
    pub(crate) done: Vec<(u64, Payload)>,
    /// The manager is gone: completions are given back.
    pub(crate) closed: bool,
    /// The manager was merged into another: completions go there.
    pub(crate) forward: Option<Arc<Inbox>>,
}

thread_local! {
    static MARK: u8 = const { 0 };
}

/// A number telling this thread from every other live one (the address of a
/// thread-local): cheaper than `thread::current().id()`.
fn thread_mark() -> usize {
    MARK.with(|m| m as *const u8 as usize)
}

/// Locks `mutex`, whatever a panicking holder left: the data here stay
/// consistent (each critical section is a push or a swap).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Inbox {
    /// An inbox woken through `waker`, for the manager of this thread.
    pub(crate) fn new(waker: mio::Waker) -> Arc<Inbox> {
        Arc::new(Inbox {
            state: Mutex::new(InboxState::default()),
            waker,
            home: thread_mark(),
        })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, InboxState> {
        lock(&self.state)
    }

    /// Delivers a result, following merges; gives it back if the manager is gone.
    fn deliver(self: &Arc<Inbox>, ticket: u64, payload: Payload) -> std::result::Result<(), Payload> {
        let mut inbox = self.clone();
        loop {
            let mut state = inbox.lock();
            if let Some(next) = state.forward.clone() {
                drop(state);
                inbox = next;
                continue;
            }
            if state.closed {
                return Err(payload);
            }
            let was_empty = state.done.is_empty();
            state.done.push((ticket, payload));
            drop(state);
            if was_empty && inbox.home != thread_mark() {
                // An eventfd write: the manager's poll reports it. Failing
                // (it cannot, but for EAGAIN, which mio handles) leaves the
                // result to the next poll.
                let _ = inbox.waker.wake();
            }
            return Ok(());
        }
    }
}

static NEXT_TICKET: AtomicU64 = AtomicU64::new(1);

/// A fresh ticket, unique in the process (so merged managers' never collide).
pub(crate) fn ticket() -> u64 {
    NEXT_TICKET.fetch_add(1, Ordering::Relaxed)
}

/// The right to finish one remote wait: `Send`, so it goes to whichever
/// thread will. Dropped without finishing, it finishes the wait with an
/// error, so that no task waits for ever on a result no one will give.
pub(crate) struct Completer {
    ticket: u64,
    slot: Arc<Slot>,
    inbox: Arc<Inbox>,
    finished: bool,
}

impl Completer {
    /// The completer of ticket `ticket`, and the slot the manager keeps.
    pub(crate) fn new(ticket: u64, inbox: Arc<Inbox>) -> (Completer, Arc<Slot>) {
        let slot = Arc::new(Slot(AtomicU8::new(WAITING)));
        let completer = Completer {
            ticket,
            slot: slot.clone(),
            inbox,
            finished: false,
        };
        (completer, slot)
    }

    /// True while the task still waits (no timeout, no other result, its
    /// manager alive as far as is known).
    pub(crate) fn is_waiting(&self) -> bool {
        self.slot.0.load(Ordering::Acquire) == WAITING && !self.inbox.lock().closed
    }

    /// Finishes the wait with `payload`; gives it back if the task no longer
    /// waits (it timed out, or its manager is gone), for the caller to hand
    /// elsewhere or drop.
    pub(crate) fn complete(mut self, payload: Payload) -> std::result::Result<(), Payload> {
        self.finished = true;
        self.finish(payload)
    }

    fn finish(&self, payload: Payload) -> std::result::Result<(), Payload> {
        let won = self
            .slot
            .0
            .compare_exchange(WAITING, DONE, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if !won {
            return Err(payload);
        }
        self.inbox.deliver(self.ticket, payload)
    }
}

impl Drop for Completer {
    fn drop(&mut self) {
        if !self.finished {
            let _ = self.finish(Err(Error::msg(
                "the remote wait was abandoned: no thread will finish it",
            )));
        }
    }
}

impl std::fmt::Debug for Completer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Completer").field("ticket", &self.ticket).finish()
    }
}
