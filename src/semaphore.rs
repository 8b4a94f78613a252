//! `Semaphore`: a count of permits that tasks acquire and release (curio's
//! `Semaphore`, Python's `threading.Semaphore`).
//!
//! # How it is built
//!
//! A handle (`Rc`) to a count and a FIFO of parked waiters (`sync_state.rs`).
//! `acquire` is an operation (`wait.rs`): a free permit is taken at once (the
//! task still goes to the back of the run queue, DESIGN.md §2), else the task
//! waits, FIFO. A [`Permit`] releases itself when dropped, wherever that is,
//! so a release is a plain call: it hands the permit straight to the first
//! waiter, woken through the thread's registry of managers
//! (`sched::wake_anywhere`), or puts it back in the count.

use std::rc::Rc;

use crate::op::{Op, SyncOn, SyncWait};
use crate::queue_state::Waiters;
use crate::sched::wake_anywhere;
use crate::sync_state::SemaphoreCore;
use crate::value::Value;

/// A count of permits; a task that acquires one when none is free waits for
/// a release, in FIFO order.
///
/// | Python (curio) | Rust |
/// |---|---|
/// | `sem = Semaphore(2)` | `let sem = Semaphore::new(2);` |
/// | `async with sem: ...` | `let permit = wait!(sem.acquire())?; ...` (released when `permit` drops) |
/// | `await sem.acquire()` with a timeout | `wait!(sem.acquire().timeout(5))?` |
/// | `sem.value` | `sem.available()` |
///
/// ```
/// #![feature(coroutines)]
/// use std::{cell::RefCell, rc::Rc};
/// use multitask::{wait, Semaphore, Task, TaskManager};
///
/// let tm = TaskManager::new();
/// let sem = Semaphore::new(1);
/// let log = Rc::new(RefCell::new(Vec::new()));
/// for name in ["a", "b", "c"] {
///     let (sem, log) = (sem.clone(), log.clone());
///     tm.add(Task::new(#[coroutine] move |_| {
///         let _permit = wait!(sem.acquire())?;
///         log.borrow_mut().push(format!("{name} in"));
///         wait!();
///         log.borrow_mut().push(format!("{name} out"));
///         Ok(()) // `_permit` drops: the next waiter gets it
///     }));
/// }
/// tm.run().unwrap();
/// assert_eq!(*log.borrow(), ["a in", "a out", "b in", "b out", "c in", "c out"]);
/// assert_eq!(sem.available(), 1);
/// ```
#[derive(Clone)]
pub struct Semaphore {
    core: Rc<SemaphoreCore>,
}

impl Semaphore {
    /// A semaphore with `permits` free permits.
    pub fn new(permits: usize) -> Semaphore {
        Semaphore {
            core: Rc::new(SemaphoreCore {
                permits: std::cell::Cell::new(permits),
                waiters: std::cell::RefCell::new(Waiters::new()),
            }),
        }
    }

    /// How many permits are free.
    pub fn available(&self) -> usize {
        self.core.permits.get()
    }

    /// Yielded, resumes the task with a [`Permit`] once one is free. Takes
    /// a [`timeout`](Op::timeout).
    pub fn acquire(&self) -> Op<Permit> {
        SyncWait::op(SyncOn::Acquire(self.core.clone()))
    }
}

impl std::fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Semaphore")
            .field("available", &self.available())
            .field("waiting", &self.core.waiters.borrow().len())
            .finish()
    }
}

/// A permit of a [`Semaphore`]: released when dropped.
#[must_use = "the permit is released as soon as it is dropped"]
pub struct Permit {
    /// `None` once released (or handed on).
    core: Option<Rc<SemaphoreCore>>,
}

impl Permit {
    pub(crate) fn new(core: Rc<SemaphoreCore>) -> Permit {
        Permit { core: Some(core) }
    }

    /// Releases the permit now (as dropping it does).
    pub fn release(mut self) {
        self.give_back();
    }

    /// Hands the permit to the first waiter that can still take it, or back
    /// to the count.
    fn give_back(&mut self) {
        let Some(core) = self.core.take() else { return };
        loop {
            let first = core.waiters.borrow_mut().pop_first();
            let Some(key) = first else {
                core.permits.set(core.permits.get() + 1);
                return;
            };
            let handed = Value::new(Permit::new(core.clone()));
            match wake_anywhere(key, Ok(handed)) {
                Ok(()) => return,
                // Its manager is gone: disarm the permit we made, try the next.
                Err(Ok(value)) => {
                    if let Ok(mut permit) = value.downcast::<Permit>() {
                        permit.core = None;
                    }
                }
                Err(Err(_)) => {}
            }
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.give_back();
    }
}

impl std::fmt::Debug for Permit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Permit")
    }
}
