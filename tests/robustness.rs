//! Regressions of issue 9 ("nothing a task does can crash the manager") that
//! are fixed: each asserts the correct behaviour of one finding.
#![feature(coroutines, coroutine_trait)]

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use multitask::{fd_action, sleep, wait, Clock, Error, Input, Op, Operation, Queue, Task, TaskManager};

/// The tests that open fds run one at a time: one of them closes a raw fd
/// behind its manager's back, whose number another test's socket must not
/// take meanwhile (the compatibility path would take it for the new file).
static FDS: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn fds() -> std::sync::MutexGuard<'static, ()> {
    FDS.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A value whose `Drop` adds a task to the thread's default manager, as
/// user code may: it must never run while a manager's state is borrowed.
struct AddsOnDrop(Rc<RefCell<Vec<&'static str>>>);

impl Drop for AddsOnDrop {
    fn drop(&mut self) {
        let log = self.0.clone();
        log.borrow_mut().push("dropped");
        multitask::add(Task::new(
            #[coroutine]
            move |_| {
                log.borrow_mut().push("added by a Drop ran");
                Ok(())
            },
        ));
    }
}

/// Finding 2: a queue operation holding the queue's last handle; the items
/// left in the queue are dropped outside the manager's borrow.
#[test]
fn a_queue_ops_last_handle_drops_its_items_outside_the_borrow() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let items = vec![
        AddsOnDrop(log.clone()),
        AddsOnDrop(log.clone()),
        AddsOnDrop(log.clone()),
    ];
    multitask::add(Task::new(
        #[coroutine]
        move |_| {
            let first = wait!(Queue::with_contents(items, 0).get())?; // the op holds the only handle
            drop(first);
            Ok(())
        },
    ));
    multitask::run().unwrap();
    assert_eq!(
        *log.borrow(),
        [
            "dropped",
            "dropped",
            "dropped",
            "added by a Drop ran",
            "added by a Drop ran",
            "added by a Drop ran"
        ]
    );
}

/// Finding 2: `fd_action(-1, ..)`: the closure is dropped outside the borrow,
/// and the task gets its `InvalidArgument`.
#[test]
fn fd_action_on_a_negative_fd_drops_its_closure_outside_the_borrow() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let captured = AddsOnDrop(log.clone());
    let result = Rc::new(RefCell::new(String::new()));
    let r = result.clone();
    multitask::add(Task::new(
        #[coroutine]
        move |_| {
            let outcome = wait!(fd_action(-1, true, false, false, move || {
                let _keep = &captured;
                Ok(())
            }));
            *r.borrow_mut() = match outcome {
                Err(Error::InvalidArgument(text)) => text,
                other => format!("unexpected: {other:?}"),
            };
            Ok(())
        },
    ));
    multitask::run().unwrap();
    assert_eq!(*result.borrow(), "file descriptor cannot be a negative integer (-1)");
    assert_eq!(*log.borrow(), ["dropped", "added by a Drop ran"]);
}

/// A value whose `Drop` panics (a return value, a coroutine's field).
struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("drop of the return value");
    }
}

/// Finding 4: the return value of a top-level task whose `Drop` panics: the
/// panic is that task's error, returned by `run`; the other tasks go on.
#[test]
fn a_panicking_drop_of_a_return_value_is_the_tasks_error() {
    let tm = TaskManager::new();
    let done = Rc::new(RefCell::new(0));
    tm.add(Task::new(
        #[coroutine]
        |_| {
            wait!();
            Ok(PanicsOnDrop)
        },
    ));
    let d = done.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            for _ in 0..3 {
                wait!();
                *d.borrow_mut() += 1;
            }
            Ok(())
        },
    ));
    let error = tm.run().unwrap_err();
    assert!(
        matches!(&error, Error::Panic(text) if text == "drop of the return value"),
        "{error:?}"
    );
    tm.run().unwrap(); // the other task carries on
    assert_eq!(*done.borrow(), 3);
}

/// Finding 5: `Clock::advance(Duration::MAX)` saturates instead of panicking;
/// a sleeper is then due.
#[test]
fn advancing_a_manual_clock_by_duration_max_does_not_panic() {
    let clock = Clock::manual();
    let tm = TaskManager::with_clock(clock.clone());
    let woke = Rc::new(RefCell::new(false));
    let w = woke.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(sleep(3600))?;
            *w.borrow_mut() = true;
            Ok(())
        },
    ));
    tm.run_next(Some(Duration::ZERO)).unwrap(); // the sleeper parks
    clock.advance(Duration::MAX);
    clock.advance(Duration::MAX);
    tm.run_next(Some(Duration::ZERO)).unwrap(); // fires at the timeout check
    tm.run().unwrap();
    assert!(*woke.borrow());
}

/// Finding 10: a raw `yield Operation::Sleep(Duration::ZERO)` gives the same
/// error as `sleep(0)`.
#[test]
fn a_raw_zero_sleep_is_the_same_error_as_sleep_zero() {
    let errors = Rc::new(RefCell::new(Vec::new()));
    let e = errors.clone();
    multitask::add(Task::new(
        #[coroutine]
        move |_: Input| {
            let raw: Input = yield Operation::Sleep(Duration::ZERO);
            e.borrow_mut().push(Op::<()>::output(raw).unwrap_err().to_string());
            let built: Input = yield sleep(0).into();
            e.borrow_mut().push(Op::<()>::output(built).unwrap_err().to_string());
            Ok(())
        },
    ));
    multitask::run().unwrap();
    assert_eq!(
        *errors.borrow(),
        ["'seconds' must be greater than 0", "'seconds' must be greater than 0"]
    );
}

/// Finding 6: 100,000 getters and 100,000 putters on one queue time out
/// together: each gets `Timeout`, each timed-out put's item is dropped once,
/// and the queue then serves new waiters in order. (Withdrawing is O(log n):
/// the benchmark `fd-waiters` measures the like for fds; here, the counts.)
#[test]
fn a_hundred_thousand_queue_waiters_time_out_together() {
    const N: usize = 100_000;
    struct Counted(Rc<RefCell<usize>>);
    impl Drop for Counted {
        fn drop(&mut self) {
            *self.0.borrow_mut() += 1;
        }
    }
    let clock = Clock::manual();
    let tm = TaskManager::with_clock(clock);
    let (empty, full) = (Queue::<u32>::new(), Queue::with_contents([Counted(Rc::default())], 1));
    let timeouts = Rc::new(RefCell::new(0));
    let dropped = Rc::new(RefCell::new(0));
    for i in 0..N {
        let (empty, full, timeouts, dropped) = (empty.clone(), full.clone(), timeouts.clone(), dropped.clone());
        tm.add(Task::new(
            #[coroutine]
            move |_| {
                if i % 2 == 0 {
                    let got = wait!(empty.get().timeout(1));
                    *timeouts.borrow_mut() += got.unwrap_err().is_timeout() as usize;
                } else {
                    let put = wait!(full.put(Counted(dropped)).timeout(1));
                    *timeouts.borrow_mut() += put.unwrap_err().is_timeout() as usize;
                }
                Ok(())
            },
        ));
    }
    tm.run().unwrap();
    assert_eq!((*timeouts.borrow(), *dropped.borrow()), (N, N / 2));
    let order = Rc::new(RefCell::new(Vec::new()));
    for i in 0..3u32 {
        let (empty, order) = (empty.clone(), order.clone());
        tm.add(Task::new(
            #[coroutine]
            move |_| {
                let item = wait!(empty.get())?;
                order.borrow_mut().push((i, item));
                Ok(())
            },
        ));
    }
    let e = empty.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            for item in [10, 11, 12] {
                wait!(e.put(item))?;
            }
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(*order.borrow(), [(0, 10), (1, 11), (2, 12)]);
    assert_eq!(tm.__counts(), (0, 0, 0));
}

/// A held value whose `Drop` panics, counting its drops.
struct PanicsWhenDropped(Rc<RefCell<usize>>);

impl Drop for PanicsWhenDropped {
    fn drop(&mut self) {
        *self.0.borrow_mut() += 1;
        panic!("a held value's drop");
    }
}

/// A task parked forever on a queue get, holding `value`.
fn parked_holding<T: 'static>(value: T) -> Task {
    Task::new(
        #[coroutine]
        move |_| {
            let _held = &value;
            wait!(Queue::<()>::new().get())?;
            Ok(())
        },
    )
}

/// Finding 4: `clear()` with two parked tasks whose held values panic when
/// dropped: both destructors run, once each, and nothing escapes or aborts.
#[test]
fn clear_drops_every_task_even_when_their_drops_panic() {
    let tm = TaskManager::new();
    let drops = Rc::new(RefCell::new(0));
    tm.add(parked_holding(PanicsWhenDropped(drops.clone())));
    tm.add(parked_holding(PanicsWhenDropped(drops.clone())));
    tm.run().unwrap();
    assert_eq!(tm.__counts(), (0, 2, 0));
    tm.clear();
    assert_eq!(*drops.borrow(), 2);
    assert_eq!(tm.__counts(), (0, 0, 0));
    drop(tm);
    assert_eq!(*drops.borrow(), 2, "dropped once each");
}

/// Finding 3: a task parked on the default manager at thread exit, owning a
/// value whose `Drop` calls `multitask::add`: its destructor runs, the add
/// fails quietly (the thread's manager is gone), and the process goes on.
#[test]
fn thread_exit_with_a_parked_task_whose_drop_adds_a_task_does_not_abort() {
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        struct Reports(std::sync::mpsc::Sender<&'static str>);
        impl Drop for Reports {
            fn drop(&mut self) {
                let _ = self.0.send("destructor ran");
                multitask::add(Task::new(
                    #[coroutine]
                    |_| Ok(()),
                ));
            }
        }
        multitask::add(parked_holding(Reports(tx)));
        multitask::run().unwrap();
    });
    assert!(thread.join().is_ok());
    assert_eq!(rx.recv().unwrap(), "destructor ran");
}

/// Finding 1: an `fd_action` whose closure's captures call `multitask::add`
/// when dropped, on a socket another task drops: the closure is dropped
/// outside the borrow, its waiter gets EBADF, and a task whose `recv` was
/// served in the same step 1 keeps its data.
#[test]
fn a_closed_fds_action_is_dropped_outside_the_borrow_and_nothing_else_is_lost() {
    let _fds = fds();
    use multitask::net::UnixStream;
    use multitask::recv;
    use std::io::Write;
    use std::os::fd::AsRawFd;
    let log = Rc::new(RefCell::new(Vec::new()));
    let (doomed, _peer) = UnixStream::pair().unwrap();
    let (reader, writer) = UnixStream::pair().unwrap();
    let fd = doomed.as_raw_fd();
    let holder = Rc::new(RefCell::new(Some(doomed)));
    let captured = AddsOnDrop(log.clone());
    let l = log.clone();
    multitask::add(Task::new(
        #[coroutine]
        move |_| {
            let result = wait!(fd_action(fd, true, false, false, move || {
                let _keep = &captured;
                Ok(())
            }));
            let errno = result.unwrap_err().io_error().and_then(|e| e.raw_os_error());
            l.borrow_mut().push(if errno == Some(libc::EBADF) {
                "action: EBADF"
            } else {
                "action: other"
            });
            Ok(())
        },
    ));
    let l = log.clone();
    multitask::add(Task::new(
        #[coroutine]
        move |_| {
            let data = wait!(recv(&reader, 100))?;
            l.borrow_mut().push(if data == b"7 bytes" {
                "reader: 7 bytes"
            } else {
                "reader: other"
            });
            Ok(())
        },
    ));
    let h = holder.clone();
    multitask::add(Task::new(
        #[coroutine]
        move |_| {
            wait!();
            writer.get_ref().write_all(b"7 bytes")?;
            drop(h.borrow_mut().take());
            Ok(())
        },
    ));
    multitask::run().unwrap();
    let mut got = log.borrow().clone();
    got.sort();
    assert_eq!(
        got,
        ["action: EBADF", "added by a Drop ran", "dropped", "reader: 7 bytes"]
    );
}

/// Finding 2: `merge()` of a manager whose waiter's fd (a raw one) was closed
/// meanwhile: no panic, the waiter gets EBADF, the other manager's waiter is
/// kept and served.
#[test]
fn merging_a_manager_whose_waiters_fd_was_closed_gives_that_waiter_ebadf() {
    let _fds = fds();
    use multitask::readable;
    use std::io::Write;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;
    let (tm1, tm2) = (TaskManager::new(), TaskManager::new());
    let log = Rc::new(RefCell::new(Vec::new()));
    let (a, _a_peer) = UnixStream::pair().unwrap();
    let (b, mut b_peer) = UnixStream::pair().unwrap();
    let a_fd = a.as_raw_fd();
    let l = log.clone();
    tm2.add(Task::new(
        #[coroutine]
        move |_| {
            let result = wait!(readable(a_fd).timeout(20));
            let errno = result.unwrap_err().io_error().and_then(|e| e.raw_os_error());
            l.borrow_mut().push(format!("closed fd's waiter: errno {errno:?}"));
            Ok(())
        },
    ));
    let l = log.clone();
    tm1.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(readable(&b).timeout(20))?;
            l.borrow_mut().push("other waiter: readable".to_string());
            Ok(())
        },
    ));
    tm1.run_next(None).unwrap();
    tm2.run_next(None).unwrap(); // both parked
    drop(a); // closed behind tm2's back (a raw fd: the compatibility path)
    tm1.merge(&tm2);
    b_peer.write_all(b"x").unwrap();
    tm1.run().unwrap();
    let mut got = log.borrow().clone();
    got.sort();
    assert_eq!(
        got,
        [
            format!("closed fd's waiter: errno Some({})", libc::EBADF),
            "other waiter: readable".to_string()
        ]
    );
}

/// Finding 8: `run_next(Some(t))` with nothing runnable blocks until a task
/// can run or `t` has passed, even when an fd no task waits on any more
/// becomes ready meanwhile (it woke the old poll at once).
#[test]
fn run_next_with_a_timeout_blocks_for_all_of_it_when_no_task_can_run() {
    let _fds = fds();
    use multitask::readable;
    use std::io::Write;
    use std::os::unix::net::UnixStream;
    let tm = TaskManager::new();
    let (a, mut a_peer) = UnixStream::pair().unwrap();
    let (b, _b_peer) = UnixStream::pair().unwrap();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            // Times out, leaving `a` registered with no waiter.
            assert!(wait!(readable(&a).timeout(0.001)).unwrap_err().is_timeout());
            wait!(readable(&b))?; // waits for good: keeps the manager polling
            Ok(())
        },
    ));
    while tm.__counts().0 > 0 || tm.__counts().2 > 0 {
        tm.run_next(None).unwrap();
    }
    a_peer.write_all(b"ready, but nobody waits").unwrap();
    let start = std::time::Instant::now();
    tm.run_next(Some(Duration::from_millis(200))).unwrap();
    assert!(
        start.elapsed() >= Duration::from_millis(200),
        "returned after {:?}",
        start.elapsed()
    );
    assert_eq!(tm.__counts(), (0, 1, 0));
    tm.clear();
}

/// Finding 9: `fd_action` on a regular file (always ready) whose closure
/// returns `WouldBlock`: a clear error in the task, not a wrong-typed `()`.
#[test]
fn fd_action_would_block_on_a_regular_file_is_a_clear_error() {
    let _fds = fds();
    let file = std::fs::File::open("/proc/self/cmdline").unwrap();
    let result = Rc::new(RefCell::new(String::new()));
    let r = result.clone();
    multitask::add(Task::new(
        #[coroutine]
        move |_| {
            let outcome: multitask::Result<u32> = wait!(fd_action(&file, true, false, false, || {
                Err(std::io::ErrorKind::WouldBlock.into())
            }));
            *r.borrow_mut() = match outcome {
                Err(e) => format!("{:?}: {e}", e.io_error().map(|e| e.kind())),
                Ok(n) => format!("Ok({n})"),
            };
            Ok(())
        },
    ));
    multitask::run().unwrap();
    assert_eq!(
        *result.borrow(),
        "Some(WouldBlock): the fd is a regular file, always ready, and its action returned WouldBlock"
    );
}

/// Finding 7: a long-lived queue does not keep the waiters, nor the items, of
/// managers that were dropped: after 10,000 short-lived managers each left a
/// putter parked on it, the items alive are the queue's own and the last
/// manager's, and the next operation lets go of that one too.
#[test]
fn a_long_lived_queue_lets_go_of_dropped_managers_waiters_and_items() {
    struct Counted(Rc<RefCell<isize>>);
    impl Counted {
        fn new(alive: &Rc<RefCell<isize>>) -> Counted {
            *alive.borrow_mut() += 1;
            Counted(alive.clone())
        }
    }
    impl Drop for Counted {
        fn drop(&mut self) {
            *self.0.borrow_mut() -= 1;
        }
    }
    let alive = Rc::new(RefCell::new(0));
    let queue = Queue::with_contents([Counted::new(&alive)], 1); // full
    for _ in 0..10_000 {
        let tm = TaskManager::new();
        let (q, a) = (queue.clone(), alive.clone());
        tm.add(Task::new(
            #[coroutine]
            move |_| {
                wait!(q.put(Counted::new(&a)))?; // parks: the queue is full
                Ok(())
            },
        ));
        tm.run().unwrap();
    } // each manager dropped with its putter parked
    assert_eq!(*alive.borrow(), 2, "the queue's item and the last manager's putter's");
    let tm = TaskManager::new();
    let q = queue.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let item = wait!(q.get())?; // the queue's own item; no dead putter refills it
            drop(item);
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(*alive.borrow(), 0);
    assert!(queue.is_empty());
}

/// A caller's `fd_action` closure is user code: it is called with the
/// manager's state not borrowed, so it may call the manager (here `add` and
/// `has_runnable`), at step 1 as in the original: the task it adds runs ahead
/// of the waiter, which is enqueued once its closure has returned.
#[test]
fn an_fd_action_closure_may_call_the_manager() {
    let _fds = fds();
    use multitask::net::UnixStream;
    use std::io::Write;
    let log = Rc::new(RefCell::new(Vec::<String>::new()));
    let (a, b) = UnixStream::pair().unwrap();
    a.get_ref().write_all(b"hi").unwrap();
    let l = log.clone();
    multitask::add(Task::new(
        #[coroutine]
        move |_| {
            let (l2, fd) = (l.clone(), b.get_ref().try_clone().unwrap());
            let n = wait!(fd_action(&b, true, false, false, move || {
                let runnable = multitask::get_default_task_manager().has_runnable();
                l2.borrow_mut().push(format!("closure: runnable {runnable}"));
                let l3 = l2.clone();
                multitask::add(Task::new(
                    #[coroutine]
                    move |_| {
                        l3.borrow_mut().push("added".to_string());
                        Ok(())
                    },
                ));
                let mut buf = [0u8; 16];
                std::io::Read::read(&mut &fd, &mut buf)
            }))?;
            l.borrow_mut().push(format!("waiter: {n}"));
            Ok(())
        },
    ));
    let l = log.clone();
    multitask::add(Task::new(
        #[coroutine]
        move |_| {
            for i in 0..3 {
                l.borrow_mut().push(format!("other {i}"));
                wait!();
            }
            Ok(())
        },
    ));
    multitask::run().unwrap();
    assert_eq!(
        *log.borrow(),
        [
            "other 0",
            "closure: runnable true",
            "other 1",
            "added",
            "waiter: 2",
            "other 2"
        ]
    );
}

/// Finding 7, behind a live waiter: the putters of dropped managers parked
/// behind another live manager's putter are let go of too, with their items,
/// at the next operation that looks past it.
#[test]
fn dropped_managers_waiters_behind_a_live_foreign_waiter_are_let_go_of() {
    struct Counted(Rc<RefCell<isize>>);
    impl Drop for Counted {
        fn drop(&mut self) {
            *self.0.borrow_mut() -= 1;
        }
    }
    let alive = Rc::new(RefCell::new(0));
    let counted = |alive: &Rc<RefCell<isize>>| {
        *alive.borrow_mut() += 1;
        Counted(alive.clone())
    };
    let queue = Queue::with_contents([counted(&alive)], 1); // full
    let put_and_park = |tm: &TaskManager, item: Counted| {
        let q = queue.clone();
        tm.add(Task::new(
            #[coroutine]
            move |_| {
                wait!(q.put(item))?;
                Ok(())
            },
        ));
        tm.run().unwrap();
    };
    let foreign = TaskManager::new(); // lives on: its putter stays first
    put_and_park(&foreign, counted(&alive));
    for _ in 0..1_000 {
        put_and_park(&TaskManager::new(), counted(&alive)); // dropped at once
    }
    assert_eq!(*alive.borrow(), 1_002);
    let tm = TaskManager::new();
    let q = queue.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            drop(wait!(q.get())?);
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(*alive.borrow(), 1, "only the foreign manager's putter's item");
    drop(foreign);
}

/// A positive sleep under a nanosecond (Python accepts `sleep(1e-10)`) is a
/// sleep, not the error of `sleep(0)`.
#[test]
fn a_sleep_under_a_nanosecond_sleeps() {
    let tm = TaskManager::new();
    let got = Rc::new(RefCell::new(Vec::new()));
    let g = got.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let tiny = wait!(sleep(1e-10)).map_err(|e| e.to_string());
            g.borrow_mut().push(tiny);
            let least = wait!(sleep(f64::MIN_POSITIVE)).map_err(|e| e.to_string());
            g.borrow_mut().push(least);
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(*got.borrow(), [Ok(()), Ok(())]);
}

/// A panic whose payload panics again when dropped (`panic_any` of such a
/// value) is the task's `Error::Panic`; the other task runs on.
#[test]
fn a_panic_whose_payload_panics_on_drop_is_the_tasks_error() {
    struct PanicsOnDrop;
    impl Drop for PanicsOnDrop {
        fn drop(&mut self) {
            panic!("the payload's Drop");
        }
    }
    let tm = TaskManager::new();
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    tm.add(Task::<()>::new(
        #[coroutine]
        |_| {
            wait!();
            std::panic::panic_any(PanicsOnDrop);
        },
    ));
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!();
            wait!();
            l.borrow_mut().push("the other task ran on");
            Ok(())
        },
    ));
    let error = tm.run().unwrap_err();
    assert!(
        matches!(&error, Error::Panic(text) if text == "(a panic with no message)"),
        "{error:?}"
    );
    tm.run().unwrap();
    assert_eq!(*log.borrow(), ["the other task ran on"]);
}

/// Counts its drops.
struct Counted(Rc<std::cell::Cell<usize>>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

/// A task group per level, each the only member of the group above it, the
/// deepest sleeping.
fn nested_groups(tm: TaskManager, levels: usize, drops: Rc<std::cell::Cell<usize>>) -> Task<()> {
    Task::new(
        #[coroutine]
        static move |_| {
            let _counted = Counted(drops.clone());
            if levels == 0 {
                wait!(sleep(3600))?;
                return Ok(());
            }
            let group = multitask::TaskGroup::in_manager(&tm);
            group.add(nested_groups(tm.clone(), levels - 1, drops.clone()));
            wait!(group.join())?;
            Ok(())
        },
    )
}

/// Cancelling the top of 20,000 nested task groups drops every level (each
/// group's drop cancels its member, in the destructors the manager runs):
/// the drops nest only so deep, then go on in a loop, so the stack holds
/// (before, the test thread's stack overflowed: the process aborted).
#[test]
fn cancelling_the_top_of_twenty_thousand_nested_groups_drops_every_level() {
    const LEVELS: usize = 20_000;
    let tm = TaskManager::new();
    let drops = Rc::new(std::cell::Cell::new(0));
    let top = tm.add(nested_groups(tm.clone(), LEVELS, drops.clone()));
    while tm.has_runnable() {
        tm.run_next(None).unwrap();
    }
    assert_eq!(tm.tasks().len(), LEVELS + 1);
    top.cancel();
    assert_eq!(drops.get(), LEVELS + 1);
    assert!(top.is_cancelled());
    assert!(tm.tasks().is_empty());
}

/// A hand-written coroutine (`Task::new` takes any), finished at its first
/// resume, that keeps a field whose drop panics (a `#[coroutine]` closure
/// drops its captures inside its last resume, where the panic is caught).
struct Done(#[allow(dead_code)] PanicsOnDrop, bool);

impl std::ops::Coroutine<Input> for Done {
    type Yield = Operation;
    type Return = multitask::Result<()>;
    fn resume(self: std::pin::Pin<&mut Self>, _: Input) -> std::ops::CoroutineState<Operation, multitask::Result<()>> {
        std::ops::CoroutineState::Complete(if self.1 { Err(Error::msg("failed")) } else { Ok(()) })
    }
}

/// A failed top-level task whose drop panics: its error leaves `run`, and
/// the panic is caught (told through `log`), not let out of `run`.
#[test]
fn a_failed_tasks_panicking_drop_stays_in_run() {
    let tm = TaskManager::new();
    tm.add(Task::new(Done(PanicsOnDrop, true)));
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| tm.run()));
    let got = run.expect("a panic came out of run()").map_err(|e| e.to_string());
    assert_eq!(got, Err("failed".to_string()));
}

/// A finished child whose drop panics: its parent resumes with the panic as
/// the child's error; nothing unwinds out of `run`.
#[test]
fn a_finished_childs_panicking_drop_is_its_parents_error() {
    let tm = TaskManager::new();
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let got = wait!(Task::new(Done(PanicsOnDrop, false)));
            l.borrow_mut().push(format!("{:?}", got.map_err(|e| e.to_string())));
            Ok(())
        },
    ));
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| tm.run()));
    assert!(matches!(run, Ok(Ok(()))), "{run:?}");
    assert_eq!(*log.borrow(), [r#"Err("task panicked: drop of the return value")"#]);
}

thread_local! {
    static DROPS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Calls the thread's default manager when dropped: `has_runnable` would
/// panic if its state were borrowed. (`Send`, as a `UniversalQueue`'s items
/// are.)
struct CallsManager;

impl Drop for CallsManager {
    fn drop(&mut self) {
        let runnable = multitask::get_default_task_manager().has_runnable();
        DROPS.with(|d| d.borrow_mut().push(format!("item dropped, runnable: {runnable}")));
    }
}

/// A `UniversalQueue` put whose operation holds the queue's last handle:
/// the queue and its item are dropped once the manager's borrow ends (the
/// item's `Drop` calls the manager), not inside the wait's start.
#[test]
fn a_universal_queues_last_handle_in_a_put_drops_its_items_outside_the_borrow() {
    multitask::add(Task::new(
        #[coroutine]
        |_| {
            let got = wait!(multitask::UniversalQueue::new().put(CallsManager));
            DROPS.with(|d| {
                d.borrow_mut()
                    .push(format!("put: {:?}", got.map_err(|e| e.to_string())))
            });
            Ok(())
        },
    ));
    let run = std::panic::catch_unwind(multitask::run);
    assert!(matches!(run, Ok(Ok(()))), "{run:?}");
    let drops = DROPS.with(|d| d.borrow().clone());
    assert_eq!(drops, ["item dropped, runnable: false", "put: Ok(())"]);
}

thread_local! {
    static EVENT: multitask::Event = multitask::Event::new();
}

/// Sets the thread's `EVENT` when dropped.
struct SetsEvent;

impl Drop for SetsEvent {
    fn drop(&mut self) {
        EVENT.with(|e| e.set());
    }
}

/// The same drop setting an `Event`: its waiter is woken (a set under the
/// borrow could not reach the manager, and the waiter stayed parked).
#[test]
fn an_event_set_by_the_drop_of_a_universal_queues_item_wakes_its_waiter() {
    let tm = TaskManager::new();
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let event = EVENT.with(|e| e.clone());
            wait!(event.wait())?;
            l.borrow_mut().push("the waiter woke");
            Ok(())
        },
    ));
    tm.add(Task::new(
        #[coroutine]
        |_| {
            wait!(multitask::UniversalQueue::new().put(SetsEvent))?;
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(*log.borrow(), ["the waiter woke"]);
}

/// A task's stack (its body and its children) dropped by a cancel, a clear
/// or a group: a destructor that panics must neither abort the process nor
/// keep the task's other destructors from running then.
mod panicking_destructors {
    use super::*;
    use multitask::TaskGroup;

    type Log = Rc<RefCell<Vec<&'static str>>>;

    /// Logs its name when dropped, then panics if told to.
    struct Guard(&'static str, bool, Log);

    impl Drop for Guard {
        fn drop(&mut self) {
            self.2.borrow_mut().push(self.0);
            if self.1 {
                panic!("drop of {}", self.0);
            }
        }
    }

    /// A task holding a guard, waiting on a child that holds a panicking one and sleeps.
    fn parent(log: &Log, parent_panics: bool) -> Task {
        let log = log.clone();
        Task::new(
            #[coroutine]
            move |_| {
                let _g = Guard("parent", parent_panics, log.clone());
                let l = log.clone();
                wait!(Task::<()>::new(
                    #[coroutine]
                    move |_| {
                        let _g = Guard("child", true, l);
                        wait!(sleep(3600))?;
                        Ok(())
                    }
                ))?;
                Ok(())
            },
        )
    }

    #[test]
    fn cancel_runs_every_destructor_even_if_a_childs_panics() {
        let log: Log = Rc::default();
        let tm = TaskManager::new();
        let handle = tm.add(parent(&log, false));
        tm.run_next(None).unwrap(); // the parent yields its child
        tm.run_next(None).unwrap(); // the child sleeps
        handle.cancel();
        assert_eq!(*log.borrow(), ["child", "parent"]);
        assert!(handle.is_cancelled());
    }

    #[test]
    fn clear_with_a_task_whose_body_and_child_both_panic_when_dropped() {
        let log: Log = Rc::default();
        let tm = TaskManager::new();
        tm.add(parent(&log, true));
        tm.run_next(None).unwrap();
        tm.run_next(None).unwrap();
        let cleared = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| tm.clear()));
        assert!(cleared.is_ok(), "a task's destructor panicked out of clear()");
        assert_eq!(*log.borrow(), ["child", "parent"]);
        assert_eq!(tm.tasks().len(), 0);
    }

    #[test]
    fn clear_and_drop_with_three_levels_that_all_panic_when_dropped() {
        for drop_manager in [false, true] {
            let log: Log = Rc::default();
            let tm = TaskManager::new();
            let l = log.clone();
            tm.add(Task::<()>::new(
                #[coroutine]
                move |_| {
                    let _g = Guard("top", true, l.clone());
                    wait!(parent(&l, true))?;
                    Ok(())
                },
            ));
            for _ in 0..3 {
                tm.run_next(None).unwrap();
            }
            let ended = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                if drop_manager {
                    drop(tm)
                } else {
                    tm.clear()
                }
            }));
            assert!(ended.is_ok());
            assert_eq!(*log.borrow(), ["child", "parent", "top"]);
        }
    }

    #[test]
    fn a_dropped_group_whose_members_child_panics_when_dropped_drops_it_all() {
        let log: Log = Rc::default();
        let tm = TaskManager::new();
        let group = TaskGroup::in_manager(&tm);
        group.add(parent(&log, true));
        tm.run_next(None).unwrap();
        tm.run_next(None).unwrap();
        let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(group)));
        assert!(
            dropped.is_ok(),
            "a member's destructor panicked out of the group's drop"
        );
        assert_eq!(*log.borrow(), ["child", "parent"]);
        tm.run().unwrap();
    }
}
