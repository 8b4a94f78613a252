//! The memory of task cells (and of queue cores, through [`Pooled`]): blocks
//! of one size carved from chunks, per thread.
//!
//! # Why a pool of its own
//!
//! A task's cell (`cell.rs`) is one allocation of about 200 bytes. glibc's
//! `malloc` serves that size from its slow paths: its per-thread cache holds
//! seven chunks of a size, and there are no fast bins above 128 bytes, so
//! when tasks come and go in bulk (a fan-out, a server's connections, the
//! spawn benchmark) each `free` coalesces with its neighbours and each
//! `malloc` searches its bins. Measured, that was 353 of the 794
//! instructions of a spawn and finish. Tasks are made and dropped on one
//! thread (a cell is not `Send`), all of a few sizes, so the cure is the
//! one mimalloc uses: blocks of one size in a chunk, a free list in each
//! chunk, and a thread's chunks of each size in lists of their own. An
//! allocation pops a block (or takes the next untouched one), a free pushes
//! it back: about twenty instructions each, and no header per block.
//!
//! # How
//!
//! - Sizes up to [`MAX_BLOCK`] with an alignment up to 16 are rounded up to
//!   a multiple of 8, one size class each; anything else goes to the global
//!   allocator. Both ways are told from the layout alone, so `dealloc`
//!   always takes the way `alloc` took.
//! - A chunk is [`CHUNK`] bytes aligned to its size: a block's chunk is
//!   its address with the low bits cleared, and its header says how much of
//!   the chunk is handed out, which blocks are free and in which state the
//!   chunk is ([`State`]).
//! - Chunks are mapped from the kernel (`mmap`), not taken from `malloc`:
//!   blocks are handed out in address order, so only the pages reached so
//!   far are in memory (made 64 KiB at a time, in one call, rather than a
//!   fault per page: [`populate`]), and an unmapped chunk is given back at
//!   once. A
//!   chunk from `malloc`'s `memalign` put the allocator's header on a page
//!   of its own before the chunk: measured, 16 more bytes of RSS per idle
//!   task with 64 KiB chunks than without the pool. Mapping one costs
//!   three syscalls (the map, and the unmapping of what is left over on
//!   either side of the aligned chunk), once per thousand cells.
//! - Each class of a thread has one *current* chunk, the one allocations
//!   come from, and a list of *partial* chunks that have both free and live
//!   blocks. A chunk with no free block is in no list (*full*) until a block
//!   of it is freed. A chunk whose last live block is freed, other than the
//!   current one, goes back to the global allocator: memory a burst took
//!   is given back when the burst is over, as the soak run checks.
//! - The pool is a thread-local with a destructor. When the thread ends it
//!   frees the chunks with no live block and leaves the others *orphaned*:
//!   a block freed later (a manager in another thread-local, dropped after
//!   the pool) is counted in its chunk alone, which is freed with its last
//!   block. An allocation after the pool is gone gets an orphaned chunk of
//!   its own.
//! - Under AddressSanitizer the pool is off, so that ASan sees each cell's
//!   allocation and free.
//!
//! # Invariants
//!
//! - `live` counts a chunk's blocks handed out and not freed; `free` lists
//!   the freed ones, and `bump` is the offset of the first block never
//!   handed out. Every block below `bump` is either live or on `free`.
//! - A chunk is in its class's partial list if and only if its state is
//!   [`State::Partial`]; then it has a live block and a free one.
//! - Only the pool's own thread touches its chunks (cells and the `Rc`s
//!   [`Pooled`] serves are not `Send`).

use std::alloc::{self, AllocError, Allocator, Layout};
use std::cell::Cell;
use std::ptr::{self, NonNull};

/// The size of a chunk, which is also its alignment.
const CHUNK: usize = 256 * 1024;
/// A chunk's pages are made this many bytes at a time ([`populate`]).
const WINDOW: usize = 64 * 1024;
/// Block sizes are multiples of this.
const GRANULE: usize = 8;
/// The largest block the pool serves; larger cells go to the global allocator.
const MAX_BLOCK: usize = 512;
/// The number of size classes: 8, 16, ..., 512 bytes.
const CLASSES: usize = MAX_BLOCK / GRANULE;
/// Where a chunk's first block starts: after its header, 16-aligned.
const FIRST: usize = std::mem::size_of::<Chunk>();

/// Where a chunk stands, which says which lists it is in (see the top).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    /// Its class's current chunk.
    Current,
    /// In its class's partial list.
    Partial,
    /// In no list: every block handed out is live.
    Full,
    /// Its thread's pool is gone: freed with its last live block.
    Orphan,
}

/// A freed block: the next one on its chunk's free list.
struct Free {
    next: *mut Free,
}

/// A chunk's header, at its start; its blocks follow.
#[repr(C, align(64))]
struct Chunk {
    /// The size of its blocks (its class's, [`block_size`]).
    block: usize,
    /// Blocks handed out and not freed.
    live: usize,
    /// Freed blocks, last freed first.
    free: *mut Free,
    /// Offset of the first block never handed out.
    bump: usize,
    /// Offset up to which the chunk's pages were made at once ([`populate`]).
    populated: usize,
    /// Neighbours in the partial list.
    prev: *mut Chunk,
    next: *mut Chunk,
    state: State,
}

/// One size class of a thread's pool.
struct Class {
    current: Cell<*mut Chunk>,
    /// The head of the partial list.
    partial: Cell<*mut Chunk>,
}

/// A thread's pool: one [`Class`] per block size.
struct Pool {
    classes: [Class; CLASSES],
}

thread_local! {
    static POOL: Pool = const { Pool::new() };
}

/// The size class of `layout`, if the pool serves it.
#[inline(always)]
fn class_of(layout: Layout) -> Option<usize> {
    if cfg!(sanitize = "address") || layout.size() > MAX_BLOCK || layout.align() > 16 {
        return None;
    }
    // A size is a multiple of its alignment, so a 16-aligned one rounds to
    // itself and its blocks, 16 bytes apart from a 16-aligned start, stay
    // aligned. `max(1)`: a class has room for a free list's link.
    Some(layout.size().max(1).div_ceil(GRANULE) - 1)
}

/// Memory for `layout`, from the pool if it serves that size; null if
/// there is none. As [`alloc::alloc`]; `layout` is not zero-sized.
#[inline(always)]
pub(crate) unsafe fn alloc(layout: Layout) -> *mut u8 {
    let Some(class) = class_of(layout) else {
        // SAFETY: as this function's own contract.
        return unsafe { alloc::alloc(layout) };
    };
    POOL.try_with(|pool| {
        let current = pool.classes[class].current.get();
        // SAFETY: a current chunk is live and this thread's.
        match NonNull::new(current).and_then(|c| unsafe { take(c) }) {
            Some(block) => block,
            None => pool.refill(class),
        }
    })
    .unwrap_or_else(|_| orphan_block(class))
}

/// Gives back memory from [`alloc`] with the same `layout`.
///
/// # Safety
///
/// As [`alloc::dealloc`]: `block` came from [`alloc`] on this thread with
/// this `layout`, and is not used again.
#[inline(always)]
pub(crate) unsafe fn dealloc(block: *mut u8, layout: Layout) {
    if class_of(layout).is_none() {
        // SAFETY: `alloc` took the global allocator for this layout.
        return unsafe { alloc::dealloc(block, layout) };
    }
    // SAFETY: the block is in a chunk (`alloc`), aligned to `CHUNK`.
    let chunk = unsafe { &mut *((block as usize & !(CHUNK - 1)) as *mut Chunk) };
    let freed = block.cast::<Free>();
    // SAFETY: the block is at least 8 bytes and 8-aligned, and no longer used.
    unsafe { freed.write(Free { next: chunk.free }) };
    chunk.free = freed;
    chunk.live -= 1;
    if chunk.state != State::Current {
        // SAFETY: the chunk is live, this thread's, and not current.
        unsafe { settle(chunk) }
    }
}

/// The pool as an [`Allocator`], for the small `Rc`s made one per task in
/// the usual programs (a queue's core: a task's own reply slot). Its blocks
/// come from the same classes as the cells', with no allocator header: a
/// queue's 104 bytes take 104, where `malloc` takes 112.
///
/// Like every block of the pool, what it allocates is freed on the thread
/// that allocated it: only `!Send` owners (an `Rc`) may use it.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Pooled;

// SAFETY: the blocks are those of `alloc`, valid for the layout asked, kept
// until `deallocate`; a copy of `Pooled` is the same pool (the thread's).
unsafe impl Allocator for Pooled {
    #[inline(always)]
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        if layout.size() == 0 {
            // `alloc` takes no zero-sized layout: a dangling, aligned pointer.
            let dangling = ptr::without_provenance_mut::<u8>(layout.align());
            return NonNull::new(dangling)
                .map(|p| NonNull::slice_from_raw_parts(p, 0))
                .ok_or(AllocError);
        }
        // SAFETY: the layout is not zero-sized.
        let block = unsafe { alloc(layout) };
        NonNull::new(block)
            .map(|p| NonNull::slice_from_raw_parts(p, layout.size()))
            .ok_or(AllocError)
    }

    #[inline(always)]
    unsafe fn deallocate(&self, block: NonNull<u8>, layout: Layout) {
        if layout.size() != 0 {
            // SAFETY: the caller's: `block` came from `allocate` with `layout`,
            // on this thread (the owner is not `Send`).
            unsafe { dealloc(block.as_ptr(), layout) }
        }
    }
}

/// The next block of `chunk`, if it has one.
///
/// # Safety
///
/// `chunk` is live and this thread's.
#[inline(always)]
unsafe fn take(chunk: NonNull<Chunk>) -> Option<*mut u8> {
    // SAFETY: the caller's.
    let c = unsafe { &mut *chunk.as_ptr() };
    let block = if !c.free.is_null() {
        let block = c.free;
        // SAFETY: a block on the free list holds its link.
        c.free = unsafe { (*block).next };
        block.cast::<u8>()
    } else if c.bump + c.block <= CHUNK {
        if c.bump + c.block > c.populated {
            populate(c, chunk);
        }
        let block = chunk.as_ptr().cast::<u8>().wrapping_add(c.bump);
        c.bump += c.block;
        block
    } else {
        return None;
    };
    c.live += 1;
    Some(block)
}

/// After a block of `chunk`, which is not current, was freed: put the
/// chunk where its state now says.
///
/// # Safety
///
/// `chunk` is live, this thread's, and not its class's current chunk.
#[inline(never)]
unsafe fn settle(chunk: &mut Chunk) {
    let class = chunk.block / GRANULE - 1;
    let gone = match chunk.state {
        State::Orphan => chunk.live == 0,
        state => POOL
            .try_with(|pool| {
                let class = &pool.classes[class];
                if chunk.live == 0 {
                    if state == State::Partial {
                        class.unlink(chunk);
                    }
                    true
                } else {
                    if state == State::Full {
                        class.push_partial(chunk);
                    }
                    false
                }
            })
            // The pool is gone: a full chunk was in no list, so it is an
            // orphan now (a partial or current one was made one).
            .unwrap_or_else(|_| {
                chunk.state = State::Orphan;
                chunk.live == 0
            }),
    };
    if gone {
        // SAFETY: no block of the chunk is live, and it is in no list.
        unsafe { free_chunk(chunk) }
    }
}

/// The size of the blocks of `class`.
fn block_size(class: usize) -> usize {
    (class + 1) * GRANULE
}

/// A new chunk of `class`, in state `state`; null if memory is out.
fn new_chunk(class: usize, state: State) -> *mut Chunk {
    let chunk = map_chunk();
    if !chunk.is_null() {
        // SAFETY: a fresh allocation of a chunk's size and alignment.
        unsafe {
            chunk.write(Chunk {
                block: block_size(class),
                live: 0,
                free: ptr::null_mut(),
                bump: FIRST,
                populated: 0,
                prev: ptr::null_mut(),
                next: ptr::null_mut(),
                state,
            })
        };
    }
    chunk
}

/// Frees a chunk.
///
/// # Safety
///
/// The chunk came from [`new_chunk`], has no live block, and is in no list.
unsafe fn free_chunk(chunk: *mut Chunk) {
    // SAFETY: the caller's; `map_chunk` mapped these `CHUNK` bytes.
    let unmapped = unsafe { libc::munmap(chunk.cast(), CHUNK) };
    debug_assert_eq!(unmapped, 0, "a chunk's own mapping");
}

/// `CHUNK` bytes of fresh zeroed memory aligned to `CHUNK`, or null: twice
/// that is mapped, and the parts on either side of the aligned chunk are
/// unmapped again.
fn map_chunk() -> *mut Chunk {
    let len = 2 * CHUNK;
    // SAFETY: a fresh private anonymous mapping, no memory of ours changed.
    let at = unsafe {
        libc::mmap(
            ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if at == libc::MAP_FAILED {
        return ptr::null_mut();
    }
    let lead = at.cast::<u8>().align_offset(CHUNK);
    let chunk = at.cast::<u8>().wrapping_add(lead);
    // SAFETY (both): the two parts are within the mapping just made, and
    // outside the chunk; a failed unmapping would only leave them mapped.
    unsafe {
        if lead > 0 {
            libc::munmap(at, lead);
        }
        libc::munmap(chunk.wrapping_add(CHUNK).cast(), len - lead - CHUNK);
    }
    chunk.cast()
}

/// Makes the pages of `chunk` that the block at `c.bump` reaches, and the
/// rest of their [`WINDOW`], in one call (`MADV_POPULATE_WRITE`), instead
/// of one page fault per page as blocks are first handed out: a fault is a
/// trap into the kernel, about 1.5 µs each on the machine of BENCHMARKS.md,
/// one per 21 cells of 192 bytes. Measured (`perf stat -r 10`, twice, the
/// spawn benchmark's process with 1,000,000 tasks): 0.137–0.140 s with the
/// faults, 0.118–0.119 s with 64 KiB windows, the same as with the whole
/// chunk at once; a window, not the whole chunk, so that a chunk barely used
/// keeps few pages (the soak run's RSS: 2.5 MB before, 2.8 MB with windows,
/// 3.7 MB with whole chunks). A kernel
/// without the advice (before 5.14) answers EINVAL: the pages then come at
/// their first touch, as before.
#[cold]
fn populate(c: &mut Chunk, chunk: NonNull<Chunk>) {
    let from = c.populated;
    let to = (c.bump + c.block).div_ceil(WINDOW).saturating_mul(WINDOW).min(CHUNK);
    // SAFETY: advice on pages of the chunk (`from` and `to` are multiples of
    // the window, so of the page, within it); nothing is read or moved.
    unsafe {
        libc::madvise(
            chunk.as_ptr().cast::<u8>().add(from).cast(),
            to - from,
            libc::MADV_POPULATE_WRITE,
        );
    }
    c.populated = to;
}

/// A block of `class` when the thread's pool is gone: from an orphaned
/// chunk of its own.
#[cold]
fn orphan_block(class: usize) -> *mut u8 {
    NonNull::new(new_chunk(class, State::Orphan))
        // SAFETY: a fresh chunk, this thread's.
        .and_then(|chunk| unsafe { take(chunk) })
        .unwrap_or(ptr::null_mut())
}

impl Pool {
    const fn new() -> Pool {
        Pool {
            classes: [const {
                Class {
                    current: Cell::new(ptr::null_mut()),
                    partial: Cell::new(ptr::null_mut()),
                }
            }; CLASSES],
        }
    }

    /// A block of `class` when the current chunk has none: the current
    /// chunk is left full, and the first partial one, or a new one, is
    /// current instead.
    #[inline(never)]
    fn refill(&self, class: usize) -> *mut u8 {
        let c = &self.classes[class];
        if let Some(full) = NonNull::new(c.current.get()) {
            // SAFETY: the current chunk is live and this thread's.
            unsafe { (*full.as_ptr()).state = State::Full };
        }
        let next = match NonNull::new(c.partial.get()) {
            Some(partial) => {
                // SAFETY: a partial chunk is live and this thread's.
                let chunk = unsafe { &mut *partial.as_ptr() };
                c.unlink(chunk);
                chunk.state = State::Current;
                partial.as_ptr()
            }
            None => new_chunk(class, State::Current),
        };
        c.current.set(next);
        // SAFETY: the new current chunk is live and this thread's, and it
        // has a free block (a partial one by the invariant, a new one all).
        NonNull::new(next)
            .and_then(|chunk| unsafe { take(chunk) })
            .unwrap_or(ptr::null_mut())
    }
}

impl Class {
    fn push_partial(&self, chunk: &mut Chunk) {
        chunk.state = State::Partial;
        chunk.prev = ptr::null_mut();
        chunk.next = self.partial.get();
        if let Some(next) = NonNull::new(chunk.next) {
            // SAFETY: a partial chunk is live and this thread's.
            unsafe { (*next.as_ptr()).prev = chunk };
        }
        self.partial.set(chunk);
    }

    fn unlink(&self, chunk: &mut Chunk) {
        // SAFETY (both): a partial chunk's neighbours are partial chunks,
        // live and this thread's.
        match NonNull::new(chunk.prev) {
            Some(prev) => unsafe { (*prev.as_ptr()).next = chunk.next },
            None => self.partial.set(chunk.next),
        }
        if let Some(next) = NonNull::new(chunk.next) {
            unsafe { (*next.as_ptr()).prev = chunk.prev };
        }
        (chunk.prev, chunk.next) = (ptr::null_mut(), ptr::null_mut());
    }
}

impl Drop for Pool {
    /// The thread ends: chunks with no live block are freed, the others
    /// orphaned (see the top).
    fn drop(&mut self) {
        for class in &self.classes {
            if let Some(current) = NonNull::new(class.current.replace(ptr::null_mut())) {
                // SAFETY: the current chunk is live and this thread's.
                unsafe { orphan_or_free(current.as_ptr()) };
            }
            while let Some(partial) = NonNull::new(class.partial.get()) {
                // SAFETY: a partial chunk is live and this thread's.
                let chunk = unsafe { &mut *partial.as_ptr() };
                class.unlink(chunk);
                // SAFETY: as above; it is in no list now.
                unsafe { orphan_or_free(chunk) };
            }
        }
    }
}

/// A chunk in no list, as its pool goes.
///
/// # Safety
///
/// The chunk is live, this thread's, and in no list.
unsafe fn orphan_or_free(chunk: *mut Chunk) {
    // SAFETY: the caller's.
    unsafe {
        if (*chunk).live == 0 {
            free_chunk(chunk);
        } else {
            (*chunk).state = State::Orphan;
        }
    }
}

// The pool is off under ASan, and these tests look at its chunks.
#[cfg(all(test, not(sanitize = "address")))]
mod tests {
    use super::*;

    /// A layout of `size` bytes aligned to 8.
    fn bytes(size: usize) -> Layout {
        Layout::from_size_align(size, 8).expect("a layout")
    }

    #[test]
    fn a_freed_block_is_the_next_one_given_and_sizes_do_not_mix() {
        // Sizes no cell of the other tests has, so that a thread shared
        // with them (`--test-threads=1`) has no block of these classes.
        let (a, b) = (bytes(328), bytes(88));
        unsafe {
            let x = alloc(a);
            let y = alloc(b);
            let z = alloc(a);
            assert_eq!(z as usize - x as usize, 328, "blocks of one class are packed");
            assert_ne!(
                x as usize & !(CHUNK - 1),
                y as usize & !(CHUNK - 1),
                "one chunk per class"
            );
            dealloc(x, a);
            assert_eq!(alloc(a), x, "last freed, first given");
            for (p, l) in [(x, a), (y, b), (z, a)] {
                dealloc(p, l);
            }
        }
    }

    #[test]
    fn pooled_rcs_share_the_classes_and_zero_sizes_take_no_block() {
        use std::rc::Rc;
        // An `Rc` of 40 bytes of payload: 56 with its counts, a size no
        // other test of this file uses.
        let first = Rc::new_in([7u64; 5], Pooled);
        let second = Rc::new_in([9u64; 5], Pooled);
        let (a, b) = (Rc::as_ptr(&first) as usize, Rc::as_ptr(&second) as usize);
        assert_eq!(b - a, 56, "blocks of one class are packed, with no header");
        assert_eq!((*first, *second), ([7; 5], [9; 5]));
        drop(first);
        let third = Rc::new_in([3u64; 5], Pooled);
        assert_eq!(Rc::as_ptr(&third) as usize, a, "last freed, first given");
        let empty = Pooled.allocate(Layout::new::<()>()).expect("a zero-sized block");
        assert_eq!(empty.len(), 0);
        // SAFETY: it came from `allocate` with this layout.
        unsafe { Pooled.deallocate(empty.cast(), Layout::new::<()>()) };
    }

    #[test]
    fn a_burst_is_given_back_when_it_is_over_but_the_current_chunk_stays() {
        // Sizes no other test uses, so that a test thread shared with
        // others (`--test-threads=1`) starts with no chunk of this class.
        let a = bytes(304);
        let per_chunk = (CHUNK - FIRST) / 304;
        let blocks: Vec<*mut u8> = (0..per_chunk * 3).map(|_| unsafe { alloc(a) }).collect();
        let chunks = |blocks: &[*mut u8]| {
            let mut c: Vec<usize> = blocks.iter().map(|&b| b as usize & !(CHUNK - 1)).collect();
            c.dedup();
            c
        };
        assert_eq!(chunks(&blocks).len(), 3);
        let current = chunks(&blocks)[2];
        for &b in &blocks {
            unsafe { dealloc(b, a) };
        }
        POOL.with(|pool| {
            let class = &pool.classes[class_of(a).unwrap()];
            assert_eq!(class.current.get() as usize, current);
            assert!(class.partial.get().is_null(), "the emptied chunks were freed");
            // SAFETY: the current chunk is live.
            assert_eq!(unsafe { (*class.current.get()).live }, 0);
        });
    }

    #[test]
    fn a_full_chunk_with_a_block_freed_is_partial_and_then_current_again() {
        let a = bytes(504);
        let per_chunk = (CHUNK - FIRST) / 504;
        let mut blocks: Vec<*mut u8> = (0..per_chunk + 1).map(|_| unsafe { alloc(a) }).collect();
        let first = blocks[0] as usize & !(CHUNK - 1);
        assert_ne!(
            blocks[per_chunk] as usize & !(CHUNK - 1),
            first,
            "the first chunk is full"
        );
        let freed = blocks.remove(3);
        unsafe { dealloc(freed, a) };
        POOL.with(|pool| {
            assert_eq!(pool.classes[class_of(a).unwrap()].partial.get() as usize, first);
        });
        // The current chunk has room still: it gives the next block.
        let next = unsafe { alloc(a) };
        assert_ne!(next, freed);
        blocks.push(next);
        for b in blocks {
            unsafe { dealloc(b, a) };
        }
    }

    #[test]
    fn large_or_overaligned_layouts_go_to_the_global_allocator() {
        assert_eq!(class_of(bytes(MAX_BLOCK + 8)), None);
        assert_eq!(class_of(Layout::from_size_align(64, 32).unwrap()), None);
        assert_eq!(class_of(Layout::from_size_align(32, 16).unwrap()), Some(3));
        assert_eq!(class_of(bytes(1)), Some(0));
    }

    #[test]
    fn blocks_freed_after_their_thread_s_pool_is_gone_are_counted_in_their_chunk() {
        // A thread-local whose destructor runs after the pool's frees its
        // blocks then, and allocates one more.
        struct Late(Vec<*mut u8>);
        impl Drop for Late {
            fn drop(&mut self) {
                assert!(POOL.try_with(|_| ()).is_err(), "the pool is gone first");
                for &b in &self.0 {
                    unsafe { dealloc(b, bytes(64)) };
                }
                let b = unsafe { alloc(bytes(64)) };
                assert!(!b.is_null());
                unsafe { b.write_bytes(7, 64) };
                unsafe { dealloc(b, bytes(64)) };
            }
        }
        thread_local! {
            static LATE: std::cell::RefCell<Late> = const { std::cell::RefCell::new(Late(Vec::new())) };
        }
        std::thread::spawn(|| {
            // Thread-locals are dropped last made first: `LATE`, made
            // before the pool, is dropped after it.
            LATE.with(|_| ());
            let blocks = (0..3).map(|_| unsafe { alloc(bytes(64)) }).collect();
            LATE.with(|l| l.borrow_mut().0 = blocks);
        })
        .join()
        .expect("the thread ends cleanly");
    }
}
