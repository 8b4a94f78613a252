//! The shared state of a [`Queue`](crate::Queue): its items and its waiters.
//!
//! # Why it is apart from `queue.rs`
//!
//! Three layers hold a queue's state: the operations (`op.rs`: a get or put
//! names its queue), the timers (`sched.rs`: a timeout names the waiter to
//! withdraw), and the hand-offs (`queue.rs`, which builds the operations and
//! performs them). Kept here, below all three, the state is plain data that
//! each can name without importing the others.
//!
//! A queue is untyped at this level: the items are already the [`Value`]s they
//! will be handed over as, so the manager needs no generic code and no virtual
//! call. The waiter lists hold parking [`Key`]s, not tasks (see `park.rs`).

use std::any::Any;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use crate::park::Key;
use crate::value::Value;

pub(crate) struct QueueState {
    pub(crate) items: VecDeque<Value>,
    /// 0 means unbounded, as in the original.
    pub(crate) maxsize: usize,
    pub(crate) getters: VecDeque<Key>,
    pub(crate) putters: VecDeque<(Key, Value)>,
}

impl QueueState {
    pub(crate) fn new(items: VecDeque<Value>, maxsize: usize) -> QueueState {
        QueueState {
            items,
            maxsize,
            getters: VecDeque::new(),
            putters: VecDeque::new(),
        }
    }

    pub(crate) fn is_full(&self) -> bool {
        self.maxsize > 0 && self.items.len() >= self.maxsize
    }
}

/// What a queue timeout must undo: the waiter's place in its list.
pub(crate) struct QueueTimeout {
    pub(crate) core: Rc<RefCell<QueueState>>,
    pub(crate) key: Key,
}

impl QueueTimeout {
    /// Takes the timed-out waiter out of its list. A put's item, and the
    /// queue itself if this was its last handle, go to the graveyard: their
    /// `Drop` is the user's. O(waiters on this queue), as in the original;
    /// only timeouts pay it.
    pub(crate) fn withdraw(self, graveyard: &mut Vec<Box<dyn Any>>) -> Key {
        let QueueTimeout { core, key } = self;
        {
            let mut q = core.borrow_mut();
            q.getters.retain(|&k| k != key);
            if let Some(i) = q.putters.iter().position(|(k, _)| *k == key) {
                graveyard.extend(q.putters.remove(i).map(|(_, item)| Box::new(item) as Box<dyn Any>));
            }
        }
        graveyard.push(Box::new(core));
        key
    }
}
