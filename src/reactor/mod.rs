//! The reactor: fd registrations, their readiness, their waiters, and the poll
//! of step 1 (on mio: epoll).
//!
//! # Why it is built this way
//!
//! The original calls `select()` on every wait set in every `run_next`: level
//! triggered, O(n) per call, and dead past 1,024 descriptors. epoll is O(ready)
//! per poll with no limit, but mio makes it *edge* triggered: an fd already
//! ready when a task starts to wait produces no new event. Two paths keep the
//! original's level-triggered meaning:
//!
//! - **Owned fds** (the library's [`net`](crate::net) types, found by number in
//!   the thread's table, `fd.rs`) are registered once, for read and write,
//!   when first waited on, and their entry keeps their *readiness*: set by
//!   events, cleared for a direction when a call finds nothing (`EAGAIN`), or
//!   sends or receives less than asked on a stream (the kernel's buffer is then
//!   full or drained; a new edge will come). A library action on a direction
//!   known ready is performed at the next step 1, as the original performs
//!   it once select has returned (a read before the poll, a write after it,
//!   so that none sees another's: `due.rs`); a caller's
//!   `fd_action` there is served at the next step 1 with no event; any other
//!   wait just parks. No `epoll_ctl` after the first wait, no `EAGAIN` try. Dropping the fd puts it on this
//!   reactor's `Closed` list: its waiters get `EBADF` at the next
//!   step 1. (`owned.rs`.)
//! - **Raw fds** (numbers and borrowed std objects) take the compatibility
//!   path: a library action is tried at the next step 1 (`due.rs`), then
//!   re-armed if it would block; their close is found late. (`compat.rs`.)
//!
//! Either way a wait that is over at once resumes its task at the next step 1,
//! where the original's select would have found it: DESIGN.md §2's order holds.
//!
//! Each fd has one entry, whoever waits on it for what, and the entry owns its
//! waiters in a FIFO, each with a sequence number taken in order from one
//! per-thread counter: adding one is O(1); a timeout finds its waiter by
//! binary search on the number and leaves a hole (the FIFO is compacted when
//! holes outnumber waiters), O(log n); waking n is O(n). The union of the
//! waiters' flags is kept as counts, so a raw re-arm is O(1) too. The usual
//! case, one task reading one socket, is one push and one pop: no slab, no
//! key to look up.
//!
//! The library's own actions (the syscalls of `recv`, `send`, ...) run inside
//! the manager; a caller's `fd_action` closure is user code, so step 1 hands
//! it back as a [`Woken::Call`] and the manager calls it once its state is no
//! longer borrowed. A panic in either becomes that task's `Error::Panic`.

use std::any::Any;
use std::collections::VecDeque;
use std::io;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::time::{Duration, Instant};

use mio::{Poll, Token};

mod compat;
mod due;
mod owned;
pub(crate) mod remote;

pub(crate) use remote::REMOTE_FD;

use compat::SWEEP_AFTER;

use crate::action::{perform, poll_now};
use crate::epoll;
use crate::error::{Error, Result};
use crate::fd::{self, Closed, Flags, Owner, EXC, READ, WRITE};
use crate::op::{nothing, Action, FdWait, Input};
use crate::sched::{Expiry, State};
use crate::spare::Spare;
use crate::task::{At, Stack, TaskCell};

/// A task waiting on an fd, with what to do once it is ready.
struct Waiter {
    /// Its place in the FIFO: numbers only grow along it.
    seq: u64,
    /// `None` once withdrawn by a timeout (a hole in the FIFO).
    task: Option<Stack>,
    flags: Flags,
    action: Option<Action>,
}

thread_local! {
    /// One counter per thread, so numbers stay ordered when managers merge.
    static NEXT_SEQ: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// What an fd waiter waits for, as `tasks()` shows it: the fd, its flags,
/// and the name of the action the manager performs for it, if any.
pub(crate) type FdWaiting = (RawFd, Flags, Option<&'static str>);

/// A waiter whose fd is ready, taken out at step 1.
pub(crate) enum Woken {
    /// Its wait is over: resume it with the input its cell holds (set when
    /// it was woken, so that the list moves one pointer per task).
    Ready(Stack),
    /// A caller's `fd_action`, to call once the manager's state is no longer
    /// borrowed (the closure is user code): then resumed with its result, or,
    /// if it would block, parked again ([`Reactor::repark`]). Boxed: it is
    /// rare, and the list's every entry is as large as its largest kind.
    Call(Box<Call>),
}

impl Woken {
    /// The task woken.
    pub(crate) fn task(&self) -> &Stack {
        match self {
            Woken::Ready(task) => task,
            Woken::Call(call) => &call.task,
        }
    }
}

/// A caller's `fd_action` whose fd is ready.
pub(crate) struct Call {
    task: Stack,
    fd: RawFd,
    flags: Flags,
    action: Action,
}

impl Call {
    /// Calls the action (outside the borrow): its result, or `None` if it
    /// would block.
    pub(crate) fn call(&mut self) -> Option<Input> {
        // A caller's closure: it makes no message of the library's.
        perform(self.fd, Some(&mut self.action), &mut 0, &mut Spare::new())
    }
}

/// One fd's registration, readiness and waiters.
#[derive(Default)]
struct Entry {
    /// The owned fd's id (`fd.rs`); 0 for a raw fd.
    owner: u32,
    /// The interest epoll has for this fd; 0 when not registered.
    registered: Flags,
    /// Carried in the event token: the owner's id, or a raw registration's number.
    generation: u32,
    /// Owned fds: the directions known ready.
    ready: Flags,
    /// Owned fds: a stream socket (a short read or write means drained or full).
    stream: bool,
    /// Owned fds: an event said the peer closed its side (or the socket
    /// failed). Reads return at once from then on, so a short read no
    /// longer means drained: the next one gives the end of the file, and
    /// no edge would come to say so.
    read_closed: bool,
    /// Owned fds: an event said urgent data came. A read stops short at its
    /// mark with bytes after it, so a short read does not mean drained
    /// until a read would block.
    urgent: bool,
    /// In the reactor's pending list.
    pending: bool,
    /// Owned TCP streams: the connection (local, peer), in the reactor's
    /// [`Reactor::tcp_here`], or `tcp_unconnected` while it has no peer yet;
    /// and whether the peer may be a stream of this reactor
    /// (`peer_elsewhere` false, the default, for any other fd): only a write
    /// on a stream whose peer is elsewhere can be done before step 1's poll
    /// (`due.rs`).
    tcp_conn: Option<(std::net::SocketAddr, std::net::SocketAddr)>,
    tcp_unconnected: bool,
    peer_elsewhere: bool,
    /// The waiters, FIFO, with holes where timeouts withdrew some.
    fifo: VecDeque<Waiter>,
    /// How many waiters want each of READ, WRITE, EXC.
    counts: [u32; 3],
    /// How many waiters the FIFO holds (not counting holes).
    live: u32,
    /// Raw entries: the owned fd (its id) the waiters wait on through the
    /// compatibility path while another reactor has it registered; 0 for a
    /// raw fd. Such waiters are kept when this reactor takes the fd over.
    elsewhere: u32,
}

impl Entry {
    /// Which directions a finished action's short read or write says are
    /// drained or full, for this fd (see [`Entry::read_closed`]): the
    /// invariant of `ready` is that it never says "not ready" wrongly.
    #[inline(always)]
    fn told_by_short_io(&self, empty: Flags) -> Flags {
        match (self.stream, self.read_closed || self.urgent) {
            (false, _) => 0,
            (true, false) => empty,
            (true, true) => empty & WRITE,
        }
    }

    /// True if a waiter waits for any of `flags`.
    fn waits_for(&self, flags: Flags) -> bool {
        (0..3).any(|i| flags & (1 << i) != 0 && self.counts[i] > 0)
    }

    /// Takes the task out of waiter `i`, leaving a hole; its action is
    /// given back to be dropped (or buried) by the caller.
    fn take(&mut self, i: usize) -> Option<(Stack, Option<Action>)> {
        let waiter = &mut self.fifo[i];
        let task = waiter.task.take()?;
        let (flags, action) = (waiter.flags, waiter.action.take());
        self.count(flags, false);
        self.live -= 1;
        Some((task, action))
    }

    /// Drops the holes at the front, and all of them once they outnumber the waiters.
    fn tidy(&mut self) {
        while self.fifo.front().is_some_and(|w| w.task.is_none()) {
            self.fifo.pop_front();
        }
        if self.fifo.len() > 2 * self.live as usize + 8 {
            self.fifo.retain(|w| w.task.is_some());
        }
    }

    fn wanted(&self) -> Flags {
        (0..3).filter(|&i| self.counts[i] > 0).fold(0, |f, i| f | (1 << i))
    }

    fn count(&mut self, flags: Flags, add: bool) {
        for (i, count) in self.counts.iter_mut().enumerate() {
            if flags & (1 << i) != 0 {
                *count = if add { *count + 1 } else { count.saturating_sub(1) };
            }
        }
    }
}

/// The token of `fd`'s registration `generation`: the generation in the high
/// 32 bits, then one bit telling an owned registration from a raw one (so
/// their generations never collide), then the fd (non-negative: 31 bits).
/// (mio tokens are `usize`: this assumes a 64-bit target.)
fn token(fd: RawFd, generation: u32, owned: bool) -> Token {
    Token(((generation as usize) << 32) | ((owned as usize) << 31) | (fd as u32 as usize & 0x7fff_ffff))
}

/// The fd, generation and kind an event's token names.
fn untoken(token: Token) -> (usize, u32, bool) {
    (token.0 & 0x7fff_ffff, (token.0 >> 32) as u32, (token.0 >> 31) & 1 == 1)
}

/// The I/O side of a manager.
pub(crate) struct Reactor {
    /// Made at the first fd wait: a manager that never does I/O needs no epoll.
    poll: Option<(Poll, Rc<Closed>)>,
    /// The poll's event buffer; taken out while its events are served.
    events: Option<Vec<libc::epoll_event>>,
    /// The buffers of messages sent, to hold messages received (`spare.rs`).
    spare: Spare,
    /// Indexed by fd number; grows only for fds epoll accepted.
    entries: Vec<Entry>,
    /// How many tasks wait on fds, in all entries.
    waiting: usize,
    /// Waits already over, to enqueue at the next step 1: readiness waits
    /// on fds known ready, bad fds. Each task holds its input in its cell
    /// already ([`Reactor::complete`]): the list moves one pointer each.
    completed: Vec<Stack>,
    /// Callers' `fd_action`s on regular files (always ready): called at the
    /// next step 1, as the others.
    ready_calls: Vec<Call>,
    /// Library actions to perform at the next step 1 (`due.rs`).
    due: Vec<due::Due>,
    /// Those of them performed before the poll, while they are (a buffer
    /// kept, so that a step 1 allocates nothing).
    due_early: Vec<due::Due>,
    /// True only if every action in `due` is a read, or a write no waiter
    /// here can see, on an owned fd registered here (`due.rs`): step 1 then
    /// performs them all before its poll with no look at each. Kept
    /// conservatively: cleared by any due action that is not, and by any
    /// change of a stream's peer; set again once the list is empty.
    due_unseen: bool,
    /// This step 1 has woken a `Call` (the list must go back to the manager).
    woke_call: bool,
    /// Owned fds known ready for one of their waiters: served at the next
    /// step 1 without an event.
    pending: Vec<RawFd>,
    /// An empty buffer kept for step 1's list of tasks to wake.
    woken: Vec<Woken>,
    /// Raw registrations made so far (their generations).
    raw_generation: u32,
    /// Waiters on raw fds: only they need sweeps.
    raw_waiters: usize,
    /// No task has run since the last sweep of raw fds.
    swept: bool,
    /// This step 1's poll blocked for all the time it was given and woke
    /// nothing (the original's select timed out): step 2 may sleep then.
    waited_out: bool,
    last_sweep: Instant,
    /// Tasks waiting for results from other threads (`remote.rs`).
    remote: Option<remote::Remote>,
    /// The owned TCP streams registered here, by connection (local, peer):
    /// several for one connection where a socket was duplicated
    /// (`try_clone`), each its own fd and entry.
    tcp_here: std::collections::HashMap<(std::net::SocketAddr, std::net::SocketAddr), Vec<RawFd>>,
    /// How many owned TCP streams registered here have no peer yet.
    tcp_unconnected: usize,
}

impl Reactor {
    pub(crate) fn new() -> Reactor {
        Reactor {
            poll: None,
            events: Some(Vec::with_capacity(1024)),
            spare: Spare::new(),
            entries: Vec::new(),
            waiting: 0,
            completed: Vec::new(),
            ready_calls: Vec::new(),
            due: Vec::new(),
            due_early: Vec::new(),
            due_unseen: true,
            woke_call: false,
            pending: Vec::new(),
            woken: Vec::new(),
            raw_generation: 0,
            raw_waiters: 0,
            swept: true,
            waited_out: false,
            last_sweep: Instant::now(),
            remote: None,
            tcp_here: std::collections::HashMap::new(),
            tcp_unconnected: 0,
        }
    }

    /// Tasks ran: any of them may have closed a raw fd, so sweep again in
    /// time. Owned fds need no sweep: their close is seen at once.
    pub(crate) fn note_activity(&mut self) {
        if self.raw_waiters > 0 {
            self.swept = false;
        }
    }

    /// How many tasks wait on fds, or have waits already over.
    pub(crate) fn tasks(&self) -> usize {
        self.waiting + self.completed.len() + self.ready_calls.len() + self.due.len() + self.remote_waiting()
    }

    /// True if this step 1's poll blocked for all its time and woke nothing
    /// (see `manager.rs`, `handle_timeouts`).
    pub(crate) fn waited_out(&self) -> bool {
        self.waited_out
    }

    pub(crate) fn has_waits(&self) -> bool {
        self.waiting > 0
            || !self.completed.is_empty()
            || !self.ready_calls.is_empty()
            || !self.due.is_empty()
            || self.remote_waiting() > 0
    }

    /// The closed list (and through it the registry), made with the epoll
    /// instance at the first use.
    fn poller(&mut self) -> io::Result<Rc<Closed>> {
        if self.poll.is_none() {
            let poll = Poll::new()?;
            let closed = Rc::new(Closed {
                registry: poll.registry().try_clone()?,
                list: Default::default(),
            });
            self.poll = Some((poll, closed));
        }
        Ok(self.poll.as_ref().expect("made above").1.clone())
    }

    fn entry(&mut self, fd: RawFd) -> &mut Entry {
        if self.entries.len() <= fd as usize {
            self.entries.resize_with(fd as usize + 1, Entry::default);
        }
        &mut self.entries[fd as usize]
    }

    /// Parks `task` on `fd`'s entry. With a timeout, sets its timer.
    fn park(&mut self, s: &mut State, task: Stack, mut wait: FdWait) {
        self.park_taken(s, task, &mut wait);
    }

    /// [`park`](Self::park), its action taken out of `wait` (the operation
    /// path reads the wait where the task yielded it, rather than move it).
    /// Out of line, as `park` was: inlined into the operation path, its own
    /// calls (the entry, the number, the FIFO's push) were not, and a
    /// lockstep echo request paid 15 instructions more.
    #[inline(never)]
    fn park_taken(&mut self, s: &mut State, mut task: Stack, wait: &mut FdWait) {
        let (fd, flags) = (wait.fd, wait.flags);
        let seq = number(s, &mut task, fd, wait.timeout);
        self.enter(task, fd, flags, wait.action.take(), seq);
    }

    /// Puts `task`, numbered `seq` (see [`number`]), in `fd`'s FIFO.
    #[inline(always)]
    fn enter(&mut self, task: Stack, fd: RawFd, flags: Flags, action: Option<Action>, seq: u64) {
        self.waiting += 1;
        self.raw_waiters += (self.entry(fd).owner == 0) as usize;
        let entry = self.entry(fd);
        let waiter = Waiter {
            seq,
            task: Some(task),
            flags,
            action,
        };
        if entry.fifo.back().is_some_and(|w| w.seq > seq) {
            insert_in_order(&mut entry.fifo, waiter);
        } else {
            entry.fifo.push_back(waiter);
        }
        entry.count(flags, true);
        entry.live += 1;
    }

    /// Takes the task out of waiter `i` of `fd`'s entry, keeping the counts;
    /// a caller's action goes to the graveyard.
    fn take(&mut self, fd: usize, i: usize, graveyard: &mut Vec<Box<dyn Any>>) -> Option<Stack> {
        let entry = &mut self.entries[fd];
        let raw = entry.owner == 0;
        let (task, action) = entry.take(i)?;
        self.waiting -= 1;
        self.raw_waiters -= raw as usize;
        bury(action, graveyard);
        Some(task)
    }

    /// Takes out the waiter whose timeout fired: `fd`'s waiter number `seq`.
    pub(crate) fn withdraw(&mut self, fd: RawFd, seq: u64, graveyard: &mut Vec<Box<dyn Any>>) -> Option<Stack> {
        self.take_waiter(fd, seq, false, graveyard)
    }

    /// Takes out the waiter of a cancelled task: as [`withdraw`](Self::withdraw),
    /// but a remote wait whose result has come already is taken too.
    pub(crate) fn withdraw_cancelled(
        &mut self,
        fd: RawFd,
        seq: u64,
        graveyard: &mut Vec<Box<dyn Any>>,
    ) -> Option<Stack> {
        self.take_waiter(fd, seq, true, graveyard)
    }

    /// [`withdraw`](Self::withdraw), or with `cancel` [`withdraw_cancelled`](Self::withdraw_cancelled).
    fn take_waiter(&mut self, fd: RawFd, seq: u64, cancel: bool, graveyard: &mut Vec<Box<dyn Any>>) -> Option<Stack> {
        if fd == remote::REMOTE_FD {
            return self.withdraw_remote(seq, cancel, graveyard);
        }
        let entry = self.entries.get(fd as usize)?;
        let i = entry.fifo.binary_search_by_key(&seq, |w| w.seq).ok()?;
        let task = self.take(fd as usize, i, graveyard);
        let entry = &mut self.entries[fd as usize];
        entry.tidy();
        if entry.owner != 0 && fd::keeps_for_next_read(fd) {
            // A `readline` that timed out (or was cancelled) kept part of a
            // line: there is something to read, for whoever reads next, and
            // a reader parked behind it is served at the next step 1.
            entry.ready |= READ;
            self.pend_if_waited(fd, READ);
        }
        task
    }

    /// Takes `cell`'s task out of the waits already over, if it is there
    /// (a cancel that did not find it where its header says it parked).
    pub(crate) fn take_over(&mut self, cell: &TaskCell, graveyard: &mut Vec<Box<dyn Any>>) -> Option<Stack> {
        if let Some(i) = self.completed.iter().position(|task| task.is(cell)) {
            let mut task = self.completed.remove(i);
            graveyard.push(Box::new(task.swap_input(nothing())));
            return Some(task);
        }
        if let Some(i) = self.due.iter().position(|d| d.task.is(cell)) {
            let due = self.due.remove(i);
            bury(due.action, graveyard);
            return Some(due.task);
        }
        let i = self.ready_calls.iter().position(|call| call.task.is(cell))?;
        let call = self.ready_calls.remove(i);
        bury(Some(call.action), graveyard);
        Some(call.task)
    }

    /// Every task waiting on an fd, with the fd, what it waits for, and
    /// the action the manager performs for it, if any; then the tasks whose
    /// wait is over (`None`), to resume at the next step 1.
    pub(crate) fn waiters(&self) -> impl Iterator<Item = (&Stack, Option<FdWaiting>)> {
        let parked = self.entries.iter().enumerate().flat_map(|(fd, entry)| {
            entry.fifo.iter().filter_map(move |w| {
                let task = w.task.as_ref()?;
                Some((task, Some((fd as RawFd, w.flags, w.action.as_ref().map(Action::name)))))
            })
        });
        let due = self
            .due
            .iter()
            .map(|d| (&d.task, Some((d.fd, d.flags, d.action.as_ref().map(Action::name)))));
        let parked = parked.chain(due);
        let over = self.completed.iter().map(|task| (task, None));
        let calls = self.ready_calls.iter().map(|call| (&call.task, None));
        let remote = self.remote.iter().flat_map(|r| r.tasks());
        let remote = remote.map(|task| (task, Some((remote::REMOTE_FD, 0, Some("remote")))));
        parked.chain(over).chain(calls).chain(remote)
    }

    /// Fails every waiter of `fd` with the OS error `code`, into `out`.
    fn fail_all(&mut self, fd: RawFd, code: i32, out: &mut Vec<(Stack, Input)>, graveyard: &mut Vec<Box<dyn Any>>) {
        self.forget_tcp(fd);
        let Some(entry) = self.entries.get_mut(fd as usize) else {
            return;
        };
        for i in 0..entry.fifo.len() {
            if let Some(task) = self.take(fd as usize, i, graveyard) {
                out.push((task, Err(io::Error::from_raw_os_error(code).into())));
            }
        }
        let entry = &mut self.entries[fd as usize];
        *entry = Entry {
            generation: entry.generation,
            ..Entry::default()
        };
    }

    /// Takes every waiting task and action out (the manager is being
    /// dropped), for the caller to drop outside the borrow.
    pub(crate) fn drain(&mut self) -> Vec<Box<dyn Any>> {
        let mut all: Vec<Box<dyn Any>> = Vec::new();
        for entry in &mut self.entries {
            for waiter in entry.fifo.drain(..) {
                if let Some(task) = waiter.task {
                    all.push(Box::new(task));
                }
                if let Some(action) = waiter.action {
                    all.push(Box::new(action));
                }
            }
            entry.live = 0;
            entry.counts = [0; 3];
        }
        all.extend(self.completed.drain(..).map(|done| Box::new(done) as Box<dyn Any>));
        all.extend(self.ready_calls.drain(..).map(|call| Box::new(call) as Box<dyn Any>));
        all.extend(self.due.drain(..).map(|due| Box::new(due) as Box<dyn Any>));
        self.drain_remote(&mut all);
        self.waiting = 0;
        self.raw_waiters = 0;
        all
    }

    /// Takes over another manager's fd waits, registering their fds here.
    /// Their sequence numbers come from the thread's one counter, so each
    /// merged FIFO is put back in order by them.
    pub(crate) fn absorb(&mut self, mut other: Reactor, graveyard: &mut Vec<Box<dyn Any>>) {
        self.absorb_remote(&mut other, graveyard);
        let mut failed = Vec::new();
        other.take_closed(&mut failed, graveyard);
        self.complete_all(failed);
        self.completed.append(&mut other.completed);
        self.ready_calls.append(&mut other.ready_calls);
        self.take_due_of(&mut other);
        let moved: Vec<(RawFd, u32, u32, VecDeque<Waiter>)> = other
            .entries
            .iter_mut()
            .enumerate()
            .filter(|(_, e)| e.live > 0)
            .map(|(fd, e)| (fd as RawFd, e.owner, e.elsewhere, std::mem::take(&mut e.fifo)))
            .collect();
        drop(other); // closes its epoll instance: its registrations go with it
        for (fd, owner, elsewhere, fifo) in moved {
            let mut flags = 0;
            let entry = self.entry(fd);
            if entry.live == 0 {
                // Carried over, so that registering it here keeps its waiters:
                // its own fd's, or (`elsewhere`) waiters on an owned fd of
                // another reactor, perhaps this one's.
                entry.owner = owner;
                entry.generation = owner;
                entry.elsewhere = elsewhere;
            }
            let raw = entry.owner == 0;
            let before = entry.live;
            for waiter in fifo.into_iter().filter(|w| w.task.is_some()) {
                flags |= waiter.flags;
                entry.count(waiter.flags, true);
                entry.live += 1;
                entry.fifo.push_back(waiter);
            }
            entry.fifo.make_contiguous().sort_by_key(|w| w.seq);
            let added = (entry.live - before) as usize;
            self.waiting += added;
            self.raw_waiters += if raw { added } else { 0 };
            if let Err(code) = self.register(fd, flags, graveyard) {
                let mut failed = Vec::new();
                self.fail_all(fd, code, &mut failed, graveyard);
                self.complete_all(failed);
                continue;
            }
            // An owned fd this reactor knows ready already sends no edge for
            // the waiters that came: they are served at the next step 1.
            let entry = &self.entries[fd as usize];
            if entry.owner != 0 {
                self.pend_if_waited(fd, entry.ready & flags);
            }
        }
    }

    /// Makes sure `fd`'s entry is registered here for `flags`: an owned fd
    /// once, a raw fd re-armed. Gives the OS error code on failure.
    fn register(&mut self, fd: RawFd, flags: Flags, graveyard: &mut Vec<Box<dyn Any>>) -> std::result::Result<(), i32> {
        let closed = self.poller().map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))?;
        match fd::owner(fd, &closed) {
            Owner::Here(id) => {
                self.adopt_entry(fd, id, false, graveyard);
                Ok(())
            }
            Owner::Unregistered(id) => self.register_owned(fd, id, &closed, graveyard),
            owner @ (Owner::Raw | Owner::Elsewhere(_)) => {
                let want = flags | self.entries.get(fd as usize).map_or(0, Entry::wanted);
                self.arm(fd, want, owner.elsewhere(), graveyard)
            }
        }
    }

    /// Serves the waiters of `fd`, FIFO, with what it is ready for, into
    /// `woken`. An action that would block leaves its waiter waiting (another
    /// waiter took what there was) and, on an owned fd, clears that direction.
    /// On an owned fd, a readiness waiter is woken only once a look at the
    /// fd (one `poll(2)`, for all of them) finds it ready, unless an action
    /// of this serve was just done on it: its program does the I/O itself,
    /// so an edge, or a bit kept from one, may be stale (`due.rs`).
    fn serve(&mut self, fd: usize, ready: Flags, woken: &mut Vec<Woken>, graveyard: &mut Vec<Box<dyn Any>>) {
        let Some(entry) = self.entries.get_mut(fd) else { return };
        let owned = entry.owner != 0;
        let mut ready = if owned { entry.ready | ready } else { ready };
        // The directions an action of this serve found ready: the fd was
        // ready for them at the one look select would have made first, so
        // the readiness waiters after it are woken for them, whatever the
        // action left (a `recv` that drained it, a short `send`).
        let mut proven: Flags = 0;
        // What a look at the fd found, once one was made.
        let mut looked: Option<Flags> = None;
        let mut i = 0;
        while (ready | proven) != 0 && i < entry.fifo.len() {
            let waiter = &mut entry.fifo[i];
            // A readiness wait, or a caller's closure: user code does the
            // I/O, so it is woken for what the fd was ready for at the look.
            let readiness_wait = owned && waiter.action.is_none();
            let user_code = readiness_wait || (owned && matches!(waiter.action, Some(Action::Call(_))));
            let direction = waiter.flags & if user_code { ready | proven } else { ready };
            if waiter.task.is_none() || direction == 0 {
                i += 1;
                continue;
            }
            if let Some(Action::Call(_)) = waiter.action {
                // A caller's closure: called once the borrow ends.
                let flags = waiter.flags;
                let (task, action) = entry.take(i).expect("a waiter, not a hole");
                self.waiting -= 1;
                self.raw_waiters -= !owned as usize;
                let action = action.expect("a Call action");
                woken.push(Woken::Call(Box::new(Call {
                    task,
                    fd: fd as RawFd,
                    flags,
                    action,
                })));
                self.woke_call = true;
                if i == 0 {
                    entry.fifo.pop_front();
                } else {
                    i += 1;
                }
                continue;
            }
            if readiness_wait && direction & proven == 0 {
                let now = *looked.get_or_insert_with(|| look(fd as RawFd));
                if direction & now == 0 {
                    ready &= !direction; // stale: wait for the next edge
                    i += 1;
                    continue;
                }
            }
            let mut empty = 0;
            let Some(input) = perform(fd as RawFd, waiter.action.as_mut(), &mut empty, &mut self.spare) else {
                // Would block: wait for the next edge. (A `readline` that
                // took part of a line found the fd readable all the same.)
                if owned && direction & READ != 0 && fd::keeps_for_next_read(fd as RawFd) {
                    proven |= READ;
                }
                ready &= !direction;
                entry.urgent &= direction & READ == 0;
                i += 1;
                continue;
            };
            proven |= direction;
            if owned {
                ready &= !entry.told_by_short_io(empty);
            }
            let (mut task, action) = if i == 0 {
                // The usual case: the front waiter, popped whole (no hole
                // left, nothing for the drop glue of an emptied waiter).
                let waiter = entry.fifo.pop_front().expect("the waiter served");
                entry.count(waiter.flags, false);
                entry.live -= 1;
                (waiter.task.expect("a waiter, not a hole"), waiter.action)
            } else {
                let taken = entry.take(i).expect("a waiter, not a hole");
                i += 1;
                taken
            };
            self.waiting -= 1;
            self.raw_waiters -= !owned as usize;
            bury(action, graveyard);
            task.set_input(input);
            woken.push(Woken::Ready(task));
        }
        if owned {
            entry.ready = ready;
        }
        if entry.fifo.len() > entry.live as usize {
            entry.tidy();
        }
    }

    /// Step 1 of `run_next`: enqueue the waits already over, then poll once
    /// (without blocking if tasks are runnable) and enqueue the ready ones.
    /// If any ready waiter is a caller's `fd_action`, nothing is enqueued:
    /// the whole list comes back, in order, for the manager to call those
    /// outside the borrow and then enqueue it ([`Reactor::enqueue_called`]).
    pub(crate) fn poll(&mut self, s: &mut State, timeout: Option<Duration>) -> (Result<()>, Option<Vec<Woken>>) {
        // The buffer is kept between calls, so a poll allocates nothing.
        let mut woken = std::mem::take(&mut self.woken);
        self.waited_out = false;
        // The waits over already come first: those a close failed, then
        // those over when they were yielded (a readiness wait on an fd known
        // ready, a bad fd). Nothing before them can be a caller's action, so
        // they go to the run queue at once, not through `woken`: the order
        // is the same, since whatever `woken` holds is enqueued after them.
        if !self.no_close_pending() {
            let mut failed = Vec::new();
            self.take_closed(&mut failed, &mut s.graveyard);
            for (task, input) in failed {
                s.ready(task, input);
            }
        }
        // Each drain tested first: an empty `Drain` still costs its drop's
        // call (measured, 28 instructions; a lockstep echo request paid two).
        drain_each(&mut self.completed, |task| s.ready_as_is(task));
        if !self.ready_calls.is_empty() {
            woken.extend(self.ready_calls.drain(..).map(|call| Woken::Call(Box::new(call))));
            self.woke_call = true;
        }
        // Indexed, not drained: `serve` borrows the reactor, and the list
        // keeps its buffer (a pass allocates nothing).
        for i in 0..self.pending.len() {
            let fd = self.pending[i] as usize;
            self.entries[fd].pending = false;
            self.serve(fd, 0, &mut woken, &mut s.graveyard);
        }
        self.pending.clear();
        if self.remote.is_some() {
            self.take_remote(&mut woken, &mut s.graveyard);
        }
        if !self.due.is_empty() {
            self.perform_before_poll(s);
        }
        let mut result = if self.waiting == 0 && self.remote_waiting() == 0 {
            Ok(())
        } else if woken.is_empty() && !s.has_runnable() && self.due.is_empty() {
            self.wait_until_woken(s.poll_time(timeout), &mut woken, &mut s.graveyard)
        } else {
            self.wait_for_events(Some(Duration::ZERO), &mut woken, &mut s.graveyard)
        };
        if !self.due.is_empty() {
            // After the poll, as the original performs each action once its
            // select has returned: the poll saw the fds before these sends
            // and receives, not after (`due.rs`).
            self.perform_due(s);
            if result.is_ok() && woken.is_empty() && !s.has_runnable() {
                // Every one would block: block, as that select would have.
                result = self.wait_until_woken(s.poll_time(timeout), &mut woken, &mut s.graveyard);
            }
        }
        self.due_unseen = true; // the list is empty
        self.take_completed(&mut woken); // bad fds found by a sweep
        if std::mem::take(&mut self.woke_call) {
            return (result, Some(woken));
        }
        drain_each(&mut woken, |w| match w {
            Woken::Ready(task) => s.ready_as_is(task),
            call => s.graveyard.push(Box::new(call)), // none: `woke_call` is false
        });
        self.woken = woken;
        (result, None)
    }

    /// Moves the waits already over into `woken` (a test first: the usual
    /// pass has none, and should not pay for draining an empty list).
    fn take_completed(&mut self, woken: &mut Vec<Woken>) {
        if !self.completed.is_empty() {
            woken.extend(self.completed.drain(..).map(Woken::Ready));
        }
    }

    /// Enqueues what step 1 woke, in order, each `Call` with the result of
    /// its call (see [`Reactor::poll`]): a task resumed with it, its closure
    /// to the graveyard; or, if it would block, parked again.
    pub(crate) fn enqueue_called(&mut self, s: &mut State, woken: impl Iterator<Item = (Woken, Option<Input>)>) {
        for (w, result) in woken {
            match (w, result) {
                (Woken::Ready(task), _) => s.ready_as_is(task),
                (Woken::Call(call), Some(input)) => {
                    let Call { task, action, .. } = *call;
                    bury(Some(action), &mut s.graveyard);
                    s.ready(task, input);
                }
                (Woken::Call(call), None) => self.repark(s, *call),
            }
        }
    }

    /// Parks again a `Call` that would block on an fd no longer ready (another
    /// waiter drained it first), with the deadline it had, and without
    /// re-arming its fd: a new edge will wake it (on an owned fd the direction
    /// is no longer known ready). If the fd is still ready for it, the
    /// `WouldBlock` was the closure's own: the task gets it (`EAGAIN`).
    fn repark(&mut self, s: &mut State, mut call: Call) {
        let timeout = match call.task.take_timer() {
            None => None,
            Some(timer) => match s.timers.cancel_remaining(timer, s.clock.now()) {
                Some(left) => Some(left),
                // Its timeout fired while the closure ran (a nested pass it
                // made found the task in no wait set): the wait is over.
                None => return self.finish(s, call.task, Some(call.action), Err(Error::Timeout)),
            },
        };
        let Some(entry) = self.entries.get_mut(call.fd as usize).filter(|e| e.registered != 0) else {
            // Not in epoll: a regular file (always ready: waiting would be for
            // ever), or an fd closed while its action was being called.
            // SAFETY: F_GETFD on any number is harmless.
            let open = unsafe { libc::fcntl(call.fd, libc::F_GETFD) } >= 0;
            let error = if open {
                regular_file_would_block()
            } else {
                io::Error::from_raw_os_error(libc::EBADF)
            };
            return self.finish(s, call.task, Some(call.action), Err(error.into()));
        };
        // What the fd is ready for now, level-triggered (and, owned, a line
        // a timed-out `readline` kept, which no poll can see). Closed (the
        // closure closed it): its error, as a bad fd's.
        let owned = entry.owner != 0;
        let mut now = match poll_now(call.fd, ALL_EVENTS) {
            Err(e) if e.raw_os_error() == Some(libc::EBADF) => {
                bury(Some(call.action), &mut s.graveyard);
                return s.ready(call.task, Err(e.into()));
            }
            revents => poll_flags(revents.unwrap_or(0)) & call.flags,
        };
        if owned && call.flags & READ != 0 && fd::keeps_for_next_read(call.fd) {
            now |= READ;
        }
        if owned {
            entry.ready = (entry.ready & !call.flags) | now;
        }
        if now != 0 {
            // Ready for the closure, which would block all the same: the
            // `WouldBlock` is its own (another fd's, a direction of its own),
            // not that another waiter drained this fd, and the task gets
            // it, as the original raised it. (Waiting on would be for an
            // edge that may never come.) The waiters after it that wait for
            // what the fd is ready for are served at the next step 1.
            if owned {
                self.pend_if_waited(call.fd, now);
            }
            // In this step 1, in its place among the woken, as a result.
            let blocked = io::Error::from_raw_os_error(libc::EAGAIN);
            bury(Some(call.action), &mut s.graveyard);
            return s.ready(call.task, Err(blocked.into()));
        }
        let wait = FdWait {
            fd: call.fd,
            flags: call.flags,
            action: Some(call.action),
            timeout,
        };
        self.park(s, call.task, wait);
    }

    /// Puts owned `fd` on the pending list if a waiter parked on it waits
    /// for one of `ready`, the directions it is known ready for: the
    /// entry's invariant is that no waiter stays parked on a direction
    /// known ready without being served at the next step 1.
    fn pend_if_waited(&mut self, fd: RawFd, ready: Flags) {
        let entry = &mut self.entries[fd as usize];
        if ready != 0 && entry.waits_for(ready) && !entry.pending {
            entry.pending = true;
            self.pending.push(fd);
        }
    }

    /// Blocks until a waiter is woken, or `wait` has passed (`None`: for as
    /// long as it takes), as DESIGN.md §2 has step 1 block. A poll may return
    /// with nothing to wake (an event for an fd no task waits on now, the
    /// sweep's deadline): then it polls again for the time that is left.
    fn wait_until_woken(
        &mut self,
        mut wait: Option<Duration>,
        woken: &mut Vec<Woken>,
        graveyard: &mut Vec<Box<dyn Any>>,
    ) -> Result<()> {
        let deadline = wait.and_then(|w| Instant::now().checked_add(w));
        loop {
            self.wait_for_events(wait, woken, graveyard)?;
            if !woken.is_empty() || !self.completed.is_empty() {
                return Ok(());
            }
            match (wait, deadline) {
                (None, _) => {}
                (Some(_), Some(deadline)) if Instant::now() < deadline => {
                    wait = Some(deadline - Instant::now());
                }
                _ => {
                    self.waited_out = true;
                    return Ok(());
                }
            }
        }
    }

    /// Polls once (a signal ends it early) and serves the ready fds into `woken`.
    ///
    /// "Once" as the original's one `select`: it reports every ready fd, so
    /// while a poll fills the whole event buffer, poll again without waiting.
    fn wait_for_events(
        &mut self,
        mut wait: Option<Duration>,
        woken: &mut Vec<Woken>,
        graveyard: &mut Vec<Box<dyn Any>>,
    ) -> Result<()> {
        if !self.swept {
            // Wake up in time for the next sweep.
            let until = (self.last_sweep + SWEEP_AFTER).saturating_duration_since(Instant::now());
            wait = Some(wait.map_or(until, |w| w.min(until)));
        }
        let Some(mut events) = self.events.take() else {
            return Ok(());
        };
        let result = loop {
            let Some((poll, _)) = &mut self.poll else { break Ok(()) };
            match epoll::wait(poll, &mut events, wait) {
                Ok(()) => {}
                // A signal arrived while blocked: report nothing; a caller
                // that blocks polls again for the time that is left
                // (`wait_until_woken`), not for all of it again.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => break Ok(()),
                Err(e) => break Err(e.into()),
            }
            let mut count = 0;
            for event in events.iter() {
                let token = Token(event.u64 as usize);
                if token == remote::WAKER {
                    // Another thread finished a remote wait of ours.
                    self.take_remote(woken, graveyard);
                    count += 1;
                    continue;
                }
                let (fd, generation, owned) = untoken(token);
                let current = self
                    .entries
                    .get(fd)
                    .is_some_and(|e| e.generation == generation && (e.owner != 0) == owned);
                if current {
                    let entry = &mut self.entries[fd];
                    let bits = event.events as libc::c_int;
                    entry.read_closed |= bits & (libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR) != 0;
                    entry.urgent |= bits & libc::EPOLLPRI != 0;
                    if entry.live == 0 && entry.owner != 0 {
                        // No waiter (its task runs, or its action is due):
                        // the edge is only kept, as `serve` would keep it,
                        // without its call (an echo server's usual event).
                        entry.ready |= readiness(event.events);
                    } else {
                        self.serve(fd, readiness(event.events), woken, graveyard);
                    }
                }
                count += 1;
            }
            if count < events.capacity() {
                break Ok(());
            }
            wait = Some(Duration::ZERO);
        };
        self.events = Some(events);
        if !self.swept && self.last_sweep.elapsed() >= SWEEP_AFTER {
            self.sweep(graveyard);
        }
        result
    }
}

/// Puts `waiter` in `fifo` by its number: an action tried at step 1 that
/// would block, numbered at its yield, goes before the waiters that came after it.
#[cold]
#[inline(never)]
fn insert_in_order(fifo: &mut VecDeque<Waiter>, waiter: Waiter) {
    let i = fifo.partition_point(|w| w.seq < waiter.seq);
    fifo.insert(i, waiter);
}

/// The next waiter number (see [`NEXT_SEQ`]).
#[inline(always)]
fn next_seq() -> u64 {
    NEXT_SEQ.with(|n| {
        let seq = n.get();
        n.set(seq + 1);
        seq
    })
}

/// Numbers `task`'s wait on `fd` (from the thread's one counter, see
/// [`NEXT_SEQ`]), records it in its header (where a cancel finds it) and, with
/// a timeout, sets its timer, which names the wait by that number.
fn number(s: &mut State, task: &mut Stack, fd: RawFd, timeout: Option<Duration>) -> u64 {
    let seq = next_seq();
    if let Some(timeout) = timeout {
        task.set_timer(s.set_timer(timeout, Expiry::Io(fd, seq)));
    }
    task.cell().at.set(At::Io(fd, seq));
    seq
}

/// Calls `each` with every element of `list`, in order, and leaves it empty
/// with its buffer. By hand, not by `drain(..)`: a `Drain` costs its drop's
/// call (28 instructions a lockstep echo request, for each of step 1's two
/// lists). Inlined, and nothing for an empty list.
#[inline(always)]
fn drain_each<T>(list: &mut Vec<T>, mut each: impl FnMut(T)) {
    let n = list.len();
    if n == 0 {
        return;
    }
    // SAFETY: the first `n` elements are initialized; with the length set to
    // 0 first, each is owned by this loop alone and read once (a panic in
    // `each` could only leak the rest, never drop one twice), and `each`
    // cannot reach `list` (it is borrowed mutably here).
    unsafe {
        list.set_len(0);
        let base = list.as_ptr();
        for i in 0..n {
            each(base.add(i).read());
        }
    }
}

/// What owned `fd` is ready for now, as select would see it: [`ready_now`],
/// and readable too while a timed-out `readline` keeps part of a line.
fn look(fd: RawFd) -> Flags {
    let mut now = ready_now(fd);
    if fd::keeps_for_next_read(fd) {
        now |= READ;
    }
    now
}

/// The `poll(2)` events of every direction.
const ALL_EVENTS: libc::c_short = libc::POLLIN | libc::POLLOUT | libc::POLLPRI;

/// What `fd` is ready for now, by a `poll(2)` that does not wait (the
/// level-triggered truth, for the rare case the edges cannot tell).
fn ready_now(fd: RawFd) -> Flags {
    poll_flags(poll_now(fd, ALL_EVENTS).unwrap_or(0))
}

/// The directions a `poll(2)`'s `revents` say an fd is ready for (an error
/// or a hang-up counts for each, as a read or write would then return).
fn poll_flags(revents: libc::c_short) -> Flags {
    let has = |bits: libc::c_short| revents & bits != 0;
    let mut ready = 0;
    if has(libc::POLLIN | libc::POLLHUP | libc::POLLERR) {
        ready |= READ;
    }
    if has(libc::POLLOUT | libc::POLLHUP | libc::POLLERR) {
        ready |= WRITE;
    }
    if has(libc::POLLPRI | libc::POLLERR) {
        ready |= EXC;
    }
    ready
}

/// The error of an action that would block on a regular file: epoll refuses
/// such an fd and select calls it always ready, so waiting would be for ever.
fn regular_file_would_block() -> io::Error {
    let text = "the fd is a regular file, always ready, and its action returned WouldBlock";
    io::Error::new(io::ErrorKind::WouldBlock, text)
}

/// Drops a finished waiter's action; a caller's goes to the graveyard, to be
/// dropped once the manager is no longer borrowed.
#[inline]
fn bury(action: Option<Action>, graveyard: &mut Vec<Box<dyn Any>>) {
    match action {
        Some(action @ Action::Call(_)) => graveyard.push(Box::new(action)),
        action => Action::discard(action),
    }
}

/// What an event says the fd is ready for. An error or hang-up wakes every
/// waiter: their I/O will report it, as select reports such fds as ready.
/// (`events` is the event's epoll bits; mio's `Event` reads them the same way:
/// readable is `EPOLLIN` or `EPOLLPRI`, read-closed `EPOLLHUP` or
/// `EPOLLIN` with `EPOLLRDHUP`, write-closed `EPOLLHUP` or `EPOLLERR`.)
fn readiness(events: u32) -> Flags {
    let has = |bit: libc::c_int| events & bit as u32 != 0;
    if has(libc::EPOLLERR) {
        return READ | WRITE | EXC;
    }
    let mut ready = 0;
    if has(libc::EPOLLIN) || has(libc::EPOLLPRI) || has(libc::EPOLLHUP) {
        ready |= READ;
    }
    if has(libc::EPOLLOUT) || has(libc::EPOLLHUP) {
        ready |= WRITE;
    }
    if has(libc::EPOLLPRI) {
        ready |= EXC;
    }
    ready
}

/// Handles a task that yielded an fd wait (step 3). The fast path, an
/// owned fd registered here, is inlined into the operation path (see
/// `manager.rs`, `run_due`); no close is pending, so it is still the same
/// file (a release would be on the closed list).
#[inline(always)]
pub(crate) fn wait(io: &mut Reactor, s: &mut State, stack: Stack, wait: &mut FdWait) {
    let fd = wait.fd;
    if fd >= 0 && io.entries.get(fd as usize).is_some_and(|e| e.owner != 0) && io.no_close_pending() {
        return io.park_owned(s, stack, wait);
    }
    let wait = FdWait {
        action: wait.action.take(),
        ..*wait
    };
    wait_elsewhere(io, s, stack, wait)
}

/// An fd wait off the fast path: a bad fd, a raw fd, an owned fd not yet
/// registered here.
#[inline(never)]
fn wait_elsewhere(io: &mut Reactor, s: &mut State, stack: Stack, mut wait: FdWait) {
    let fd = wait.fd;
    if fd < 0 {
        let error = Error::invalid(format!("file descriptor cannot be a negative integer ({fd})"));
        return io.finish(s, stack, wait.action, Err(error));
    }
    let closed = match io.poller() {
        Ok(closed) => closed,
        Err(e) => return io.finish(s, stack, wait.action, Err(e.into())),
    };
    let owner = fd::owner(fd, &closed);
    let owned = matches!(owner, Owner::Here(_) | Owner::Unregistered(_));
    let queued = io.entries.get(fd as usize).is_some_and(|e| e.waits_for(wait.flags));
    if !owned && !queued && !matches!(wait.action, None | Some(Action::Call(_))) {
        // Raw fd, library action, no waiter for that direction before it
        // (a `sendall` half-way must not be overtaken): tried at the next
        // step 1, before any re-arm (it cannot block; an fd it is wrong for
        // gives its error there, where select would never find it ready).
        return io.defer(s, stack, &mut wait, fd::id(fd), false);
    }
    let registered = match owner {
        Owner::Here(id) => {
            io.adopt_entry(fd, id, false, &mut s.graveyard);
            Ok(())
        }
        Owner::Unregistered(id) => io.register_owned(fd, id, &closed, &mut s.graveyard),
        owner @ (Owner::Raw | Owner::Elsewhere(_)) => {
            // No entry made before epoll accepts the fd: a huge bogus number costs nothing.
            let want = wait.flags | io.entries.get(fd as usize).map_or(0, Entry::wanted);
            io.arm(fd, want, owner.elsewhere(), &mut s.graveyard)
        }
    };
    if let Err(code) = registered {
        if let (libc::EPERM, Some(Action::Call(_))) = (code, &wait.action) {
            // A regular file (always ready): the caller's closure is called at
            // the next step 1, outside the borrow.
            let action = wait.action.expect("matched above");
            let flags = wait.flags;
            return io.ready_calls.push(Call {
                task: stack,
                fd,
                flags,
                action,
            });
        }
        if code == libc::EPERM && wait.action.is_some() {
            // A regular file: epoll refuses it, select calls it always
            // ready: its action is done at the next step 1, as any other
            // (one that would block there is an error: it would wait for ever).
            return io.defer(s, stack, &mut wait, fd::id(fd), false);
        }
        let input = match code {
            libc::EPERM => nothing(), // a readiness wait: always ready
            code => Err(io::Error::from_raw_os_error(code).into()),
        };
        return io.finish(s, stack, wait.action, input);
    }
    if owned {
        io.park_owned(s, stack, &mut wait);
    } else {
        io.park(s, stack, wait);
    }
}

impl Reactor {
    /// A wait over already: its task resumes with `input`, set in its cell
    /// now, at the next step 1.
    #[inline(always)]
    fn complete(&mut self, mut task: Stack, input: Input) {
        task.set_input(input);
        // Inlined, the growth out of line: `push` is a call of its own (37
        // instructions an echo request, measured), and the list keeps its
        // buffer, so it almost never grows.
        if let Err(task) = self.completed.push_within_capacity(task) {
            self.completed.push(task);
        }
    }

    /// Waits over already, in order (see [`Reactor::complete`]).
    fn complete_all(&mut self, over: Vec<(Stack, Input)>) {
        for (task, input) in over {
            self.complete(task, input);
        }
    }

    /// A wait over before it parked: its task resumes with `input` at the
    /// next step 1; a caller's action goes to the graveyard.
    fn finish(&mut self, s: &mut State, task: Stack, action: Option<Action>, input: Input) {
        bury(action, &mut s.graveyard);
        self.complete(task, input);
    }
}
