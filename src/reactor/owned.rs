//! The owned path: fds of the crate's own types (`net.rs`), registered once
//! with this reactor, their readiness kept in their entry, their release
//! seen at once through the [`Closed`] list.
//!
//! # Invariants
//!
//! - An entry with an owner id is registered here, for read, write and
//!   priority data, edge-triggered, under a token carrying that id.
//! - `ready` holds the directions an event has reported and no call has
//!   found empty since. It may say "ready" wrongly (a read behind the library's
//!   back): then the next try finds `EAGAIN` and clears it. It never says
//!   "not ready" wrongly, since every edge sets it: no waiter can miss one.
//! - No waiter stays parked for a direction `ready` holds unless the entry
//!   is on the pending list, to be served at the next step 1 in FIFO order
//!   (`pend_if_waited`); and a new wait takes the fast path only when no
//!   waiter before it waits for that direction, so none is overtaken.
//! - While the closed list is empty, an entry with an owner is still that
//!   owner's file (a release puts it on the list first).

use std::any::Any;
use std::net::SocketAddr;
use std::os::fd::{FromRawFd, RawFd};
use std::rc::Rc;

use mio::Interest;

use super::{token, Reactor};
use crate::epoll;
use crate::fd::{self, Closed, EXC, READ, WRITE};
use crate::op::{Action, FdWait, Input};
use crate::sched::State;
use crate::task::Stack;

impl Reactor {
    /// An owned fd registered here: if its entry belonged to an earlier file
    /// of that number, that file's waiters are failed first.
    pub(super) fn adopt_entry(&mut self, fd: RawFd, id: u32, same_file: bool, graveyard: &mut Vec<Box<dyn Any>>) {
        let entry = self.entry(fd);
        if entry.owner == id {
            return;
        }
        if entry.owner == 0 && (entry.elsewhere == id || same_file) {
            // Its waiters waited on this very fd through the compatibility
            // path: while another reactor had it (a merge took that one
            // away), or by its number before it became the crate's (epoll
            // had that file under that number): they wait on here, as owned
            // waiters.
            let live = entry.live as usize;
            self.raw_waiters -= live;
        } else {
            let mut failed = Vec::new();
            self.fail_all(fd, libc::EBADF, &mut failed, graveyard);
            self.complete_all(failed);
        }
        let entry = self.entry(fd);
        entry.owner = id;
        entry.generation = id;
        entry.registered = READ | WRITE | EXC;
        entry.elsewhere = 0;
    }

    /// Registers an owned fd with this reactor, once, for read, write and
    /// priority data, edge-triggered.
    pub(super) fn register_owned(
        &mut self,
        fd: RawFd,
        id: u32,
        closed: &Rc<Closed>,
        graveyard: &mut Vec<Box<dyn Any>>,
    ) -> std::result::Result<(), i32> {
        let interest = Interest::READABLE | Interest::WRITABLE | Interest::PRIORITY;
        let tok = token(fd, id, true);
        let registry = &closed.registry;
        let mut same_file = false;
        let result = match epoll::add(registry, fd, tok, interest) {
            // Waited on before as a raw fd: epoll keys a registration by the
            // file and its number, so this is the same file; its
            // registration is taken over, and so are its waiters.
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
                same_file = true;
                epoll::modify(registry, fd, tok, interest)
            }
            other => other,
        };
        result.map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))?;
        fd::set_registered(fd, id, closed);
        self.adopt_entry(fd, id, same_file, graveyard);
        let stream = fd::is_stream(fd);
        let entry = self.entry(fd);
        entry.stream = stream;
        entry.ready = 0;
        entry.read_closed = false;
        entry.urgent = false;
        if stream {
            self.note_tcp(fd);
        }
        Ok(())
    }

    /// A stream registered here: if it is a connected TCP socket, its
    /// connection (local and peer address, IPv4-mapped ones made plain) goes
    /// in [`Reactor::tcp_here`], and its peer is elsewhere unless that map
    /// has the reverse connection (then neither of the two is: a write on one
    /// makes the other ready, which this reactor's poll must not see before
    /// the original's select would, `due.rs`), or it is connected to itself.
    /// A TCP stream not connected yet (the crate's `connect` registers it
    /// while the handshake goes on) is counted in
    /// [`Reactor::tcp_unconnected`] instead: its peer may come to be here,
    /// and while any is, no write goes early. Two or three address calls per
    /// connection, none per request.
    fn note_tcp(&mut self, fd: RawFd) {
        self.forget_tcp(fd);
        // SAFETY: `fd` is open (just registered); the `TcpStream` only asks
        // for its addresses and is never dropped (it does not own `fd`).
        let sock = std::mem::ManuallyDrop::new(unsafe { std::net::TcpStream::from_raw_fd(fd) });
        let plain = |a: SocketAddr| SocketAddr::new(a.ip().to_canonical(), a.port());
        let Ok(local) = sock.local_addr().map(plain) else {
            return; // not TCP: its peer may be anywhere
        };
        let Ok(peer) = sock.peer_addr().map(plain) else {
            if !fd::is_listening(fd) {
                self.tcp_unconnected += 1;
                self.entries[fd as usize].tcp_unconnected = true;
            }
            return;
        };
        // Every fd of the reverse connection (a duplicated socket has
        // several) has its peer here now.
        let peers = self.tcp_here.get(&(peer, local)).map_or(&[][..], Vec::as_slice);
        for &other in peers {
            self.entries[other as usize].peer_elsewhere = false;
        }
        let peer_here = !peers.is_empty();
        self.due_unseen &= !peer_here;
        self.tcp_here.entry((local, peer)).or_default().push(fd);
        let entry = &mut self.entries[fd as usize];
        entry.tcp_conn = Some((local, peer));
        entry.peer_elsewhere = !peer_here && local != peer;
    }

    /// Takes `fd`'s connection out of [`Reactor::tcp_here`] (it closes, or
    /// its number is another file's now), or its count of streams not yet
    /// connected.
    pub(super) fn forget_tcp(&mut self, fd: RawFd) {
        let Some(entry) = self.entries.get_mut(fd as usize) else {
            return;
        };
        entry.peer_elsewhere = false;
        self.due_unseen = false;
        if std::mem::take(&mut entry.tcp_unconnected) {
            self.tcp_unconnected -= 1;
        }
        if let Some(conn) = entry.tcp_conn.take() {
            // Only this fd: a duplicate of it may still be registered here.
            if let Some(fds) = self.tcp_here.get_mut(&conn) {
                fds.retain(|&other| other != fd);
                if fds.is_empty() {
                    self.tcp_here.remove(&conn);
                }
            }
        }
    }

    /// Takes the closed list: the waiters of each owned fd that closed get
    /// `EBADF`, into `out`.
    pub(super) fn take_closed(&mut self, out: &mut Vec<(Stack, Input)>, graveyard: &mut Vec<Box<dyn Any>>) {
        let Some((_, closed)) = &self.poll else { return };
        if closed.list.borrow().is_empty() {
            return;
        }
        let closed = closed.clone();
        let list = std::mem::take(&mut *closed.list.borrow_mut());
        for (fd, id) in list {
            // Registered here, or waited on here through the compatibility
            // path while another reactor had it (`fd::watch`).
            let Some(entry) = self.entries.get(fd as usize) else {
                continue;
            };
            let watched = entry.owner == 0 && entry.elsewhere == id;
            if entry.owner != id && !watched {
                continue;
            }
            if watched && entry.registered != 0 {
                // That path's registration here is of the number, and the
                // file may still be open (`into_inner`): it goes with its
                // waiters, so that a later raw wait on it registers afresh.
                // (Refused harmlessly if the number is closed or another
                // file's now.)
                let _ = epoll::delete(&closed.registry, fd);
            }
            self.fail_all(fd, libc::EBADF, out, graveyard);
            self.entries[fd as usize].owner = 0;
        }
    }

    /// A wait on an owned fd registered here, known ready for it, with no
    /// waiter before it waiting for that: a readiness wait's fd is looked
    /// at, at the next step 1 before its poll (its program does the I/O
    /// itself, so what is known may be stale), and it resumes if the fd is
    /// ready; a library action (a `recv`, a `send`) is
    /// performed at the next step 1, a read before its poll and a write
    /// after it (`due.rs`). Any other
    /// wait parks; if the fd is known ready for it (a caller's `fd_action`,
    /// or one behind other waiters), the entry is served at the next step 1
    /// with no event, in FIFO order, as the original calls it once select has
    /// found the fd ready. Not known ready: the wait parks until an event
    /// comes, with no syscall.
    /// Inlined into the operation path (see `manager.rs`, `run_due`).
    #[inline(always)]
    pub(super) fn park_owned(&mut self, s: &mut State, stack: Stack, wait: &mut FdWait) {
        let entry = &mut self.entries[wait.fd as usize];
        let direction = entry.ready & wait.flags;
        if direction != 0 {
            let first = entry.live == 0 || !entry.waits_for(direction);
            match &wait.action {
                // A readiness wait: its fd is looked at, at step 1 (`due.rs`).
                None if first => {
                    let owner = entry.owner;
                    return self.defer(s, stack, wait, owner, true);
                }
                Some(action) if first && !matches!(action, Action::Call(_)) => {
                    let owner = entry.owner;
                    return self.defer(s, stack, wait, owner, true);
                }
                _ => {}
            }
            if !entry.pending {
                entry.pending = true;
                self.pending.push(wait.fd);
            }
            if !first && !self.due.is_empty() {
                self.park_due_of(wait.fd, direction);
            }
        }
        self.park_taken(s, stack, wait);
    }

    /// True if no owned fd registered here was released since the last step 1.
    pub(super) fn no_close_pending(&self) -> bool {
        self.poll
            .as_ref()
            .is_some_and(|(_, closed)| closed.list.borrow().is_empty())
    }
}
