//! The scheduling core, against DESIGN.md §2: run queue order, passes, child
//! hops, queue hand-offs, sleeps and timeouts (on a manual clock), errors,
//! panics, merge, the default manager.
//!
//! Each test records what its tasks do in a shared log and asserts the whole
//! log. In tests driven pass by pass (`run_next`), the test pushes `|` after
//! each pass, so the log also shows which pass each event happened in.
#![feature(coroutines)]

use std::cell::RefCell;
use std::fmt::Debug;
use std::rc::Rc;
use std::time::Duration;

use multitask::{sleep, value, wait, Clock, Error, Input, Operation, Queue, Task, TaskManager, Value};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// The event log shared by the tasks of a test.
#[derive(Clone, Default)]
struct Log(Rc<RefCell<Vec<String>>>);

impl Log {
    fn new() -> Log {
        Log::default()
    }

    fn push(&self, event: impl Into<String>) {
        self.0.borrow_mut().push(event.into());
    }

    fn get(&self) -> Vec<String> {
        self.0.borrow().clone()
    }
}

/// One pass of the manager, then a `|` in the log.
fn pass(tm: &TaskManager, log: &Log) {
    tm.run_next(None).expect("run_next");
    log.push("|");
}

fn passes(tm: &TaskManager, log: &Log, n: usize) {
    for _ in 0..n {
        pass(tm, log);
    }
}

/// A result as a short string naming the exact variant.
fn show<T: Debug>(result: &multitask::Result<T>) -> String {
    match result {
        Ok(v) => format!("Ok({v:?})"),
        Err(Error::Timeout) => "Timeout".to_string(),
        Err(Error::InvalidArgument(text)) => {
            assert!(!text.is_empty(), "InvalidArgument should say what is wrong");
            "InvalidArgument".to_string()
        }
        Err(Error::Message(m)) => format!("Message({m})"),
        Err(Error::Panic(m)) => format!("Panic({m})"),
        Err(Error::Io(e)) => format!("Io({e})"),
        Err(other) => format!("other error: {other:?}"),
    }
}

fn assert_message(result: multitask::Result<()>, text: &str) {
    match result {
        Err(Error::Message(m)) => assert_eq!(m, text),
        other => panic!("expected Err(Error::Message({text:?})), got {other:?}"),
    }
}

fn assert_panic(result: multitask::Result<()>, text: &str) {
    match result {
        Err(Error::Panic(m)) => assert_eq!(m, text),
        other => panic!("expected Err(Error::Panic({text:?})), got {other:?}"),
    }
}

/// Logs `NAMEi` then yields (bare), for i in 1..=rounds; then returns.
fn ticker(log: &Log, name: &'static str, rounds: usize) -> Task {
    let log = log.clone();
    Task::new(
        #[coroutine]
        move |_| {
            for i in 1..=rounds {
                log.push(format!("{name}{i}"));
                wait!();
            }
            Ok(())
        },
    )
}

/// A manager on a manual clock, the clock, and the clock's starting reading.
fn manual() -> (TaskManager, Clock, std::time::Instant) {
    let clock = Clock::manual();
    let start = clock.now();
    (TaskManager::with_clock(clock.clone()), clock, start)
}

fn nothing_left(tm: &TaskManager) -> bool {
    !tm.has_runnable() && !tm.has_io_waits() && !tm.has_timeouts()
}

// ---------------------------------------------------------------------------
// 1. The run queue and passes
// ---------------------------------------------------------------------------

#[test]
fn run_queue_is_fifo_and_bare_yield_goes_to_the_back() {
    let log = Log::new();
    let tm = TaskManager::new();
    tm.add(ticker(&log, "a", 3));
    tm.add(ticker(&log, "b", 1));
    tm.add(ticker(&log, "c", 2));
    passes(&tm, &log, 4);
    assert_eq!(log.get(), ["a1", "b1", "c1", "|", "a2", "c2", "|", "a3", "|", "|"]);
    assert!(nothing_left(&tm));
}

#[test]
fn run_runs_to_completion_in_round_robin_order() {
    let log = Log::new();
    let tm = TaskManager::new();
    tm.add(ticker(&log, "hello", 3));
    tm.add(ticker(&log, "goodbye", 3));
    tm.run().unwrap();
    assert_eq!(
        log.get(),
        ["hello1", "goodbye1", "hello2", "goodbye2", "hello3", "goodbye3"]
    );
    assert!(nothing_left(&tm));
}

#[test]
fn add_appends_to_the_run_queue() {
    let log = Log::new();
    let tm = TaskManager::new();
    assert!(!tm.has_runnable());
    tm.add(ticker(&log, "a", 1));
    assert!(tm.has_runnable());
    tm.add(ticker(&log, "b", 1));
    tm.add(ticker(&log, "c", 1));
    assert_eq!(tm.__counts(), (3, 0, 0));
    assert!(log.get().is_empty(), "add must not run anything");
    pass(&tm, &log);
    assert_eq!(log.get(), ["a1", "b1", "c1", "|"]);
}

#[test]
fn task_added_during_a_pass_runs_next_pass_ahead_of_the_adders_continuation() {
    let log = Log::new();
    let tm = TaskManager::new();
    let (l, m) = (log.clone(), tm.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            l.push("a1");
            m.add(ticker(&l, "b", 2));
            l.push("a2"); // no yield yet: the new task must not have run
            wait!();
            l.push("a3");
            Ok(())
        },
    ));
    tm.add(ticker(&log, "c", 2));

    pass(&tm, &log);
    // Pass 1 ran only A and C; B (added during it) waits: C, B, A.
    assert_eq!(tm.__counts().0, 3);
    passes(&tm, &log, 3);
    assert_eq!(
        log.get(),
        ["a1", "a2", "c1", "|", "b1", "a3", "c2", "|", "b2", "|", "|"]
    );
    assert!(nothing_left(&tm));
}

#[test]
fn run_next_runs_exactly_the_tasks_queued_when_it_starts() {
    // A spawner adds a new task every time it runs: no pass may ever run a
    // task added during that same pass.
    let log = Log::new();
    let tm = TaskManager::new();
    let (l, m) = (log.clone(), tm.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            for name in ["x", "y", "z"] {
                l.push(format!("spawn {name}"));
                m.add(ticker(&l, name, 2));
                wait!();
            }
            Ok(())
        },
    ));
    passes(&tm, &log, 6);
    assert_eq!(
        log.get(),
        [
            "spawn x", "|", // queue: x, S
            "x1", "spawn y", "|", // queue: x, y, S
            "x2", "y1", "spawn z", "|", // queue: x, y, z, S
            "y2", "z1", "|", // x ends; S ends; queue: y, z
            "z2", "|", // y ends
            "|", // z ends
        ]
    );
    assert!(nothing_left(&tm));
}

/// A task that, at its first step, drives the manager it runs on itself
/// (`drive`), then ticks twice.
fn driver(log: &Log, tm: &TaskManager, drive: fn(&TaskManager)) -> Task {
    let (l, m) = (log.clone(), tm.clone());
    Task::new(
        #[coroutine]
        move |_| {
            l.push("drive");
            drive(&m);
            l.push("driven");
            for i in 1..=2 {
                wait!();
                l.push(format!("d{i}"));
            }
            Ok(())
        },
    )
}

#[test]
fn a_run_called_by_a_task_leaves_the_run_next_around_it_one_pass() {
    // The inner `run` starts its passes without going back to its loop
    // while nothing waits on an fd or a timer; once it returns, the pass of
    // the outer `run_next` must still end when it has run the count of
    // tasks it made at its start (two: the driver, and in the ticker's turn,
    // as the original pops two, the driver again).
    let log = Log::new();
    let tm = TaskManager::new();
    tm.add(driver(&log, &tm, |m| m.run().unwrap()));
    tm.add(ticker(&log, "t", 3));
    pass(&tm, &log);
    assert_eq!(log.get(), ["drive", "t1", "t2", "t3", "driven", "d1", "|"]);
    passes(&tm, &log, 2);
    assert_eq!(
        log.get(),
        ["drive", "t1", "t2", "t3", "driven", "d1", "|", "d2", "|", "|"]
    );
    assert!(nothing_left(&tm));
}

#[test]
fn a_run_next_whose_manager_is_merged_into_one_under_run_still_runs_one_pass() {
    // b runs; its task x drives a for one pass, in which y merges a into b:
    // the rest of that pass is b's (it runs t, still due in b's pass), but it
    // is still a's `run_next`, and ends with it.
    let log = Log::new();
    let (a, b) = (TaskManager::new(), TaskManager::new());
    let (l, m) = (log.clone(), a.clone());
    b.add(Task::new(
        #[coroutine]
        move |_| {
            l.push("x");
            m.run_next(None).unwrap();
            l.push("x done");
            Ok(())
        },
    ));
    b.add(ticker(&log, "t", 3));
    let (l, into) = (log.clone(), b.clone());
    let me = a.clone();
    a.add(Task::new(
        #[coroutine]
        move |_| {
            l.push("y1");
            into.merge(&me);
            for i in 2..=3 {
                wait!();
                l.push(format!("y{i}"));
            }
            Ok(())
        },
    ));
    b.run().unwrap();
    assert_eq!(log.get(), ["x", "y1", "t1", "x done", "y2", "t2", "y3", "t3"]);
    assert!(nothing_left(&b));
}

#[test]
fn a_run_next_called_by_a_task_under_run_runs_one_pass_and_run_goes_on() {
    let log = Log::new();
    let tm = TaskManager::new();
    tm.add(ticker(&log, "t", 4));
    tm.add(driver(&log, &tm, |m| m.run_next(None).unwrap()));
    tm.add(ticker(&log, "u", 2));
    tm.run().unwrap();
    assert_eq!(
        log.get(),
        // The inner pass runs what is queued while `drive` runs: u, then t.
        ["t1", "drive", "u1", "t2", "driven", "u2", "t3", "d1", "t4", "d2"]
    );
    assert!(nothing_left(&tm));
}

#[test]
fn yielded_value_is_handed_straight_back_from_the_back_of_the_queue() {
    let log = Log::new();
    let tm = TaskManager::new();
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            l.push("a1");
            let n: i32 = wait!(value(42))?;
            l.push(format!("a got {n}"));
            let s: String = wait!(value(String::from("hi")))?;
            l.push(format!("a got {s}"));
            let t: (u8, &str) = wait!(value((1u8, "x")))?;
            l.push(format!("a got {t:?}"));
            Ok(())
        },
    ));
    tm.add(ticker(&log, "b", 3));
    passes(&tm, &log, 4);
    assert_eq!(
        log.get(),
        [
            "a1",
            "b1",
            "|",
            "a got 42",
            "b2",
            "|",
            "a got hi",
            "b3",
            "|",
            "a got (1, \"x\")",
            "|"
        ]
    );
    assert!(nothing_left(&tm));
}

#[test]
fn raw_yield_of_operations() {
    let log = Log::new();
    let tm = TaskManager::new();
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_: Input| {
            let input: Input = yield Operation::Yield;
            l.push(format!("yield gave unit: {}", input.unwrap().is::<()>()));
            let input: Input = yield Operation::Value(Value::new(7u64));
            l.push(format!("value gave {:?}", input.unwrap().downcast::<u64>().ok()));
            // A raw yield of an operation built with a bad argument gets the
            // error back as the yield's value (it does yield: B runs between).
            let input: Input = yield sleep(0).into_operation();
            l.push(format!("bad sleep gave {}", show(&input.map(|_| ()))));
            Ok(())
        },
    ));
    tm.add(ticker(&log, "b", 3));
    tm.run().unwrap();
    assert_eq!(
        log.get(),
        [
            "b1",
            "yield gave unit: true",
            "b2",
            "value gave Some(7)",
            "b3",
            "bad sleep gave InvalidArgument"
        ]
    );
}

#[test]
fn queue_get_that_finds_an_item_still_goes_to_the_back() {
    let log = Log::new();
    let tm = TaskManager::new();
    let q = Queue::with_contents([10], 0);
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            l.push("a1");
            let item = wait!(q.get())?;
            l.push(format!("a got {item}"));
            Ok(())
        },
    ));
    tm.add(ticker(&log, "b", 2));
    passes(&tm, &log, 3);
    assert_eq!(log.get(), ["a1", "b1", "|", "a got 10", "b2", "|", "|"]);
}

#[test]
fn queue_put_with_room_still_goes_to_the_back() {
    let log = Log::new();
    let tm = TaskManager::new();
    let q = Queue::with_maxsize(2);
    let (l, qa, qb) = (log.clone(), q.clone(), q.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            l.push("a1");
            wait!(qa.put(5))?;
            l.push("a put");
            Ok(())
        },
    ));
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            // The put was done when A yielded, before B runs.
            l.push(format!("b1 len={}", qb.len()));
            wait!();
            l.push("b2");
            Ok(())
        },
    ));
    passes(&tm, &log, 2);
    assert_eq!(log.get(), ["a1", "b1 len=1", "|", "a put", "b2", "|"]);
    assert_eq!(q.len(), 1);
}

#[test]
fn each_parent_child_hop_costs_a_pass() {
    let log = Log::new();
    let tm = TaskManager::new();
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            l.push("p1");
            let child: Task<i32> = {
                let l = l.clone();
                Task::new(
                    #[coroutine]
                    move |_| {
                        l.push("c1");
                        Ok(5)
                    },
                )
            };
            let got = wait!(child)?;
            l.push(format!("p got {got}"));
            Ok(())
        },
    ));
    tm.add(ticker(&log, "o", 4));
    passes(&tm, &log, 5);
    assert_eq!(
        log.get(),
        ["p1", "o1", "|", "c1", "o2", "|", "p got 5", "o3", "|", "o4", "|", "|"]
    );
    assert!(nothing_left(&tm));
}

fn grandchild(log: &Log) -> Task<i32> {
    let l = log.clone();
    Task::new(
        #[coroutine]
        move |_| {
            l.push("g1");
            Ok(1)
        },
    )
}

fn middle_child(log: &Log) -> Task<i32> {
    let l = log.clone();
    Task::new(
        #[coroutine]
        move |_| {
            l.push("c1");
            let got = wait!(grandchild(&l))?;
            l.push(format!("c got {got}"));
            Ok(got + 1)
        },
    )
}

#[test]
fn nested_children_hop_one_pass_per_level_each_way() {
    let log = Log::new();
    let tm = TaskManager::new();
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            l.push("p1");
            let got = wait!(middle_child(&l))?;
            l.push(format!("p got {got}"));
            Ok(())
        },
    ));
    tm.add(ticker(&log, "o", 6));
    passes(&tm, &log, 7);
    assert_eq!(
        log.get(),
        [
            "p1", "o1", "|", "c1", "o2", "|", "g1", "o3", "|", "c got 1", "o4", "|", "p got 2", "o5", "|", "o6", "|",
            "|"
        ]
    );
    assert!(nothing_left(&tm));
}

// ---------------------------------------------------------------------------
// Queue hand-offs
// ---------------------------------------------------------------------------

#[test]
fn get_from_full_queue_moves_the_first_waiting_putters_item_in() {
    let log = Log::new();
    let tm = TaskManager::new();
    let q = Queue::with_contents([1], 1);
    for (name, item) in [("p1", 2), ("p2", 3)] {
        let (l, q) = (log.clone(), q.clone());
        tm.add(Task::new(
            #[coroutine]
            move |_| {
                l.push(format!("{name} puts {item}"));
                wait!(q.put(item))?;
                l.push(format!("{name} put {item}"));
                Ok(())
            },
        ));
    }
    let (l, qg) = (log.clone(), q.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            for _ in 0..3 {
                l.push("g gets");
                let item = wait!(qg.get())?;
                l.push(format!("g got {item} len={}", qg.len()));
            }
            Ok(())
        },
    ));
    pass(&tm, &log);
    // The getter took 1, and P1's 2 is already in the queue; G then P1 are runnable.
    assert_eq!(q.len(), 1);
    assert_eq!(tm.__counts(), (2, 1, 0));
    tm.run().unwrap();
    assert_eq!(
        log.get(),
        [
            "p1 puts 2",
            "p2 puts 3",
            "g gets",
            "|",
            "g got 1 len=1",
            "g gets",
            "p1 put 2",
            "g got 2 len=1",
            "g gets",
            "p2 put 3",
            "g got 3 len=0",
        ]
    );
    assert!(q.is_empty());
    assert!(nothing_left(&tm));
}

#[test]
fn put_with_waiting_getters_hands_the_head_to_the_first_getter() {
    let log = Log::new();
    let tm = TaskManager::new();
    let q: Queue<&'static str> = Queue::new();
    for name in ["g1", "g2"] {
        let (l, q) = (log.clone(), q.clone());
        tm.add(Task::new(
            #[coroutine]
            move |_| {
                l.push(format!("{name} gets"));
                let item = wait!(q.get())?;
                l.push(format!("{name} got {item}"));
                Ok(())
            },
        ));
    }
    let (l, qp) = (log.clone(), q.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            for item in ["x", "y"] {
                l.push(format!("p puts {item}"));
                wait!(qp.put(item))?;
                l.push(format!("p put {item}"));
            }
            Ok(())
        },
    ));
    passes(&tm, &log, 4);
    assert_eq!(
        log.get(),
        [
            "g1 gets", "g2 gets", "p puts x", "|", // run queue: P, G1 (with x)
            "p put x", "p puts y", "g1 got x", "|", // run queue: P, G2 (with y)
            "p put y", "g2 got y", "|", "|",
        ]
    );
    assert!(q.is_empty());
    assert!(nothing_left(&tm));
}

#[test]
fn queue_waiters_are_served_first_in_first_out() {
    let log = Log::new();
    let tm = TaskManager::new();
    let q: Queue<u32> = Queue::new();
    for name in ["g1", "g2", "g3"] {
        let (l, q) = (log.clone(), q.clone());
        tm.add(Task::new(
            #[coroutine]
            move |_| {
                let item = wait!(q.get())?;
                l.push(format!("{name} got {item}"));
                Ok(())
            },
        ));
    }
    let qp = q.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            for item in [10, 20, 30] {
                wait!(qp.put(item))?;
            }
            Ok(())
        },
    ));
    tm.run().unwrap();

    // And putters, on a full queue.
    let bounded = Queue::with_contents([0], 1);
    for (name, item) in [("p1", 1), ("p2", 2), ("p3", 3)] {
        let (l, q) = (log.clone(), bounded.clone());
        tm.add(Task::new(
            #[coroutine]
            move |_| {
                wait!(q.put(item))?;
                l.push(format!("{name} put {item}"));
                Ok(())
            },
        ));
    }
    let (l, qg) = (log.clone(), bounded.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            for _ in 0..4 {
                let item = wait!(qg.get())?;
                l.push(format!("got {item}"));
            }
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(
        log.get(),
        [
            "g1 got 10",
            "g2 got 20",
            "g3 got 30",
            "got 0",
            "p1 put 1",
            "got 1",
            "p2 put 2",
            "got 2",
            "p3 put 3",
            "got 3"
        ]
    );
    assert!(bounded.is_empty());
    assert!(nothing_left(&tm));
}

// ---------------------------------------------------------------------------
// Timeouts and sleeps (manual clock)
// ---------------------------------------------------------------------------

#[test]
fn zero_timeout_is_not_immediate_it_fires_at_the_next_timeout_check() {
    let log = Log::new();
    let (tm, clock, start) = manual();
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            l.push("t1");
            let got = wait!(Queue::<i32>::new().get().timeout(0));
            l.push(format!("t: {}", show(&got)));
            Ok(())
        },
    ));
    tm.add(ticker(&log, "o", 3));
    pass(&tm, &log);
    assert!(tm.has_timeouts());
    passes(&tm, &log, 3);
    // Fired in pass 2's timeout check: enqueued behind O, which was runnable.
    assert_eq!(log.get(), ["t1", "o1", "|", "o2", "t: Timeout", "|", "o3", "|", "|"]);
    assert_eq!(clock.now(), start, "nothing needed to sleep");
    assert!(nothing_left(&tm));
}

#[test]
fn zero_or_negative_timeout_loses_to_a_put_in_the_same_pass() {
    for timeout in [0.0, -1.0] {
        let log = Log::new();
        let (tm, clock, start) = manual();
        let q: Queue<i32> = Queue::new();
        let (l, qt) = (log.clone(), q.clone());
        tm.add(Task::new(
            #[coroutine]
            move |_| {
                let got = wait!(qt.get().timeout(timeout));
                l.push(format!("t: {}", show(&got)));
                Ok(())
            },
        ));
        let l = log.clone();
        tm.add(Task::new(
            #[coroutine]
            move |_| {
                wait!(q.put(7))?;
                l.push("p put 7");
                Ok(())
            },
        ));
        pass(&tm, &log);
        assert!(
            !tm.has_timeouts(),
            "the getter's timeout is cancelled when it is served"
        );
        passes(&tm, &log, 1);
        assert_eq!(log.get(), ["|", "p put 7", "t: Ok(7)", "|"], "timeout {timeout}");
        assert_eq!(clock.now(), start);
        assert!(nothing_left(&tm));
    }
}

#[test]
fn equal_deadlines_fire_in_the_order_they_were_set() {
    let log = Log::new();
    let (tm, clock, start) = manual();
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(); // sets its timer one pass later than B and C
            l.push("a sleeps");
            wait!(sleep(1))?;
            l.push("a woke");
            Ok(())
        },
    ));
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            l.push("b sleeps");
            wait!(sleep(1.0))?;
            l.push("b woke");
            Ok(())
        },
    ));
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            l.push("c gets");
            let got = wait!(Queue::<()>::new().get().timeout(Duration::from_secs(1)));
            l.push(format!("c: {}", show(&got)));
            Ok(())
        },
    ));
    passes(&tm, &log, 3);
    assert_eq!(
        log.get(),
        [
            "b sleeps",
            "c gets",
            "|",
            "a sleeps",
            "|",
            "b woke",
            "c: Timeout",
            "a woke",
            "|"
        ]
    );
    assert_eq!(clock.now() - start, Duration::from_secs(1));
    assert!(nothing_left(&tm));
}

#[test]
fn earliest_deadline_fires_first() {
    let log = Log::new();
    let (tm, clock, start) = manual();
    for (name, secs) in [("a", 3), ("b", 1), ("c", 2)] {
        let (l, clock) = (log.clone(), clock.clone());
        tm.add(Task::new(
            #[coroutine]
            move |_| {
                wait!(sleep(secs))?;
                l.push(format!("{name} woke at {:?}", clock.now() - start));
                Ok(())
            },
        ));
    }
    passes(&tm, &log, 4);
    assert_eq!(
        log.get(),
        ["|", "b woke at 1s", "|", "c woke at 2s", "|", "a woke at 3s", "|"]
    );
    assert!(nothing_left(&tm));
}

#[test]
fn sleep_takes_durations_and_numbers_of_seconds() {
    let log = Log::new();
    let (tm, clock, start) = manual();
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(sleep(Duration::from_millis(1500)))?;
            l.push(format!("{:?}", clock.now() - start));
            wait!(sleep(0.25))?;
            l.push(format!("{:?}", clock.now() - start));
            wait!(sleep(2))?;
            l.push(format!("{:?}", clock.now() - start));
            wait!(sleep(0.5f32))?;
            l.push(format!("{:?}", clock.now() - start));
            wait!(sleep(1u64))?;
            l.push(format!("{:?}", clock.now() - start));
            wait!(sleep(1i64))?;
            l.push(format!("{:?}", clock.now() - start));
            wait!(sleep(1u32))?;
            l.push(format!("{:?}", clock.now() - start));
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(
        log.get(),
        ["1.5s", "1.75s", "3.75s", "4.25s", "5.25s", "6.25s", "7.25s"]
    );
    assert!(nothing_left(&tm));
}

#[test]
fn sleep_really_sleeps_on_the_real_clock() {
    // The only real sleep in this file: 2 ms.
    let tm = TaskManager::new();
    let woke = Rc::new(RefCell::new(None));
    let w = woke.clone();
    let start = std::time::Instant::now();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(sleep(Duration::from_millis(2)))?;
            *w.borrow_mut() = Some(std::time::Instant::now());
            Ok(())
        },
    ));
    tm.run().unwrap();
    let woke = woke.borrow().expect("the sleeper woke");
    assert!(woke - start >= Duration::from_millis(2));
}

#[test]
fn bad_sleep_and_timeout_arguments_are_invalid_argument_at_that_line_without_yielding() {
    let log = Log::new();
    let tm = TaskManager::new();
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            l.push("a1");
            let r = wait!(sleep(0));
            l.push(format!("sleep(0): {}", show(&r)));
            let r = wait!(sleep(0.0));
            l.push(format!("sleep(0.0): {}", show(&r)));
            let r = wait!(sleep(-1.0));
            l.push(format!("sleep(-1.0): {}", show(&r)));
            let r = wait!(sleep(-1));
            l.push(format!("sleep(-1): {}", show(&r)));
            let r = wait!(sleep(f64::NAN));
            l.push(format!("sleep(NaN): {}", show(&r)));
            let r = wait!(sleep(Duration::ZERO));
            l.push(format!("sleep(ZERO): {}", show(&r)));
            let r = wait!(Queue::<i32>::new().get().timeout(f64::NAN));
            l.push(format!("get timeout NaN: {}", show(&r)));
            let r = wait!(Queue::<i32>::new().put(1).timeout(f64::NAN));
            l.push(format!("put timeout NaN: {}", show(&r)));
            let r = wait!(sleep(1).timeout(1));
            l.push(format!("sleep with timeout: {}", show(&r)));
            let r = wait!(value(1).timeout(1));
            l.push(format!("value with timeout: {}", show(&r)));
            // `?` passes the error up, as an uncaught ValueError would.
            wait!(sleep(0))?;
            l.push("not reached");
            Ok(())
        },
    ));
    tm.add(ticker(&log, "b", 1));
    let result = tm.run_next(None);
    assert!(
        matches!(result, Err(Error::InvalidArgument(_))),
        "the task's error leaves run_next: {result:?}"
    );
    assert_eq!(
        log.get(),
        [
            "a1",
            "sleep(0): InvalidArgument",
            "sleep(0.0): InvalidArgument",
            "sleep(-1.0): InvalidArgument",
            "sleep(-1): InvalidArgument",
            "sleep(NaN): InvalidArgument",
            "sleep(ZERO): InvalidArgument",
            "get timeout NaN: InvalidArgument",
            "put timeout NaN: InvalidArgument",
            "sleep with timeout: InvalidArgument",
            "value with timeout: InvalidArgument",
        ],
        "no yield happened, so B has not run"
    );
    assert!(!tm.has_timeouts());
    tm.run().unwrap();
    assert_eq!(log.get().last().unwrap(), "b1");
    assert!(nothing_left(&tm));
}

#[test]
fn get_timeout_gives_timeout_and_withdraws_the_getter() {
    let log = Log::new();
    let (tm, clock, start) = manual();
    let q: Queue<&'static str> = Queue::new();
    let (l, qg, c) = (log.clone(), q.clone(), clock.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let got = wait!(qg.get().timeout(1));
            l.push(format!("g1: {} at {:?}", show(&got), c.now() - start));
            Ok(())
        },
    ));
    let (l, qp) = (log.clone(), q.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(sleep(2))?;
            wait!(qp.put("x"))?;
            l.push("p put x");
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(log.get(), ["g1: Timeout at 1s", "p put x"]);
    assert_eq!(q.len(), 1, "the timed-out getter must not take the later item");
    assert_eq!(clock.now() - start, Duration::from_secs(2));
    assert!(nothing_left(&tm));

    // The item is still there for the next getter.
    let (l, qg) = (log.clone(), q.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let got = wait!(qg.get())?;
            l.push(format!("g3 got {got}"));
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(log.get().last().unwrap(), "g3 got x");
    assert!(q.is_empty());
}

#[test]
fn after_a_getter_times_out_the_next_waiting_getter_is_served() {
    let log = Log::new();
    let (tm, _clock, _start) = manual();
    let q: Queue<&'static str> = Queue::new();
    for (name, timeout) in [("g1", Some(1)), ("g2", None)] {
        let (l, q) = (log.clone(), q.clone());
        tm.add(Task::new(
            #[coroutine]
            move |_| {
                let got = match timeout {
                    Some(t) => wait!(q.get().timeout(t)),
                    None => wait!(q.get()),
                };
                l.push(format!("{name}: {}", show(&got)));
                Ok(())
            },
        ));
    }
    let (l, qp) = (log.clone(), q.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(sleep(2))?;
            wait!(qp.put("x"))?;
            l.push("p put x");
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(log.get(), ["g1: Timeout", "p put x", "g2: Ok(\"x\")"]);
    assert!(q.is_empty());
    assert!(nothing_left(&tm));
}

#[test]
fn put_timeout_gives_timeout_and_the_item_is_not_in_the_queue() {
    let log = Log::new();
    let (tm, clock, start) = manual();
    let q = Queue::with_contents([1], 1);
    let (l, qp) = (log.clone(), q.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let put = wait!(qp.put(2).timeout(1));
            l.push(format!("p: {} len={}", show(&put), qp.len()));
            Ok(())
        },
    ));
    let (l, qg, c) = (log.clone(), q.clone(), clock.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(sleep(2))?;
            let first = wait!(qg.get())?;
            l.push(format!("g got {first}"));
            let second = wait!(qg.get().timeout(Duration::from_secs(1)));
            l.push(format!("g: {} at {:?}", show(&second), c.now() - start));
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(log.get(), ["p: Timeout len=1", "g got 1", "g: Timeout at 3s"]);
    assert!(q.is_empty());
    assert!(nothing_left(&tm));
}

#[test]
fn a_timeout_that_does_not_fire_is_cancelled() {
    let log = Log::new();
    let (tm, clock, start) = manual();
    let q: Queue<i32> = Queue::new();
    let (l, qg) = (log.clone(), q.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let got = wait!(qg.get().timeout(5))?;
            l.push(format!("got {got}"));
            Ok(())
        },
    ));
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!();
            wait!(q.put(1))?;
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(log.get(), ["got 1"]);
    assert_eq!(clock.now(), start, "no timer was left to wait for");
    assert!(nothing_left(&tm));

    // A waiting putter served by a get: its timeout is cancelled too.
    let full = Queue::with_contents([1], 1);
    let (l, qp) = (log.clone(), full.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let put = wait!(qp.put(2).timeout(5));
            l.push(format!("put: {}", show(&put)));
            Ok(())
        },
    ));
    tm.run_next(None).unwrap();
    assert!(tm.has_timeouts());
    let (l, qg) = (log.clone(), full.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let got = wait!(qg.get())?;
            l.push(format!("got {got}"));
            Ok(())
        },
    ));
    tm.run_next(None).unwrap();
    assert!(
        !tm.has_timeouts(),
        "the putter's timeout is cancelled when its item moves in"
    );
    tm.run().unwrap();
    assert_eq!(log.get(), ["got 1", "got 1", "put: Ok(())"]);
    assert_eq!(clock.now(), start);
    assert_eq!(full.len(), 1);
    assert!(nothing_left(&tm));
}

#[test]
fn queue_wait_with_a_timeout_keeps_run_going_until_it_fires() {
    let log = Log::new();
    let (tm, clock, start) = manual();
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let got = wait!(Queue::<i32>::new().get().timeout(30));
            l.push(show(&got));
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(log.get(), ["Timeout"]);
    assert_eq!(clock.now() - start, Duration::from_secs(30));
}

#[test]
fn run_returns_when_only_queue_waiters_without_timeout_remain_and_they_stay_parked() {
    let log = Log::new();
    let tm = TaskManager::new();
    let q: Queue<i32> = Queue::new();
    let (l, qg) = (log.clone(), q.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            l.push("g waits");
            let got = wait!(qg.get())?;
            l.push(format!("g got {got}"));
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(log.get(), ["g waits"]);
    assert!(nothing_left(&tm));
    assert_eq!(tm.__counts(), (0, 1, 0), "the getter is parked, not lost");
    tm.run().unwrap(); // nothing to do; returns at once

    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            l.push("p puts");
            wait!(q.put(5))?;
            l.push("p put");
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(log.get(), ["g waits", "p puts", "p put", "g got 5"]);
    assert_eq!(tm.__counts(), (0, 0, 0));
}

// ---------------------------------------------------------------------------
// run_next(Some(timeout)) on a manual clock
// ---------------------------------------------------------------------------

#[test]
fn run_next_with_timeout_returns_after_the_timeout_when_only_sleepers_wait() {
    let log = Log::new();
    let (tm, clock, start) = manual();
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            l.push("s sleeps");
            wait!(sleep(10))?;
            l.push("s woke");
            Ok(())
        },
    ));
    tm.run_next(None).unwrap();
    assert_eq!(clock.now(), start);

    tm.run_next(Some(Duration::from_secs(2))).unwrap();
    assert_eq!(
        clock.now() - start,
        Duration::from_secs(2),
        "advanced by exactly the timeout"
    );
    assert_eq!(log.get(), ["s sleeps"], "the sleeper is not yet woken");
    assert!(tm.has_timeouts());

    tm.run_next(Some(Duration::ZERO)).unwrap();
    assert_eq!(
        clock.now() - start,
        Duration::from_secs(2),
        "a zero timeout does not wait"
    );
    assert_eq!(log.get(), ["s sleeps"]);

    tm.run().unwrap();
    assert_eq!(log.get(), ["s sleeps", "s woke"]);
    assert_eq!(clock.now() - start, Duration::from_secs(10));
    assert!(nothing_left(&tm));
}

#[test]
fn run_next_with_a_longer_timeout_waits_only_until_the_deadline() {
    let log = Log::new();
    let (tm, clock, start) = manual();
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(sleep(1))?;
            l.push("s woke");
            Ok(())
        },
    ));
    tm.run_next(None).unwrap();
    tm.run_next(Some(Duration::from_secs(5))).unwrap();
    // Woken in that pass's timeout check and run in its step 3.
    assert_eq!(log.get(), ["s woke"]);
    assert_eq!(clock.now() - start, Duration::from_secs(1));
    assert!(nothing_left(&tm));
}

#[test]
fn run_next_with_nothing_to_do_returns_at_once() {
    let (tm, clock, start) = manual();
    tm.run_next(None).unwrap();
    tm.run_next(Some(Duration::from_secs(3))).unwrap();
    assert_eq!(clock.now(), start);

    // A queue waiter with no timeout gives run_next nothing to wait for either.
    tm.add(Task::new(
        #[coroutine]
        |_| {
            wait!(Queue::<i32>::new().get())?;
            Ok(())
        },
    ));
    tm.run_next(None).unwrap();
    tm.run_next(Some(Duration::from_secs(3))).unwrap();
    assert_eq!(clock.now(), start);
    assert_eq!(tm.__counts(), (0, 1, 0));
}

#[test]
fn manual_clock_advance_wakes_sleepers_at_the_next_check() {
    let log = Log::new();
    let (tm, clock, start) = manual();
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(sleep(5))?;
            l.push("woke");
            Ok(())
        },
    ));
    tm.add(ticker(&log, "o", 3));
    passes(&tm, &log, 2);
    clock.advance(Duration::from_secs(5));
    passes(&tm, &log, 2);
    assert_eq!(log.get(), ["o1", "|", "o2", "|", "o3", "woke", "|", "|"]);
    assert_eq!(clock.now() - start, Duration::from_secs(5));
    assert!(nothing_left(&tm));
}

// ---------------------------------------------------------------------------
// Errors and panics
// ---------------------------------------------------------------------------

#[test]
fn top_level_error_leaves_run_as_err_and_run_again_carries_on() {
    let log = Log::new();
    let (tm, clock, start) = manual();
    let l = log.clone();
    tm.add(Task::<()>::new(
        #[coroutine]
        move |_| {
            l.push("a1");
            wait!();
            Err(Error::msg("boom"))
        },
    ));
    tm.add(ticker(&log, "b", 3));
    let (l, c) = (log.clone(), clock.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            l.push("s sleeps");
            wait!(sleep(5))?;
            l.push(format!("s woke at {:?}", c.now() - start));
            Ok(())
        },
    ));
    let q: Queue<i32> = Queue::new();
    let (l, qg) = (log.clone(), q.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let got = wait!(qg.get())?;
            l.push(format!("g got {got}"));
            Ok(())
        },
    ));

    assert_message(tm.run(), "boom");
    assert_eq!(log.get(), ["a1", "b1", "s sleeps"]);
    assert!(tm.has_runnable() && tm.has_timeouts());
    assert_eq!(tm.__counts(), (1, 2, 1), "B runnable; sleeper and getter parked");

    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(q.put(9))?;
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(
        log.get(),
        ["a1", "b1", "s sleeps", "b2", "b3", "g got 9", "s woke at 5s"]
    );
    assert!(nothing_left(&tm));
    assert_eq!(tm.__counts(), (0, 0, 0));
}

#[test]
fn error_mid_pass_leaves_the_rest_of_the_pass_queued_in_order() {
    let log = Log::new();
    let tm = TaskManager::new();
    tm.add(ticker(&log, "x", 2));
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            l.push("a1");
            if l.get().len() < 100 {
                return Err(Error::msg("early"));
            }
            wait!();
            Ok(())
        },
    ));
    tm.add(ticker(&log, "y", 2));

    assert_message(tm.run_next(None), "early");
    log.push("|");
    // Y never ran in that pass; it is still ahead of X's continuation.
    assert_eq!(tm.__counts().0, 2);
    tm.run().unwrap();
    assert_eq!(log.get(), ["x1", "a1", "|", "y1", "x2", "y2"]);
    assert!(nothing_left(&tm));
}

#[test]
fn several_top_level_errors_each_stop_run_once() {
    let tm = TaskManager::new();
    for text in ["one", "two"] {
        tm.add(Task::<()>::new(
            #[coroutine]
            move |_| {
                wait!();
                Err(Error::msg(text))
            },
        ));
    }
    let log = Log::new();
    tm.add(ticker(&log, "b", 2));
    assert_message(tm.run(), "one");
    assert_message(tm.run(), "two");
    tm.run().unwrap();
    assert_eq!(log.get(), ["b1", "b2"]);
    assert!(nothing_left(&tm));
}

#[test]
fn top_level_panic_leaves_run_as_err_panic_and_nothing_else_is_lost() {
    let log = Log::new();
    let tm = TaskManager::new();
    tm.add(ticker(&log, "x", 3));
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            l.push("a1");
            wait!();
            if !l.get().is_empty() {
                panic!("kaboom");
            }
            Ok(())
        },
    ));
    tm.add(ticker(&log, "y", 3));
    assert_panic(tm.run(), "kaboom");
    assert_eq!(log.get(), ["x1", "a1", "y1", "x2"]);
    tm.run().unwrap();
    assert_eq!(log.get(), ["x1", "a1", "y1", "x2", "y2", "x3", "y3"]);
    assert!(nothing_left(&tm));
}

#[test]
fn panic_with_a_formatted_message_and_before_the_first_yield() {
    let tm = TaskManager::new();
    let n = 7;
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            if n > 0 {
                panic!("bad value {n}");
            }
            wait!();
            Ok(())
        },
    ));
    assert_panic(tm.run_next(None), "bad value 7");
    assert!(nothing_left(&tm));
    assert_eq!(tm.__counts(), (0, 0, 0), "the panicked task is dropped");
}

fn panicking_child(log: &Log) -> Task<i32> {
    let l = log.clone();
    Task::new(
        #[coroutine]
        move |_| {
            l.push("child runs");
            wait!();
            if !l.get().is_empty() {
                panic!("child {}", "exploded");
            }
            Ok(0)
        },
    )
}

#[test]
fn child_panic_reaches_the_parent_as_err_panic() {
    let log = Log::new();
    let tm = TaskManager::new();
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let got = wait!(panicking_child(&l));
            l.push(format!("parent: {}", show(&got)));
            if let Err(e) = got {
                l.push(format!("parent caught: {e}"));
            }
            // A panic two levels down, passed up with `?` by the middle task.
            let middle: Task<i32> = {
                let l = l.clone();
                Task::new(
                    #[coroutine]
                    move |_| {
                        let v = wait!(panicking_child(&l))?;
                        l.push("middle not reached");
                        Ok(v)
                    },
                )
            };
            let got = wait!(middle);
            l.push(format!("parent: {}", show(&got)));
            Ok(())
        },
    ));
    tm.add(ticker(&log, "o", 2));
    tm.run().unwrap();
    assert_eq!(
        log.get(),
        [
            "o1",
            "child runs",
            "o2",
            "parent: Panic(child exploded)",
            "parent caught: task panicked: child exploded",
            "child runs",
            "parent: Panic(child exploded)",
        ]
    );
    assert!(nothing_left(&tm));
}

#[test]
fn uncaught_child_panic_leaves_run_as_err_panic() {
    let log = Log::new();
    let tm = TaskManager::new();
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let v = wait!(panicking_child(&l))?;
            l.push(format!("not reached {v}"));
            Ok(())
        },
    ));
    tm.add(ticker(&log, "o", 5));
    assert_panic(tm.run(), "child exploded");
    // Pass 3: the child panics and its parent is enqueued with the error, behind O;
    // pass 4: the parent's `?` ends it, before O runs again.
    assert_eq!(log.get(), ["o1", "child runs", "o2", "o3"]);
    tm.run().unwrap();
    assert_eq!(log.get(), ["o1", "child runs", "o2", "o3", "o4", "o5"]);
    assert!(nothing_left(&tm));
}

// ---------------------------------------------------------------------------
// Queue<T>
// ---------------------------------------------------------------------------

#[test]
fn queue_constructors_and_inspectors() {
    let q: Queue<i32> = Queue::new();
    assert_eq!((q.len(), q.is_empty(), q.is_full(), q.maxsize()), (0, true, false, 0));

    let q: Queue<i32> = Queue::default();
    assert_eq!((q.len(), q.is_empty(), q.is_full(), q.maxsize()), (0, true, false, 0));

    let q: Queue<i32> = Queue::with_maxsize(2);
    assert_eq!((q.len(), q.is_empty(), q.is_full(), q.maxsize()), (0, true, false, 2));

    let q = Queue::with_contents([1, 2, 3], 0);
    assert_eq!((q.len(), q.is_empty(), q.is_full(), q.maxsize()), (3, false, false, 0));

    let q = Queue::with_contents([1, 2], 2);
    assert_eq!((q.len(), q.is_empty(), q.is_full(), q.maxsize()), (2, false, true, 2));

    // Initial contents may exceed maxsize, as in the original.
    let q = Queue::with_contents(vec!["a", "b", "c"], 2);
    assert_eq!((q.len(), q.is_empty(), q.is_full()), (3, false, true));

    let q: Queue<u8> = (1..=4).collect();
    assert_eq!((q.len(), q.is_full(), q.maxsize()), (4, false, 0));

    // Clones are handles to the same queue.
    let q: Queue<i32> = Queue::with_maxsize(1);
    let q2 = q.clone();
    let tm = TaskManager::new();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(q2.put(1))?;
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!((q.len(), q.is_empty(), q.is_full()), (1, false, true));
}

#[test]
fn queue_contents_come_out_first_in_first_out() {
    let log = Log::new();
    let tm = TaskManager::new();
    let q = Queue::with_contents(["one".to_string(), "two".to_string()], 3);
    let (l, qt) = (log.clone(), q.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(qt.put("three".to_string()))?;
            l.push(format!("len={} full={}", qt.len(), qt.is_full()));
            for _ in 0..3 {
                let item = wait!(qt.get())?;
                l.push(item);
            }
            l.push(format!("len={} empty={}", qt.len(), qt.is_empty()));
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(
        log.get(),
        ["len=3 full=true", "one", "two", "three", "len=0 empty=true"]
    );
}

#[test]
fn bounded_queue_blocks_putter_until_room() {
    let log = Log::new();
    let tm = TaskManager::new();
    let q = Queue::with_maxsize(2);
    let (l, qp) = (log.clone(), q.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            for i in 1..=3 {
                wait!(qp.put(i))?;
                l.push(format!("put {i} len={}", qp.len()));
            }
            Ok(())
        },
    ));
    passes(&tm, &log, 4);
    // The third put waits: the queue is full and nobody takes.
    assert_eq!(log.get(), ["|", "put 1 len=1", "|", "put 2 len=2", "|", "|"]);
    assert!(q.is_full());
    assert!(nothing_left(&tm));
    assert_eq!(tm.__counts(), (0, 1, 0));

    let (l, qg) = (log.clone(), q.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let item = wait!(qg.get())?;
            l.push(format!("got {item} len={}", qg.len()));
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(log.get()[6..], ["got 1 len=2", "put 3 len=2"]);
    assert!(q.is_full());
}

// ---------------------------------------------------------------------------
// Child tasks
// ---------------------------------------------------------------------------

fn returns<T: 'static>(v: T) -> Task<T> {
    Task::new(
        #[coroutine]
        move |_| {
            wait!();
            Ok(v)
        },
    )
}

fn fails<T: 'static>(text: &'static str) -> Task<T> {
    Task::new(
        #[coroutine]
        move |_| {
            wait!();
            Err(Error::msg(text))
        },
    )
}

fn fails_at_once(text: &'static str) -> Task<i32> {
    Task::new(
        #[coroutine]
        move |_| {
            if !text.is_empty() {
                return Err(Error::msg(text));
            }
            wait!();
            Ok(0)
        },
    )
}

#[test]
fn child_tasks_return_typed_values() {
    let log = Log::new();
    let tm = TaskManager::new();
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let n: i32 = wait!(returns(1))?;
            l.push(format!("{n:?}"));
            let pair: (i32, i32) = wait!(returns((2, 3)))?;
            l.push(format!("{pair:?}"));
            let triple: (i32, &str, f64) = wait!(returns((1, "two", 3.5)))?;
            l.push(format!("{triple:?}"));
            let s: String = wait!(returns(String::from("Hi, Mom!")))?;
            l.push(s);
            let none: Option<()> = wait!(returns(None))?;
            l.push(format!("{none:?}"));
            let some: Option<u64> = wait!(returns(Some(7)))?;
            l.push(format!("{some:?}"));
            let unit: () = wait!(returns(()))?;
            l.push(format!("{unit:?}"));
            let v: Vec<u8> = wait!(returns(vec![1, 2]))?;
            l.push(format!("{v:?}"));
            let r: Result<i32, String> = wait!(returns(Err("inner".to_string())))?;
            l.push(format!("{r:?}"));
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(
        log.get(),
        [
            "1",
            "(2, 3)",
            "(1, \"two\", 3.5)",
            "Hi, Mom!",
            "None",
            "Some(7)",
            "()",
            "[1, 2]",
            "Err(\"inner\")"
        ]
    );
}

#[test]
fn child_errors_reach_the_parent_and_propagate_with_question_mark() {
    let log = Log::new();
    let tm = TaskManager::new();
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let r = wait!(fails::<i32>("foo"));
            l.push(format!("caught {}", show(&r)));
            let r = wait!(fails_at_once("oops!"));
            l.push(format!("caught {}", show(&r)));
            // Through a middle task that uses `?`.
            let middle: Task<(i32, i32)> = Task::new(
                #[coroutine]
                |_| {
                    let a = wait!(returns(1))?;
                    let b = wait!(fails::<i32>("deep"))?;
                    Ok((a, b))
                },
            );
            let r = wait!(middle);
            l.push(format!("caught {}", show(&r)));
            // A timeout in a grandchild arrives as Error::Timeout.
            let middle: Task<i32> = Task::new(
                #[coroutine]
                |_| {
                    let inner: Task<i32> = Task::new(
                        #[coroutine]
                        |_| {
                            let v = wait!(Queue::<i32>::new().get().timeout(0))?;
                            Ok(v)
                        },
                    );
                    let v = wait!(inner)?;
                    Ok(v)
                },
            );
            let r = wait!(middle);
            l.push(format!("caught {}", show(&r)));
            // Uncaught: the parent's `?` ends the task with it.
            let v = wait!(fails::<i32>("uncaught"))?;
            l.push(format!("not reached {v}"));
            Ok(())
        },
    ));
    assert_message(tm.run(), "uncaught");
    assert_eq!(
        log.get(),
        [
            "caught Message(foo)",
            "caught Message(oops!)",
            "caught Message(deep)",
            "caught Timeout"
        ]
    );
    assert!(nothing_left(&tm));
}

#[test]
fn failing_child_hops_to_the_parent_in_one_pass() {
    let log = Log::new();
    let tm = TaskManager::new();
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            l.push("p1");
            let r = wait!(fails_at_once("bad"));
            l.push(format!("p: {}", show(&r)));
            Ok(())
        },
    ));
    tm.add(ticker(&log, "o", 3));
    passes(&tm, &log, 4);
    assert_eq!(
        log.get(),
        ["p1", "o1", "|", "o2", "|", "p: Message(bad)", "o3", "|", "|"]
    );
}

fn nest(depth: u32) -> Task<u32> {
    Task::new(
        #[coroutine]
        move |_| {
            if depth == 0 {
                return Ok(0);
            }
            let below = wait!(nest(depth - 1))?;
            Ok(below + 1)
        },
    )
}

#[test]
fn a_chain_of_100_000_nested_children_does_not_overflow_the_stack() {
    const DEPTH: u32 = 100_000;
    let tm = TaskManager::new();
    let result = Rc::new(RefCell::new(None));
    let r = result.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let depth = wait!(nest(DEPTH))?;
            *r.borrow_mut() = Some(depth);
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(*result.borrow(), Some(DEPTH));
    assert!(nothing_left(&tm));
}

fn nest_failing(depth: u32) -> Task<u32> {
    Task::new(
        #[coroutine]
        move |_| {
            if depth == 0 {
                return Err(Error::msg("bottom"));
            }
            let below = wait!(nest_failing(depth - 1))?;
            Ok(below + 1)
        },
    )
}

#[test]
fn an_error_100_000_children_deep_propagates_to_the_top() {
    let tm = TaskManager::new();
    tm.add(Task::new(
        #[coroutine]
        |_| {
            wait!(nest_failing(100_000))?;
            Ok(())
        },
    ));
    assert_message(tm.run(), "bottom");
    assert!(nothing_left(&tm));
}

fn nest_parked(depth: u32, q: Queue<u32>) -> Task<u32> {
    Task::new(
        #[coroutine]
        move |_| {
            if depth == 0 {
                return wait!(q.get());
            }
            let below = wait!(nest_parked(depth - 1, q))?;
            Ok(below + 1)
        },
    )
}

#[test]
fn dropping_a_manager_with_a_100_000_deep_parked_chain_does_not_overflow() {
    let tm = TaskManager::new();
    let q: Queue<u32> = Queue::new();
    let qt = q.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(nest_parked(100_000, qt))?;
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(tm.__counts(), (0, 1, 0));
    drop(tm);
    drop(q);
}

// ---------------------------------------------------------------------------
// merge
// ---------------------------------------------------------------------------

#[test]
fn merge_three_managers_runs_merged_tasks_after_the_mergers() {
    let log = Log::new();
    let clock = Clock::manual();
    let start = clock.now();
    let (tm1, tm2, tm3) = (
        TaskManager::with_clock(clock.clone()),
        TaskManager::with_clock(clock.clone()),
        TaskManager::with_clock(clock.clone()),
    );

    // Before merging: a getter parked in tm2, a sleeper timing in tm3.
    let q: Queue<i32> = Queue::new();
    let (l, qg) = (log.clone(), q.clone());
    tm2.add(Task::new(
        #[coroutine]
        move |_| {
            l.push("g waits");
            let got = wait!(qg.get())?;
            l.push(format!("g got {got}"));
            Ok(())
        },
    ));
    tm2.run_next(None).unwrap();
    let (l, c) = (log.clone(), clock.clone());
    tm3.add(Task::new(
        #[coroutine]
        move |_| {
            l.push("s sleeps");
            wait!(sleep(1))?;
            l.push(format!("s woke at {:?}", c.now() - start));
            Ok(())
        },
    ));
    tm3.run_next(None).unwrap();

    tm1.add(ticker(&log, "a", 2));
    tm2.add(ticker(&log, "b", 2));
    tm3.add(ticker(&log, "c", 2));
    tm1.merge(&tm2);
    tm1.merge(&tm3);

    // Merging again, the other way round, or with itself changes nothing.
    tm1.merge(&tm2);
    tm2.merge(&tm1);
    tm3.merge(&tm2);
    tm1.merge(&tm1);
    tm3.merge(&tm3);
    for tm in [&tm1, &tm2, &tm3] {
        assert_eq!(tm.__counts(), (3, 2, 1));
        assert!(tm.has_runnable() && tm.has_timeouts() && !tm.has_io_waits());
    }

    // Every handle is usable: a task added through tm3 joins the shared queue.
    let qp = q.clone();
    tm3.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(qp.put(9))?;
            Ok(())
        },
    ));
    assert_eq!(tm1.__counts(), (4, 2, 1));
    tm2.run().unwrap();
    assert_eq!(
        log.get(),
        [
            "g waits",
            "s sleeps",
            "a1",
            "b1",
            "c1",
            "a2",
            "b2",
            "c2",
            "g got 9",
            "s woke at 1s"
        ]
    );
    for tm in [&tm1, &tm2, &tm3] {
        assert!(nothing_left(tm));
        assert_eq!(tm.__counts(), (0, 0, 0));
    }

    // Still one manager afterwards.
    tm3.add(ticker(&log, "d", 1));
    assert!(tm1.has_runnable() && tm2.has_runnable());
    tm1.run().unwrap();
    assert_eq!(log.get().last().unwrap(), "d1");
}

#[test]
fn merge_order_follows_the_merger() {
    let log = Log::new();
    let (tm1, tm2, tm3) = (TaskManager::new(), TaskManager::new(), TaskManager::new());
    tm1.add(ticker(&log, "a", 1));
    tm1.add(ticker(&log, "a", 1));
    tm2.add(ticker(&log, "b", 1));
    tm3.add(ticker(&log, "c", 1));
    // tm3 into tm2, then tm1 into tm2: b, c, a.
    tm2.merge(&tm3);
    tm2.merge(&tm1);
    // tm1 and tm3 already share tm2's state: no-ops.
    tm1.merge(&tm3);
    tm3.merge(&tm1);
    assert_eq!(tm1.__counts(), (4, 0, 0));
    tm1.run().unwrap();
    assert_eq!(log.get(), ["b1", "c1", "a1", "a1"]);
}

#[test]
fn merging_a_manager_that_was_merged_into_another_merges_the_whole_set() {
    let log = Log::new();
    let (tm1, tm2, tm3, tm4) = (
        TaskManager::new(),
        TaskManager::new(),
        TaskManager::new(),
        TaskManager::new(),
    );
    tm1.add(ticker(&log, "a", 1));
    tm2.add(ticker(&log, "b", 1));
    tm3.add(ticker(&log, "c", 1));
    tm4.add(ticker(&log, "d", 1));
    tm1.merge(&tm2);
    tm3.merge(&tm4);
    tm2.merge(&tm4); // tm2's root is tm1, tm4's is tm3: the sets join, tm1's first
    for tm in [&tm1, &tm2, &tm3, &tm4] {
        assert_eq!(tm.__counts(), (4, 0, 0));
    }
    tm4.run().unwrap();
    assert_eq!(log.get(), ["a1", "b1", "c1", "d1"]);
}

#[test]
fn a_task_may_merge_managers_while_running() {
    let log = Log::new();
    let (tm1, tm2) = (TaskManager::new(), TaskManager::new());
    tm2.add(ticker(&log, "b", 2));
    let (l, m1, m2) = (log.clone(), tm1.clone(), tm2.clone());
    tm1.add(Task::new(
        #[coroutine]
        move |_| {
            l.push("merging");
            m1.merge(&m2);
            wait!();
            l.push("merged");
            Ok(())
        },
    ));
    tm1.run().unwrap();
    assert_eq!(log.get(), ["merging", "b1", "merged", "b2"]);
    assert!(nothing_left(&tm2));
}

// ---------------------------------------------------------------------------
// The default manager
// ---------------------------------------------------------------------------

#[test]
fn default_manager_add_and_run() {
    let log = Log::new();
    let default = multitask::get_default_task_manager();
    assert!(
        nothing_left(&default),
        "each test thread starts with an empty default manager"
    );
    multitask::add(ticker(&log, "a", 2));
    multitask::get_default_task_manager().add(ticker(&log, "b", 2));
    assert_eq!(default.__counts(), (2, 0, 0), "every handle names the same manager");

    // Per thread: another thread's default manager is a different one.
    let other_has_tasks = std::thread::spawn(|| multitask::get_default_task_manager().has_runnable())
        .join()
        .unwrap();
    assert!(!other_has_tasks);

    multitask::run().unwrap();
    assert_eq!(log.get(), ["a1", "b1", "a2", "b2"]);
    assert!(nothing_left(&default));

    // A failing task through the default manager.
    multitask::add(Task::<()>::new(
        #[coroutine]
        |_| {
            wait!();
            Err(Error::msg("default boom"))
        },
    ));
    assert_message(multitask::run(), "default boom");
    multitask::run().unwrap();
    assert!(nothing_left(&default));
}

#[test]
fn default_manager_children_example() {
    // The module docstring's example, through the default manager.
    let log = Log::new();
    let l = log.clone();
    multitask::add(Task::new(
        #[coroutine]
        move |_| {
            let none: Option<()> = wait!(returns(None))?;
            l.push(format!("{none:?}"));
            let one: i32 = wait!(returns(1))?;
            l.push(format!("{one:?}"));
            let many: (i32, i32) = wait!(returns((2, 3)))?;
            l.push(format!("{many:?}"));
            if let Err(e) = wait!(fails::<()>("foo")) {
                l.push(format!("caught exception: {e}"));
            }
            Ok(())
        },
    ));
    multitask::run().unwrap();
    assert_eq!(log.get(), ["None", "1", "(2, 3)", "caught exception: foo"]);
}

// ---------------------------------------------------------------------------
// log
// ---------------------------------------------------------------------------

struct AnyLogger;

impl log::Log for AnyLogger {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }

    fn log(&self, record: &log::Record) {
        // Tests run on threads of their own: keep this thread's records.
        if record.target().starts_with("multitask") {
            RECORDS.with(|r| r.borrow_mut().push(format!("{} {}", record.level(), record.args())));
        }
    }

    fn flush(&self) {}
}

static LOGGER: AnyLogger = AnyLogger;

thread_local! {
    static RECORDS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

#[test]
fn logging_at_trace_level_does_not_panic() {
    let _ = log::set_logger(&LOGGER); // may already be set by another run of this test
    log::set_max_level(log::LevelFilter::Trace);

    let (tm, _clock, _start) = manual();
    let log = Log::new();
    tm.add(ticker(&log, "a", 2));
    tm.add(Task::<()>::new(
        #[coroutine]
        |_| {
            let _ = wait!(fails::<i32>("child error"));
            let _ = wait!(Queue::<i32>::new().get().timeout(1));
            wait!(sleep(1))?;
            let q = Queue::with_contents([1], 1);
            wait!(q.get())?;
            wait!(q.put(2))?;
            Err(Error::msg("top-level error"))
        },
    ));
    tm.add(Task::new(
        #[coroutine]
        |_| {
            wait!();
            if nothing_left(&TaskManager::new()) {
                panic!("logged panic");
            }
            Ok(())
        },
    ));
    let mut errors = Vec::new();
    loop {
        match tm.run() {
            Ok(()) => break,
            Err(e) => errors.push(e.to_string()),
        }
    }
    assert_eq!(errors, ["task panicked: logged panic", "top-level error"]);
    assert_eq!(log.get(), ["a1", "a2"]);
    // The scheduler's events, at trace and debug level; nothing printed.
    let records = RECORDS.with(|r| r.take());
    let count = |line: &str| records.iter().filter(|r| *r == line).count();
    assert_eq!(count("TRACE task added"), 3, "{records:#?}");
    assert_eq!(count("TRACE child task started, depth 2"), 1, "{records:#?}");
    assert_eq!(count("DEBUG queue wait timed out"), 1, "{records:#?}");
    assert_eq!(count("TRACE sleeper woken"), 1, "{records:#?}");
    assert_eq!(count("TRACE task finished"), 1, "{records:#?}");
    assert_eq!(
        count("DEBUG task failed: task panicked: logged panic"),
        1,
        "{records:#?}"
    );
    assert_eq!(count("DEBUG task failed: top-level error"), 1, "{records:#?}");
}

// ---------------------------------------------------------------------------
// A model of §2, checked on random programs
// ---------------------------------------------------------------------------

mod model {
    use super::*;
    use proptest::prelude::*;
    use std::collections::VecDeque;

    /// What a task does at one step of its program.
    #[derive(Clone, Debug)]
    pub enum Step {
        /// A bare yield.
        Yield,
        /// `yield value(k)`.
        Value,
        /// Yields a child that does this many bare yields, then returns k.
        Child(usize),
        /// Adds a new top-level task with this program (no yield).
        Add(Vec<Step>),
        /// Puts into a shared unbounded queue, then gets from it.
        PutGet,
    }

    fn child(log: &Log, id: String, yields: usize, k: usize) -> Task<usize> {
        let log = log.clone();
        Task::new(
            #[coroutine]
            move |_| {
                for j in 0..yields {
                    log.push(format!("{id}:c{j}"));
                    wait!();
                }
                Ok(k)
            },
        )
    }

    /// The real task for a program.
    fn program(log: &Log, tm: &TaskManager, q: &Queue<String>, id: String, steps: Vec<Step>) -> Task {
        let (log, tm, q) = (log.clone(), tm.clone(), q.clone());
        Task::new(
            #[coroutine]
            move |_| {
                for (k, step) in steps.into_iter().enumerate() {
                    log.push(format!("{id}:{k}"));
                    match step {
                        Step::Yield => wait!(),
                        Step::Value => {
                            let v = wait!(value(k))?;
                            log.push(format!("{id}:{k}:v{v}"));
                        }
                        Step::Child(m) => {
                            let r = wait!(child(&log, format!("{id}:{k}"), m, k))?;
                            log.push(format!("{id}:{k}:ret{r}"));
                        }
                        Step::Add(steps) => {
                            tm.add(program(&log, &tm, &q, format!("{id}.{k}"), steps));
                        }
                        Step::PutGet => {
                            wait!(q.put(format!("{id}:{k}")))?;
                            let item = wait!(q.get())?;
                            log.push(format!("{id}:{k}:got {item}"));
                        }
                    }
                }
                log.push(format!("{id}:end"));
                Ok(())
            },
        )
    }

    enum Event {
        Log(String),
        Add(String, Vec<Step>),
        /// The task yields a put: the item goes in at once (the queue is unbounded).
        Put(String),
        /// The task yields a get: it takes the head at once (its own put came first).
        Get,
        /// Logs this prefix followed by the item the last get took.
        LogGot(String),
    }

    /// A program cut at its yields: each segment is what one resume does.
    /// After every segment but the last the task goes to the back of the run
    /// queue (a yield, a value, a child pushed or popped, a queue operation
    /// that completes at once: DESIGN.md §2); the last one ends it.
    fn segments(id: &str, steps: &[Step]) -> Vec<Vec<Event>> {
        let mut segments = Vec::new();
        let mut current = Vec::new();
        for (k, step) in steps.iter().enumerate() {
            current.push(Event::Log(format!("{id}:{k}")));
            match step {
                Step::Yield => segments.push(std::mem::take(&mut current)),
                Step::Value => {
                    segments.push(std::mem::take(&mut current));
                    current.push(Event::Log(format!("{id}:{k}:v{k}")));
                }
                Step::Child(m) => {
                    segments.push(std::mem::take(&mut current)); // the parent yields the child
                    for j in 0..*m {
                        segments.push(vec![Event::Log(format!("{id}:{k}:c{j}"))]);
                    }
                    segments.push(Vec::new()); // the child returns: its parent is enqueued
                    current.push(Event::Log(format!("{id}:{k}:ret{k}")));
                }
                Step::Add(steps) => current.push(Event::Add(format!("{id}.{k}"), steps.clone())),
                Step::PutGet => {
                    current.push(Event::Put(format!("{id}:{k}")));
                    segments.push(std::mem::take(&mut current));
                    current.push(Event::Get);
                    segments.push(std::mem::take(&mut current));
                    current.push(Event::LogGot(format!("{id}:{k}:got ")));
                }
            }
        }
        current.push(Event::Log(format!("{id}:end")));
        segments.push(current);
        segments
    }

    type Entry = (Rc<Vec<Vec<Event>>>, usize, Option<String>);

    /// The expected log, with `|` after each pass.
    fn expected(programs: &[Vec<Step>]) -> Vec<String> {
        let mut out = Vec::new();
        let mut queue: VecDeque<String> = VecDeque::new();
        let mut runq: VecDeque<Entry> = programs
            .iter()
            .enumerate()
            .map(|(i, p)| (Rc::new(segments(&format!("t{i}"), p)), 0, None))
            .collect();
        while !runq.is_empty() {
            let count = runq.len();
            for _ in 0..count {
                let (segs, at, mut got) = runq.pop_front().unwrap();
                for event in &segs[at] {
                    match event {
                        Event::Log(text) => out.push(text.clone()),
                        Event::Add(id, steps) => runq.push_back((Rc::new(segments(id, steps)), 0, None)),
                        Event::Put(item) => queue.push_back(item.clone()),
                        Event::Get => got = Some(queue.pop_front().expect("a put came first")),
                        Event::LogGot(prefix) => out.push(format!("{prefix}{}", got.take().unwrap())),
                    }
                }
                if at + 1 < segs.len() {
                    runq.push_back((segs, at + 1, got));
                }
            }
            out.push("|".to_string());
        }
        out
    }

    fn step() -> impl Strategy<Value = Step> {
        let leaf = prop_oneof![
            Just(Step::Yield),
            Just(Step::Value),
            (0..3usize).prop_map(Step::Child),
            Just(Step::PutGet),
        ];
        leaf.prop_recursive(2, 24, 4, |inner| {
            prop_oneof![
                3 => inner.clone(),
                1 => prop::collection::vec(inner, 0..4).prop_map(Step::Add),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn random_programs_follow_the_pass_model(
            programs in prop::collection::vec(prop::collection::vec(step(), 0..6), 1..5)
        ) {
            let log = Log::new();
            let tm = TaskManager::new();
            let q = Queue::new();
            for (i, steps) in programs.iter().enumerate() {
                tm.add(program(&log, &tm, &q, format!("t{i}"), steps.clone()));
            }
            while tm.has_runnable() {
                tm.run_next(None).unwrap();
                log.push("|");
            }
            prop_assert!(nothing_left(&tm));
            prop_assert_eq!(log.get(), expected(&programs));
        }
    }
}

/// A task that runs a pass of its own manager from inside its step: the
/// outer pass then runs on for the count it made at its start, as the
/// original's `for i in xrange(len(self._queue))` pops that many whatever the
/// nested pass ran (B and C run twice in the outer pass, or, after a nested
/// `run` that ran them to their end, A three times).
#[test]
fn a_pass_nested_in_a_task_leaves_the_outer_pass_its_count() {
    for nested_run in [false, true] {
        let tm = TaskManager::new();
        let log = Log::new();
        for name in ["A", "B", "C"] {
            let (log, manager) = (log.clone(), tm.clone());
            tm.add(Task::new(
                #[coroutine]
                move |_| {
                    for round in 0..3 {
                        log.push(format!("{name}{round}"));
                        if name == "A" && round == 0 {
                            if nested_run {
                                manager.run()?;
                            } else {
                                manager.run_next(None)?;
                            }
                            log.push("A back");
                        }
                        wait!();
                    }
                    Ok(())
                },
            ));
        }
        passes(&tm, &log, 4);
        let expected = if nested_run {
            "A0 B0 C0 B1 C1 B2 C2 A back A1 A2 | | | |"
        } else {
            "A0 B0 C0 A back B1 C1 | A1 B2 C2 | A2 | |"
        };
        assert_eq!(log.get().join(" "), expected, "nested run: {nested_run}");
    }
}

/// A `clear` inside a pass nested in a task: the pass around it has nothing
/// of the old state's count left to run (as after a `clear` in an ordinary
/// pass), so the fresh state's tasks start at the next pass.
#[test]
fn a_clear_in_a_nested_pass_leaves_the_outer_pass_nothing_due() {
    let tm = TaskManager::new();
    let log = Log::new();
    let (l, m) = (log.clone(), tm.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            for round in 0..3 {
                l.push(format!("A{round}"));
                if round == 0 {
                    m.run_next(None)?;
                    l.push("A back");
                }
                wait!();
            }
            Ok(())
        },
    ));
    let (l, m) = (log.clone(), tm.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            l.push("B clears");
            m.clear();
            m.add(ticker(&l, "N", 2));
            wait!();
            l.push("B1");
            Ok(())
        },
    ));
    tm.add(ticker(&log, "C", 3));
    passes(&tm, &log, 4);
    assert_eq!(log.get().join(" "), "A0 B clears A back | N1 B1 A1 | N2 A2 | |");
}
