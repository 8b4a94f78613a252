//! `Event`: a flag that tasks wait for (curio's `Event`, Python's
//! `threading.Event`).
//!
//! # How it is built
//!
//! A handle (`Rc`) to a flag and a FIFO of parked waiters (`sync_state.rs`).
//! `wait` is an operation, performed by the manager when yielded
//! (`wait.rs`); `set` is a plain call, usable from any task or from outside
//! the manager, so it wakes its waiters through the thread's registry of
//! managers (`sched::wake_anywhere`), each to the back of its manager's run
//! queue, in the order they began to wait.

use std::rc::Rc;

use crate::op::{nothing, Op, SyncOn, SyncWait};
use crate::sched::wake_anywhere;
use crate::sync_state::EventCore;

/// A flag that tasks can wait for.
///
/// | Python (curio) | Rust |
/// |---|---|
/// | `evt = Event()` | `let evt = Event::new();` |
/// | `await evt.wait()` | `wait!(evt.wait())?;` |
/// | `await timeout_after(5, evt.wait())` | `wait!(evt.wait().timeout(5))?;` |
/// | `await evt.set()`, `evt.clear()`, `evt.is_set()` | `evt.set()`, `evt.clear()`, `evt.is_set()` |
///
/// As every wait, `wait` on an event already set still sends the task to
/// the back of the run queue (DESIGN.md §2); `set` wakes the waiters in the
/// order they began to wait.
///
/// ```
/// #![feature(coroutines)]
/// use std::{cell::RefCell, rc::Rc};
/// use multitask::{wait, Event, Task, TaskManager};
///
/// let tm = TaskManager::new();
/// let ready = Event::new();
/// let log = Rc::new(RefCell::new(Vec::new()));
/// for name in ["a", "b"] {
///     let (ready, log) = (ready.clone(), log.clone());
///     tm.add(Task::new(#[coroutine] move |_| {
///         wait!(ready.wait())?;
///         log.borrow_mut().push(name);
///         Ok(())
///     }));
/// }
/// let (setter, log2) = (ready.clone(), log.clone());
/// tm.add(Task::new(#[coroutine] move |_| {
///     log2.borrow_mut().push("set");
///     setter.set();
///     Ok(())
/// }));
/// tm.run().unwrap();
/// assert_eq!(*log.borrow(), ["set", "a", "b"]);
/// assert!(ready.is_set());
/// ```
#[derive(Clone, Default)]
pub struct Event {
    core: Rc<EventCore>,
}

impl Event {
    /// A new event, not set.
    pub fn new() -> Event {
        Event::default()
    }

    /// True once [`set`](Event::set), until [`clear`](Event::clear).
    pub fn is_set(&self) -> bool {
        self.core.set.get()
    }

    /// Sets the flag and wakes every task waiting for it, in the order they
    /// began to wait; later waits complete at once until `clear`.
    pub fn set(&self) {
        self.core.set.set(true);
        let waiters = self.core.waiters.borrow_mut().take_all();
        for key in waiters {
            // A waiter whose manager is gone is simply let go of.
            let _ = wake_anywhere(key, nothing());
        }
    }

    /// Clears the flag: later waits wait for the next `set`.
    pub fn clear(&self) {
        self.core.set.set(false);
    }

    /// Yielded, resumes the task once the flag is set (at once, one pass
    /// later, if it is set already). Takes a [`timeout`](Op::timeout).
    pub fn wait(&self) -> Op<()> {
        SyncWait::op(SyncOn::Event(self.core.clone()))
    }
}

impl std::fmt::Debug for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Event")
            .field("set", &self.is_set())
            .field("waiting", &self.core.waiters.borrow().len())
            .finish()
    }
}
