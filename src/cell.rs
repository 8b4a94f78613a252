//! A task's cell: its header, its frames and its coroutine, in one allocation.
//!
//! # Why one allocation, and why not `Rc<dyn ..>`
//!
//! A task needs a heap cell for its coroutine (a switch moves one pointer),
//! and its handles need shared state that outlives the coroutine (the
//! result waits there for `join`). Two allocations per task, an `Rc` for the
//! header and a `Box` for the coroutine, cost spawn a second `malloc` and
//! `free`, the most expensive part of it. One `Rc<TaskCell<dyn Body>>`
//! would hold both, but every access to its header then computes where the
//! header starts from the coroutine's alignment (read from the vtable), and
//! every pointer to a task doubles: measured, a switch cost a third more.
//!
//! So a cell is laid out as tokio lays out its tasks: the counts and the
//! header at the start of the allocation (`repr(C)`), the coroutine after
//! them, and a thin [`TaskRef`] that counts references as `Rc` does (strong
//! and weak; [`TaskWeak`]). The start keeps the coroutine's vtable as the
//! erased type `E` (`dyn Body`), and the header where the coroutine begins:
//! with them a pointer to it is rebuilt, and the vtable's size and alignment
//! give the allocation's layout to free it. Eight bytes in all, where a
//! `Box` would take sixteen in the header and a heap chunk of its own.
//!
//! The cell knows nothing of what a body yields, so that `op.rs`
//! (`Operation::Child` carries a cell) sits above it and `task.rs` (which
//! resumes bodies) above both: the erased type is a parameter.
//!
//! # Invariants (the `unsafe` here and in `task.rs` relies on them)
//!
//! - `strong` counts the [`TaskRef`]s; `weak` counts the [`TaskWeak`]s, plus
//!   one for all the strong ones together. The header is dropped when
//!   `strong` reaches 0, the allocation freed when `weak` does.
//! - The body is live until it is dropped, once: by the stack that runs it,
//!   in place, when the task leaves its manager while a handle keeps the
//!   cell ([`TaskRef::drop_body`]), or with the header. `body_dropped` says
//!   which.
//! - The frames and the body are reached only through the task's one `Stack`
//!   (before it is added, its `Task`; a child's, the stack of its parent),
//!   which is not `Clone`: a `&mut Stack` is the only way to a `&mut Frames`
//!   or to the body. Handles and the manager read and write the header's
//!   `Cell`s only, so a task that calls its own handle while it runs touches
//!   no memory its resume borrows.

use std::alloc::{self, Layout};
use std::cell::{Cell, OnceCell, RefCell, UnsafeCell};
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::os::fd::RawFd;
use std::pin::Pin;
use std::ptr::{self, NonNull};
use std::ptr::{DynMetadata, Pointee};
use std::rc::Weak;

use crate::error::Error;
use crate::park::Key;
use crate::pool;
use crate::time::TimerKey;
use crate::value::{Input, Value};

/// Where a task's header says it was last parked: a hint for finding it
/// (`cancel`, a deadline), checked against the place it names, since a task
/// woken since then is not there any more. Written only when a task parks,
/// never on a switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum At {
    /// Not parked since it last ran: in the run queue, running, or in a
    /// list of waits already over.
    Elsewhere,
    /// In the manager's parking lot (sleep, queue, join, event, semaphore).
    Parked(Key),
    /// Waiting on an fd: its number, and its waiter's sequence number there.
    Io(RawFd, u64),
}

/// How a task's life ended, as its handle sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    /// Still in its manager.
    Pending,
    /// Returned or failed; its outcome waits in `result` until joined.
    Finished,
    /// Cancelled, or dropped with its manager, before it finished.
    Cancelled,
}

/// The erased body types a cell can hold: trait objects (`dyn Body`), whose
/// pointer metadata is a vtable.
pub(crate) trait Erased: Pointee<Metadata = DynMetadata<Self>> {}

impl<T: ?Sized + Pointee<Metadata = DynMetadata<T>>> Erased for T {}

/// A header's attention bit: `cancel` was called while the task ran (or
/// sat in a list between two borrows); it ends at its next yield.
pub(crate) const CANCEL: u8 = 1;
/// A header's attention bit: a `timeout_after` deadline of the task passed
/// while it ran (a nested `run` it called ran the manager's step 2); the
/// deadline is set again when its resume returns (`sched::State::overdue`).
pub(crate) const OVERDUE: u8 = 2;

/// What the handles, the joiner, the group and the manager see of a task,
/// and its frames. `E` is the erased body type.
pub(crate) struct Header<E: ?Sized + Erased> {
    frames: UnsafeCell<Frames<E>>,
    /// Where the body begins, from the start of the allocation.
    body_offset: u32,
    /// True once the body was dropped (by the stack, in place, or with the header).
    body_dropped: Cell<bool>,
    /// Unique on the thread (so per manager, merged or not), from 1; given
    /// when the task is added (0 before, and for a child).
    pub(crate) id: u64,
    pub(crate) status: Cell<Status>,
    /// What must be done when the task's resume returns, as [`CANCEL`] and
    /// [`OVERDUE`] bits: one byte, so that a switch tests both with one load.
    attention: Cell<u8>,
    /// How many coroutines deep its stack is (for `tasks()`).
    pub(crate) depth: Cell<u32>,
    /// What few tasks use (a name, a group, a joiner, a kept outcome): made
    /// at its first use, so that an idle task's header stays small.
    cold: OnceCell<Box<Cold<E>>>,
    pub(crate) at: Cell<At>,
    /// Its manager, by its first parking segment (`sched::manager_of`).
    pub(crate) home: u32,
    /// How many times the task has been resumed (for `tasks()`).
    pub(crate) resumed: Cell<u64>,
}

/// The part of a header that most tasks never use, boxed apart (see
/// [`Header::cold`]): a task that is not named, in no group, never joined
/// and with no outcome to keep for a handle pays 8 bytes for it, not 40.
pub(crate) struct Cold<E: ?Sized + Erased> {
    /// Given with [`Task::named`](crate::Task::named).
    pub(crate) name: Option<Box<str>>,
    /// The outcome of a finished task, until a `join` takes it.
    pub(crate) result: Cell<Option<Input>>,
    /// The task parked on `join` of this one.
    pub(crate) joiner: Cell<Option<Key>>,
    /// The group the task belongs to.
    pub(crate) group: Weak<GroupCore<E>>,
}

impl<E: ?Sized + Erased> Default for Cold<E> {
    fn default() -> Cold<E> {
        Cold {
            name: None,
            result: Cell::new(None),
            joiner: Cell::new(None),
            group: Weak::new(),
        }
    }
}

/// What a task's stack keeps in its cell while the task is not running.
pub(crate) struct Frames<E: ?Sized + Erased> {
    /// The children, outermost first; each waits for the one above it, the
    /// last one is the only coroutine ever resumed (the task's own body,
    /// when there are none). Boxed (8 bytes instead of a `Vec`'s 24): most
    /// tasks never yield a child, and an idle task should be small.
    #[allow(clippy::box_collection)]
    pub(crate) children: Option<Box<Vec<TaskRef<E>>>>,
    /// What the top is resumed with next. `()` as a rule, and dropped by
    /// hand (`Frames`' `Drop`): a `()` needs no call of `Input`'s drop glue.
    pub(crate) input: ManuallyDrop<Input>,
    /// The timeout to cancel when the task is woken, while it waits.
    pub(crate) timer: Option<TimerKey>,
    /// The `timeout_after` deadlines of the stack: the depth of the child
    /// each one guards, and its timer; innermost last.
    #[allow(clippy::box_collection)]
    pub(crate) deadlines: Option<Box<Vec<(usize, TimerKey)>>>,
}

impl<E: ?Sized + Erased> Drop for Frames<E> {
    fn drop(&mut self) {
        // SAFETY: the input is not used again: the frames are being dropped.
        Value::__discard(unsafe { ManuallyDrop::take(&mut self.input) });
    }
}

/// The start of every cell's allocation: the counts, the body's vtable,
/// the header; the body follows.
#[repr(C)]
struct Start<E: ?Sized + Erased> {
    /// 32 bits each, as two take the room of one `usize` (8 bytes of every
    /// task): four billion references to one task would take 32 GiB in
    /// `TaskRef`s alone, and a count that would overflow aborts, as `Rc`'s does.
    strong: Cell<u32>,
    weak: Cell<u32>,
    /// The body's vtable.
    meta: DynMetadata<E>,
    /// Dropped when the last `TaskRef` goes; the memory stays while a
    /// `TaskWeak` needs the counts.
    header: ManuallyDrop<Header<E>>,
}

/// The whole allocation of a cell with body `B`: the start, then the body
/// (where [`layout`] says, for any `B`).
#[repr(C)]
struct Alloc<E: ?Sized + Erased, B> {
    start: Start<E>,
    body: UnsafeCell<B>,
}

/// The layout of a cell whose body's vtable is `meta`, and where its body
/// begins: the same as `Alloc`'s for that body (`repr(C)` lays a struct out
/// as `Layout::extend` does).
fn layout<E: ?Sized + Erased>(meta: DynMetadata<E>) -> (Layout, usize) {
    // `Layout::new::<Start<E>>().extend(meta.layout())` and `pad_to_align`,
    // written out without their checks: this runs at every free, and `new`
    // checks it against `Alloc`'s own layout.
    let (size, align) = (meta.size_of(), meta.align_of());
    let offset = (std::mem::size_of::<Start<E>>() + align - 1) & !(align - 1);
    let align = align.max(std::mem::align_of::<Start<E>>());
    let total = (offset + size + align - 1) & !(align - 1);
    // SAFETY: `align` is a power of two (a vtable's alignment, or `Start`'s),
    // and the size is that of a type the compiler laid out (`Alloc`).
    (unsafe { Layout::from_size_align_unchecked(total, align) }, offset)
}

/// Counts one more reference; aborts where the count would overflow, as
/// `Rc` does (a wrapped count would free a cell still in use).
#[inline(always)]
fn increment(count: &Cell<u32>) {
    let n = count.get().wrapping_add(1);
    count.set(n);
    if n == 0 {
        std::process::abort();
    }
}

/// A counted reference to a task's cell, as `Rc` is (see the top of this file).
pub(crate) struct TaskRef<E: ?Sized + Erased> {
    ptr: NonNull<Start<E>>,
}

/// A reference to a task's cell that does not keep its header alive, as
/// `rc::Weak` is.
pub(crate) struct TaskWeak<E: ?Sized + Erased> {
    ptr: NonNull<Start<E>>,
}

impl<E: ?Sized + Erased> TaskRef<E> {
    /// A cell for `body`, not yet added: no id, no manager, no group.
    /// `erase` turns a pointer to the body into one to the erased type
    /// (`|b| b as *mut dyn Body`).
    pub(crate) fn new<B>(body: B, erase: fn(*mut B) -> *mut E) -> TaskRef<E> {
        let layout = Layout::new::<Alloc<E, B>>();
        // SAFETY: the layout is not zero-sized (the start has counts).
        let raw = unsafe { pool::alloc(layout) }.cast::<Alloc<E, B>>();
        let Some(cell) = NonNull::new(raw) else {
            alloc::handle_alloc_error(layout)
        };
        // SAFETY: `raw` is valid for writes of an `Alloc<E, B>`; each field
        // is written once, before anything reads it.
        unsafe {
            let body_at = UnsafeCell::raw_get(ptr::addr_of!((*raw).body));
            body_at.write(body);
            let meta = ptr::metadata(erase(body_at));
            let offset = body_at as usize - raw as usize;
            debug_assert_eq!((layout, offset), self::layout(meta));
            ptr::addr_of_mut!((*raw).start).write(Start {
                strong: Cell::new(1),
                weak: Cell::new(1),
                meta,
                header: ManuallyDrop::new(Header {
                    body_offset: u32::try_from(offset).expect("a body offset that fits in 32 bits"),
                    body_dropped: Cell::new(false),
                    frames: UnsafeCell::new(Frames {
                        children: None,
                        input: ManuallyDrop::new(Ok(Value::unit())),
                        timer: None,
                        deadlines: None,
                    }),
                    id: 0,
                    status: Cell::new(Status::Pending),
                    attention: Cell::new(0),
                    depth: Cell::new(1),
                    cold: OnceCell::new(),
                    at: Cell::new(At::Elsewhere),
                    home: 0,
                    resumed: Cell::new(0),
                }),
            });
        }
        // `start` is the first field of a `repr(C)` struct: same address.
        TaskRef { ptr: cell.cast() }
    }

    fn start(&self) -> &Start<E> {
        // SAFETY: a `TaskRef` keeps the allocation and its header alive.
        unsafe { self.ptr.as_ref() }
    }

    /// How many `TaskRef`s there are to this cell.
    pub(crate) fn strong_count(this: &TaskRef<E>) -> usize {
        this.start().strong.get() as usize
    }

    /// True if both name the same cell.
    pub(crate) fn ptr_eq(a: &TaskRef<E>, b: &TaskRef<E>) -> bool {
        a.ptr == b.ptr
    }

    /// A weak reference to the cell.
    pub(crate) fn downgrade(this: &TaskRef<E>) -> TaskWeak<E> {
        increment(&this.start().weak);
        TaskWeak { ptr: this.ptr }
    }

    /// The header, writable, if this is the only reference to the cell
    /// (a task not yet added).
    pub(crate) fn get_mut(this: &mut TaskRef<E>) -> Option<&mut Header<E>> {
        let start = this.start();
        if start.strong.get() != 1 || start.weak.get() != 1 {
            return None;
        }
        // SAFETY: no other reference to the cell exists, and `this` is borrowed mutably.
        Some(unsafe { &mut this.ptr.as_mut().header })
    }

    /// The frames.
    ///
    /// # Safety
    ///
    /// Only from the stack (or task) that owns the cell, with no other
    /// reference to the frames alive (the invariants at the top of this file).
    #[inline]
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn frames(&self) -> &mut Frames<E> {
        // SAFETY: the caller's.
        unsafe { &mut *self.start().header.frames.get() }
    }

    /// The body, to resume.
    ///
    /// # Safety
    ///
    /// As [`frames`](Self::frames), and only while the body is not dropped.
    #[inline]
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn body(&self) -> Pin<&mut E> {
        // SAFETY: the caller's; the body never moves (it is inside the
        // allocation, and never taken out of it).
        unsafe { Pin::new_unchecked(&mut *body_of(self.ptr)) }
    }

    /// Drops the body in place, while the cell lives on for its handles.
    ///
    /// # Safety
    ///
    /// As [`frames`](Self::frames), once: nothing may use the body after.
    pub(crate) unsafe fn drop_body(&self) {
        // Noted first, so that a panicking `Drop` in it cannot lead to a
        // second drop with the header.
        self.body_dropped.set(true);
        // SAFETY: the caller's.
        unsafe { ptr::drop_in_place(body_of(self.ptr)) }
    }
}

/// The body of the cell at `start`.
///
/// # Safety
///
/// `start` is a live cell (its header not yet dropped).
#[inline]
unsafe fn body_of<E: ?Sized + Erased>(start: NonNull<Start<E>>) -> *mut E {
    // SAFETY: the caller's: the header, with the body's place, is alive.
    let (offset, meta) = unsafe { (start.as_ref().header.body_offset, start.as_ref().meta) };
    // SAFETY: the body is `offset` bytes into the allocation (`new`).
    let at = unsafe { start.as_ptr().cast::<u8>().add(offset as usize) };
    ptr::from_raw_parts_mut(at, meta)
}

impl<E: ?Sized + Erased> Deref for TaskRef<E> {
    type Target = Header<E>;

    #[inline]
    fn deref(&self) -> &Header<E> {
        &self.start().header
    }
}

impl<E: ?Sized + Erased> Clone for TaskRef<E> {
    fn clone(&self) -> TaskRef<E> {
        increment(&self.start().strong);
        TaskRef { ptr: self.ptr }
    }
}

impl<E: ?Sized + Erased> Drop for TaskRef<E> {
    fn drop(&mut self) {
        let start = self.start();
        let strong = start.strong.get() - 1;
        start.strong.set(strong);
        if strong > 0 {
            return;
        }
        // The last strong reference: drop the body if still there, then the
        // header (its children, its input, its name, its result).
        // SAFETY: no `TaskRef` is left, so no stack, and nothing can reach
        // the body or the header again; each is dropped once (the flag).
        unsafe {
            if !start.header.body_dropped.replace(true) {
                ptr::drop_in_place(body_of(self.ptr));
            }
            ManuallyDrop::drop(&mut (*self.ptr.as_ptr()).header);
        }
        // The strong references' one weak count.
        drop(TaskWeak { ptr: self.ptr });
    }
}

impl<E: ?Sized + Erased> TaskWeak<E> {
    /// True if this is a reference to the cell whose header is at `header`
    /// (only the addresses are compared).
    pub(crate) fn is_at(&self, header: NonNull<Header<E>>) -> bool {
        // SAFETY: a `TaskWeak` keeps the allocation alive; only the field's
        // address is taken, nothing is read.
        let here = unsafe { ptr::addr_of!((*self.ptr.as_ptr()).header) };
        here.cast::<u8>() == header.as_ptr().cast::<u8>().cast_const()
    }

    /// The cell, if its header is still alive.
    pub(crate) fn upgrade(&self) -> Option<TaskRef<E>> {
        // SAFETY: a `TaskWeak` keeps the allocation (the counts) alive.
        let strong = unsafe { &self.ptr.as_ref().strong };
        if strong.get() == 0 {
            return None;
        }
        increment(strong);
        Some(TaskRef { ptr: self.ptr })
    }
}

impl<E: ?Sized + Erased> Drop for TaskWeak<E> {
    fn drop(&mut self) {
        // SAFETY: a `TaskWeak` keeps the allocation alive.
        let start = unsafe { self.ptr.as_ref() };
        let weak = start.weak.get() - 1;
        start.weak.set(weak);
        if weak == 0 {
            // SAFETY: no reference of either kind is left, the header and
            // the body were dropped with the last strong one, and `new`
            // allocated it with this layout (it checks that).
            unsafe { pool::dealloc(self.ptr.as_ptr().cast(), layout(start.meta).0) }
        }
    }
}

impl<E: ?Sized + Erased> Header<E> {
    /// True if the task's last resume must be looked at before its step is
    /// taken as usual (a cancel, a deadline overdue).
    #[inline(always)]
    pub(crate) fn needs_attention(&self) -> bool {
        self.attention.get() != 0
    }

    /// True if `cancel` was called while the task ran.
    pub(crate) fn cancel_requested(&self) -> bool {
        self.attention.get() & CANCEL != 0
    }

    /// Asks for the task to end at its next yield; false if that was asked already.
    pub(crate) fn request_cancel(&self) -> bool {
        let was = self.attention.get();
        self.attention.set(was | CANCEL);
        was & CANCEL == 0
    }

    /// Withdraws a cancel asked for; true if there was one.
    pub(crate) fn withdraw_cancel(&self) -> bool {
        let was = self.attention.get();
        self.attention.set(was & !CANCEL);
        was & CANCEL != 0
    }

    /// A `timeout_after` deadline of the task passed while it ran.
    pub(crate) fn mark_overdue(&self) {
        self.attention.set(self.attention.get() | OVERDUE);
    }

    /// Takes the [`OVERDUE`] mark; true if it was there.
    pub(crate) fn take_overdue(&self) -> bool {
        let was = self.attention.get();
        self.attention.set(was & !OVERDUE);
        was & OVERDUE != 0
    }

    /// True while the task is in its manager.
    pub(crate) fn is_pending(&self) -> bool {
        self.status.get() == Status::Pending
    }

    /// True once a `join` took the outcome (or there was none to keep).
    pub(crate) fn result_is_taken(&self) -> bool {
        let Some(cold) = self.cold.get() else { return true };
        let result = cold.result.take();
        let taken = result.is_none();
        cold.result.set(result);
        taken
    }

    /// A name to show: the given one, or `task-<id>`.
    pub(crate) fn display_name(&self) -> String {
        match self.cold.get().and_then(|cold| cold.name.as_deref()) {
            Some(name) => name.to_string(),
            None => format!("task-{}", self.id),
        }
    }

    /// The header's cold part, made now if it was not yet (an allocation:
    /// no user code runs).
    pub(crate) fn cold(&self) -> &Cold<E> {
        self.cold.get_or_init(Box::default)
    }

    /// The cold part of a header not yet shared (a `Task` being built or added).
    pub(crate) fn cold_mut(&mut self) -> &mut Cold<E> {
        self.cold.get_or_init(Box::default);
        self.cold.get_mut().expect("made just above")
    }

    /// Takes the outcome kept for the task's handle, if any.
    pub(crate) fn take_result(&self) -> Option<Input> {
        self.cold.get()?.result.take()
    }

    /// Takes the key of the task parked on `join` of this one, if any.
    pub(crate) fn take_joiner(&self) -> Option<Key> {
        self.cold.get()?.joiner.take()
    }

    /// The key of the task parked on `join` of this one, if any.
    pub(crate) fn joiner(&self) -> Option<Key> {
        self.cold.get()?.joiner.get()
    }

    /// The task's group, if it is in one that is still alive.
    pub(crate) fn group(&self) -> Option<std::rc::Rc<GroupCore<E>>> {
        self.cold.get()?.group.upgrade()
    }

    /// True if the task is in a group that is still alive.
    pub(crate) fn in_group(&self) -> bool {
        self.cold.get().is_some_and(|cold| cold.group.strong_count() > 0)
    }
}

/// The shared state of a [`TaskGroup`](crate::TaskGroup): its members, its
/// first error, the task waiting on its `join`.
pub(crate) struct GroupCore<E: ?Sized + Erased> {
    /// The members still in their manager, in the order they were added.
    pub(crate) members: RefCell<Vec<TaskRef<E>>>,
    /// The first failure: the result of `join`.
    pub(crate) error: Cell<Option<Error>>,
    /// The task parked on `join`.
    pub(crate) joiner: Cell<Option<Key>>,
    /// Set when the `TaskGroup` is dropped: a spawner adds no member after
    /// (a member's destructor, run by that drop's cancel, may try).
    pub(crate) closed: Cell<bool>,
}

impl<E: ?Sized + Erased> Default for GroupCore<E> {
    fn default() -> GroupCore<E> {
        GroupCore {
            members: RefCell::default(),
            error: Cell::new(None),
            joiner: Cell::new(None),
            closed: Cell::new(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    /// A body that counts its drops.
    struct Counted(Rc<Cell<u32>>);

    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }

    trait Body {}
    impl Body for Counted {}
    impl Body for () {}

    /// A body aligned more than the cell's start.
    #[repr(align(64))]
    struct Wide([u8; 64]);
    impl Body for Wide {}

    fn cell(drops: &Rc<Cell<u32>>) -> TaskRef<dyn Body> {
        TaskRef::new(Counted(drops.clone()), |b| b as *mut dyn Body)
    }

    #[test]
    fn the_body_is_dropped_once_with_the_last_strong_reference() {
        let drops = Rc::new(Cell::new(0));
        let a = cell(&drops);
        let b = a.clone();
        assert_eq!(TaskRef::strong_count(&a), 2);
        assert!(TaskRef::ptr_eq(&a, &b));
        drop(a);
        assert_eq!(drops.get(), 0);
        drop(b);
        assert_eq!(drops.get(), 1);
    }

    #[test]
    fn a_body_dropped_in_place_is_not_dropped_again() {
        let drops = Rc::new(Cell::new(0));
        let a = cell(&drops);
        let handle = a.clone();
        // SAFETY: `a` stands for the stack: the only user of the body.
        unsafe { a.drop_body() };
        assert_eq!(drops.get(), 1);
        drop(a);
        assert_eq!(handle.id, 0); // the header lives on
        drop(handle);
        assert_eq!(drops.get(), 1);
    }

    #[test]
    fn a_weak_reference_upgrades_only_while_a_strong_one_lives() {
        let drops = Rc::new(Cell::new(0));
        let a = cell(&drops);
        let weak = TaskRef::downgrade(&a);
        let again = weak.upgrade().expect("alive");
        assert_eq!(TaskRef::strong_count(&a), 2);
        drop(again);
        drop(a);
        assert_eq!(drops.get(), 1);
        assert!(weak.upgrade().is_none());
        drop(weak); // frees the allocation (valgrind sees no leak)
    }

    #[test]
    fn get_mut_only_on_the_only_reference() {
        let drops = Rc::new(Cell::new(0));
        let mut a = cell(&drops);
        TaskRef::get_mut(&mut a).expect("unique").id = 7;
        assert_eq!(a.id, 7);
        let b = a.clone();
        assert!(TaskRef::get_mut(&mut a).is_none());
        drop(b);
        let weak = TaskRef::downgrade(&a);
        assert!(TaskRef::get_mut(&mut a).is_none());
        drop(weak);
        assert!(TaskRef::get_mut(&mut a).is_some());
    }

    #[test]
    fn a_zero_sized_and_an_over_aligned_body_are_laid_out_and_freed() {
        let wide: TaskRef<dyn Body> = TaskRef::new(Wide([7; 64]), |b| b as *mut dyn Body);
        // SAFETY: the only reference; the body is live.
        let at = unsafe { wide.body() };
        let at = (&*at as *const dyn Body).cast::<Wide>();
        assert_eq!(at as usize % 64, 0);
        // SAFETY: it is the `Wide` just written there.
        assert_eq!(unsafe { &*at }.0, [7; 64]);
        let unit: TaskRef<dyn Body> = TaskRef::new((), |b| b as *mut dyn Body);
        drop((wide, unit));
    }
}
