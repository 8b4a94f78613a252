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

/// A `current_thread` runtime with no driver.
fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime")
}

/// `elapsed` in ns per one of `count` operations.
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

/// ns per round trip over two bounded queues of size 1: task A puts `i` on
/// one and gets it back from the other; task B gets from the first and puts
/// on the second. Every queue operation costs a pass (DESIGN.md §2).
pub fn pingpong_multitask(round_trips: usize) -> f64 {
    let tm = TaskManager::new();
    let (ping, pong): (Queue<u64>, Queue<u64>) = (Queue::with_maxsize(1), Queue::with_maxsize(1));
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

/// The same with tokio: two `mpsc::channel(1)`, `send().await` and `recv().await`.
pub fn pingpong_tokio(round_trips: usize) -> f64 {
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

/// The same with tokio's unbounded channels (for `--tokio-variants` only).
pub fn pingpong_tokio_unbounded(round_trips: usize) -> f64 {
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

/// A small deterministic generator (xorshift64*), so both runtimes get the
/// same sleeps.
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (zero is taken as one).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    /// The next draw.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// The longest sleep of the sleepers benchmark; the overhead is the wall
/// time minus this.
pub const SLEEP_SPAN: Duration = Duration::from_millis(100);

/// The sleeps of the sleepers benchmark: uniform over 0..100 ms in 1 µs
/// steps, never zero (multitask's `sleep` needs a positive time).
pub fn sleeps(n: usize) -> Vec<Duration> {
    let mut rng = Rng::new(0x5eed);
    let span = SLEEP_SPAN.as_micros() as u64;
    (0..n)
        .map(|_| Duration::from_micros(1 + rng.next_u64() % span))
        .collect()
}

/// The overhead in ms of a sleepers run that started at `t0`.
fn overhead_ms(t0: Instant) -> f64 {
    (t0.elapsed().as_secs_f64() - SLEEP_SPAN.as_secs_f64()) * 1e3
}

/// Wall-clock overhead in ms: `n` tasks each sleep a random 0..100 ms, the
/// deadline fixed when the sleep is yielded; the time from the first add
/// until all are done, minus 100 ms.
pub fn sleepers_multitask(n: usize) -> f64 {
    let tm = TaskManager::new();
    let t0 = Instant::now();
    for d in sleeps(n) {
        tm.add(Task::new(
            #[coroutine]
            move |_| {
                wait!(sleep(d))?;
                Ok(())
            },
        ));
    }
    tm.run().expect("sleepers");
    overhead_ms(t0)
}

/// The same with tokio (`current_thread` with the timer enabled,
/// `tokio::time::sleep` created and awaited in the task, so its deadline is
/// fixed when the task first runs, as multitask's is when it yields).
pub fn sleepers_tokio(n: usize) -> f64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("tokio runtime");
    let local = LocalSet::new();
    let t0 = Instant::now();
    for d in sleeps(n) {
        local.spawn_local(async move { tokio::time::sleep(d).await });
    }
    rt.block_on(local);
    overhead_ms(t0)
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
            "ping-pong: bounded(1) {:.1}  unbounded {:.1}",
            pingpong_tokio(200_000),
            pingpong_tokio_unbounded(200_000)
        );
    }
}
