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
//! - At most [`SPARES`] buffers per thread, each of at most [`MAX_SPARE`]
//!   bytes: what is kept stays small whatever the traffic.
//! - A buffer is reused only for a message that fills at least half of it,
//!   so a received `Vec` never holds much more room than its bytes need.
//! - Only the last buffer given back is looked at: taking and giving are
//!   O(1), and a program that sends messages of one size, the usual case,
//!   reuses every one.
//!
//! Kept per thread, not per manager: the actions (`action.rs`) run inside
//! whichever manager the thread is running and know nothing of it. Nothing
//! here runs user code (the items are bytes).

use std::cell::RefCell;

/// The most buffers kept on a thread.
const SPARES: usize = 64;

/// The largest buffer kept, in bytes of capacity.
const MAX_SPARE: usize = 64 * 1024;

thread_local! {
    static BUFFERS: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// A buffer holding a copy of `bytes`: a spare one if the last one given
/// back fits them (see the limits above), else a new one of their size.
pub(crate) fn copy(bytes: &[u8]) -> Vec<u8> {
    let spare = BUFFERS
        .try_with(|spares| {
            let mut spares = spares.try_borrow_mut().ok()?;
            let fits = spares
                .last()
                .is_some_and(|b| b.capacity() >= bytes.len() && b.capacity() / 2 <= bytes.len());
            if fits {
                spares.pop()
            } else {
                None
            }
        })
        .ok()
        .flatten();
    match spare {
        Some(mut buf) => {
            buf.extend_from_slice(bytes);
            buf
        }
        None => bytes.to_vec(),
    }
}

/// Keeps the buffer of a message sent in full for a later [`copy`], if
/// there is room for it; else it is dropped.
pub(crate) fn give(mut buf: Vec<u8>) {
    if buf.capacity() == 0 || buf.capacity() > MAX_SPARE {
        return;
    }
    buf.clear();
    let _ = BUFFERS.try_with(|spares| {
        if let Ok(mut spares) = spares.try_borrow_mut() {
            if spares.len() < SPARES {
                spares.push(buf);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Takes every spare off this thread (each test runs on its own thread,
    /// but says so anyway).
    fn empty() {
        BUFFERS.with(|spares| spares.borrow_mut().clear());
    }

    #[test]
    fn a_sent_buffer_holds_the_next_message_of_its_size() {
        empty();
        let sent = b"0123456789abcdef".to_vec();
        let at = sent.as_ptr();
        give(sent);
        let got = copy(b"fedcba9876543210");
        assert_eq!(got, b"fedcba9876543210");
        assert_eq!(got.as_ptr(), at, "the spare buffer was reused");
        let next = copy(b"x");
        assert_eq!(next, b"x");
        assert_ne!(next.as_ptr(), at);
    }

    #[test]
    fn a_buffer_twice_too_large_is_not_used() {
        empty();
        give(Vec::with_capacity(100));
        let got = copy(&[7; 49]);
        assert_eq!(got.capacity(), 49, "a new buffer of the message's size");
        let got = copy(&[7; 50]);
        assert_eq!(got.capacity(), 100, "the spare: half of it used");
    }

    #[test]
    fn at_most_spares_buffers_of_at_most_max_spare_bytes_are_kept() {
        empty();
        give(Vec::with_capacity(MAX_SPARE + 1));
        give(Vec::new());
        assert_eq!(BUFFERS.with(|s| s.borrow().len()), 0);
        for _ in 0..SPARES + 10 {
            give(Vec::with_capacity(8));
        }
        assert_eq!(BUFFERS.with(|s| s.borrow().len()), SPARES);
    }
}
