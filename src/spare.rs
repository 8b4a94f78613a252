//! Spare message buffers: the `Vec`s of sent messages, kept to hold the
//! next messages received.
//!
//! # Why
//!
//! `recv` gives a new `Vec<u8>` for every message, as Python's gives a new
//! string, and a server that answers (an echo, a proxy, a relay) sends that
//! `Vec` on, to be dropped by the manager once it is sent. A `malloc` and a
//! `free` per message cost about 150 instructions on glibc's fastest path, a
//! tenth of a whole request in the echo benchmark. So the buffer of a message
//! sent in full is kept here instead, and the next `recv` copies what it got
//! into it.
//!
//! # Limits (the invariants `give` keeps)
//!
//! - At most [`SPARES`] buffers, of at most [`MAX_BYTES`] bytes of capacity
//!   in all: what is kept stays small whatever the traffic.
//! - A buffer is reused only for a message that fills at least half of it,
//!   so a received `Vec` never holds much more room than its bytes need.
//! - Only the last buffer given back is looked at: taking and giving are
//!   O(1), and a program that sends messages of one size, the usual case,
//!   reuses every one.
//!
//! Each reactor keeps its own (`reactor/mod.rs`) and lends it to the actions
//! it performs (`action.rs`): no per-thread state to reach, no `RefCell`;
//! both functions are inlined into the recv and the send.
//! Nothing here runs user code (the items are bytes).

/// The most buffers kept: one for each message in flight of a server of a
/// thousand connections (with 64, echo at 1,000 connections allocated for
/// most of its messages: 946 instructions per request against 932, and
/// more user CPU than 1,024 give).
const SPARES: usize = 1024;

/// The most bytes of capacity kept, all buffers together.
const MAX_BYTES: usize = 256 * 1024;

/// A reactor's spare buffers.
#[derive(Default)]
pub(crate) struct Spare {
    buffers: Vec<Vec<u8>>,
    /// The capacity of `buffers`' buffers, in all.
    bytes: usize,
}

impl Spare {
    /// No buffers yet (allocates nothing).
    pub(crate) fn new() -> Spare {
        Spare::default()
    }

    /// A buffer holding a copy of `bytes`: a spare one if the last one given
    /// back fits them (see the limits above), else a new one of their size.
    #[inline(always)]
    pub(crate) fn copy(&mut self, bytes: &[u8]) -> Vec<u8> {
        let fits = |b: &Vec<u8>| b.capacity() >= bytes.len() && b.capacity() / 2 <= bytes.len();
        if !self.buffers.last().is_some_and(fits) {
            return bytes.to_vec();
        }
        let mut buf = self.buffers.pop().expect("a last buffer");
        self.bytes -= buf.capacity();
        buf.extend_from_slice(bytes);
        buf
    }

    /// Keeps the buffer of a message sent in full for a later [`copy`](Spare::copy),
    /// if there is room for it; else it is dropped.
    #[inline(always)]
    pub(crate) fn give(&mut self, mut buf: Vec<u8>) {
        let capacity = buf.capacity();
        if capacity == 0 || self.buffers.len() >= SPARES || self.bytes + capacity > MAX_BYTES {
            return;
        }
        buf.clear();
        self.bytes += capacity;
        // Inlined, the growth out of line (as `Reactor::complete`'s push).
        if let Err(buf) = self.buffers.push_within_capacity(buf) {
            self.buffers.push(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sent_buffer_holds_the_next_message_of_its_size() {
        let mut spare = Spare::new();
        let sent = b"0123456789abcdef".to_vec();
        let at = sent.as_ptr();
        spare.give(sent);
        let got = spare.copy(b"fedcba9876543210");
        assert_eq!(got, b"fedcba9876543210");
        assert_eq!(got.as_ptr(), at, "the spare buffer was reused");
        let next = spare.copy(b"x");
        assert_eq!(next, b"x");
        assert_ne!(next.as_ptr(), at);
        assert_eq!((spare.buffers.len(), spare.bytes), (0, 0));
    }

    #[test]
    fn a_buffer_twice_too_large_is_not_used() {
        let mut spare = Spare::new();
        spare.give(Vec::with_capacity(100));
        let got = spare.copy(&[7; 49]);
        assert_eq!(got.capacity(), 49, "a new buffer of the message's size");
        let got = spare.copy(&[7; 50]);
        assert_eq!(got.capacity(), 100, "the spare: half of it used");
        assert_eq!(spare.bytes, 0);
    }

    #[test]
    fn at_most_spares_buffers_of_at_most_max_bytes_are_kept() {
        let mut spare = Spare::new();
        spare.give(Vec::with_capacity(MAX_BYTES + 1));
        spare.give(Vec::new());
        assert_eq!(spare.buffers.len(), 0);
        for _ in 0..SPARES + 10 {
            spare.give(Vec::with_capacity(8));
        }
        assert_eq!(spare.buffers.len(), SPARES);
        let mut spare = Spare::new();
        for _ in 0..5 {
            spare.give(Vec::with_capacity(MAX_BYTES / 4));
        }
        assert_eq!(spare.buffers.len(), 4, "no more than MAX_BYTES in all");
        assert_eq!(spare.bytes, MAX_BYTES);
    }
}
