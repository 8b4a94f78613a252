//! The run queue: the original's `collections.deque` of runnable tasks.
//!
//! # Why it is not a `VecDeque`
//!
//! The hottest operation of the scheduler is a bare `yield`: the task goes to
//! the back of the queue and the next one comes off the front, in the same
//! borrow. On a `VecDeque` that is a `push_back` and a `pop_front`, each with
//! its own length test, its own wrap of the index (a compare and a
//! conditional move, since the capacity need not be a power of two) and its
//! own loads of the buffer and the capacity: measured, about 30 instructions
//! of the 108 a switch cost among 1,000 tasks. Here the capacity is a power of
//! two, so an index wraps with one `and`, and the pair is one operation,
//! [`RunQueue::rotate`]: the front is read, the task written behind the last
//! one, the head moves on; the length does not change, so nothing is tested
//! (about 10 instructions). Measured with cachegrind, a switch went from 108
//! instructions to 93 among 1,000 tasks and from 110 to 96 among 10. Everything
//! else is what a deque does, and the growth is out of line, so that a
//! `push_back` inlined into the operation path stays as small as the
//! `VecDeque` one it replaces (a ping-pong round trip 1,568 -> 1,550, spawn
//! and finish 496 -> 485).
//!
//! # Invariants
//!
//! - The capacity, `mask + 1` (kept as the mask: every index uses it), is
//!   0 (`mask` is `usize::MAX`, nothing allocated, `buf` dangling) or a
//!   power of two.
//! - `head <= mask` once allocated; `len <= mask + 1`.
//! - The slots `(head + i) & mask` for `i < len` hold values; every other
//!   slot is uninitialised.

use std::alloc::{self, Layout};
use std::mem::MaybeUninit;
use std::ptr::{self, NonNull};

/// A FIFO ring of `T` whose capacity is a power of two.
pub(crate) struct RunQueue<T> {
    buf: NonNull<MaybeUninit<T>>,
    mask: usize,
    head: usize,
    len: usize,
}

impl<T> RunQueue<T> {
    /// An empty queue; it allocates at its first push.
    pub(crate) const fn new() -> RunQueue<T> {
        RunQueue {
            buf: NonNull::dangling(),
            mask: usize::MAX,
            head: 0,
            len: 0,
        }
    }

    /// How many values it holds.
    #[inline(always)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// True if it holds none.
    #[inline(always)]
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The slot of the value `i` places from the front (or of the next one
    /// pushed, for `i == len`). Needs the buffer allocated.
    #[inline(always)]
    fn slot(&self, i: usize) -> *mut MaybeUninit<T> {
        // SAFETY: allocated (the caller's), the masked index is in the buffer.
        unsafe { self.buf.as_ptr().add((self.head + i) & self.mask) }
    }

    /// How many values fit before it grows.
    #[inline(always)]
    fn capacity(&self) -> usize {
        self.mask.wrapping_add(1)
    }

    /// Appends `value` at the back.
    #[inline(always)]
    pub(crate) fn push_back(&mut self, value: T) {
        if self.len == self.capacity() {
            self.grow();
        }
        // SAFETY: `len < cap` now, so the slot behind the last value is free.
        unsafe { (*self.slot(self.len)).write(value) };
        self.len += 1;
    }

    /// Takes the value at the front.
    #[inline(always)]
    pub(crate) fn pop_front(&mut self) -> Option<T> {
        if self.len == 0 {
            return None;
        }
        // SAFETY: `len > 0`: the front slot holds a value, which is moved out
        // and no longer counted.
        let value = unsafe { (*self.slot(0)).assume_init_read() };
        self.head = (self.head + 1) & self.mask;
        self.len -= 1;
        Some(value)
    }

    /// `push_back(value)` then `pop_front()`: the front value comes out,
    /// `value` goes behind the last one (an empty queue gives `value` back).
    ///
    /// With the queue full, the slot behind the last value *is* the front
    /// slot: it is read before it is written, so that holds too.
    #[inline(always)]
    pub(crate) fn rotate(&mut self, value: T) -> T {
        if self.len == 0 {
            return value;
        }
        // SAFETY: `len > 0`, so it is allocated and the front slot holds a value;
        // it is read out first, then the slot `len` places on (free, or the
        // front slot itself when the queue is full) takes `value`: the same
        // `len` values are held, from the next head.
        unsafe {
            let front = (*self.slot(0)).assume_init_read();
            (*self.slot(self.len)).write(value);
            self.head = (self.head + 1) & self.mask;
            front
        }
    }

    /// Doubles the capacity (at least 8), keeping the values in order. Out of
    /// line: see the top of the file.
    #[cold]
    #[inline(never)]
    fn grow(&mut self) {
        let cap = (self.capacity() * 2).max(8);
        let layout = Layout::array::<T>(cap).expect("run queue capacity overflow");
        let buf = if layout.size() == 0 {
            NonNull::dangling()
        } else {
            // SAFETY: the layout is not zero-sized.
            let p = unsafe { alloc::alloc(layout) } as *mut MaybeUninit<T>;
            NonNull::new(p).unwrap_or_else(|| alloc::handle_alloc_error(layout))
        };
        for i in 0..self.len {
            // SAFETY: slot `i` of the old buffer holds a value; it moves to
            // slot `i` of the new one (head 0), and the old buffer is freed
            // without dropping anything.
            unsafe { ptr::copy_nonoverlapping(self.slot(i), buf.as_ptr().add(i), 1) };
        }
        self.free();
        (self.buf, self.mask, self.head) = (buf, cap - 1, 0);
    }

    /// Frees the buffer (its values must have been moved out or dropped).
    fn free(&mut self) {
        if self.capacity() > 0 {
            let layout = Layout::array::<T>(self.capacity()).expect("allocated with it");
            if layout.size() > 0 {
                // SAFETY: allocated by `grow` with this layout.
                unsafe { alloc::dealloc(self.buf.as_ptr().cast(), layout) };
            }
        }
    }

    /// The values, front first, as the two runs of the ring.
    fn as_slices(&self) -> (&[T], &[T]) {
        if self.capacity() == 0 {
            return (&[], &[]);
        }
        let first = self.len.min(self.capacity() - self.head);
        // SAFETY: the slots `head..head + first` and `0..len - first` hold
        // the `len` values (see the invariants), borrowed with `self`.
        unsafe {
            let base = self.buf.as_ptr().cast::<T>();
            (
                std::slice::from_raw_parts(base.add(self.head), first),
                std::slice::from_raw_parts(base, self.len - first),
            )
        }
    }

    /// [`as_slices`](Self::as_slices), mutable.
    fn as_mut_slices(&mut self) -> (&mut [T], &mut [T]) {
        if self.capacity() == 0 {
            return (&mut [], &mut []);
        }
        let first = self.len.min(self.capacity() - self.head);
        // SAFETY: as in `as_slices`; the two runs do not overlap.
        unsafe {
            let base = self.buf.as_ptr().cast::<T>();
            (
                std::slice::from_raw_parts_mut(base.add(self.head), first),
                std::slice::from_raw_parts_mut(base, self.len - first),
            )
        }
    }

    /// The values, front first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        let (a, b) = self.as_slices();
        a.iter().chain(b)
    }

    /// The values, front first, mutable.
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        let (a, b) = self.as_mut_slices();
        a.iter_mut().chain(b)
    }

    /// Takes out the value `i` places from the front, the ones behind it
    /// moving up (O(n): only a cancel does it).
    pub(crate) fn remove(&mut self, i: usize) -> Option<T> {
        if i >= self.len {
            return None;
        }
        // SAFETY: slot `i` holds a value, moved out; each later one moves
        // up a place, and the last slot is no longer counted.
        unsafe {
            let value = (*self.slot(i)).assume_init_read();
            for j in i..self.len - 1 {
                ptr::copy_nonoverlapping(self.slot(j + 1), self.slot(j), 1);
            }
            self.len -= 1;
            Some(value)
        }
    }

    /// Moves every value of `other` behind this queue's, in order.
    pub(crate) fn append(&mut self, other: &mut RunQueue<T>) {
        while let Some(value) = other.pop_front() {
            self.push_back(value);
        }
    }

    /// Takes the values out, front first, as the iterator is driven (the
    /// manager drives it to the end).
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = T> + '_ {
        std::iter::from_fn(move || self.pop_front())
    }
}

impl<T> Default for RunQueue<T> {
    fn default() -> RunQueue<T> {
        RunQueue::new()
    }
}

impl<T> Drop for RunQueue<T> {
    /// Drops the values still held, front first (if one's `Drop` panics, the
    /// rest are still dropped), then frees the buffer.
    fn drop(&mut self) {
        /// Drops the back run even if dropping the front run panicked, and
        /// frees the buffer last.
        struct Back<'a, T>(&'a mut RunQueue<T>, *mut [T]);
        impl<T> Drop for Back<'_, T> {
            fn drop(&mut self) {
                /// Frees the buffer even if dropping the back run panicked.
                struct Free<'a, T>(&'a mut RunQueue<T>);
                impl<T> Drop for Free<'_, T> {
                    fn drop(&mut self) {
                        self.0.free();
                    }
                }
                let free = Free(&mut *self.0);
                // SAFETY: the back run's values, dropped once.
                unsafe { ptr::drop_in_place(self.1) };
                drop(free);
            }
        }
        let (front, back) = self.as_mut_slices();
        let (front, back) = (front as *mut [T], back as *mut [T]);
        self.len = 0;
        let back = Back(self, back);
        // SAFETY: the front run's values, dropped once (`len` is 0 now: no
        // other path drops them).
        unsafe { ptr::drop_in_place(front) };
        drop(back);
    }
}

#[cfg(test)]
mod tests {
    use super::RunQueue;
    use std::cell::RefCell;
    use std::rc::Rc;

    /// Pushes `0..n`, then rotates and pops, checking every value against a
    /// `VecDeque` doing the same.
    #[test]
    fn rotate_push_and_pop_agree_with_a_deque() {
        let mut q = RunQueue::new();
        let mut model = std::collections::VecDeque::new();
        let mut next = 0;
        for step in 0..2_000u32 {
            match step % 7 {
                0..=2 => {
                    q.push_back(next);
                    model.push_back(next);
                    next += 1;
                }
                3 | 4 if !model.is_empty() => {
                    model.push_back(next);
                    assert_eq!(q.rotate(next), model.pop_front().unwrap());
                    next += 1;
                }
                _ => assert_eq!(q.pop_front(), model.pop_front()),
            }
            assert_eq!(q.len(), model.len());
            assert!(q.iter().eq(model.iter()));
        }
    }

    #[test]
    fn rotate_on_a_full_ring_keeps_the_order() {
        let mut q = RunQueue::new();
        for i in 0..8 {
            q.push_back(i);
        }
        assert_eq!(q.capacity(), 8);
        assert_eq!(q.rotate(8), 0);
        assert_eq!(q.rotate(9), 1);
        assert_eq!(q.iter().copied().collect::<Vec<_>>(), [2, 3, 4, 5, 6, 7, 8, 9]);
        q.push_back(10); // grows from a wrapped ring
        assert_eq!(q.drain().collect::<Vec<_>>(), [2, 3, 4, 5, 6, 7, 8, 9, 10]);
    }

    #[test]
    fn remove_append_and_iter_mut() {
        let mut q = RunQueue::new();
        for i in 0..6 {
            q.push_back(i);
        }
        q.pop_front();
        q.push_back(6);
        assert_eq!(q.remove(2), Some(3));
        assert_eq!(q.remove(9), None);
        q.iter_mut().for_each(|v| *v *= 10);
        let mut other = RunQueue::new();
        other.push_back(70);
        q.append(&mut other);
        assert!(other.is_empty());
        assert_eq!(q.iter().copied().collect::<Vec<_>>(), [10, 20, 40, 50, 60, 70]);
    }

    /// Every value left in it is dropped once, in order, even when one
    /// `Drop` panics.
    #[test]
    fn drop_drops_each_value_once_even_past_a_panic() {
        struct Noisy(u32, Rc<RefCell<Vec<u32>>>);
        impl Drop for Noisy {
            fn drop(&mut self) {
                self.1.borrow_mut().push(self.0);
                if self.0 == 5 {
                    panic!("five");
                }
            }
        }
        let log = Rc::new(RefCell::new(Vec::new()));
        let mut q = RunQueue::new();
        for i in 0..8 {
            q.push_back(Noisy(i, log.clone()));
        }
        let fronts: Vec<Noisy> = (8..12).map(|i| q.rotate(Noisy(i, log.clone()))).collect(); // wraps the ring
        drop(fronts);
        assert_eq!(*log.borrow(), [0, 1, 2, 3]);
        log.borrow_mut().clear();
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(q)));
        assert!(caught.is_err());
        assert_eq!(*log.borrow(), [4, 5, 6, 7, 8, 9, 10, 11]);
    }
}
