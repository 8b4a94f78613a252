//! Fault injection (issue 9): random programs whose tasks panic, fail, hold
//! values whose `Drop` panics or calls the manager, drop the queues and
//! sockets others wait on, and whose driver clears or merges managers mid-run.
//! Whatever happens, `run_next`/`merge`/`clear` return (never unwind, never
//! abort); every value made is dropped exactly once by the end; a pair of
//! bystander tasks that share nothing with the faults completes; and no task
//! is lost: every task that the model (`must_end`: no wait without a timeout
//! before its first panic or error) says must reach its end does, by
//! returning, failing or panicking.
#![feature(coroutines)]

mod common;

use std::cell::RefCell;
use std::collections::HashSet;
use std::os::fd::AsRawFd;
use std::rc::Rc;

use multitask::net::UnixStream;
use multitask::{recv, send, sleep, wait, Clock, Error, Queue, Task, TaskManager};
use proptest::prelude::*;

/// Every value made, and every one dropped, by id: a drop seen twice or a
/// value never dropped fails the case.
#[derive(Default)]
struct Ledger {
    made: usize,
    dropped: HashSet<usize>,
    twice: usize,
}

type Shared = Rc<RefCell<Ledger>>;

/// A tracked value. `Drop` records it, then may panic (never while already
/// unwinding: that aborts any Rust program) or add a task to the default
/// manager (user code that calls the manager).
struct Tracked {
    id: usize,
    ledger: Shared,
    on_drop: OnDrop,
}

#[derive(Clone, Copy, Debug)]
enum OnDrop {
    Nothing,
    Panic,
    AddTask,
}

impl Tracked {
    fn new(ledger: &Shared, on_drop: OnDrop) -> Tracked {
        let id = {
            let mut l = ledger.borrow_mut();
            l.made += 1;
            l.made
        };
        Tracked {
            id,
            ledger: ledger.clone(),
            on_drop,
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let fresh = self.ledger.borrow_mut().dropped.insert(self.id);
        if !fresh {
            self.ledger.borrow_mut().twice += 1;
        }
        match self.on_drop {
            OnDrop::Panic if !std::thread::panicking() => panic!("a tracked value's drop"),
            OnDrop::AddTask => {
                multitask::add(Task::new(
                    #[coroutine]
                    |_| Ok(()),
                ));
            }
            _ => {}
        }
    }
}

const QUEUES: usize = 2;
const SOCKETS: usize = 2;

#[derive(Clone, Debug)]
enum Step {
    Yield,
    Sleep,
    Get(usize, bool),
    Put(usize, OnDrop, bool),
    Recv(usize, bool),
    Send(usize),
    DropQueue(usize),
    DropSocket(usize),
    Panic,
    Fail,
    Child(Vec<Step>),
}

#[derive(Clone, Debug)]
enum Driver {
    Run,
    RunNext,
    Clear,
    Merge,
}

fn on_drop() -> impl Strategy<Value = OnDrop> {
    prop_oneof![Just(OnDrop::Nothing), Just(OnDrop::Panic), Just(OnDrop::AddTask)]
}

fn step() -> impl Strategy<Value = Step> {
    let leaf = prop_oneof![
        Just(Step::Yield),
        Just(Step::Sleep),
        (0..QUEUES, any::<bool>()).prop_map(|(q, t)| Step::Get(q, t)),
        (0..QUEUES, on_drop(), any::<bool>()).prop_map(|(q, d, t)| Step::Put(q, d, t)),
        (0..SOCKETS, any::<bool>()).prop_map(|(s, t)| Step::Recv(s, t)),
        (0..SOCKETS).prop_map(Step::Send),
        (0..QUEUES).prop_map(Step::DropQueue),
        (0..SOCKETS).prop_map(Step::DropSocket),
        Just(Step::Panic),
        Just(Step::Fail),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        proptest::collection::vec(inner, 0..4).prop_map(Step::Child)
    })
}

/// A connected pair: tasks receive on the first end and send on the second.
type Pair = (UnixStream, UnixStream);

/// What a task may reach: the queues and sockets of the program (each in a
/// slot that `DropQueue`/`DropSocket` empties), and the ledger.
#[derive(Clone)]
struct World {
    queues: Rc<RefCell<Vec<Option<Queue<Tracked>>>>>,
    sockets: Rc<RefCell<Vec<Option<Pair>>>>,
    ledger: Shared,
    /// The top-level tasks that reached their end (returned, failed or panicked).
    ended: Rc<RefCell<HashSet<usize>>>,
}

/// Records `id` as ended if dropped while its task unwinds from a panic.
struct EndOnPanic(Rc<RefCell<HashSet<usize>>>, Option<usize>);

impl Drop for EndOnPanic {
    fn drop(&mut self) {
        if let (true, Some(id)) = (std::thread::panicking(), self.1) {
            self.0.borrow_mut().insert(id);
        }
    }
}

/// Runs `steps` in order; the task's body (or a child's: `id` is `None`).
fn body(world: World, steps: Vec<Step>, held: OnDrop, id: Option<usize>) -> Task {
    Task::new(
        #[coroutine]
        static move |_| {
            let _held = Tracked::new(&world.ledger, held);
            let end = |world: &World| {
                if let Some(id) = id {
                    world.ended.borrow_mut().insert(id);
                }
            };
            // A panic anywhere in the body (a `Drop` of the user's included)
            // ends the task too; a drop by `clear` does not.
            let _guard = EndOnPanic(world.ended.clone(), id);
            for step in steps {
                match step {
                    Step::Yield => wait!(),
                    Step::Sleep => wait!(sleep(0.001))?,
                    Step::Get(q, timed) => {
                        let queue = world.queues.borrow()[q].clone();
                        if let Some(queue) = queue {
                            let op = queue.get();
                            drop(queue);
                            let got = if timed { wait!(op.timeout(0.002)) } else { wait!(op) };
                            drop(got);
                        }
                    }
                    Step::Put(q, on_drop, timed) => {
                        let queue = world.queues.borrow()[q].clone();
                        if let Some(queue) = queue {
                            let op = queue.put(Tracked::new(&world.ledger, on_drop));
                            drop(queue);
                            let _ = if timed { wait!(op.timeout(0.002)) } else { wait!(op) };
                        }
                    }
                    Step::Recv(s, timed) => {
                        let fd = world.sockets.borrow()[s].as_ref().map(|(a, _)| a.as_raw_fd());
                        if let Some(fd) = fd {
                            let _ = if timed {
                                wait!(recv(fd, 16).timeout(0.002))
                            } else {
                                wait!(recv(fd, 16))
                            };
                        }
                    }
                    Step::Send(s) => {
                        let fd = world.sockets.borrow()[s].as_ref().map(|(_, b)| b.as_raw_fd());
                        if let Some(fd) = fd {
                            let _ = wait!(send(fd, "x"));
                        }
                    }
                    Step::DropQueue(q) => drop(world.queues.borrow_mut()[q].take()),
                    Step::DropSocket(s) => drop(world.sockets.borrow_mut()[s].take()),
                    Step::Panic => {
                        end(&world);
                        panic!("a task's panic")
                    }
                    Step::Fail => {
                        end(&world);
                        return Err(Error::msg("a task's error"));
                    }
                    Step::Child(steps) => {
                        let _ = wait!(body(world.clone(), steps, OnDrop::Nothing, None));
                    }
                }
            }
            end(&world);
            Ok(())
        },
    )
}

fn world(ledger: &Shared) -> World {
    World {
        queues: Rc::new(RefCell::new(
            (0..QUEUES).map(|i| Some(Queue::with_maxsize(i))).collect(),
        )),
        sockets: Rc::new(RefCell::new(
            (0..SOCKETS).map(|_| Some(UnixStream::pair().unwrap())).collect(),
        )),
        ledger: ledger.clone(),
        ended: Rc::default(),
    }
}

/// True if a task running `steps` must reach its end, whatever the other
/// tasks do: no wait without a timeout on a queue or a socket before its
/// first `Panic` or `Fail` (a child's end only ends the child).
fn must_end(steps: &[Step]) -> bool {
    for step in steps {
        match step {
            Step::Get(_, false) | Step::Put(_, _, false) | Step::Recv(_, false) | Step::Send(_) => return false,
            Step::Panic | Step::Fail => return true,
            Step::Child(steps) if !must_end(steps) => return false,
            _ => {}
        }
    }
    true
}

/// Up to `passes` passes that never block (a task waiting on a socket with
/// no timeout would make `run` wait for good, as in the original), stopping
/// once nothing is runnable or timed; errors of top-level tasks are dropped.
fn drive(tm: &TaskManager, passes: usize) {
    for _ in 0..passes {
        // With a timer pending, `None` lets the manual clock jump to it; else
        // a zero timeout keeps a wait with no timeout from blocking for good.
        let timeout = if tm.has_timeouts() {
            None
        } else {
            Some(std::time::Duration::ZERO)
        };
        drop(tm.run_next(timeout));
        if !tm.has_runnable() && !tm.has_timeouts() && !tm.has_io_waits() {
            break;
        }
    }
}

/// Drives two managers (the second merged into the first by `Merge`) as the
/// driver steps say, then until nothing is left that could run, then clears
/// them. Every call must return.
fn run_case(tasks: Vec<(Vec<Step>, OnDrop, bool)>, driver: Vec<Driver>) -> Result<(), TestCaseError> {
    let ledger: Shared = Rc::default();
    let clock = Clock::manual();
    let (tm1, tm2) = (TaskManager::with_clock(clock.clone()), TaskManager::with_clock(clock));
    let done = common::bystanders(&tm1, 3);
    let w = world(&ledger);
    // The model's verdict: the tasks of tm1 (never cleared) that must end.
    let mut expected = HashSet::new();
    for (id, (steps, held, second)) in tasks.into_iter().enumerate() {
        if !second && must_end(&steps) {
            expected.insert(id);
        }
        let tm = if second { &tm2 } else { &tm1 };
        tm.add(body(w.clone(), steps, held, Some(id)));
    }
    let mut merged = false;
    for d in driver {
        match d {
            Driver::Run => drive(&tm1, 50),
            Driver::RunNext => drop(tm1.run_next(Some(std::time::Duration::ZERO))),
            // Once merged, tm2 is tm1 (the bystanders' manager): clear only before.
            Driver::Clear if !merged => tm2.clear(),
            Driver::Clear => {}
            Driver::Merge => {
                tm1.merge(&tm2);
                merged = true;
            }
        }
    }
    if !merged {
        tm1.merge(&tm2);
    }
    drive(&tm1, 5_000);
    prop_assert_eq!(done.get(), 3, "the bystanders completed");
    let ended = w.ended.borrow().clone();
    prop_assert!(
        expected.is_subset(&ended),
        "tasks that must end did: {:?} of {:?}",
        ended,
        expected
    );
    // The items still in the queues are dropped here, by the test (a
    // panicking drop of theirs is the test's, not the manager's).
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(w)));
    tm1.clear();
    drop((tm1, tm2));
    // Tasks the tracked drops added to the default manager: run them too.
    drive(&multitask::get_default_task_manager(), 100);
    multitask::get_default_task_manager().clear();
    let l = ledger.borrow();
    prop_assert_eq!(l.twice, 0, "no value dropped twice");
    prop_assert_eq!(l.dropped.len(), l.made, "every value dropped");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn faults_never_crash_the_manager_lose_a_bystander_or_leak(
        tasks in proptest::collection::vec((proptest::collection::vec(step(), 0..6), on_drop(), any::<bool>()), 1..5),
        driver in proptest::collection::vec(
            prop_oneof![Just(Driver::Run), Just(Driver::RunNext), Just(Driver::Clear), Just(Driver::Merge)],
            0..4,
        ),
    ) {
        // Panics are expected (tasks' and drops'): keep them off the test's output.
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let result = run_case(tasks, driver);
        std::panic::set_hook(hook);
        result?;
    }
}
