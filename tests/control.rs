//! Task control (issue 11): handles, join, cancel in every waiting state,
//! groups, `timeout_after`, `tasks()`, `Event`, `Semaphore`, `get_matching`.
//! Every test checks exact orders and values; time is a manual clock where
//! sleeps matter, so nothing depends on the machine's speed.
#![feature(coroutines, coroutine_trait)]

mod common;

use std::cell::RefCell;
use std::io::Read;
use std::rc::Rc;
use std::time::Duration;

use multitask::net::UnixStream;
use multitask::{
    recv, sleep, timeout_after, value, wait, Clock, Error, Event, Input, Operation, Queue, Semaphore, Task, TaskGroup,
    TaskHandle, TaskManager, TaskState,
};

type Log = Rc<RefCell<Vec<String>>>;

fn log() -> Log {
    Rc::new(RefCell::new(Vec::new()))
}

fn push(log: &Log, line: impl Into<String>) {
    log.borrow_mut().push(line.into());
}

fn lines(log: &Log) -> Vec<String> {
    log.borrow().clone()
}

/// Logs `drop <name>` when dropped: shows which destructors ran, in order.
struct Noisy(&'static str, Log);

impl Drop for Noisy {
    fn drop(&mut self) {
        push(&self.1, format!("drop {}", self.0));
    }
}

fn manual() -> TaskManager {
    TaskManager::with_clock(Clock::manual())
}

/// A task that holds a `Noisy` and waits on the operation `wait_on` builds
/// (a raw `yield`, so that any operation will do).
fn holder<O: Into<Operation>>(name: &'static str, log: &Log, wait_on: impl FnOnce() -> O + 'static) -> Task {
    let log = log.clone();
    Task::new(
        #[coroutine]
        move |_| {
            let _guard = Noisy(name, log.clone());
            let got: Input = yield wait_on().into();
            push(&log, format!("{name} woke: {}", got.is_ok()));
            Ok(())
        },
    )
}

// ---------------------------------------------------------------------------
// Handles and join
// ---------------------------------------------------------------------------

#[test]
fn an_ignored_handle_keeps_the_original_behaviour() {
    let tm = TaskManager::new();
    tm.add(Task::<()>::new(
        #[coroutine]
        |_| {
            wait!();
            Err(Error::msg("top-level error"))
        },
    ));
    assert_eq!(tm.run().unwrap_err().to_string(), "top-level error");
}

#[test]
fn join_gives_the_value_or_the_error_of_a_task_in_every_ending() {
    let tm = manual();
    let ok = tm.add(Task::new(
        #[coroutine]
        |_| {
            wait!(sleep(1))?;
            Ok(42u32)
        },
    ));
    let failed = tm.add(Task::<u32>::new(
        #[coroutine]
        |_| {
            wait!();
            Err(Error::msg("it failed"))
        },
    ));
    let panicked = tm.add(Task::<u32>::new(
        #[coroutine]
        |_| {
            wait!();
            panic!("it panicked")
        },
    ));
    let cancelled = tm.add(Task::<u32>::new(
        #[coroutine]
        |_| {
            wait!(sleep(100))?;
            Ok(1)
        },
    ));
    let early = tm.add(Task::ready(7u32));
    let log = log();
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        static move |_| {
            // `early` finished in the first pass, before this join.
            wait!(sleep(2))?;
            push(&l, format!("early {:?}", wait!(early.join())));
            push(&l, format!("early again {}", wait!(early.join()).unwrap_err()));
            push(&l, format!("ok {:?}", wait!(ok.join())));
            push(&l, format!("failed {}", wait!(failed.join()).unwrap_err()));
            push(&l, format!("panicked {}", wait!(panicked.join()).unwrap_err()));
            cancelled.cancel();
            push(&l, format!("cancelled {:?}", wait!(cancelled.join()).unwrap_err()));
            assert!(cancelled.is_finished() && cancelled.is_cancelled());
            assert!(ok.is_finished() && !ok.is_cancelled());
            Ok(())
        },
    ));
    tm.run().unwrap(); // no error leaves run: every one was joined
    assert_eq!(
        lines(&log),
        [
            "early Ok(7)",
            "early again the task was joined already",
            "ok Ok(42)",
            "failed it failed",
            "panicked task panicked: it panicked",
            "cancelled Cancelled",
        ]
    );
}

#[test]
fn a_joiner_waits_one_pass_after_the_end_as_a_parent_does_for_a_child() {
    let tm = TaskManager::new();
    let log = log();
    let l = log.clone();
    let worker = tm.add(Task::new(
        #[coroutine]
        move |_| {
            push(&l, "worker 1");
            wait!();
            push(&l, "worker 2");
            Ok("result")
        },
    ));
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            push(&l, "joiner starts");
            let got = wait!(worker.join())?;
            push(&l, format!("joiner got {got}"));
            Ok(())
        },
    ));
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            for i in 0..4 {
                push(&l, format!("ticker {i}"));
                wait!();
            }
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(
        lines(&log),
        [
            "worker 1",
            "joiner starts",
            "ticker 0",
            "worker 2",
            "ticker 1",
            "joiner got result",
            "ticker 2",
            "ticker 3"
        ]
    );
}

#[test]
fn bad_joins_are_errors_of_the_joining_task() {
    let tm = TaskManager::new();
    let handle: Rc<RefCell<Option<TaskHandle>>> = Rc::default();
    let own = handle.clone();
    let me = tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!();
            let me = own.borrow().clone().unwrap();
            let e = wait!(me.join()).unwrap_err();
            assert_eq!(e.to_string(), "a task cannot join itself");
            Ok(())
        },
    ));
    *handle.borrow_mut() = Some(me);
    let sleeper = tm.add(Task::new(
        #[coroutine]
        |_| {
            wait!(sleep(0.05))?;
            Ok(())
        },
    ));
    let (s1, s2) = (sleeper.clone(), sleeper.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(s1.join())?;
            Ok(())
        },
    ));
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let e = wait!(s2.join()).unwrap_err();
            assert_eq!(e.to_string(), "the task has a joiner already");
            Ok(())
        },
    ));
    tm.run().unwrap();
    drop(handle.borrow_mut().take());
}

#[test]
fn an_error_kept_for_a_handle_dropped_unjoined_leaves_run() {
    let tm = TaskManager::new();
    let handle = tm.add(Task::<()>::new(
        #[coroutine]
        |_| Err(Error::msg("nobody joined me")),
    ));
    tm.run_next(None).unwrap(); // it fails; the handle keeps the error
    assert!(handle.is_finished());
    drop(handle);
    assert_eq!(tm.run().unwrap_err().to_string(), "nobody joined me");
    tm.run().unwrap(); // reported once
}

#[test]
fn a_join_with_a_timeout_leaves_the_task_running() {
    let tm = manual();
    let slow = tm.add(Task::new(
        #[coroutine]
        |_| {
            wait!(sleep(10))?;
            Ok(5)
        },
    ));
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            assert!(wait!(slow.join().timeout(1)).unwrap_err().is_timeout());
            assert!(!slow.is_finished());
            assert_eq!(wait!(slow.join())?, 5);
            Ok(())
        },
    ));
    tm.run().unwrap();
}

// ---------------------------------------------------------------------------
// Cancel
// ---------------------------------------------------------------------------

#[test]
fn cancel_ends_a_task_in_every_waiting_state_and_runs_its_destructors_once() {
    let tm = manual();
    let log = log();
    let q: Queue<u32> = Queue::new();
    let full: Queue<u32> = Queue::with_contents([0], 1);
    let event = Event::new();
    let sem = Semaphore::new(0);
    let (a, _b) = UnixStream::pair().unwrap();
    let never = tm.add(Task::<()>::new(
        #[coroutine]
        |_| {
            wait!(sleep(1000))?;
            Ok(())
        },
    ));
    let mut handles = Vec::new();
    let (q2, f2, e2, s2) = (q.clone(), full.clone(), event.clone(), sem.clone());
    handles.push(tm.add(holder("runnable", &log, || value(()))));
    handles.push(tm.add(holder("sleeping", &log, || sleep(100))));
    handles.push(tm.add(holder("getting", &log, move || q2.get().timeout(100))));
    handles.push(tm.add(holder("putting", &log, move || f2.put(9))));
    handles.push(tm.add(holder("on fd", &log, move || recv(&a, 10))));
    handles.push(tm.add(holder("joining", &log, move || never.join())));
    handles.push(tm.add(holder("event", &log, move || e2.wait())));
    handles.push(tm.add(holder("semaphore", &log, move || s2.acquire())));
    tm.run_next(None).unwrap(); // each runs once and waits (the first is runnable again)
    let states: Vec<String> = tm.tasks().iter().map(|t| format!("{}: {}", t.name, t.state)).collect();
    assert_eq!(states.len(), 9);
    for handle in &handles {
        handle.cancel();
        push(&log, format!("cancelled {}", handle.id()));
    }
    for handle in &handles {
        handle.cancel(); // a second cancel does nothing
    }
    let ids: Vec<u64> = handles.iter().map(|h| h.id()).collect();
    let expected: Vec<String> = [
        "runnable",
        "sleeping",
        "getting",
        "putting",
        "on fd",
        "joining",
        "event",
        "semaphore",
    ]
    .iter()
    .zip(&ids)
    .flat_map(|(name, id)| [format!("drop {name}"), format!("cancelled {id}")])
    .collect();
    assert_eq!(lines(&log), expected);
    // Nothing of them is left: no waiter; the full queue took no item.
    assert_eq!(format!("{event:?}"), "Event { set: false, waiting: 0 }");
    assert_eq!(format!("{sem:?}"), "Semaphore { available: 0, waiting: 0 }");
    assert_eq!(full.len(), 1);
    assert_eq!(tm.__counts().2, 1); // only the joined sleeper's timer
    let left: Vec<String> = tm.tasks().iter().map(|t| t.name.clone()).collect();
    assert_eq!(left.len(), 1); // the sleeper being joined
    assert!(handles.iter().all(|h| h.is_cancelled()));
    tm.clear();
}

#[test]
fn a_cancelled_queue_waiter_takes_no_item_and_a_cancelled_putter_delivers_none() {
    let tm = TaskManager::new();
    let q: Queue<&'static str> = Queue::with_maxsize(1);
    let log = log();
    let q1 = q.clone();
    let getter = tm.add(Task::new(
        #[coroutine]
        move |_| {
            let item = wait!(q1.get())?;
            Ok(item)
        },
    ));
    let l = log.clone();
    let q2 = q.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(); // the getter parks first
            getter.cancel();
            wait!(q2.put("first"))?; // nobody takes it: it stays in the queue
            push(&l, format!("queued {}", q2.len()));
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(lines(&log), ["queued 1"]);
    assert_eq!(q.len(), 1);

    // A putter waiting on the full queue, cancelled: its item is dropped, never delivered.
    let tm = TaskManager::new();
    let dropped = log.clone();
    let q4 = q.clone();
    let putter = tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(q4.put("second"))?;
            push(&dropped, "putter done");
            Ok(())
        },
    ));
    tm.run_next(None).unwrap();
    putter.cancel();
    let q5 = q.clone();
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        static move |_| {
            push(&l, format!("got {}", wait!(q5.get())?));
            push(&l, format!("left {}", q5.len()));
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(lines(&log), ["queued 1", "got first", "left 0"]);
}

#[test]
fn a_cancelled_tasks_socket_is_closed_when_cancel_returns() {
    let tm = TaskManager::new();
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    let ours = UnixStream::from(ours);
    let reader = tm.add(Task::new(
        #[coroutine]
        move |_| {
            let data = wait!(recv(&ours, 100))?;
            Ok(data)
        },
    ));
    tm.run_next(None).unwrap();
    reader.cancel();
    let mut theirs = theirs;
    let mut buf = [0u8; 8];
    assert_eq!(theirs.read(&mut buf).unwrap(), 0); // EOF: our end is closed
    assert!(!tm.has_io_waits());
}

#[test]
fn cancel_drops_children_innermost_first_and_their_waits_with_them() {
    let tm = manual();
    let log = log();
    let l = log.clone();
    let parent = tm.add(Task::new(
        #[coroutine]
        move |_| {
            let _outer = Noisy("parent", l.clone());
            let l2 = l.clone();
            wait!(Task::<()>::new(
                #[coroutine]
                move |_| {
                    let _mid = Noisy("child", l2.clone());
                    let l3 = l2.clone();
                    wait!(Task::<()>::new(
                        #[coroutine]
                        move |_| {
                            let _inner = Noisy("grandchild", l3);
                            wait!(sleep(50))?;
                            Ok(())
                        }
                    ))?;
                    Ok(())
                }
            ))?;
            Ok(())
        },
    ));
    for _ in 0..3 {
        tm.run_next(Some(Duration::ZERO)).unwrap();
    }
    let depth: Vec<usize> = tm.tasks().iter().map(|t| t.depth).collect();
    assert_eq!(depth, [3]);
    assert!(tm.has_timeouts());
    parent.cancel();
    assert_eq!(lines(&log), ["drop grandchild", "drop child", "drop parent"]);
    assert!(!tm.has_timeouts());
    assert!(tm.tasks().is_empty());
}

#[test]
fn a_task_cancelled_by_itself_or_by_its_child_ends_at_its_next_yield() {
    let tm = TaskManager::new();
    let log = log();
    let slot: Rc<RefCell<Option<TaskHandle>>> = Rc::default();
    let (l, me) = (log.clone(), slot.clone());
    let handle = tm.add(Task::new(
        #[coroutine]
        move |_| {
            let _guard = Noisy("self", l.clone());
            wait!();
            me.borrow().as_ref().unwrap().cancel();
            push(&l, "still running until the yield");
            wait!();
            push(&l, "never");
            Ok(())
        },
    ));
    *slot.borrow_mut() = Some(handle.clone());
    tm.run().unwrap();
    assert_eq!(lines(&log), ["still running until the yield", "drop self"]);
    assert!(handle.is_cancelled());
    drop(slot.borrow_mut().take());

    // A child cancelling the task it runs in (its parent's handle).
    let log2 = self::log();
    let slot: Rc<RefCell<Option<TaskHandle>>> = Rc::default();
    let (l, parent_handle) = (log2.clone(), slot.clone());
    let parent = tm.add(Task::new(
        #[coroutine]
        move |_| {
            let _guard = Noisy("parent", l.clone());
            let l2 = l.clone();
            let r = wait!(Task::<()>::new(
                #[coroutine]
                move |_| {
                    let _g = Noisy("child", l2.clone());
                    parent_handle.borrow().as_ref().unwrap().cancel();
                    wait!();
                    push(&l2, "child never");
                    Ok(())
                }
            ));
            push(&l, format!("parent never {r:?}"));
            Ok(())
        },
    ));
    *slot.borrow_mut() = Some(parent);
    tm.run().unwrap();
    assert_eq!(lines(&log2), ["drop child", "drop parent"]);
    drop(slot.borrow_mut().take());
}

#[test]
fn cancel_from_another_task_runs_the_destructors_before_cancel_returns() {
    let tm = manual();
    let log = log();
    let victim = tm.add(holder("victim", &log, || sleep(10)));
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!();
            push(&l, "before cancel");
            victim.cancel();
            push(&l, "after cancel");
            assert!(victim.is_finished());
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(lines(&log), ["before cancel", "drop victim", "after cancel"]);
}

// ---------------------------------------------------------------------------
// Groups
// ---------------------------------------------------------------------------

fn member(log: &Log, name: &'static str, passes: usize, fail: bool) -> Task {
    let log = log.clone();
    Task::new(
        #[coroutine]
        move |_| {
            let _guard = Noisy(name, log.clone());
            for _ in 0..passes {
                wait!();
            }
            push(&log, format!("{name} ends"));
            if fail {
                Err(Error::msg(format!("{name} failed")))
            } else {
                Ok(())
            }
        },
    )
}

#[test]
fn a_group_whose_members_all_succeed_joins_with_unit() {
    let tm = TaskManager::new();
    let log = log();
    let (l, tm2) = (log.clone(), tm.clone());
    tm.add(Task::new(
        #[coroutine]
        static move |_| {
            let group = TaskGroup::in_manager(&tm2);
            group.add(member(&l, "a", 2, false));
            group.add(member(&l, "b", 1, false));
            assert_eq!(group.len(), 2);
            let got = wait!(group.join());
            push(&l, format!("joined {got:?}, {} left", group.len()));
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(
        lines(&log),
        ["b ends", "drop b", "a ends", "drop a", "joined Ok(()), 0 left"]
    );
}

#[test]
fn the_first_failure_cancels_the_other_members_in_the_order_they_were_added() {
    let tm = TaskManager::new();
    let log = log();
    let (l, tm2) = (log.clone(), tm.clone());
    tm.add(Task::new(
        #[coroutine]
        static move |_| {
            let group = TaskGroup::in_manager(&tm2);
            group.add(member(&l, "slow1", 10, false));
            group.add(member(&l, "bad", 1, true));
            group.add(member(&l, "slow2", 10, false));
            group.add(member(&l, "bad2", 3, true));
            let got = wait!(group.join());
            push(&l, format!("joined: {}", got.unwrap_err()));
            Ok(())
        },
    ));
    tm.run().unwrap(); // the member's error is the group's, not run's
    assert_eq!(
        lines(&log),
        [
            "bad ends",
            "drop bad",
            "drop slow1",
            "drop slow2",
            "drop bad2",
            "joined: bad failed"
        ]
    );
}

#[test]
fn dropping_a_group_or_cancelling_its_owner_cancels_the_members() {
    let tm = manual();
    let log = log();
    let (l, tm2) = (log.clone(), tm.clone());
    let owner = tm.add(Task::new(
        #[coroutine]
        static move |_| {
            let group = TaskGroup::in_manager(&tm2);
            group.add(holder("m1", &l, || sleep(100)));
            group.add(holder("m2", &l, || sleep(100)));
            let _g = Noisy("owner", l.clone());
            wait!(group.join())?;
            Ok(())
        },
    ));
    tm.run_next(None).unwrap();
    tm.run_next(None).unwrap();
    assert_eq!(tm.tasks().len(), 3);
    assert!(tm.tasks().iter().filter(|t| t.in_group).count() == 2);
    owner.cancel();
    // The owner's locals drop (its guard, then the group, which cancels the members).
    assert_eq!(lines(&log), ["drop owner", "drop m1", "drop m2"]);
    assert!(tm.tasks().is_empty());
    assert!(!tm.has_timeouts());

    let log = self::log();
    let group = TaskGroup::in_manager(&tm);
    let member_handle = group.add(holder("m3", &log, || sleep(100)));
    tm.run_next(None).unwrap();
    drop(group);
    assert_eq!(lines(&log), ["drop m3"]);
    assert!(member_handle.is_cancelled());
}

#[test]
fn a_spawner_adds_members_while_the_group_lives() {
    let tm = TaskManager::new();
    let log = log();
    let group = TaskGroup::in_manager(&tm);
    let spawner = group.spawner();
    let l = log.clone();
    group.add(Task::new(
        #[coroutine]
        move |_| {
            for name in ["x", "y"] {
                spawner.add(member(&l, name, 1, false))?;
            }
            Ok(())
        },
    ));
    let dead = group.spawner();
    tm.run().unwrap();
    assert_eq!(lines(&log), ["x ends", "drop x", "y ends", "drop y"]);
    drop(group);
    let e = dead.add(member(&log, "z", 0, false)).unwrap_err();
    assert_eq!(e.to_string(), "the task group was dropped");
}

// ---------------------------------------------------------------------------
// timeout_after
// ---------------------------------------------------------------------------

/// Three `timeout_after`s nested, with deadlines `outer`, `middle`,
/// `inner` (seconds); the innermost sleeps `work` seconds. Gives what each
/// level saw.
fn nested(outer: u64, middle: u64, inner: u64, work: u64) -> Vec<String> {
    let tm = manual();
    let log = log();
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let l1 = l.clone();
            let got = wait!(timeout_after(
                outer,
                Task::new(
                    #[coroutine]
                    move |_| {
                        let l2 = l1.clone();
                        let got = wait!(timeout_after(
                            middle,
                            Task::new(
                                #[coroutine]
                                move |_| {
                                    let _g = Noisy("level 3", l2.clone());
                                    let got = wait!(timeout_after(
                                        inner,
                                        Task::new(
                                            #[coroutine]
                                            move |_| {
                                                wait!(sleep(work))?;
                                                Ok("work done")
                                            }
                                        )
                                    ));
                                    push(&l2, format!("level 3 saw {got:?}"));
                                    wait!(sleep(5))?;
                                    Ok("level 3 done")
                                }
                            )
                        ));
                        push(&l1, format!("level 2 saw {got:?}"));
                        Ok("level 2 done")
                    }
                )
            ));
            push(&l, format!("level 1 saw {got:?}"));
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert!(!tm.has_timeouts());
    lines(&log)
}

#[test]
fn timeout_after_nested_three_deep_fires_at_each_level() {
    // Nothing fires.
    assert_eq!(
        nested(100, 100, 100, 1),
        [
            "level 3 saw Ok(\"work done\")",
            "drop level 3",
            "level 2 saw Ok(\"level 3 done\")",
            "level 1 saw Ok(\"level 2 done\")"
        ]
    );
    // The innermost fires: level 3 sees it and carries on.
    assert_eq!(
        nested(100, 100, 1, 10),
        [
            "level 3 saw Err(Timeout)",
            "drop level 3",
            "level 2 saw Ok(\"level 3 done\")",
            "level 1 saw Ok(\"level 2 done\")"
        ]
    );
    // The middle one fires while level 3 sleeps after its own: level 3 is
    // dropped, level 2 sees its timeout.
    assert_eq!(
        nested(100, 3, 1, 10),
        [
            "level 3 saw Err(Timeout)",
            "drop level 3",
            "level 2 saw Err(Timeout)",
            "level 1 saw Ok(\"level 2 done\")"
        ]
    );
    // The outer one fires first of all: everything inside is cut off.
    assert_eq!(nested(2, 50, 40, 30), ["drop level 3", "level 1 saw Err(Timeout)"]);
}

#[test]
fn timeout_after_that_does_not_fire_costs_one_timer_and_leaves_none() {
    let tm = manual();
    tm.add(Task::new(
        #[coroutine]
        |_| {
            let got = wait!(timeout_after(
                60,
                Task::new(
                    #[coroutine]
                    |_| {
                        wait!();
                        Ok(3)
                    }
                )
            ))?;
            assert_eq!(got, 3);
            Ok(())
        },
    ));
    tm.run_next(None).unwrap();
    tm.run_next(None).unwrap();
    assert_eq!(tm.__counts().2, 1); // the one timer, while the child runs
    tm.run().unwrap();
    assert_eq!(tm.__counts(), (0, 0, 0));
    assert!(timeout_after(f64::NAN, Task::ready(1)).__checked().is_err());
}

// ---------------------------------------------------------------------------
// tasks() and dump()
// ---------------------------------------------------------------------------

#[test]
fn tasks_shows_each_task_in_each_state() {
    let tm = manual();
    let q: Queue<u8> = Queue::new();
    let full: Queue<u8> = Queue::with_contents([1], 1);
    let event = Event::new();
    let sem = Semaphore::new(0);
    let (a, _b) = UnixStream::pair().unwrap();
    let a_fd = std::os::fd::AsRawFd::as_raw_fd(&a);
    let (q2, f2, e2, s2) = (q.clone(), full.clone(), event.clone(), sem.clone());
    let sleeper = tm.add(
        Task::<()>::new(
            #[coroutine]
            |_| {
                wait!(sleep(30))?;
                Ok(())
            },
        )
        .named("sleeper"),
    );
    let sleeper_id = sleeper.id();
    tm.add(
        Task::new(
            #[coroutine]
            move |_| {
                wait!(q2.get())?;
                Ok(())
            },
        )
        .named("getter"),
    );
    tm.add(
        Task::new(
            #[coroutine]
            move |_| {
                wait!(f2.put(2))?;
                Ok(())
            },
        )
        .named("putter"),
    );
    tm.add(
        Task::new(
            #[coroutine]
            move |_| {
                wait!(recv(&a, 1))?;
                Ok(())
            },
        )
        .named("reader"),
    );
    tm.add(
        Task::new(
            #[coroutine]
            move |_| {
                wait!(sleeper.join())?;
                Ok(())
            },
        )
        .named("joiner"),
    );
    tm.add(
        Task::new(
            #[coroutine]
            move |_| {
                wait!(e2.wait())?;
                Ok(())
            },
        )
        .named("event"),
    );
    tm.add(
        Task::new(
            #[coroutine]
            move |_| {
                let _p = wait!(s2.acquire())?;
                Ok(())
            },
        )
        .named("acquirer"),
    );
    let tm2 = tm.clone();
    type Seen = Vec<(String, TaskState, usize, u64)>;
    let seen: Rc<RefCell<Seen>> = Rc::default();
    let seen2 = seen.clone();
    tm.add(
        Task::new(
            #[coroutine]
            move |_| {
                wait!(Task::<()>::new(
                    #[coroutine]
                    move |_| {
                        wait!();
                        for t in tm2.tasks() {
                            seen2.borrow_mut().push((t.name, t.state, t.depth, t.resumed));
                        }
                        Ok(())
                    }
                ))?;
                Ok(())
            },
        )
        .named("monitor"),
    );
    tm.add(Task::ready(()).named("runnable"));
    tm.run_next(None).unwrap();
    // The monitor's child runs in pass 2 (and asks in pass 3); `runnable` ended in pass 1.
    tm.run_next(None).unwrap();
    tm.run_next(None).unwrap();
    let seen = seen.borrow().clone();
    let names: Vec<&str> = seen.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(
        names,
        ["sleeper", "getter", "putter", "reader", "joiner", "event", "acquirer", "monitor"]
    );
    let states: Vec<TaskState> = seen.iter().map(|s| s.1.clone()).collect();
    assert!(matches!(states[0], TaskState::Sleeping { .. }));
    assert_eq!(
        states[1..],
        [
            TaskState::QueueGet,
            TaskState::QueuePut,
            TaskState::Fd { fd: a_fd, what: "recv" },
            TaskState::Joining(sleeper_id),
            TaskState::Event,
            TaskState::Acquire,
            TaskState::Running,
        ]
    );
    assert_eq!(seen[7].2, 2); // the monitor runs a child
    assert_eq!(seen[7].3, 3); // resumed in passes 1, 2 (its child), 3
    assert_eq!(seen[0].3, 1);
    let dump = tm.dump();
    let header = dump.lines().next().unwrap();
    assert_eq!(
        header.split_whitespace().collect::<Vec<_>>(),
        ["id", "name", "state", "depth", "resumed"]
    );
    assert!(dump.contains("sleeper") && dump.contains("queue get") && dump.contains("recv fd"));
    tm.clear();
}

// ---------------------------------------------------------------------------
// Event and Semaphore
// ---------------------------------------------------------------------------

#[test]
fn event_wakes_its_waiters_in_order_and_a_set_event_still_costs_a_pass() {
    let tm = manual();
    let log = log();
    let event = Event::new();
    for name in ["w1", "w2", "w3"] {
        let (e, l) = (event.clone(), log.clone());
        tm.add(Task::new(
            #[coroutine]
            move |_| {
                let got = wait!(e.wait().timeout(if name == "w2" { 1 } else { 100 }));
                push(&l, format!("{name} {got:?}"));
                Ok(())
            },
        ));
    }
    let (e, l) = (event.clone(), log.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(sleep(2))?; // w2 times out meanwhile
            push(&l, "set");
            e.set();
            push(&l, "after set");
            wait!(e.wait())?; // set already: one pass
            push(&l, "waited on a set event");
            e.clear();
            assert!(wait!(e.wait().timeout(1)).unwrap_err().is_timeout());
            push(&l, "cleared");
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(
        lines(&log),
        [
            "w2 Err(Timeout)",
            "set",
            "after set",
            "w1 Ok(())",
            "w3 Ok(())",
            "waited on a set event",
            "cleared"
        ]
    );
}

#[test]
fn semaphore_hands_permits_in_fifo_order_and_a_timed_out_acquirer_gets_none() {
    let tm = manual();
    let log = log();
    let sem = Semaphore::new(2);
    for (name, hold, timeout) in [("a", 3, 100), ("b", 1, 100), ("c", 1, 100), ("d", 1, 1), ("e", 1, 100)] {
        let (s, l) = (sem.clone(), log.clone());
        tm.add(Task::new(
            #[coroutine]
            move |_| {
                match wait!(s.acquire().timeout(timeout)) {
                    Ok(permit) => {
                        push(&l, format!("{name} in ({} free)", s.available()));
                        wait!(sleep(hold))?;
                        push(&l, format!("{name} out"));
                        drop(permit);
                    }
                    Err(e) => push(&l, format!("{name} {e:?}")),
                }
                Ok(())
            },
        ));
    }
    tm.run().unwrap();
    assert_eq!(
        lines(&log),
        [
            "a in (0 free)",
            "b in (0 free)",
            // Both due at 1 s: d's timeout was set a pass before b's sleep.
            "d Timeout",
            "b out",
            "c in (0 free)",
            "c out",
            "e in (0 free)",
            "a out",
            "e out"
        ]
    );
    assert_eq!(sem.available(), 2);
}

// ---------------------------------------------------------------------------
// get_matching
// ---------------------------------------------------------------------------

#[test]
fn get_matching_takes_the_first_match_waits_for_one_and_lets_putters_in() {
    let tm = manual();
    let log = log();
    let q: Queue<u32> = Queue::with_contents([1, 3, 5], 3);
    let (q1, l1) = (q.clone(), log.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let got = wait!(q1.get_matching(|n: &u32| *n > 2))?;
            push(&l1, format!("m1 got {got}"));
            let got = wait!(q1.get_matching(|n: &u32| n.is_multiple_of(2)))?;
            push(&l1, format!("m1 got even {got}"));
            let got = wait!(q1.get_matching(|n: &u32| *n == 99).timeout(5));
            push(&l1, format!("m1 {got:?}"));
            Ok(())
        },
    ));
    let (q2, l2) = (q.clone(), log.clone());
    tm.add(Task::new(
        #[coroutine]
        static move |_| {
            wait!(q2.put(7))?; // full until m1 takes 3
            push(&l2, "put 7");
            push(&l2, format!("got {}", wait!(q2.get())?));
            wait!(q2.put(8))?; // m1's even matcher waits for it
            push(&l2, "put 8");
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(
        lines(&log),
        [
            "m1 got 3",
            "put 7",
            "got 1",
            "put 8",
            "m1 got even 8",
            "m1 Err(Timeout)"
        ]
    );
    let rest: Rc<RefCell<Vec<u32>>> = Rc::default();
    let (q3, r) = (q.clone(), rest.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            while !q3.is_empty() {
                let item = wait!(q3.get())?;
                r.borrow_mut().push(item);
            }
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(*rest.borrow(), [5, 7]); // the others stayed, in order
}

#[test]
fn a_panicking_predicate_is_the_getters_error_only() {
    let tm = TaskManager::new();
    let q: Queue<u32> = Queue::with_contents([1], 0);
    let (q1, q2) = (q.clone(), q.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let e = wait!(q1.get_matching(|_: &u32| panic!("bad predicate"))).unwrap_err();
            assert_eq!(e.to_string(), "task panicked: bad predicate");
            Ok(())
        },
    ));
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            assert_eq!(wait!(q2.get())?, 1);
            Ok(())
        },
    ));
    tm.run().unwrap();
}

#[test]
fn cancel_and_tasks_see_a_task_waiting_on_another_thread() {
    let tm = TaskManager::new();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let handle = tm.add(
        Task::new(
            #[coroutine]
            move |_| {
                let n = wait!(multitask::run_in_thread(move || {
                    rx.recv().ok();
                    5
                }))?;
                Ok(n)
            },
        )
        .named("blocked"),
    );
    tm.run_next(Some(Duration::ZERO)).unwrap();
    let tasks = tm.tasks();
    assert_eq!(
        (tasks[0].name.as_str(), &tasks[0].state),
        ("blocked", &TaskState::Remote)
    );
    handle.cancel();
    assert!(handle.is_cancelled());
    assert!(!tm.has_io_waits());
    assert!(tm.tasks().is_empty());
    tx.send(()).unwrap(); // the worker finishes; its result is dropped
    tm.run().unwrap();
}

// ---------------------------------------------------------------------------
// Regressions found in review
// ---------------------------------------------------------------------------

/// A hand-written coroutine that completes at once, holding `T` until dropped.
struct Once<T>(#[allow(dead_code)] T);

impl<T> std::ops::Coroutine<Input> for Once<T> {
    type Yield = Operation;
    type Return = multitask::Result<()>;
    fn resume(self: std::pin::Pin<&mut Self>, _: Input) -> std::ops::CoroutineState<Operation, multitask::Result<()>> {
        std::ops::CoroutineState::Complete(Ok(()))
    }
}

impl<T> Unpin for Once<T> {}

/// Calls `tasks()` when dropped, and records what it saw.
struct Peek(TaskManager, Log);

impl Drop for Peek {
    fn drop(&mut self) {
        let names: Vec<String> = self
            .0
            .tasks()
            .iter()
            .map(|t| format!("{} {}", t.name, t.state))
            .collect();
        push(&self.1, format!("{names:?}"));
    }
}

#[test]
fn tasks_called_from_the_drop_of_a_finished_task_sees_no_freed_task() {
    let tm = TaskManager::new();
    let log = log();
    tm.add(Task::new(Once(Peek(tm.clone(), log.clone()))).named("a name on the heap, long enough"));
    tm.run().unwrap();
    assert_eq!(lines(&log), ["[]"]);
}

#[test]
fn a_task_cancelled_in_its_pass_is_not_replaced_by_a_new_task_or_a_second_run() {
    let tm = TaskManager::new();
    let log = log();
    let victims: Rc<RefCell<Vec<TaskHandle>>> = Rc::default();
    let (l, v, tm2) = (log.clone(), victims.clone(), tm.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            push(&l, "A1");
            for h in v.borrow().iter() {
                h.cancel();
            }
            let l3 = l.clone();
            tm2.add(Task::new(
                #[coroutine]
                move |_| {
                    push(&l3, "new task");
                    Ok(())
                },
            ));
            wait!();
            push(&l, "A2");
            Ok(())
        },
    ));
    for _ in 0..2 {
        victims.borrow_mut().push(tm.add(Task::new(
            #[coroutine]
            |_| {
                wait!();
                Ok(())
            },
        )));
    }
    tm.run_next(None).unwrap();
    assert_eq!(lines(&log), ["A1"]);
    tm.run_next(None).unwrap();
    assert_eq!(lines(&log), ["A1", "new task", "A2"]);
}

#[test]
fn handles_and_waiters_of_a_merged_manager_reach_it_after_its_handle_is_dropped() {
    let a = TaskManager::new();
    let b = TaskManager::new();
    let log = log();
    let ev = Event::new();
    let (ev2, l) = (ev.clone(), log.clone());
    a.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(ev2.wait())?;
            push(&l, "event waiter woken");
            Ok(())
        },
    ));
    let sleeper = a.add(Task::<()>::new(
        #[coroutine]
        |_| {
            wait!(sleep(3600))?;
            Ok(())
        },
    ));
    a.run_next(None).unwrap();
    b.merge(&a);
    drop(a);
    sleeper.cancel();
    assert!(sleeper.is_cancelled());
    assert!(!b.has_timeouts());
    ev.set();
    b.run().unwrap();
    assert_eq!(lines(&log), ["event waiter woken"]);
}

#[test]
fn a_deadline_passing_after_the_child_was_handed_an_item_lets_it_have_the_item() {
    let tm = manual();
    let q: Queue<u32> = Queue::new();
    let (q1, q2) = (q.clone(), q.clone());
    let log = log();
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let child = Task::new(
                #[coroutine]
                move |_| {
                    let x = wait!(q1.get())?;
                    Ok(x)
                },
            );
            let got = wait!(timeout_after(5, child));
            push(&l, format!("consumer got {got:?}"));
            Ok(())
        },
    ));
    let clock = tm.clock();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(sleep(1))?;
            clock.advance(Duration::from_secs(10)); // past the child's deadline
            wait!(q2.put(7))?; // handed to the waiting getter at once
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(lines(&log), ["consumer got Ok(7)"]);
    assert_eq!(q.len(), 0);
    assert!(!tm.has_timeouts());
}

#[test]
fn a_predicate_may_cancel_a_task_waiting_on_its_own_queue() {
    let tm = TaskManager::new();
    let q: Queue<u32> = Queue::with_contents([1], 1); // full
    let group = TaskGroup::in_manager(&tm);
    let log = log();
    let (qp, l) = (q.clone(), log.clone());
    let putter = group.add(Task::new(
        #[coroutine]
        move |_| {
            let _n = Noisy("putter", l.clone());
            wait!(qp.put(2))?;
            Ok(())
        },
    ));
    tm.run_next(None).unwrap(); // the putter parks: the queue is full
    let (qm, l, victim) = (q.clone(), log.clone(), putter.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let victim = victim.clone();
            let got = wait!(qm.get_matching(move |n: &u32| {
                victim.cancel();
                *n == 1
            }))?;
            push(&l, format!("matcher got {got}"));
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(lines(&log), ["drop putter", "matcher got 1"]);
    assert!(putter.is_cancelled());
    assert!(group.is_empty());
    assert_eq!(q.len(), 0); // the cancelled putter's item never went in
}

#[test]
fn a_group_members_error_joined_through_the_group_does_not_leave_run() {
    let tm = TaskManager::new();
    let tm2 = tm.clone();
    let log = log();
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        static move |_| {
            let group = TaskGroup::in_manager(&tm2);
            let member = group.add(Task::<()>::new(
                #[coroutine]
                |_| {
                    wait!();
                    Err(Error::msg("member failed"))
                },
            ));
            let got = wait!(group.join());
            push(&l, got.unwrap_err().to_string());
            drop(member); // never joined: the group reported the error already
            wait!();
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(lines(&log), ["member failed"]);
}

#[test]
fn a_joiner_in_another_manager_hears_of_a_task_dropped_with_its_manager() {
    let m1 = TaskManager::new();
    let m2 = TaskManager::new();
    let handle = m1.add(Task::<()>::new(
        #[coroutine]
        |_| {
            wait!(sleep(3600))?;
            Ok(())
        },
    ));
    m1.run_next(None).unwrap();
    let log = log();
    let l = log.clone();
    m2.add(Task::new(
        #[coroutine]
        move |_| {
            let got = wait!(handle.join());
            push(&l, format!("joiner got {got:?}"));
            Ok(())
        },
    ));
    m2.run_next(None).unwrap(); // the joiner parks in m2
    m1.clear(); // the joined task is dropped: cancelled
    m2.run().unwrap();
    assert_eq!(lines(&log), ["joiner got Err(Cancelled)"]);
    assert!(m2.tasks().is_empty());
}

// An error type whose `Display` and `Drop` are user code that looks at the
// manager (through a thread-local handle), or panics.
thread_local! {
    static WATCHED: RefCell<Option<TaskManager>> = const { RefCell::new(None) };
    /// What the `Drop`s of `Looking(true)` saw.
    static DROPS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// How many tasks the watched manager lists: a call into it.
fn watched_tasks() -> usize {
    WATCHED.with(|w| w.borrow().as_ref().map_or(0, |tm| tm.tasks().len()))
}

/// An error whose `Display` looks at the watched manager, as does its
/// `Drop` if it is `Looking(true)`.
#[derive(Debug)]
struct Looking(bool);

impl std::fmt::Display for Looking {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "looking at {} tasks", watched_tasks())
    }
}

impl std::error::Error for Looking {}

impl Drop for Looking {
    fn drop(&mut self) {
        if self.0 {
            let seen = format!("dropped, {} tasks", watched_tasks());
            DROPS.with(|d| d.borrow_mut().push(seen));
        }
    }
}

#[derive(Debug)]
struct Unprintable;

impl std::fmt::Display for Unprintable {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        panic!("cannot print this")
    }
}

impl std::error::Error for Unprintable {}

#[test]
fn a_group_members_error_is_formatted_and_dropped_outside_the_managers_borrow() {
    let tm = TaskManager::new();
    WATCHED.with(|w| *w.borrow_mut() = Some(tm.clone()));
    let log = log();
    let (tm2, l) = (tm.clone(), log.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let group = TaskGroup::in_manager(&tm2);
            let first = group.add(Task::<()>::new(
                #[coroutine]
                |_| Err(Error::other(Looking(false))),
            ));
            wait!();
            wait!();
            // The group has failed; a later member's error is dropped.
            let second = group.add(Task::<()>::new(
                #[coroutine]
                |_| Err(Error::other(Looking(true))),
            ));
            let joined = wait!(group.join()).unwrap_err();
            push(&l, format!("group: {}", joined.name()));
            let first = wait!(first.join());
            push(&l, format!("first's handle: {first:?}"));
            let second = wait!(second.join());
            push(&l, format!("second's handle: {second:?}"));
            Ok(())
        },
    ));
    let ran = tm.run();
    WATCHED.with(|w| *w.borrow_mut() = None);
    ran.unwrap();
    assert_eq!(DROPS.with(|d| d.take()), ["dropped, 1 tasks"]);
    assert_eq!(
        lines(&log),
        [
            "group: Looking",
            "first's handle: Err(Message(\"looking at 2 tasks\"))",
            "second's handle: Err(Message(\"looking at 2 tasks\"))",
        ]
    );
}

#[test]
fn a_group_members_error_whose_display_panics_gives_its_handle_the_panic() {
    let tm = TaskManager::new();
    let group = TaskGroup::in_manager(&tm);
    let member = group.add(Task::<()>::new(
        #[coroutine]
        |_| Err(Error::other(Unprintable)),
    ));
    tm.run().unwrap();
    let got = Rc::new(RefCell::new(None));
    let g = got.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let joined = wait!(group.join());
            *g.borrow_mut() = Some((joined.map_err(|e| e.name()), wait!(member.join())));
            Ok(())
        },
    ));
    tm.run().unwrap();
    let (joined, member) = got.borrow_mut().take().unwrap();
    assert_eq!(joined, Err("Unprintable"));
    assert!(
        matches!(member, Err(Error::Panic(ref text)) if text == "cannot print this"),
        "{member:?}"
    );
}

#[test]
fn an_item_picked_for_a_matcher_cancelled_meanwhile_goes_to_the_next_matcher() {
    let tm = TaskManager::new();
    let q: Queue<u32> = Queue::new();
    let victim: Rc<RefCell<Option<TaskHandle<u32>>>> = Rc::default();
    // A's predicate cancels A itself, and takes anything.
    let (qa, v) = (q.clone(), victim.clone());
    let a = tm.add(Task::new(
        #[coroutine]
        move |_| {
            let got = wait!(qa.get_matching(move |_: &u32| {
                if let Some(me) = v.borrow_mut().take() {
                    me.cancel();
                }
                true
            }))?;
            Ok(got)
        },
    ));
    *victim.borrow_mut() = Some(a.clone());
    let qb = q.clone();
    let b = tm.add(Task::new(
        #[coroutine]
        move |_| {
            let got = wait!(qb.get_matching(|n: &u32| *n > 1))?;
            Ok(got)
        },
    ));
    let qp = q.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!();
            wait!(qp.put(5))?;
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert!(a.is_cancelled());
    assert_eq!(q.len(), 0);
    let got = Rc::new(RefCell::new(None));
    let g = got.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            *g.borrow_mut() = Some(wait!(b.join()));
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(got.borrow_mut().take().unwrap().unwrap(), 5);
}

#[test]
fn a_deadline_passing_after_the_child_was_handed_a_unit_item_lets_it_have_it() {
    let tm = manual();
    let q: Queue<()> = Queue::new();
    let (q1, q2) = (q.clone(), q.clone());
    let log = log();
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let child = Task::new(
                #[coroutine]
                move |_| {
                    wait!(q1.get())?;
                    Ok("the token")
                },
            );
            let got = wait!(timeout_after(5, child));
            push(&l, format!("consumer got {got:?}"));
            Ok(())
        },
    ));
    let clock = tm.clock();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(sleep(1))?;
            clock.advance(Duration::from_secs(10)); // past the child's deadline
            wait!(q2.put(()))?; // handed to the waiting getter at once
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(lines(&log), ["consumer got Ok(\"the token\")"]);
    assert_eq!(q.len(), 0);
}

#[test]
fn what_was_made_before_a_clear_still_reaches_the_manager() {
    let tm = manual();
    let log = log();
    // A group made before the clear adds to the cleared manager.
    let group = TaskGroup::in_manager(&tm);
    let doomed = tm.add(Task::<()>::new(
        #[coroutine]
        |_| {
            wait!(sleep(1))?;
            Ok(())
        },
    ));
    // The task that clears its own manager lives on, and so do its deadline
    // and its handle.
    let (tm2, l) = (tm.clone(), log.clone());
    let clearer = tm.add(Task::new(
        #[coroutine]
        move |_| {
            let tm3 = tm2.clone();
            let child = Task::<()>::new(
                #[coroutine]
                move |_| {
                    tm3.clear();
                    wait!(Queue::<u8>::new().get())?; // for ever: the deadline ends it
                    Ok(())
                },
            );
            let got = wait!(timeout_after(5, child));
            push(&l, format!("clearer's child: {got:?}"));
            wait!(sleep(3600))?;
            Ok(())
        },
    ));
    tm.run_next(None).unwrap(); // the sleeper sleeps, the clearer yields its child
    tm.run_next(None).unwrap(); // the child clears
    assert!(doomed.is_cancelled());
    let l = log.clone();
    let member = group.add(Task::new(
        #[coroutine]
        move |_| {
            push(&l, "member ran");
            Ok(())
        },
    ));
    let clock = tm.clock();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!();
            clock.advance(Duration::from_secs(6));
            Ok(())
        },
    ));
    for _ in 0..6 {
        tm.run_next(Some(Duration::ZERO)).unwrap();
    }
    assert_eq!(lines(&log), ["member ran", "clearer's child: Err(Timeout)"]);
    assert!(member.is_finished() && !member.is_cancelled());
    clearer.cancel();
    assert!(clearer.is_cancelled());
    assert!(!tm.has_timeouts());
}
#[test]
fn a_getter_that_parks_while_a_predicate_has_the_items_is_served_after() {
    let tm = TaskManager::new();
    let q: Queue<u32> = Queue::with_contents([1], 0);
    let log = log();
    // The matcher's predicate runs a pass of its own manager: a getter runs
    // in it while the queue's items are lent out to the predicate.
    let (tm2, qm, l) = (tm.clone(), q.clone(), log.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let tm3 = tm2.clone();
            let got = wait!(qm.get_matching(move |n: &u32| {
                let _ = tm3.run_next(Some(Duration::ZERO));
                *n == 2
            }))?;
            push(&l, format!("matcher got {got}"));
            Ok(())
        },
    ));
    tm.run_next(None).unwrap(); // the matcher parks (1 is not 2)
    let (tm2, qp, l) = (tm.clone(), q.clone(), log.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let (qg, l) = (qp.clone(), l.clone());
            tm2.add(Task::new(
                #[coroutine]
                move |_| {
                    let got = wait!(qg.get())?;
                    push(&l, format!("getter got {got}"));
                    Ok(())
                },
            ));
            wait!(qp.put(2))?;
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(lines(&log), ["matcher got 2", "getter got 1"]);
    assert_eq!(q.len(), 0);
}

#[test]
fn a_deadline_put_off_for_a_handed_item_fires_at_the_next_step_2_on_a_manual_clock() {
    // The manual clock does not move while tasks run: the deadline put off
    // (the child was handed an item past it) must still come at the next
    // step 2, and cut the child at its next yield.
    let tm = manual();
    let q: Queue<u32> = Queue::new();
    let (q1, q2) = (q.clone(), q.clone());
    let log = log();
    let (l, l2) = (log.clone(), log.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let child = Task::new(
                #[coroutine]
                move |_| {
                    let v = wait!(q1.get())?;
                    push(&l2, format!("child got {v}"));
                    for i in 0..100 {
                        wait!();
                        push(&l2, format!("child ran on {i}"));
                    }
                    Ok(v)
                },
            );
            let got = wait!(timeout_after(1, child));
            push(&l, format!("parent got {:?}", got.map_err(|e| e.name())));
            Ok(())
        },
    ));
    let clock = tm.clock();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!();
            clock.advance(Duration::from_secs(2)); // past the deadline
            wait!(q2.put(7))?; // handed to the waiting child at once
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(lines(&log), ["child got 7", "parent got Err(\"Timeout\")"]);
}

#[test]
fn a_joined_tasks_error_is_not_taken_from_its_joiner_by_a_deadline() {
    let tm = manual();
    let failing: TaskHandle<()> = tm.add(Task::new(
        #[coroutine]
        |_| {
            wait!();
            wait!();
            Err(Error::msg("boom"))
        },
    ));
    let log = log();
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let joiner = Task::new(
                #[coroutine]
                move |_| {
                    wait!(failing.join())?;
                    Ok(())
                },
            );
            let got = wait!(timeout_after(1, joiner));
            push(&l, format!("parent got {:?}", got.map_err(|e| e.to_string())));
            Ok(())
        },
    ));
    let clock = tm.clock();
    for pass in 0..8 {
        if pass == 3 {
            clock.advance(Duration::from_secs(2)); // after the joined task failed
        }
        tm.run_next(Some(Duration::ZERO)).unwrap();
    }
    assert_eq!(lines(&log), ["parent got Err(\"boom\")"]);
}

#[test]
fn a_bounded_queue_stays_bounded_while_a_predicate_has_its_items() {
    let tm = TaskManager::new();
    let q: Queue<u32> = Queue::with_maxsize(1);
    let log = log();
    let (q1, tm1, l) = (q.clone(), tm.clone(), log.clone());
    let first = Rc::new(std::cell::Cell::new(true));
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let (q1b, l) = (q1.clone(), l.clone());
            wait!(q1.get_matching(move |_: &u32| {
                if first.replace(false) {
                    // A pass of the manager while the item is lent out: the
                    // second put must find the queue full.
                    tm1.run_next(Some(Duration::ZERO)).unwrap();
                    push(&l, format!("in the predicate: maxsize {}", q1b.maxsize()));
                }
                false
            }))?;
            Ok(())
        },
    ));
    for item in [1, 2] {
        let (qp, l) = (q.clone(), log.clone());
        tm.add(Task::new(
            #[coroutine]
            move |_| {
                wait!(qp.put(item))?;
                push(&l, format!("put {item}"));
                Ok(())
            },
        ));
    }
    for _ in 0..4 {
        tm.run_next(Some(Duration::ZERO)).unwrap();
    }
    // "put 1" in the predicate's own pass: the first put's task resumes there.
    assert_eq!(lines(&log), ["put 1", "in the predicate: maxsize 1"]);
    assert_eq!((q.len(), q.maxsize()), (1, 1));
}

/// Runs a closure when dropped.
struct OnDrop(Option<Box<dyn FnOnce()>>);

impl Drop for OnDrop {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            f();
        }
    }
}

/// `clear` called by a task drops the other tasks, whose destructors run
/// then: a cancel of the calling task's handle and a task added to a group
/// made before the clear reach the manager (the cleared state's ids are the
/// fresh state's then, not forgotten while it is dropped).
#[test]
fn destructors_run_by_a_clear_reach_the_manager_through_handles_and_groups_made_before() {
    let tm = TaskManager::new();
    let log = log();
    let group = TaskGroup::in_manager(&tm);
    let spawner = group.spawner();
    let (slot, l) = (Rc::new(RefCell::new(None::<TaskHandle<()>>)), log.clone());
    let (s, l2) = (slot.clone(), log.clone());
    let on_drop = OnDrop(Some(Box::new(move || {
        push(&l, "the sleeper's Drop: cancel the clearer, add a member");
        s.borrow().as_ref().expect("the clearer's handle").cancel();
        let member = spawner.add(Task::new(
            #[coroutine]
            move |_| {
                push(&l2, "the member runs");
                Ok(())
            },
        ));
        assert!(member.is_ok());
    })));
    tm.add(Task::<()>::new(
        #[coroutine]
        move |_| {
            let _on_drop = on_drop;
            wait!(sleep(3600))?;
            Ok(())
        },
    ));
    let (manager, l) = (tm.clone(), log.clone());
    let clearer = tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!();
            manager.clear();
            push(&l, "after the clear");
            wait!(); // cancelled here
            push(&l, "resumed after its next yield");
            Ok(())
        },
    ));
    *slot.borrow_mut() = Some(clearer.clone());
    tm.run().unwrap();
    assert!(clearer.is_cancelled());
    assert_eq!(
        lines(&log),
        [
            "the sleeper's Drop: cancel the clearer, add a member",
            "after the clear",
            "the member runs"
        ]
    );
}

/// A task that runs a nested pass of its own manager, then clears it, keeps
/// its `timeout_after` deadline: the nested pass gives the running task back
/// when it ends, so `clear` knows who called it.
#[test]
fn a_clear_after_a_nested_run_next_keeps_the_callers_deadline() {
    let tm = manual();
    let log = log();
    tm.add(Task::<()>::new(
        #[coroutine]
        |_| loop {
            wait!();
        },
    ));
    let (manager, l) = (tm.clone(), log.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let child = Task::<()>::new(
                #[coroutine]
                move |_| {
                    wait!();
                    manager.run_next(Some(Duration::ZERO))?;
                    manager.clear();
                    wait!(sleep(3600))?;
                    Ok(())
                },
            );
            let got = wait!(timeout_after(5, child));
            push(&l, format!("timeout_after: {:?}", got.map_err(|e| e.name())));
            Ok(())
        },
    ));
    let start = tm.clock().now();
    tm.run().unwrap();
    assert_eq!(lines(&log), [r#"timeout_after: Err("Timeout")"#]);
    assert_eq!(tm.clock().now() - start, Duration::from_secs(5));
}

/// A caller's `fd_action` closure that clears the manager: its task runs on
/// with the closure's result (as a task calling `clear` does), and every
/// other task is dropped, those the same poll woke too (their closures are
/// not called). The closure `clears` the manager (`"clear"`), or merges it
/// into another one and clears that (`"merge, clear"`), or clears it and
/// merges it into another (`"clear, merge"`): the same tasks are dropped.
fn clear_from_an_fd_action_closure(clears: &'static str) -> Vec<String> {
    let tm = TaskManager::new();
    let other = TaskManager::new();
    let log = log();
    let pairs: Vec<_> = (0..3)
        .map(|_| std::os::unix::net::UnixStream::pair().unwrap())
        .collect();
    let fds: Vec<std::os::fd::RawFd> = pairs.iter().map(|(a, _)| std::os::fd::AsRawFd::as_raw_fd(a)).collect();
    let (manager, l, fd) = (tm.clone(), log.clone(), fds[0]);
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let _n = Noisy("X", l.clone());
            let (m, l2, other) = (manager.clone(), l.clone(), other.clone());
            let got = wait!(multitask::fd_action(fd, false, true, false, move || {
                push(&l2, "X's closure clears");
                match clears {
                    "clear" => m.clear(),
                    "merge, clear" => {
                        other.merge(&m);
                        other.clear();
                    }
                    _ => {
                        m.clear();
                        other.merge(&m);
                    }
                }
                Ok(1)
            }));
            push(&l, format!("X resumed: {got:?}"));
            Ok(())
        },
    ));
    let (l, fd) = (log.clone(), fds[1]);
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let _n = Noisy("Y", l.clone());
            let l2 = l.clone();
            let got = wait!(multitask::fd_action(fd, false, true, false, move || {
                push(&l2, "Y's closure");
                Ok(2)
            }));
            push(&l, format!("Y resumed: {got:?}"));
            Ok(())
        },
    ));
    let (l, fd) = (log.clone(), fds[2]);
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let _n = Noisy("Z", l.clone());
            let got = wait!(multitask::writable(fd));
            push(&l, format!("Z resumed: {got:?}"));
            Ok(())
        },
    ));
    tm.add(holder("W", &log, || sleep(3600)));
    tm.run_next(None).unwrap(); // all four wait
    tm.run_next(None).unwrap(); // the poll finds the three writable; X's closure clears
    tm.run_next(None).unwrap();
    assert_eq!(tm.__counts(), (0, 0, 0));
    drop(pairs);
    lines(&log)
}

#[test]
fn a_clear_from_an_fd_action_closure_drops_the_other_tasks_the_poll_woke() {
    let expected = [
        "X's closure clears",
        "drop W",
        "drop Y",
        "drop Z",
        "X resumed: Ok(1)",
        "drop X",
    ];
    for clears in ["clear", "merge, clear", "clear, merge"] {
        assert_eq!(clear_from_an_fd_action_closure(clears), expected, "{clears}");
    }
}

/// The tasks that a clear from an `fd_action` closure drops (woken by the
/// same poll) are told to their joiners and groups, as every task a clear
/// drops is: a joiner on another manager gets `Cancelled` (named
/// `GeneratorExit`, as Python's), the group counts
/// the task off.
#[test]
fn tasks_dropped_by_a_clear_from_an_fd_action_closure_reach_their_joiners_and_groups() {
    let (tm, other) = (TaskManager::new(), TaskManager::new());
    let log = log();
    let pairs: Vec<_> = (0..2)
        .map(|_| std::os::unix::net::UnixStream::pair().unwrap())
        .collect();
    let fds: Vec<std::os::fd::RawFd> = pairs.iter().map(|(a, _)| std::os::fd::AsRawFd::as_raw_fd(a)).collect();
    let (manager, fx, fy) = (tm.clone(), fds[0], fds[1]);
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let m = manager.clone();
            wait!(multitask::fd_action(fx, false, true, false, move || {
                m.clear();
                Ok(1)
            }))?;
            Ok(())
        },
    ));
    let group = Rc::new(TaskGroup::in_manager(&tm));
    let y = group.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(multitask::writable(fy))?;
            Ok(7u32)
        },
    ));
    let (y2, g2, l) = (y.clone(), group.clone(), log.clone());
    other.add(Task::new(
        #[coroutine]
        move |_| {
            let joined = wait!(y2.join()).map_err(|e| e.name());
            push(&l, format!("join Y: {joined:?}"));
            let all = wait!(g2.join()).map_err(|e| e.name());
            push(&l, format!("group join: {all:?}"));
            Ok(())
        },
    ));
    for _ in 0..3 {
        tm.run_next(None).unwrap();
        other.run_next(Some(Duration::ZERO)).unwrap();
    }
    assert!(y.is_cancelled());
    assert_eq!(group.len(), 0);
    assert_eq!(lines(&log), [r#"join Y: Err("GeneratorExit")"#, "group join: Ok(())"]);
    drop(pairs);
}

/// A task whose `fd_action` closure clears the manager keeps its
/// `timeout_after` deadline, as a task that calls `clear` itself does (its
/// closure runs as the running task).
#[test]
fn a_clear_from_an_fd_action_closure_keeps_the_tasks_deadline() {
    let tm = manual();
    let log = log();
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&a);
    let (manager, l) = (tm.clone(), log.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let child = Task::<()>::new(
                #[coroutine]
                move |_| {
                    let m = manager.clone();
                    wait!(multitask::fd_action(fd, false, true, false, move || {
                        m.clear();
                        Ok(1)
                    }))?;
                    wait!(sleep(3600))?;
                    Ok(())
                },
            );
            let got = wait!(timeout_after(5, child));
            push(&l, format!("timeout_after: {:?}", got.map_err(|e| e.name())));
            Ok(())
        },
    ));
    let start = tm.clock().now();
    tm.run().unwrap();
    assert_eq!(lines(&log), [r#"timeout_after: Err("Timeout")"#]);
    assert_eq!(tm.clock().now() - start, Duration::from_secs(5));
    drop((a, b));
}

/// A `timeout_after` deadline that passes while its task runs a nested
/// `run` of its own manager is not lost: the task is cut back at its next
/// yield, at the step 2 after it, as if it had yielded when the deadline
/// passed (manual clock: the nested run sleeps 10 s, the deadline is 5 s).
/// With `clear`, the task clears its manager after the nested run: the
/// deadline is the caller's, and stays.
fn deadline_during_a_nested_run(clear: bool) -> Vec<String> {
    let tm = manual();
    let log = log();
    let (manager, l) = (tm.clone(), log.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let l2 = l.clone();
            let child = Task::<()>::new(
                #[coroutine]
                move |_| {
                    let l3 = l2.clone();
                    manager.add(Task::new(
                        #[coroutine]
                        move |_| {
                            wait!(sleep(10))?;
                            push(&l3, "the sleeper wakes");
                            Ok(())
                        },
                    ));
                    manager.run()?;
                    push(&l2, "the nested run returns");
                    if clear {
                        manager.clear();
                    }
                    wait!(sleep(3600))?;
                    push(&l2, "the child slept an hour");
                    Ok(())
                },
            );
            let got = wait!(timeout_after(5, child));
            push(&l, format!("timeout_after: {:?}", got.map_err(|e| e.name())));
            Ok(())
        },
    ));
    let start = tm.clock().now();
    tm.run().unwrap();
    assert_eq!(tm.clock().now() - start, Duration::from_secs(10));
    assert!(!tm.has_timeouts());
    lines(&log)
}

#[test]
fn a_deadline_that_passes_during_a_nested_run_cuts_the_task_back_at_its_next_yield() {
    let expected = [
        "the sleeper wakes",
        "the nested run returns",
        r#"timeout_after: Err("Timeout")"#,
    ];
    assert_eq!(deadline_during_a_nested_run(false), expected);
    assert_eq!(deadline_during_a_nested_run(true), expected);
}

/// A getter parked in one manager, and an item put by another (left in the
/// queue for the getter's manager): merged, the getter gets the item; and a
/// putter parked on a full queue that the other manager drained puts its
/// item. A getter waits only on an empty queue, a putter only on a full one.
#[test]
fn a_merge_serves_the_queue_waiters_the_other_managers_operations_left_waiting() {
    let (m1, m2) = (TaskManager::new(), TaskManager::new());
    let log = log();
    let q: Queue<u32> = Queue::new();
    let (q1, l) = (q.clone(), log.clone());
    m1.add(Task::new(
        #[coroutine]
        move |_| {
            let item = wait!(q1.get())?;
            push(&l, format!("got {item}"));
            Ok(())
        },
    ));
    m1.run().unwrap();
    let q2 = q.clone();
    m2.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(q2.put(7))?;
            Ok(())
        },
    ));
    m2.run().unwrap();
    assert_eq!(q.len(), 1, "left for m1's getter");
    // A full queue of size 1, a putter of m1 parked on it, drained by m2.
    let full: Queue<u32> = Queue::with_contents([1], 1);
    let (f1, l) = (full.clone(), log.clone());
    m1.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(f1.put(2))?;
            push(&l, "put 2");
            Ok(())
        },
    ));
    m1.run().unwrap();
    let (f2, l) = (full.clone(), log.clone());
    m2.add(Task::new(
        #[coroutine]
        move |_| {
            let item = wait!(f2.get())?;
            push(&l, format!("m2 got {item}"));
            Ok(())
        },
    ));
    m2.run().unwrap();
    m1.merge(&m2);
    m1.run().unwrap();
    assert_eq!(lines(&log), ["m2 got 1", "got 7", "put 2"]);
    assert_eq!((q.len(), full.len()), (0, 1));
    assert_eq!(m1.__counts(), (0, 0, 0));
}

/// Adds a member to a group through its spawner when dropped.
struct SpawnsOnDrop(multitask::GroupSpawner, Rc<RefCell<Vec<String>>>);

impl Drop for SpawnsOnDrop {
    fn drop(&mut self) {
        let l = self.1.clone();
        let added = self.0.add(Task::new(
            #[coroutine]
            move |_| {
                push(&l, "late member ran");
                wait!(sleep(3600))?;
                Ok(())
            },
        ));
        push(
            &self.1,
            format!("spawner: {:?}", added.map(|_| ()).map_err(|e| e.to_string())),
        );
    }
}

/// A member's destructor, run by its group's drop, cannot add a member that
/// outlives the group: the spawner refuses. An explicit `cancel` cancels the
/// members such a destructor adds too.
#[test]
fn no_member_outlives_its_dropped_group_nor_escapes_its_cancel() {
    for drop_it in [true, false] {
        let tm = manual();
        let log = log();
        let group = TaskGroup::in_manager(&tm);
        let guard = SpawnsOnDrop(group.spawner(), log.clone());
        group.add(Task::new(
            #[coroutine]
            move |_| {
                let _g = &guard;
                wait!(sleep(3600))?;
                Ok(())
            },
        ));
        tm.run_next(None).unwrap();
        if drop_it {
            drop(group);
            tm.run().unwrap();
            assert_eq!(
                lines(&log),
                [r#"spawner: Err("the task group was dropped")"#],
                "dropped"
            );
        } else {
            group.cancel();
            tm.run().unwrap();
            assert_eq!(lines(&log), ["spawner: Ok(())"], "cancelled");
            assert!(group.is_empty());
        }
        assert_eq!(tm.__counts(), (0, 0, 0));
    }
}

/// A `get_matching` predicate that clears the manager: the item it picked
/// for its (now dropped) task stays where it was in the queue.
#[test]
fn a_clear_from_a_predicate_keeps_the_queues_order() {
    let tm = TaskManager::new();
    let q: Queue<u32> = Queue::with_contents([1, 2, 3], 0);
    let (q2, manager) = (q.clone(), tm.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let m = manager.clone();
            let _ = wait!(q2.get_matching(move |n: &u32| {
                if *n == 1 {
                    m.clear();
                }
                *n == 1
            }));
            Ok(())
        },
    ));
    tm.run().unwrap();
    let log = log();
    let (q3, l) = (q.clone(), log.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            while !q3.is_empty() {
                let item = wait!(q3.get())?;
                push(&l, format!("{item}"));
            }
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(lines(&log), ["1", "2", "3"]);
}
