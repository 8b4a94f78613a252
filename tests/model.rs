//! Model-based test of the scheduling semantics of DESIGN.md §2.
//!
//! A program is a few queues, events and semaphores and a list of tasks, each
//! a list of steps (bare yields, `yield value`, adding a task, running a
//! child, queue gets and puts, event waits and semaphore acquires, each with
//! or without a timeout, sleeps, and the plain calls `Event::set`,
//! `Event::clear` and `Permit::release`). The same program runs
//!
//! - on the real [`TaskManager`], on a manual clock, with tasks built from
//!   `#[coroutine]` closures that walk their step list and log what happens;
//! - on [`model::Model`], a plain-Rust transcription of §2: a FIFO run queue of
//!   `(task, input)`, passes that run exactly the tasks queued when step 3
//!   starts, queue hand-offs, children, sleeps and timeouts on virtual time,
//!   and events and semaphores as `src/event.rs` and `src/semaphore.rs`
//!   document them (a wait that completes at once still goes to the back of
//!   the run queue; `set` and a release move their waiters there, FIFO);
//!
//! and the two event logs (with the virtual time of each event) must be equal,
//! as must the state left at the end (runnable, parked, timers, queue lengths,
//! event flags, free permits).
//! Each program runs twice: under `run()`, and under a loop of
//! `run_next(bound)` that marks each pass in the log (`--`), so that the pass
//! structure itself is checked.
#![feature(coroutines)]

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use multitask::{sleep, value, wait, Clock, Error, Event, Permit, Queue, Semaphore, Task, TaskManager};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

// ---------------------------------------------------------------------------
// Programs
// ---------------------------------------------------------------------------

/// A task as generated: its steps, then how it ends.
#[derive(Clone, Debug)]
struct TaskTree {
    steps: Vec<StepTree>,
    end: End,
}

/// One step of a task. Times are virtual milliseconds.
#[derive(Clone, Debug)]
enum StepTree {
    /// `wait!()`.
    BareYield,
    /// `wait!(value(n))`.
    YieldValue(i64),
    /// `tm.add(task)`, then carry on without yielding.
    Add(TaskTree),
    /// `wait!(child)`.
    Child(TaskTree),
    /// `wait!(queues[q].get())`, with `.timeout(ms)` if any.
    Get { q: usize, timeout: Option<u64> },
    /// `wait!(queues[q].put(item))`, with `.timeout(ms)` if any; the item is
    /// `100 * task id + step index`, unique in the program.
    Put { q: usize, timeout: Option<u64> },
    /// `wait!(sleep(ms))`, `ms >= 1`.
    Sleep(u64),
    /// `wait!(events[e].wait())`, with `.timeout(ms)` if any.
    Wait { e: usize, timeout: Option<u64> },
    /// `events[e].set()`, then carry on without yielding.
    Set(usize),
    /// `events[e].clear()`, then carry on without yielding.
    Clear(usize),
    /// `wait!(semaphores[s].acquire())`, with `.timeout(ms)` if any; the task
    /// holds the permit until a later `Release(s)`, or until it ends (the
    /// permits drop, oldest first, when the coroutine returns).
    Acquire { s: usize, timeout: Option<u64> },
    /// `release()` of the oldest permit of semaphore `s` the task holds, if
    /// any, then carry on without yielding.
    Release(usize),
}

/// How a task ends: `return Ok(n)`, or `Err(Error::msg("t<id> failed"))`.
#[derive(Clone, Copy, Debug)]
enum End {
    Return(i64),
    Fail,
}

/// Queues (by maxsize, 0 unbounded, and how many items each holds at first,
/// which may exceed its maxsize), events (set at first or not), semaphores
/// (by their permits at first), then phases: each phase adds its tasks and
/// runs the manager until it returns; tasks left parked stay for the next
/// phase. `bound` is the `run_next` timeout of the pass-by-pass driver;
/// `seconds` writes every time as Python does, `f64` seconds, rather than as a
/// `Duration`.
#[derive(Clone, Debug)]
struct Program {
    maxsizes: Vec<usize>,
    initial: Vec<usize>,
    events: Vec<bool>,
    permits: Vec<usize>,
    phases: Vec<Vec<TaskTree>>,
    bound: Option<u64>,
    seconds: bool,
}

/// The items queue `q` holds at first.
fn initial_items(q: usize, count: usize) -> Vec<i64> {
    (0..count).map(|i| (9000 + 10 * q + i) as i64).collect()
}

/// A task with its id (preorder over the whole program) and concrete steps.
#[derive(Debug)]
struct Spec {
    id: usize,
    steps: Vec<Step>,
    end: End,
}

#[derive(Clone, Debug)]
enum Step {
    BareYield,
    YieldValue(i64),
    Add(Rc<Spec>),
    Child(Rc<Spec>),
    Get { q: usize, timeout: Option<u64> },
    Put { q: usize, item: i64, timeout: Option<u64> },
    Sleep(u64),
    Wait { e: usize, timeout: Option<u64> },
    Set(usize),
    Clear(usize),
    Acquire { s: usize, timeout: Option<u64> },
    Release(usize),
}

struct Compiled {
    maxsizes: Vec<usize>,
    initial: Vec<usize>,
    events: Vec<bool>,
    permits: Vec<usize>,
    phases: Vec<Vec<Rc<Spec>>>,
    seconds: bool,
}

fn compile(program: &Program) -> Compiled {
    fn spec(tree: &TaskTree, next_id: &mut usize) -> Rc<Spec> {
        let id = *next_id;
        *next_id += 1;
        let steps = tree
            .steps
            .iter()
            .enumerate()
            .map(|(i, step)| match step {
                StepTree::BareYield => Step::BareYield,
                StepTree::YieldValue(n) => Step::YieldValue(*n),
                StepTree::Add(t) => Step::Add(spec(t, next_id)),
                StepTree::Child(t) => Step::Child(spec(t, next_id)),
                StepTree::Get { q, timeout } => Step::Get {
                    q: *q,
                    timeout: *timeout,
                },
                StepTree::Put { q, timeout } => Step::Put {
                    q: *q,
                    item: (100 * id + i) as i64,
                    timeout: *timeout,
                },
                StepTree::Sleep(ms) => Step::Sleep(*ms),
                StepTree::Wait { e, timeout } => Step::Wait {
                    e: *e,
                    timeout: *timeout,
                },
                StepTree::Set(e) => Step::Set(*e),
                StepTree::Clear(e) => Step::Clear(*e),
                StepTree::Acquire { s, timeout } => Step::Acquire {
                    s: *s,
                    timeout: *timeout,
                },
                StepTree::Release(s) => Step::Release(*s),
            })
            .collect();
        Rc::new(Spec {
            id,
            steps,
            end: tree.end,
        })
    }
    let mut next_id = 0;
    Compiled {
        maxsizes: program.maxsizes.clone(),
        initial: program.initial.clone(),
        events: program.events.clone(),
        permits: program.permits.clone(),
        seconds: program.seconds,
        phases: program
            .phases
            .iter()
            .map(|phase| phase.iter().map(|t| spec(t, &mut next_id)).collect())
            .collect(),
    }
}

/// A span of virtual milliseconds, as a `Duration` or as `f64` seconds.
#[derive(Clone, Copy)]
enum Span {
    Duration(Duration),
    Seconds(f64),
}

impl Span {
    fn new(ms: u64, seconds: bool) -> Span {
        if seconds {
            Span::Seconds(ms as f64 / 1000.0)
        } else {
            Span::Duration(Duration::from_millis(ms))
        }
    }
}

impl multitask::IntoSeconds for Span {
    fn into_seconds(self) -> multitask::Seconds {
        match self {
            Span::Duration(d) => d.into_seconds(),
            Span::Seconds(s) => s.into_seconds(),
        }
    }
}

/// How the program is run.
#[derive(Clone, Copy, Debug)]
enum Driver {
    /// `run()`, called again after each top-level error.
    Run,
    /// `while has_runnable || has_io_waits || has_timeouts { run_next(bound) }`,
    /// logging `--` before each pass.
    RunNext(Option<u64>),
}

/// The pass marker of [`Driver::RunNext`].
const PASS: &str = "--";

/// More passes than any generated program needs: a driver that gets there
/// logs it and stops, so that a scheduler (or model) that never makes progress
/// fails the test instead of hanging it. `run()` itself cannot be bounded from
/// outside, so [`check`] runs the pass-by-pass driver first.
const MAX_PASSES: usize = 10_000;

fn stamp(elapsed: Duration) -> String {
    let nanos = elapsed.as_nanos();
    if nanos.is_multiple_of(1_000_000) {
        format!("@{}", nanos / 1_000_000)
    } else {
        format!("@{nanos}ns")
    }
}

/// The state at the end of a phase: `sync` is each event's flag and each
/// semaphore's free permits, shown only if the program has any of them.
fn end_line(
    phase: usize,
    counts: (usize, usize, usize),
    has: (bool, bool),
    queues: Vec<usize>,
    sync: (Vec<bool>, Vec<usize>),
) -> String {
    let (runnable, parked, timers) = counts;
    let (has_runnable, has_timeouts) = has;
    let mut line = format!(
        "end of phase {phase}: runnable={runnable} parked={parked} timers={timers} \
         has_runnable={has_runnable} has_timeouts={has_timeouts} queues={queues:?}"
    );
    let (events, permits) = sync;
    if !events.is_empty() || !permits.is_empty() {
        line += &format!(" events={events:?} permits={permits:?}");
    }
    line
}

// ---------------------------------------------------------------------------
// The real manager
// ---------------------------------------------------------------------------

struct World {
    /// Taken at the end of a run, to break the cycle manager -> parked task -> world.
    tm: RefCell<Option<TaskManager>>,
    clock: Clock,
    start: Instant,
    queues: Vec<Queue<i64>>,
    events: Vec<Event>,
    semaphores: Vec<Semaphore>,
    log: RefCell<Vec<String>>,
    seconds: bool,
}

impl World {
    fn event(&self, what: String) {
        let line = format!("{} {what}", stamp(self.clock.now() - self.start));
        self.log.borrow_mut().push(line);
    }

    fn span(&self, ms: u64) -> Span {
        Span::new(ms, self.seconds)
    }

    fn add(&self, task: Task<i64>) {
        self.tm
            .borrow()
            .as_ref()
            .expect("the manager is there while tasks run")
            .add(task);
    }
}

/// What a `wait!` gave back, as the log shows it.
fn show<T: std::fmt::Debug>(result: &multitask::Result<T>) -> String {
    match result {
        Ok(v) => format!("ok {v:?}"),
        Err(Error::Timeout) => "timeout".to_string(),
        Err(e) => format!("err {e}"),
    }
}

fn real_task(w: Rc<World>, spec: Rc<Spec>) -> Task<i64> {
    Task::new(
        #[coroutine]
        move |_| {
            let id = spec.id;
            w.event(format!("t{id} start"));
            // The permits this task holds, oldest first: they drop in that
            // order when the coroutine returns, before the manager sees its end.
            let mut held: Vec<(usize, Permit)> = Vec::new();
            for i in 0..spec.steps.len() {
                let step = spec.steps[i].clone();
                match step {
                    Step::BareYield => {
                        wait!();
                        w.event(format!("t{id} yielded"));
                    }
                    Step::YieldValue(n) => {
                        let got = wait!(value(n));
                        w.event(format!("t{id} value {}", show(&got)));
                    }
                    Step::Add(child) => {
                        w.event(format!("t{id} add t{}", child.id));
                        w.add(real_task(w.clone(), child));
                    }
                    Step::Child(child) => {
                        let cid = child.id;
                        let got = wait!(real_task(w.clone(), child));
                        w.event(format!("t{id} child t{cid} {}", show(&got)));
                    }
                    Step::Get { q, timeout } => {
                        let op = w.queues[q].get();
                        let op = match timeout {
                            Some(ms) => op.timeout(w.span(ms)),
                            None => op,
                        };
                        let got = wait!(op);
                        w.event(format!("t{id} get q{q} {}", show(&got)));
                    }
                    Step::Put { q, item, timeout } => {
                        let op = w.queues[q].put(item);
                        let op = match timeout {
                            Some(ms) => op.timeout(w.span(ms)),
                            None => op,
                        };
                        let got = wait!(op);
                        w.event(format!("t{id} put q{q} {item} {}", show(&got)));
                    }
                    Step::Sleep(ms) => {
                        let got = wait!(sleep(w.span(ms)));
                        w.event(format!("t{id} slept {ms} {}", show(&got)));
                    }
                    Step::Wait { e, timeout } => {
                        let op = w.events[e].wait();
                        let op = match timeout {
                            Some(ms) => op.timeout(w.span(ms)),
                            None => op,
                        };
                        let got = wait!(op);
                        w.event(format!("t{id} wait e{e} {}", show(&got)));
                    }
                    Step::Set(e) => {
                        w.event(format!("t{id} set e{e}"));
                        w.events[e].set();
                    }
                    Step::Clear(e) => {
                        w.event(format!("t{id} clear e{e}"));
                        w.events[e].clear();
                    }
                    Step::Acquire { s, timeout } => {
                        let op = w.semaphores[s].acquire();
                        let op = match timeout {
                            Some(ms) => op.timeout(w.span(ms)),
                            None => op,
                        };
                        let got = wait!(op);
                        w.event(format!("t{id} acquire s{s} {}", show(&got)));
                        if let Ok(permit) = got {
                            held.push((s, permit));
                        }
                    }
                    Step::Release(s) => match held.iter().position(|&(k, _)| k == s) {
                        Some(k) => {
                            w.event(format!("t{id} release s{s}"));
                            held.remove(k).1.release();
                        }
                        None => w.event(format!("t{id} release s{s} none")),
                    },
                }
            }
            match spec.end {
                End::Return(n) => {
                    w.event(format!("t{id} return {n}"));
                    Ok(n)
                }
                End::Fail => {
                    w.event(format!("t{id} fail"));
                    Err(Error::msg(format!("t{id} failed")))
                }
            }
        },
    )
}

fn run_real(program: &Compiled, driver: Driver) -> Vec<String> {
    let clock = Clock::manual();
    let tm = TaskManager::with_clock(clock.clone());
    let world = Rc::new(World {
        tm: RefCell::new(Some(tm.clone())),
        start: clock.now(),
        clock,
        queues: (program.maxsizes.iter().zip(&program.initial).enumerate())
            .map(|(q, (&maxsize, &count))| Queue::with_contents(initial_items(q, count), maxsize))
            .collect(),
        events: (program.events.iter())
            .map(|&set| {
                let event = Event::new();
                if set {
                    event.set();
                }
                event
            })
            .collect(),
        semaphores: program.permits.iter().map(|&n| Semaphore::new(n)).collect(),
        log: RefCell::new(Vec::new()),
        seconds: program.seconds,
    });
    for (k, phase) in program.phases.iter().enumerate() {
        for spec in phase {
            tm.add(real_task(world.clone(), spec.clone()));
        }
        match driver {
            Driver::Run => {
                while let Err(e) = tm.run() {
                    world.event(format!("run err {e}"));
                }
            }
            Driver::RunNext(bound) => {
                let mut passes = 0;
                while tm.has_runnable() || tm.has_io_waits() || tm.has_timeouts() {
                    passes += 1;
                    if passes > MAX_PASSES {
                        world
                            .log
                            .borrow_mut()
                            .push(format!("gave up after {MAX_PASSES} passes"));
                        break;
                    }
                    world.log.borrow_mut().push(PASS.to_string());
                    if let Err(e) = tm.run_next(bound.map(Duration::from_millis)) {
                        world.event(format!("run err {e}"));
                    }
                }
            }
        }
        let line = end_line(
            k,
            tm.__counts(),
            (tm.has_runnable(), tm.has_timeouts()),
            world.queues.iter().map(|q| q.len()).collect(),
            (
                world.events.iter().map(Event::is_set).collect(),
                world.semaphores.iter().map(Semaphore::available).collect(),
            ),
        );
        world.log.borrow_mut().push(line);
    }
    world.tm.borrow_mut().take();
    world.log.take()
}

// ---------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------

mod model {
    use std::collections::{BTreeMap, VecDeque};
    use std::rc::Rc;

    use super::{initial_items, End, Spec, Step};

    /// What a task is resumed with.
    #[derive(Clone, Debug)]
    pub enum Input {
        Unit,
        Val(i64),
        Timeout,
        Err(String),
        /// A permit of this semaphore.
        Permit(usize),
    }

    impl Input {
        fn show(&self) -> String {
            match self {
                Input::Unit => "ok ()".to_string(),
                Input::Permit(_) => "ok Permit".to_string(),
                Input::Val(n) => format!("ok {n}"),
                Input::Timeout => "timeout".to_string(),
                Input::Err(m) => format!("err {m}"),
            }
        }
    }

    /// One coroutine: its program, and the step it is suspended at (`None`: not started).
    struct Frame {
        spec: Rc<Spec>,
        at: Option<usize>,
        /// The semaphores whose permits it holds, oldest first.
        held: Vec<usize>,
    }

    impl Frame {
        fn new(spec: Rc<Spec>) -> Frame {
            Frame {
                spec,
                at: None,
                held: Vec::new(),
            }
        }
    }

    /// A task: the innermost child last; only the last frame is resumed.
    type Stack = Vec<Frame>;

    enum Op {
        Yield,
        Value(i64),
        Child(Rc<Spec>),
        Sleep(u64),
        Get { q: usize, timeout: Option<u64> },
        Put { q: usize, item: i64, timeout: Option<u64> },
        Wait { e: usize, timeout: Option<u64> },
        Acquire { s: usize, timeout: Option<u64> },
    }

    enum Outcome {
        Yielded(Op),
        Done(Result<i64, String>),
    }

    type Key = usize;
    /// `(deadline, order set)`: equal deadlines fire in the order they were set.
    type Timer = (u64, u64);

    enum Expiry {
        Sleep(Key),
        Queue(usize, Key),
        Event(usize, Key),
        Acquire(usize, Key),
    }

    struct Parked {
        stack: Stack,
        timer: Option<Timer>,
    }

    struct Queue {
        items: VecDeque<i64>,
        maxsize: usize,
        getters: VecDeque<Key>,
        putters: VecDeque<(Key, i64)>,
    }

    /// An event: its flag, and its waiters in the order they began to wait.
    struct Event {
        set: bool,
        waiters: VecDeque<Key>,
    }

    /// A semaphore: its free permits, and its waiters, FIFO.
    struct Semaphore {
        permits: usize,
        waiters: VecDeque<Key>,
    }

    pub struct Model {
        now: u64,
        runq: VecDeque<(Stack, Input)>,
        parked: BTreeMap<Key, Parked>,
        next_key: Key,
        timers: BTreeMap<Timer, Expiry>,
        next_seq: u64,
        queues: Vec<Queue>,
        events: Vec<Event>,
        semaphores: Vec<Semaphore>,
        pub log: Vec<String>,
    }

    impl Model {
        pub fn new(maxsizes: &[usize], initial: &[usize], events: &[bool], permits: &[usize]) -> Model {
            Model {
                now: 0,
                runq: VecDeque::new(),
                parked: BTreeMap::new(),
                next_key: 0,
                timers: BTreeMap::new(),
                next_seq: 0,
                queues: (maxsizes.iter().zip(initial).enumerate())
                    .map(|(q, (&maxsize, &count))| Queue {
                        items: initial_items(q, count).into(),
                        maxsize,
                        getters: VecDeque::new(),
                        putters: VecDeque::new(),
                    })
                    .collect(),
                events: (events.iter())
                    .map(|&set| Event {
                        set,
                        waiters: VecDeque::new(),
                    })
                    .collect(),
                semaphores: (permits.iter())
                    .map(|&permits| Semaphore {
                        permits,
                        waiters: VecDeque::new(),
                    })
                    .collect(),
                log: Vec::new(),
            }
        }

        pub fn event(&mut self, what: String) {
            self.log.push(format!("@{} {what}", self.now));
        }

        /// `add`: append with no input.
        pub fn add(&mut self, spec: Rc<Spec>) {
            self.enqueue(vec![Frame::new(spec)], Input::Unit);
        }

        pub fn has_runnable(&self) -> bool {
            !self.runq.is_empty()
        }

        pub fn has_timeouts(&self) -> bool {
            !self.timers.is_empty()
        }

        /// (runnable, parked, timers), as `TaskManager::__counts`.
        pub fn counts(&self) -> (usize, usize, usize) {
            (self.runq.len(), self.parked.len(), self.timers.len())
        }

        pub fn queue_lens(&self) -> Vec<usize> {
            self.queues.iter().map(|q| q.items.len()).collect()
        }

        /// Each event's flag and each semaphore's free permits.
        pub fn sync_state(&self) -> (Vec<bool>, Vec<usize>) {
            (
                self.events.iter().map(|e| e.set).collect(),
                self.semaphores.iter().map(|s| s.permits).collect(),
            )
        }

        /// `Event::set`: set the flag; every waiter, in the order they began
        /// to wait, to the back of the run queue with `()`.
        fn set(&mut self, e: usize) {
            self.events[e].set = true;
            for key in std::mem::take(&mut self.events[e].waiters) {
                self.wake(key, Input::Unit);
            }
        }

        /// `Permit::release` (or its drop): the permit goes to the first
        /// waiter, to the back of the run queue, or back to the count.
        fn release(&mut self, s: usize) {
            match self.semaphores[s].waiters.pop_front() {
                Some(key) => self.wake(key, Input::Permit(s)),
                None => self.semaphores[s].permits += 1,
            }
        }

        fn enqueue(&mut self, stack: Stack, input: Input) {
            self.runq.push_back((stack, input));
        }

        fn park(&mut self, stack: Stack) -> Key {
            let key = self.next_key;
            self.next_key += 1;
            self.parked.insert(key, Parked { stack, timer: None });
            key
        }

        fn set_timer(&mut self, key: Key, ms: u64, expiry: Expiry) {
            let timer = (self.now + ms, self.next_seq);
            self.next_seq += 1;
            self.timers.insert(timer, expiry);
            self.parked.get_mut(&key).expect("parked").timer = Some(timer);
        }

        /// Moves a parked task to the run queue, cancelling its timeout.
        fn wake(&mut self, key: Key, input: Input) {
            let parked = self.parked.remove(&key).expect("a waiter is parked");
            if let Some(timer) = parked.timer {
                self.timers.remove(&timer);
            }
            self.enqueue(parked.stack, input);
        }

        /// One `run_next(bound)` (there is no I/O, so step 1 never applies).
        pub fn run_next(&mut self, bound: Option<u64>) -> Result<(), String> {
            // Step 2: timeouts.
            if !self.timers.is_empty() {
                if self.runq.is_empty() {
                    let earliest = self.timers.keys().next().expect("non-empty").0;
                    let wait = earliest.saturating_sub(self.now);
                    self.now += bound.map_or(wait, |b| b.min(wait));
                }
                while let Some(entry) = self.timers.first_entry() {
                    if entry.key().0 > self.now {
                        break;
                    }
                    let (key, input) = match entry.remove() {
                        Expiry::Sleep(key) => (key, Input::Unit),
                        Expiry::Queue(q, key) => {
                            let queue = &mut self.queues[q];
                            queue.getters.retain(|&k| k != key);
                            queue.putters.retain(|&(k, _)| k != key);
                            (key, Input::Timeout)
                        }
                        Expiry::Event(e, key) => {
                            self.events[e].waiters.retain(|&k| k != key);
                            (key, Input::Timeout)
                        }
                        Expiry::Acquire(s, key) => {
                            self.semaphores[s].waiters.retain(|&k| k != key);
                            (key, Input::Timeout)
                        }
                    };
                    let parked = self.parked.remove(&key).expect("a timer's task is parked");
                    self.enqueue(parked.stack, input);
                }
            }
            // Step 3: exactly the tasks queued now.
            let count = self.runq.len();
            for _ in 0..count {
                let (mut stack, input) = self.runq.pop_front().expect("counted");
                let top = stack.last_mut().expect("a stack is never empty");
                match self.resume(top, input) {
                    Outcome::Yielded(op) => self.perform(stack, op),
                    Outcome::Done(result) => {
                        stack.pop();
                        if !stack.is_empty() {
                            let input = match result {
                                Ok(n) => Input::Val(n),
                                Err(m) => Input::Err(m),
                            };
                            self.enqueue(stack, input);
                        } else {
                            // A top-level task: its error ends the pass and leaves `run_next` as `Err`.
                            result?;
                        }
                    }
                }
            }
            Ok(())
        }

        /// Runs a frame from where it is suspended to its next yield or its end.
        fn resume(&mut self, frame: &mut Frame, input: Input) -> Outcome {
            let id = frame.spec.id;
            let mut i = match frame.at {
                None => {
                    self.event(format!("t{id} start"));
                    0
                }
                Some(at) => {
                    let what = match &frame.spec.steps[at] {
                        Step::BareYield => format!("t{id} yielded"),
                        Step::YieldValue(_) => format!("t{id} value {}", input.show()),
                        Step::Child(child) => format!("t{id} child t{} {}", child.id, input.show()),
                        Step::Get { q, .. } => format!("t{id} get q{q} {}", input.show()),
                        Step::Put { q, item, .. } => format!("t{id} put q{q} {item} {}", input.show()),
                        Step::Sleep(ms) => format!("t{id} slept {ms} {}", input.show()),
                        Step::Wait { e, .. } => format!("t{id} wait e{e} {}", input.show()),
                        Step::Acquire { s, .. } => {
                            if let Input::Permit(from) = input {
                                assert_eq!(from, *s, "a permit of the semaphore acquired");
                                frame.held.push(from);
                            }
                            format!("t{id} acquire s{s} {}", input.show())
                        }
                        Step::Add(_) | Step::Set(_) | Step::Clear(_) | Step::Release(_) => {
                            unreachable!("a plain call does not yield")
                        }
                    };
                    self.event(what);
                    at + 1
                }
            };
            loop {
                let Some(step) = frame.spec.steps.get(i) else {
                    frame.at = None;
                    let result = match frame.spec.end {
                        End::Return(n) => {
                            self.event(format!("t{id} return {n}"));
                            Ok(n)
                        }
                        End::Fail => {
                            self.event(format!("t{id} fail"));
                            Err(format!("t{id} failed"))
                        }
                    };
                    // The coroutine's permits drop as it returns, oldest
                    // first: before the manager enqueues its parent.
                    for s in std::mem::take(&mut frame.held) {
                        self.release(s);
                    }
                    return Outcome::Done(result);
                };
                let op = match step {
                    Step::Add(spec) => {
                        self.event(format!("t{id} add t{}", spec.id));
                        self.add(spec.clone());
                        i += 1;
                        continue;
                    }
                    Step::Set(e) => {
                        self.event(format!("t{id} set e{e}"));
                        self.set(*e);
                        i += 1;
                        continue;
                    }
                    Step::Clear(e) => {
                        self.event(format!("t{id} clear e{e}"));
                        self.events[*e].set = false;
                        i += 1;
                        continue;
                    }
                    Step::Release(s) => {
                        match frame.held.iter().position(|&k| k == *s) {
                            Some(k) => {
                                self.event(format!("t{id} release s{s}"));
                                frame.held.remove(k);
                                self.release(*s);
                            }
                            None => self.event(format!("t{id} release s{s} none")),
                        }
                        i += 1;
                        continue;
                    }
                    Step::BareYield => Op::Yield,
                    Step::YieldValue(n) => Op::Value(*n),
                    Step::Child(spec) => Op::Child(spec.clone()),
                    Step::Get { q, timeout } => Op::Get {
                        q: *q,
                        timeout: *timeout,
                    },
                    Step::Put { q, item, timeout } => Op::Put {
                        q: *q,
                        item: *item,
                        timeout: *timeout,
                    },
                    Step::Sleep(ms) => Op::Sleep(*ms),
                    Step::Wait { e, timeout } => Op::Wait {
                        e: *e,
                        timeout: *timeout,
                    },
                    Step::Acquire { s, timeout } => Op::Acquire {
                        s: *s,
                        timeout: *timeout,
                    },
                };
                frame.at = Some(i);
                return Outcome::Yielded(op);
            }
        }

        /// What the manager does with a yielded operation.
        fn perform(&mut self, mut stack: Stack, op: Op) {
            match op {
                Op::Yield => self.enqueue(stack, Input::Unit),
                Op::Value(n) => self.enqueue(stack, Input::Val(n)),
                Op::Child(spec) => {
                    stack.push(Frame::new(spec));
                    self.enqueue(stack, Input::Unit);
                }
                Op::Sleep(ms) => {
                    let key = self.park(stack);
                    self.set_timer(key, ms, Expiry::Sleep(key));
                }
                Op::Get { q, timeout } => {
                    if let Some(item) = self.queues[q].items.pop_front() {
                        self.enqueue(stack, Input::Val(item));
                        if let Some((putter, item)) = self.queues[q].putters.pop_front() {
                            self.queues[q].items.push_back(item);
                            self.wake(putter, Input::Unit);
                        }
                    } else {
                        let key = self.park(stack);
                        self.queues[q].getters.push_back(key);
                        if let Some(ms) = timeout {
                            self.set_timer(key, ms, Expiry::Queue(q, key));
                        }
                    }
                }
                Op::Put { q, item, timeout } => {
                    let queue = &self.queues[q];
                    if queue.maxsize > 0 && queue.items.len() >= queue.maxsize {
                        let key = self.park(stack);
                        self.queues[q].putters.push_back((key, item));
                        if let Some(ms) = timeout {
                            self.set_timer(key, ms, Expiry::Queue(q, key));
                        }
                    } else {
                        self.queues[q].items.push_back(item);
                        self.enqueue(stack, Input::Unit);
                        if let Some(getter) = self.queues[q].getters.pop_front() {
                            let head = self.queues[q].items.pop_front().expect("an item was just put");
                            self.wake(getter, Input::Val(head));
                        }
                    }
                }
                Op::Wait { e, timeout } => {
                    if self.events[e].set {
                        self.enqueue(stack, Input::Unit);
                    } else {
                        let key = self.park(stack);
                        self.events[e].waiters.push_back(key);
                        if let Some(ms) = timeout {
                            self.set_timer(key, ms, Expiry::Event(e, key));
                        }
                    }
                }
                Op::Acquire { s, timeout } => {
                    if self.semaphores[s].permits > 0 {
                        self.semaphores[s].permits -= 1;
                        self.enqueue(stack, Input::Permit(s));
                    } else {
                        let key = self.park(stack);
                        self.semaphores[s].waiters.push_back(key);
                        if let Some(ms) = timeout {
                            self.set_timer(key, ms, Expiry::Acquire(s, key));
                        }
                    }
                }
            }
        }
    }
}

fn run_model(program: &Compiled, driver: Driver) -> Vec<String> {
    let mut m = model::Model::new(&program.maxsizes, &program.initial, &program.events, &program.permits);
    for (k, phase) in program.phases.iter().enumerate() {
        for spec in phase {
            m.add(spec.clone());
        }
        let bound = match driver {
            Driver::Run => None,
            Driver::RunNext(bound) => bound,
        };
        // `run()` is `while runnable or waiting: run_next(None)`; there is no I/O.
        let mut passes = 0;
        while m.has_runnable() || m.has_timeouts() {
            passes += 1;
            if passes > MAX_PASSES {
                m.log.push(format!("gave up after {MAX_PASSES} passes"));
                break;
            }
            if let Driver::RunNext(_) = driver {
                m.log.push(PASS.to_string());
            }
            if let Err(e) = m.run_next(bound) {
                m.event(format!("run err {e}"));
            }
        }
        let line = end_line(
            k,
            m.counts(),
            (m.has_runnable(), m.has_timeouts()),
            m.queue_lens(),
            m.sync_state(),
        );
        m.log.push(line);
    }
    m.log
}

// ---------------------------------------------------------------------------
// Comparing
// ---------------------------------------------------------------------------

/// Both logs side by side, with the first difference marked.
fn side_by_side(real: &[String], model: &[String]) -> String {
    let first = (0..real.len().max(model.len()))
        .find(|&i| real.get(i) != model.get(i))
        .unwrap_or(usize::MAX);
    let mut out = format!("{:<4} {:<44} model\n", "", "real");
    for i in 0..real.len().max(model.len()) {
        let mark = if i == first { ">>" } else { "  " };
        let r = real.get(i).map_or("", |s| s.as_str());
        let m = model.get(i).map_or("", |s| s.as_str());
        out += &format!("{mark}{i:>3} {r:<44} {m}\n");
    }
    out
}

fn check(program: &Program) -> Result<(), String> {
    let compiled = compile(program);
    for driver in [Driver::RunNext(program.bound), Driver::Run] {
        let model = run_model(&compiled, driver);
        let real = run_real(&compiled, driver);
        if real != model {
            return Err(format!(
                "real manager and model disagree under {driver:?}\n{}",
                side_by_side(&real, &model)
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Generating programs
// ---------------------------------------------------------------------------

const QUEUES: usize = 3;
const EVENTS: usize = 2;
const SEMAPHORES: usize = 2;

fn timeout() -> impl Strategy<Value = Option<u64>> {
    prop_oneof![
        3 => Just(None),
        1 => Just(Some(0)),
        3 => (1u64..=4).prop_map(Some),
    ]
}

fn end() -> impl Strategy<Value = End> {
    prop_oneof![
        8 => (0i64..10).prop_map(End::Return),
        1 => Just(End::Fail),
    ]
}

/// A task whose adds and children nest at most `depth` deep.
fn task_tree(depth: u32) -> BoxedStrategy<TaskTree> {
    let leaf = prop_oneof![
        3 => Just(StepTree::BareYield),
        1 => (0i64..10).prop_map(StepTree::YieldValue),
        4 => (0..QUEUES, timeout()).prop_map(|(q, timeout)| StepTree::Get { q, timeout }),
        4 => (0..QUEUES, timeout()).prop_map(|(q, timeout)| StepTree::Put { q, timeout }),
        2 => (1u64..=4).prop_map(StepTree::Sleep),
        3 => (0..EVENTS, timeout()).prop_map(|(e, timeout)| StepTree::Wait { e, timeout }),
        2 => (0..EVENTS).prop_map(StepTree::Set),
        1 => (0..EVENTS).prop_map(StepTree::Clear),
        3 => (0..SEMAPHORES, timeout()).prop_map(|(s, timeout)| StepTree::Acquire { s, timeout }),
        2 => (0..SEMAPHORES).prop_map(StepTree::Release),
    ];
    let step = if depth == 0 {
        leaf.boxed()
    } else {
        let inner = task_tree(depth - 1);
        prop_oneof![
            12 => leaf,
            1 => inner.clone().prop_map(StepTree::Add),
            1 => inner.prop_map(StepTree::Child),
        ]
        .boxed()
    };
    (proptest::collection::vec(step, 0..=6), end())
        .prop_map(|(steps, end)| TaskTree { steps, end })
        .boxed()
}

fn program() -> impl Strategy<Value = Program> {
    let maxsizes = proptest::collection::vec(prop_oneof![Just(0usize), Just(1), Just(2)], QUEUES);
    let first = proptest::collection::vec(task_tree(2), 1..=4);
    let second = proptest::collection::vec(task_tree(1), 0..=2);
    let initial = proptest::collection::vec(prop_oneof![3 => Just(0usize), 1 => 1usize..=2], QUEUES);
    let events = proptest::collection::vec(prop_oneof![3 => Just(false), 1 => Just(true)], EVENTS);
    let permits = proptest::collection::vec(0usize..=2, SEMAPHORES);
    let bound = prop_oneof![Just(None), (1u64..=3).prop_map(Some)];
    (maxsizes, initial, events, permits, first, second, bound, any::<bool>()).prop_map(
        |(maxsizes, initial, events, permits, first, second, bound, seconds)| Program {
            maxsizes,
            initial,
            events,
            permits,
            phases: vec![first, second],
            bound,
            seconds,
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 6000,
        // Failures are kept as the fixed programs below, not in a file beside this one.
        failure_persistence: None,
        // ChaCha, the default, is most of the run time in a debug build.
        rng_algorithm: proptest::test_runner::RngAlgorithm::XorShift,
        ..ProptestConfig::default()
    })]

    #[test]
    fn real_manager_follows_the_model(program in program()) {
        check(&program).map_err(TestCaseError::fail)?;
    }
}

// ---------------------------------------------------------------------------
// Fixed programs: the tricky orders, with the expected log written out by hand
// from DESIGN.md §2 (which pins the model), then compared with the real manager.
// ---------------------------------------------------------------------------

fn task(steps: Vec<StepTree>, end: End) -> TaskTree {
    TaskTree { steps, end }
}

fn get(q: usize, timeout: Option<u64>) -> StepTree {
    StepTree::Get { q, timeout }
}

fn put(q: usize, timeout: Option<u64>) -> StepTree {
    StepTree::Put { q, timeout }
}

fn one_phase(maxsizes: &[usize], tasks: Vec<TaskTree>, bound: Option<u64>) -> Program {
    Program {
        maxsizes: maxsizes.to_vec(),
        initial: vec![0; maxsizes.len()],
        events: Vec::new(),
        permits: Vec::new(),
        phases: vec![tasks],
        bound,
        seconds: false,
    }
}

/// Checks the pass-by-pass log of the model against `expected`, then the real
/// manager against the model under both drivers.
fn expect(program: Program, expected: &[&str]) {
    let model = run_model(&compile(&program), Driver::RunNext(program.bound));
    assert_eq!(
        model,
        expected,
        "the model does not follow DESIGN.md §2:\n{}",
        model.join("\n")
    );
    if let Err(e) = check(&program) {
        panic!("{e}");
    }
}

#[test]
fn get_on_empty_then_put() {
    use StepTree::*;
    let program = one_phase(
        &[0],
        vec![
            task(vec![get(0, None), BareYield], End::Return(0)),
            task(vec![put(0, None)], End::Return(1)),
        ],
        None,
    );
    expect(
        program,
        &[
            "--",
            "@0 t0 start", // the queue is empty: t0 waits
            "@0 t1 start", // room: t1 is enqueued, then t0 gets the head
            "--",
            "@0 t1 put q0 100 ok ()",
            "@0 t1 return 1",
            "@0 t0 get q0 ok 100",
            "--",
            "@0 t0 yielded",
            "@0 t0 return 0",
            "end of phase 0: runnable=0 parked=0 timers=0 has_runnable=false has_timeouts=false queues=[0]",
        ],
    );
}

#[test]
fn put_on_full_then_get() {
    use StepTree::*;
    let program = one_phase(
        &[1],
        vec![
            task(vec![put(0, None), put(0, None)], End::Return(0)),
            task(vec![BareYield, get(0, None), get(0, None)], End::Return(0)),
        ],
        None,
    );
    expect(
        program,
        &[
            "--",
            "@0 t0 start",
            "@0 t1 start",
            "--",
            "@0 t0 put q0 0 ok ()", // then puts 1 on a full queue: waits
            "@0 t1 yielded",        // gets 0: t1 enqueued, then t0's 1 moves in and t0 is enqueued
            "--",
            "@0 t1 get q0 ok 0",
            "@0 t0 put q0 1 ok ()",
            "@0 t0 return 0",
            "--",
            "@0 t1 get q0 ok 1",
            "@0 t1 return 0",
            "end of phase 0: runnable=0 parked=0 timers=0 has_runnable=false has_timeouts=false queues=[0]",
        ],
    );
}

#[test]
fn several_getters_and_putters_are_served_in_order() {
    let program = one_phase(
        &[0, 1],
        vec![
            task(vec![get(0, None)], End::Return(0)),
            task(vec![get(0, None)], End::Return(0)),
            task(vec![put(1, None), put(0, None), put(0, None)], End::Return(0)),
            task(vec![put(1, None)], End::Return(0)),
            task(vec![get(1, None), get(1, None)], End::Return(0)),
        ],
        None,
    );
    expect(
        program,
        &[
            "--",
            "@0 t0 start",
            "@0 t1 start",
            "@0 t2 start", // q1 has room: 200 goes in
            "@0 t3 start", // q1 is full: t3 waits with 300
            "@0 t4 start", // takes 200; t3's 300 moves in
            "--",
            "@0 t2 put q1 200 ok ()", // 201 to q0: handed to t0
            "@0 t4 get q1 ok 200",    // takes 300 (t4 was enqueued before t3)
            "@0 t3 put q1 300 ok ()",
            "@0 t3 return 0",
            "--",
            "@0 t2 put q0 201 ok ()", // 202 to q0: handed to t1
            "@0 t0 get q0 ok 201",
            "@0 t0 return 0",
            "@0 t4 get q1 ok 300",
            "@0 t4 return 0",
            "--",
            "@0 t2 put q0 202 ok ()",
            "@0 t2 return 0",
            "@0 t1 get q0 ok 202",
            "@0 t1 return 0",
            "end of phase 0: runnable=0 parked=0 timers=0 has_runnable=false has_timeouts=false queues=[0, 0]",
        ],
    );
}

#[test]
fn a_timeout_that_expires_with_the_putters_sleep_wins() {
    // The getter's timeout and the putter's sleep both expire at 2, the getter's
    // set first: both fire in the same step 2, before the putter runs again.
    let program = one_phase(
        &[0],
        vec![
            task(vec![get(0, Some(2))], End::Return(0)),
            task(vec![StepTree::Sleep(2), put(0, None)], End::Return(0)),
        ],
        None,
    );
    expect(
        program,
        &[
            "--",
            "@0 t0 start",
            "@0 t1 start",
            "--",
            "@2 t0 get q0 timeout",
            "@2 t0 return 0",
            "@2 t1 slept 2 ok ()", // puts: no getter any more
            "--",
            "@2 t1 put q0 101 ok ()",
            "@2 t1 return 0",
            "end of phase 0: runnable=0 parked=0 timers=0 has_runnable=false has_timeouts=false queues=[1]",
        ],
    );
    // The sleep set first: still both expire in one step 2, and the getter is
    // withdrawn before the putter runs.
    let program = one_phase(
        &[0],
        vec![
            task(vec![StepTree::Sleep(2), put(0, None)], End::Return(0)),
            task(vec![get(0, Some(2))], End::Return(0)),
        ],
        None,
    );
    expect(
        program,
        &[
            "--",
            "@0 t0 start",
            "@0 t1 start",
            "--",
            "@2 t0 slept 2 ok ()",
            "@2 t1 get q0 timeout",
            "@2 t1 return 0",
            "--",
            "@2 t0 put q0 1 ok ()",
            "@2 t0 return 0",
            "end of phase 0: runnable=0 parked=0 timers=0 has_runnable=false has_timeouts=false queues=[1]",
        ],
    );
}

#[test]
fn a_hand_off_cancels_the_timeout() {
    let program = one_phase(
        &[0],
        vec![
            task(vec![StepTree::Sleep(2), put(0, None)], End::Return(0)),
            task(vec![get(0, Some(3)), StepTree::Sleep(4)], End::Return(0)),
        ],
        None,
    );
    expect(
        program,
        &[
            "--",
            "@0 t0 start",
            "@0 t1 start",
            "--",
            "@2 t0 slept 2 ok ()", // hands 1 to t1, whose timeout (at 3) is cancelled
            "--",
            "@2 t0 put q0 1 ok ()",
            "@2 t0 return 0",
            "@2 t1 get q0 ok 1",
            "--",
            "@6 t1 slept 4 ok ()",
            "@6 t1 return 0",
            "end of phase 0: runnable=0 parked=0 timers=0 has_runnable=false has_timeouts=false queues=[0]",
        ],
    );
}

#[test]
fn a_put_that_times_out_drops_its_item() {
    let program = one_phase(
        &[1],
        vec![
            task(vec![put(0, None), put(0, Some(1)), put(0, Some(5))], End::Return(0)),
            task(vec![StepTree::Sleep(3), get(0, None), get(0, None)], End::Return(0)),
        ],
        None,
    );
    expect(
        program,
        &[
            "--",
            "@0 t0 start",
            "@0 t1 start",
            "--",
            "@0 t0 put q0 0 ok ()", // 1 waits, until 1
            "--",
            "@1 t0 put q0 1 timeout", // 2 waits, until 6
            "--",
            "@3 t1 slept 3 ok ()", // gets 0; 2 moves in
            "--",
            "@3 t1 get q0 ok 0",
            "@3 t0 put q0 2 ok ()",
            "@3 t0 return 0",
            "--",
            "@3 t1 get q0 ok 2",
            "@3 t1 return 0",
            "end of phase 0: runnable=0 parked=0 timers=0 has_runnable=false has_timeouts=false queues=[0]",
        ],
    );
}

#[test]
fn a_zero_timeout_fires_at_the_next_timeout_check() {
    // A put in the same pass beats it: the getter is served and its timer cancelled.
    let program = one_phase(
        &[0],
        vec![
            task(vec![get(0, Some(0))], End::Return(0)),
            task(vec![put(0, None)], End::Return(0)),
        ],
        None,
    );
    expect(
        program,
        &[
            "--",
            "@0 t0 start",
            "@0 t1 start",
            "--",
            "@0 t1 put q0 100 ok ()",
            "@0 t1 return 0",
            "@0 t0 get q0 ok 100",
            "@0 t0 return 0",
            "end of phase 0: runnable=0 parked=0 timers=0 has_runnable=false has_timeouts=false queues=[0]",
        ],
    );
    // A put one pass later is too late, though no time has passed.
    let program = one_phase(
        &[0],
        vec![
            task(vec![get(0, Some(0))], End::Return(0)),
            task(vec![StepTree::BareYield, put(0, None)], End::Return(0)),
        ],
        None,
    );
    expect(
        program,
        &[
            "--",
            "@0 t0 start",
            "@0 t1 start",
            "--",
            "@0 t1 yielded",
            "@0 t0 get q0 timeout",
            "@0 t0 return 0",
            "--",
            "@0 t1 put q0 101 ok ()",
            "@0 t1 return 0",
            "end of phase 0: runnable=0 parked=0 timers=0 has_runnable=false has_timeouts=false queues=[1]",
        ],
    );
    // A zero-timeout put on a full queue, with nothing else runnable.
    let program = one_phase(
        &[1],
        vec![task(vec![put(0, None), put(0, Some(0))], End::Return(0))],
        None,
    );
    expect(
        program,
        &[
            "--",
            "@0 t0 start",
            "--",
            "@0 t0 put q0 0 ok ()",
            "--",
            "@0 t0 put q0 1 timeout",
            "@0 t0 return 0",
            "end of phase 0: runnable=0 parked=0 timers=0 has_runnable=false has_timeouts=false queues=[1]",
        ],
    );
}

#[test]
fn equal_deadlines_fire_in_the_order_they_were_set() {
    use StepTree::*;
    let program = one_phase(
        &[0],
        vec![
            task(vec![Sleep(3)], End::Return(0)),
            task(vec![Sleep(1), Sleep(2)], End::Return(0)),
            task(vec![get(0, Some(3))], End::Return(0)),
        ],
        None,
    );
    expect(
        program,
        &[
            "--",
            "@0 t0 start",
            "@0 t1 start",
            "@0 t2 start",
            "--",
            "@1 t1 slept 1 ok ()", // its second deadline, 3, is set after t0's and t2's
            "--",
            "@3 t0 slept 3 ok ()",
            "@3 t0 return 0",
            "@3 t2 get q0 timeout",
            "@3 t2 return 0",
            "@3 t1 slept 2 ok ()",
            "@3 t1 return 0",
            "end of phase 0: runnable=0 parked=0 timers=0 has_runnable=false has_timeouts=false queues=[0]",
        ],
    );
}

#[test]
fn run_next_sleeps_no_longer_than_its_timeout() {
    let program = one_phase(&[0], vec![task(vec![StepTree::Sleep(3)], End::Return(0))], Some(2));
    expect(
        program,
        &[
            "--",
            "@0 t0 start",
            "--", // to 2: nothing due
            "--", // to 3
            "@3 t0 slept 3 ok ()",
            "@3 t0 return 0",
            "end of phase 0: runnable=0 parked=0 timers=0 has_runnable=false has_timeouts=false queues=[0]",
        ],
    );
}

#[test]
fn added_tasks_and_children_each_cost_a_pass() {
    use StepTree::*;
    let child = task(vec![], End::Return(5));
    let failing = task(vec![BareYield], End::Fail);
    let program = one_phase(
        &[0],
        vec![
            task(
                vec![
                    Add(task(vec![BareYield], End::Return(0))),
                    BareYield,
                    Child(child),
                    Child(failing),
                ],
                End::Return(0),
            ),
            task(vec![YieldValue(7)], End::Return(0)),
        ],
        None,
    );
    expect(
        program,
        &[
            "--",
            "@0 t0 start",
            "@0 t0 add t1", // t1 runs next pass, ahead of t0's continuation
            "@0 t4 start",
            "--",
            "@0 t1 start",
            "@0 t0 yielded", // t2 is enqueued, with t0 below it
            "@0 t4 value ok 7",
            "@0 t4 return 0",
            "--",
            "@0 t1 yielded",
            "@0 t1 return 0",
            "@0 t2 start",
            "@0 t2 return 5", // t0 is enqueued with 5
            "--",
            "@0 t0 child t2 ok 5",
            "--",
            "@0 t3 start",
            "--",
            "@0 t3 yielded",
            "@0 t3 fail",
            "--",
            "@0 t0 child t3 err t3 failed",
            "@0 t0 return 0",
            "end of phase 0: runnable=0 parked=0 timers=0 has_runnable=false has_timeouts=false queues=[0]",
        ],
    );
}

#[test]
fn a_top_level_error_ends_the_pass_and_run_carries_on() {
    use StepTree::*;
    let program = one_phase(
        &[0],
        vec![
            task(vec![], End::Fail),
            task(vec![BareYield], End::Return(0)),
            task(vec![get(0, None)], End::Return(0)),
        ],
        None,
    );
    expect(
        program,
        &[
            "--",
            "@0 t0 start",
            "@0 t0 fail",
            "@0 run err t0 failed", // t1 and t2 have not run in this pass
            "--",
            "@0 t1 start",
            "@0 t2 start", // waits for ever: run returns with it parked
            "--",
            "@0 t1 yielded",
            "@0 t1 return 0",
            "end of phase 0: runnable=0 parked=1 timers=0 has_runnable=false has_timeouts=false queues=[0]",
        ],
    );
}

#[test]
fn a_parked_getter_is_not_lost_between_runs() {
    let program = Program {
        maxsizes: vec![0],
        initial: vec![0],
        events: Vec::new(),
        permits: Vec::new(),
        phases: vec![
            vec![task(vec![get(0, None)], End::Return(0))],
            vec![task(vec![put(0, None)], End::Return(0))],
        ],
        bound: None,
        seconds: false,
    };
    expect(
        program,
        &[
            "--",
            "@0 t0 start",
            "end of phase 0: runnable=0 parked=1 timers=0 has_runnable=false has_timeouts=false queues=[0]",
            "--",
            "@0 t1 start",
            "--",
            "@0 t1 put q0 100 ok ()",
            "@0 t1 return 0",
            "@0 t0 get q0 ok 100",
            "@0 t0 return 0",
            "end of phase 1: runnable=0 parked=0 timers=0 has_runnable=false has_timeouts=false queues=[0]",
        ],
    );
}

#[test]
fn initial_contents_over_maxsize() {
    let program = Program {
        maxsizes: vec![1],
        initial: vec![2],
        events: Vec::new(),
        permits: Vec::new(),
        phases: vec![vec![
            task(vec![put(0, None)], End::Return(0)),
            task(vec![get(0, None), get(0, None), get(0, None)], End::Return(0)),
        ]],
        bound: None,
        seconds: true,
    };
    expect(
        program,
        &[
            "--",
            "@0 t0 start", // full: waits with 0
            "@0 t1 start", // takes 9000; 0 moves in, over maxsize still
            "--",
            "@0 t1 get q0 ok 9000",
            "@0 t0 put q0 0 ok ()",
            "@0 t0 return 0",
            "--",
            "@0 t1 get q0 ok 9001",
            "--",
            "@0 t1 get q0 ok 0",
            "@0 t1 return 0",
            "end of phase 0: runnable=0 parked=0 timers=0 has_runnable=false has_timeouts=false queues=[0]",
        ],
    );
}

fn event_wait(e: usize, timeout: Option<u64>) -> StepTree {
    StepTree::Wait { e, timeout }
}

fn acquire(s: usize, timeout: Option<u64>) -> StepTree {
    StepTree::Acquire { s, timeout }
}

/// A program with no queues, these events and semaphores, and one phase.
fn sync_phase(events: &[bool], permits: &[usize], tasks: Vec<TaskTree>) -> Program {
    Program {
        events: events.to_vec(),
        permits: permits.to_vec(),
        ..one_phase(&[], tasks, None)
    }
}

#[test]
fn set_wakes_the_waiters_in_order_and_a_timed_out_one_is_gone() {
    use StepTree::*;
    let program = sync_phase(
        &[false],
        &[],
        vec![
            task(vec![event_wait(0, None)], End::Return(0)),
            task(vec![event_wait(0, Some(1))], End::Return(0)),
            task(vec![event_wait(0, None)], End::Return(0)),
            task(
                vec![Sleep(2), Set(0), event_wait(0, None), Clear(0), event_wait(0, Some(1))],
                End::Return(0),
            ),
        ],
    );
    expect(
        program,
        &[
            "--",
            "@0 t0 start", // not set: t0, t1 (until 1) and t2 wait, in that order
            "@0 t1 start",
            "@0 t2 start",
            "@0 t3 start",
            "--",
            "@1 t1 wait e0 timeout", // withdrawn from the event's waiters
            "@1 t1 return 0",
            "--",
            "@2 t3 slept 2 ok ()",
            "@2 t3 set e0", // t0 then t2 to the back of the run queue; then t3's wait, set: behind them
            "--",
            "@2 t0 wait e0 ok ()",
            "@2 t0 return 0",
            "@2 t2 wait e0 ok ()",
            "@2 t2 return 0",
            "@2 t3 wait e0 ok ()",
            "@2 t3 clear e0", // waits again, until 3
            "--",
            "@3 t3 wait e0 timeout",
            "@3 t3 return 0",
            "end of phase 0: runnable=0 parked=0 timers=0 has_runnable=false has_timeouts=false queues=[] \
             events=[false] permits=[]",
        ],
    );
}

#[test]
fn a_release_hands_the_permit_to_the_first_waiter_still_waiting() {
    use StepTree::*;
    let program = sync_phase(
        &[],
        &[1],
        vec![
            task(vec![acquire(0, None), Sleep(2), Release(0), Release(0)], End::Return(0)),
            task(vec![acquire(0, None)], End::Return(0)),
            task(vec![acquire(0, Some(1))], End::Return(0)),
            task(vec![acquire(0, None), Release(0)], End::Return(0)),
        ],
    );
    expect(
        program,
        &[
            "--",
            "@0 t0 start", // takes the permit: still to the back of the run queue
            "@0 t1 start", // none free: t1, t2 (until 1) and t3 wait, in that order
            "@0 t2 start",
            "@0 t3 start",
            "--",
            "@0 t0 acquire s0 ok Permit",
            "--",
            "@1 t2 acquire s0 timeout",
            "@1 t2 return 0",
            "--",
            "@2 t0 slept 2 ok ()",
            "@2 t0 release s0", // to t1: t2 is gone
            "@2 t0 release s0 none",
            "@2 t0 return 0",
            "--",
            "@2 t1 acquire s0 ok Permit",
            "@2 t1 return 0", // its permit drops: to t3
            "--",
            "@2 t3 acquire s0 ok Permit",
            "@2 t3 release s0", // no waiter: back to the count
            "@2 t3 return 0",
            "end of phase 0: runnable=0 parked=0 timers=0 has_runnable=false has_timeouts=false queues=[] \
             events=[] permits=[1]",
        ],
    );
}

#[test]
fn a_childs_permits_drop_oldest_first_before_its_parent_is_enqueued() {
    use StepTree::*;
    let child = task(vec![acquire(0, None), acquire(1, None)], End::Return(5));
    let program = sync_phase(
        &[],
        &[1, 1],
        vec![
            task(vec![Child(child)], End::Return(0)),
            task(vec![BareYield, BareYield, acquire(1, None)], End::Return(0)),
            task(vec![BareYield, BareYield, acquire(0, None)], End::Return(0)),
        ],
    );
    expect(
        program,
        &[
            "--",
            "@0 t0 start",
            "@0 t2 start",
            "@0 t3 start",
            "--",
            "@0 t1 start", // takes s0's permit
            "@0 t2 yielded",
            "@0 t3 yielded",
            "--",
            "@0 t1 acquire s0 ok Permit", // takes s1's permit
            "@0 t2 yielded",              // waits for s1
            "@0 t3 yielded",              // waits for s0
            "--",
            "@0 t1 acquire s1 ok Permit",
            "@0 t1 return 5", // s0's permit to t3, s1's to t2, then t0 is enqueued with 5
            "--",
            "@0 t3 acquire s0 ok Permit",
            "@0 t3 return 0",
            "@0 t2 acquire s1 ok Permit",
            "@0 t2 return 0",
            "@0 t0 child t1 ok 5",
            "@0 t0 return 0",
            "end of phase 0: runnable=0 parked=0 timers=0 has_runnable=false has_timeouts=false queues=[] \
             events=[] permits=[1, 1]",
        ],
    );
}
