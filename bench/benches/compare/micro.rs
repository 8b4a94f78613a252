//! Scheduler micro-benchmarks: switch, spawn, queue ping-pong, sleepers.
//!
//! Each function runs one measurement and returns one figure. The tokio side
//! runs on a `current_thread` runtime with no driver it does not need (no I/O
//! driver anywhere here, the timer only for the sleepers), tasks spawned with
//! `LocalSet::spawn_local`: the cheapest tokio setup for this work (measured
//! with `--tokio-variants`: `Runtime::spawn` costs about 30% more per spawn
//! and the same per switch).

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use multitask::{sleep, wait, Queue, Task, TaskManager};
use tokio::task::LocalSet;

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime")
}

fn ns_per(elapsed: Duration, count: usize) -> f64 {
    elapsed.as_nanos() as f64 / count as f64
}

/// A yield that wakes the task at once, so it goes to the back of the run
/// queue: what multitask's bare `yield` does. tokio's own `yield_now` defers
/// the wake until the scheduler has polled its driver, which costs more; this
/// gives tokio its cheapest switch.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// The tokio yield used by the switch benchmark; see [`YieldOnce`].
pub async fn tokio_yield(use_yield_now: bool) {
    if use_yield_now {
        tokio::task::yield_now().await
    } else {
        YieldOnce(false).await
    }
}

/// How many yields each of `tasks` tasks makes so that about `total` switches happen.
fn per_task(tasks: usize, total: usize) -> usize {
    (total / tasks).max(10)
}

/// ns per yield-and-resume with `tasks` tasks, each yielding in a loop. The
/// clock starts when the last task first runs (all tasks exist and have
/// started), so spawning is not counted.
pub fn switch_multitask(tasks: usize, total: usize) -> f64 {
    let k = per_task(tasks, total);
    let tm = TaskManager::new();
    let start: Rc<Cell<Option<Instant>>> = Rc::new(Cell::new(None));
    for i in 0..tasks {
        let start = start.clone();
        let last = i == tasks - 1;
        tm.add(Task::new(
            #[coroutine]
            move |_| {
                if last {
                    start.set(Some(Instant::now()));
                }
                for _ in 0..k {
                    wait!();
                }
                Ok(())
            },
        ));
    }
    tm.run().expect("switch tasks");
    ns_per(start.get().expect("started").elapsed(), tasks * k)
}

/// The same with tokio: `tasks` tasks spawned on a `LocalSet`, each yielding `k` times.
pub fn switch_tokio(tasks: usize, total: usize, use_yield_now: bool) -> f64 {
    let k = per_task(tasks, total);
    let rt = tokio_rt();
    let local = LocalSet::new();
    let start: Rc<Cell<Option<Instant>>> = Rc::new(Cell::new(None));
    for i in 0..tasks {
        let start = start.clone();
        let last = i == tasks - 1;
        local.spawn_local(async move {
            if last {
                start.set(Some(Instant::now()));
            }
            for _ in 0..k {
                tokio_yield(use_yield_now).await;
            }
        });
    }
    rt.block_on(local);
    ns_per(start.get().expect("started").elapsed(), tasks * k)
}

/// ns to add `n` trivial tasks to a manager and run them all to completion.
pub fn spawn_multitask(n: usize) -> f64 {
    let tm = TaskManager::new();
    let t0 = Instant::now();
    for _ in 0..n {
        tm.add(Task::new(
            #[coroutine]
            |_| {
                if false {
                    wait!();
                }
                Ok(())
            },
        ));
    }
    tm.run().expect("spawned tasks");
    ns_per(t0.elapsed(), n)
}

/// The same with tokio: `n` empty tasks spawned on a `LocalSet`, then run.
pub fn spawn_tokio(n: usize) -> f64 {
    let rt = tokio_rt();
    let local = LocalSet::new();
    let t0 = Instant::now();
    for _ in 0..n {
        local.spawn_local(async {});
    }
    rt.block_on(local);
    ns_per(t0.elapsed(), n)
}

/// ns per round trip: task A puts `i` on one queue and gets it back from
/// another; task B gets from the first and puts on the second.
pub fn pingpong_multitask(round_trips: usize) -> f64 {
    let tm = TaskManager::new();
    let (ping, pong): (Queue<u64>, Queue<u64>) = (Queue::new(), Queue::new());
    let (ping2, pong2) = (ping.clone(), pong.clone());
    let n = round_trips as u64;
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            for i in 0..n {
                wait!(ping.put(i))?;
                let back = wait!(pong.get())?;
                assert_eq!(back, i);
            }
            Ok(())
        },
    ));
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            for _ in 0..n {
                let item = wait!(ping2.get())?;
                wait!(pong2.put(item))?;
            }
            Ok(())
        },
    ));
    let t0 = Instant::now();
    tm.run().expect("ping-pong");
    ns_per(t0.elapsed(), round_trips)
}

/// The same with tokio's unbounded mpsc channels (cheaper than a bounded
/// channel's `send().await`, and unbounded like the `Queue` here).
pub fn pingpong_tokio(round_trips: usize) -> f64 {
    let rt = tokio_rt();
    let local = LocalSet::new();
    let (ping_tx, mut ping_rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
    let (pong_tx, mut pong_rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
    let n = round_trips as u64;
    local.spawn_local(async move {
        for i in 0..n {
            ping_tx.send(i).expect("send");
            let back = pong_rx.recv().await.expect("recv");
            assert_eq!(back, i);
        }
    });
    local.spawn_local(async move {
        for _ in 0..n {
            let item = ping_rx.recv().await.expect("recv");
            pong_tx.send(item).expect("send");
        }
    });
    let t0 = Instant::now();
    rt.block_on(local);
    ns_per(t0.elapsed(), round_trips)
}

/// The same with a bounded tokio channel of capacity 1 (for comparison only).
pub fn pingpong_tokio_bounded(round_trips: usize) -> f64 {
    let rt = tokio_rt();
    let local = LocalSet::new();
    let (ping_tx, mut ping_rx) = tokio::sync::mpsc::channel::<u64>(1);
    let (pong_tx, mut pong_rx) = tokio::sync::mpsc::channel::<u64>(1);
    let n = round_trips as u64;
    local.spawn_local(async move {
        for i in 0..n {
            ping_tx.send(i).await.expect("send");
            let back = pong_rx.recv().await.expect("recv");
            assert_eq!(back, i);
        }
    });
    local.spawn_local(async move {
        for _ in 0..n {
            let item = ping_rx.recv().await.expect("recv");
            pong_tx.send(item).await.expect("send");
        }
    });
    let t0 = Instant::now();
    rt.block_on(local);
    ns_per(t0.elapsed(), round_trips)
}

/// A small deterministic generator (xorshift64*), so both runtimes get the
/// same sleeps.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// The sleeps of the sleepers benchmark: 1..=100 ms each.
fn sleeps(n: usize) -> (Vec<Duration>, Duration) {
    let mut rng = Rng::new(0x5eed);
    let all: Vec<Duration> = (0..n)
        .map(|_| Duration::from_millis(1 + rng.next_u64() % 100))
        .collect();
    let longest = all.iter().copied().max().unwrap_or_default();
    (all, longest)
}

/// Wall-clock overhead in ms: the time to start `n` tasks that each sleep a
/// random 1..=100 ms and to see them all finish, minus the longest sleep.
pub fn sleepers_multitask(n: usize) -> f64 {
    let (all, longest) = sleeps(n);
    let tm = TaskManager::new();
    let t0 = Instant::now();
    for d in all {
        tm.add(Task::new(
            #[coroutine]
            move |_| {
                wait!(sleep(d))?;
                Ok(())
            },
        ));
    }
    tm.run().expect("sleepers");
    (t0.elapsed() - longest).as_secs_f64() * 1e3
}

/// The same with tokio (`current_thread` with the timer enabled, `tokio::time::sleep`).
pub fn sleepers_tokio(n: usize) -> f64 {
    let (all, longest) = sleeps(n);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("tokio runtime");
    let local = LocalSet::new();
    let t0 = Instant::now();
    for d in all {
        local.spawn_local(async move { tokio::time::sleep(d).await });
    }
    rt.block_on(local);
    (t0.elapsed() - longest).as_secs_f64() * 1e3
}

/// Variants of tokio measured once to pick its cheapest setup (`--tokio-variants`).
pub fn tokio_variants() {
    let rt_spawn = |n: usize| {
        let rt = tokio_rt();
        let t0 = Instant::now();
        let handles: Vec<_> = (0..n).map(|_| rt.spawn(async {})).collect();
        rt.block_on(async {
            for h in handles {
                h.await.expect("join");
            }
        });
        ns_per(t0.elapsed(), n)
    };
    let rt_switch = |tasks: usize, total: usize, use_yield_now: bool| {
        let k = per_task(tasks, total);
        let rt = tokio_rt();
        let start = std::sync::Arc::new(std::sync::Mutex::new(None));
        let handles: Vec<_> = (0..tasks)
            .map(|i| {
                let start = start.clone();
                rt.spawn(async move {
                    if i == tasks - 1 {
                        *start.lock().expect("lock") = Some(Instant::now());
                    }
                    for _ in 0..k {
                        tokio_yield(use_yield_now).await;
                    }
                })
            })
            .collect();
        rt.block_on(async {
            for h in handles {
                h.await.expect("join");
            }
        });
        let start = start.lock().expect("lock").expect("started");
        ns_per(start.elapsed(), tasks * k)
    };
    for _ in 0..3 {
        for tasks in [10, 1000] {
            println!(
                "switch {tasks}: local+YieldOnce {:.1}  local+yield_now {:.1}  rt.spawn+YieldOnce {:.1}  rt.spawn+yield_now {:.1}",
                switch_tokio(tasks, 1_000_000, false),
                switch_tokio(tasks, 1_000_000, true),
                rt_switch(tasks, 1_000_000, false),
                rt_switch(tasks, 1_000_000, true),
            );
        }
        println!(
            "spawn: local {:.1}  rt.spawn {:.1}",
            spawn_tokio(100_000),
            rt_spawn(100_000)
        );
        println!(
            "ping-pong: unbounded {:.1}  bounded(1) {:.1}",
            pingpong_tokio(200_000),
            pingpong_tokio_bounded(200_000)
        );
    }
}

/// The floor under the switch benchmark (`--floor`): a bare run queue of
/// boxed coroutines (pop, resume, push back; nothing else), once with
/// multitask's own yield and resume types and once with `()`.
pub fn floor() {
    use multitask::{Input, Operation};
    use std::collections::VecDeque;
    use std::ops::{Coroutine, CoroutineState};
    type Typed = Pin<Box<dyn Coroutine<Input, Yield = Operation, Return = Input>>>;
    type Plain = Pin<Box<dyn Coroutine<(), Yield = (), Return = ()>>>;
    let (tasks, k) = (1000usize, 2000usize);
    for _ in 0..3 {
        let mut q: VecDeque<Typed> = (0..tasks)
            .map(|_| -> Typed {
                Box::pin(
                    #[coroutine]
                    move |_: Input| {
                        for _ in 0..k {
                            let _: Input = yield Operation::Yield;
                        }
                        Ok(multitask::Value::new(()))
                    },
                )
            })
            .collect();
        let t0 = Instant::now();
        while let Some(mut c) = q.pop_front() {
            if let CoroutineState::Yielded(Operation::Yield) = c.as_mut().resume(Ok(multitask::Value::new(()))) {
                q.push_back(c);
            }
        }
        let typed = ns_per(t0.elapsed(), tasks * k);
        let mut q: VecDeque<Plain> = (0..tasks)
            .map(|_| -> Plain {
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
        let t0 = Instant::now();
        while let Some(mut c) = q.pop_front() {
            if let CoroutineState::Yielded(()) = c.as_mut().resume(()) {
                q.push_back(c);
            }
        }
        let plain = ns_per(t0.elapsed(), tasks * k);
        println!("bare run queue, 1000 tasks: {typed:.1} ns/switch with Input/Operation, {plain:.1} ns with ()");
    }
}
