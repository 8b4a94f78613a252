//! The floor under each micro benchmark: the same work on a bare run queue
//! of boxed coroutines (`VecDeque::pop_front`, `resume`, `push_back`, and
//! nothing else), with no scheduler around it. What multitask costs above
//! these figures is the scheduler's own overhead.
//!
//! The coroutines resume with `()` and yield `()` (the sleepers' yield their
//! `Duration`): the strictest floor, as the rerun defined it. With
//! multitask's own types (`Input` in, `Operation` out, a `Value` made for
//! each resume) a switch costs about 50 instructions more (108 against 55 per
//! switch when this was written), which is part of what multitask pays.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::ops::{Coroutine, CoroutineState};
use std::pin::Pin;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// A boxed coroutine that resumes with and yields nothing.
type Coro = Pin<Box<dyn Coroutine<(), Yield = (), Return = ()>>>;

/// Runs the queue until every coroutine has returned: pop, resume, and push
/// back whatever yielded.
fn drain(mut q: VecDeque<Coro>) {
    while let Some(mut c) = q.pop_front() {
        if let CoroutineState::Yielded(_) = c.as_mut().resume(()) {
            q.push_back(c);
        }
    }
}

/// ns per switch: `tasks` coroutines each yielding `total / tasks` times;
/// the clock starts after every coroutine has run once.
pub fn switch(tasks: usize, total: usize) -> f64 {
    let k = (total / tasks).max(10);
    let mut q: VecDeque<Coro> = (0..tasks)
        .map(|_| -> Coro {
            Box::pin(
                #[coroutine]
                move |_: ()| {
                    for _ in 0..k {
                        yield;
                    }
                },
            )
        })
        .collect();
    for _ in 0..tasks {
        let mut c = q.pop_front().expect("a coroutine");
        let _ = c.as_mut().resume(());
        q.push_back(c);
    }
    let t0 = Instant::now();
    drain(q);
    t0.elapsed().as_nanos() as f64 / (tasks * (k - 1)) as f64
}

/// ns per task to box `n` trivial coroutines, queue them and run each to its end.
pub fn spawn(n: usize) -> f64 {
    let t0 = Instant::now();
    let q: VecDeque<Coro> = (0..n)
        .map(|_| -> Coro {
            Box::pin(
                #[coroutine]
                |_: ()| {
                    if false {
                        yield;
                    }
                },
            )
        })
        .collect();
    drain(q);
    t0.elapsed().as_nanos() as f64 / n as f64
}

/// A queue of size 1 shared by the two ping-pong coroutines.
type Slot = Rc<RefCell<VecDeque<u64>>>;

/// ns per round trip: two coroutines and two queues of size 1, as
/// `micro::pingpong_multitask`, where every put and get costs one pass (a
/// yield) and a put into a full queue, or a get from an empty one, yields
/// until it can go on.
pub fn pingpong(round_trips: usize) -> f64 {
    let (ping, pong): (Slot, Slot) = Default::default();
    let (ping2, pong2) = (ping.clone(), pong.clone());
    let n = round_trips as u64;
    let a: Coro = Box::pin(
        #[coroutine]
        move |_: ()| {
            for i in 0..n {
                while !ping.borrow().is_empty() {
                    yield;
                }
                ping.borrow_mut().push_back(i);
                yield;
                let back = loop {
                    if let Some(v) = pong.borrow_mut().pop_front() {
                        break v;
                    }
                    yield;
                };
                yield;
                assert_eq!(back, i);
            }
        },
    );
    let b: Coro = Box::pin(
        #[coroutine]
        move |_: ()| {
            for _ in 0..n {
                let item = loop {
                    if let Some(v) = ping2.borrow_mut().pop_front() {
                        break v;
                    }
                    yield;
                };
                yield;
                while !pong2.borrow().is_empty() {
                    yield;
                }
                pong2.borrow_mut().push_back(item);
                yield;
            }
        },
    );
    let t0 = Instant::now();
    drain(VecDeque::from([a, b]));
    t0.elapsed().as_nanos() as f64 / round_trips as f64
}

/// A coroutine that yields how long it sleeps.
type Sleeper = Pin<Box<dyn Coroutine<(), Yield = Duration, Return = ()>>>;

/// The sleepers' overhead in ms on a bare run queue with a binary heap of
/// deadlines: each coroutine yields its sleep once; the deadline is fixed
/// then; when the queue is empty the thread sleeps until the earliest
/// deadline and every expired sleeper is queued again.
pub fn sleepers(sleeps: Vec<Duration>, span: Duration) -> f64 {
    let t0 = Instant::now();
    let mut coros: Vec<Sleeper> = sleeps
        .into_iter()
        .map(|d| -> Sleeper {
            Box::pin(
                #[coroutine]
                move |_: ()| {
                    yield d;
                },
            )
        })
        .collect();
    let mut q: VecDeque<usize> = (0..coros.len()).collect();
    let mut timers: BinaryHeap<Reverse<(Instant, usize)>> = BinaryHeap::new();
    loop {
        while let Some(i) = q.pop_front() {
            if let CoroutineState::Yielded(d) = coros[i].as_mut().resume(()) {
                timers.push(Reverse((Instant::now() + d, i)));
            }
        }
        let Some(&Reverse((first, _))) = timers.peek() else {
            break;
        };
        std::thread::sleep(first.saturating_duration_since(Instant::now()));
        let now = Instant::now();
        while let Some(&Reverse((deadline, i))) = timers.peek() {
            if deadline > now {
                break;
            }
            timers.pop();
            q.push_back(i);
        }
    }
    (t0.elapsed().as_secs_f64() - span.as_secs_f64()) * 1e3
}

/// Parks `n` boxed coroutines, each waiting on a queue of its own (`own`) or
/// all on one shared queue: each runs up to its wait, then lies in a `Vec`
/// (the parking lot); the queues' other handles are kept in another.
/// Returns what must stay alive while the memory is read.
pub fn park(n: usize, own: bool) -> Box<dyn std::any::Any> {
    let shared: Slot = Default::default();
    let mut handles: Vec<Slot> = Vec::with_capacity(if own { n } else { 1 });
    let mut parked: Vec<Coro> = Vec::with_capacity(n);
    if !own {
        handles.push(shared.clone());
    }
    for _ in 0..n {
        let queue = if own {
            let q: Slot = Default::default();
            handles.push(q.clone());
            q
        } else {
            shared.clone()
        };
        let mut c: Coro = Box::pin(
            #[coroutine]
            move |_: ()| {
                while queue.borrow().is_empty() {
                    yield;
                }
            },
        );
        let _ = c.as_mut().resume(());
        parked.push(c);
    }
    Box::new((parked, handles))
}
