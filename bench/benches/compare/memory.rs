//! Memory per idle task: each runtime in a fresh process (this bench binary,
//! re-executed with `--memory-child RUNTIME VARIANT N`), which reads its own
//! `VmRSS` before making anything and again once `N` tasks are parked.
//!
//! Variant `own`, each task waiting on a queue of its own: multitask, `N`
//! tasks each in `wait!(queue.get())` on its own `Queue<u64>`; tokio, `N`
//! `spawn_local` tasks each awaiting its own `oneshot::Receiver<u64>`; the
//! floor, `N` boxed coroutines each holding its own `Rc<RefCell<VecDeque>>`.
//! The other handle of each queue (the `Queue` clone, the oneshot `Sender`,
//! the `Rc`) is kept in a `Vec`, counted too.
//!
//! Variant `shared`, all waiting on one queue: multitask, one shared
//! `Queue<u64>`; tokio, one unbounded mpsc receiver behind a
//! `tokio::sync::Mutex` (tokio's idiom for a queue with several consumers:
//! one task waits in `recv`, the others wait for the lock); the floor, one
//! shared `Rc<RefCell<VecDeque>>`.

use std::cell::Cell;
use std::process::Command;
use std::rc::Rc;

use multitask::{wait, Queue, Task, TaskManager};

/// This process's resident set size in bytes.
fn vm_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS line");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("VmRSS value");
    kib * 1024
}

/// The child's side: park `n` tasks, print the bytes of RSS per task, exit.
pub fn child(runtime: &str, variant: &str, n: usize) -> ! {
    let own = match variant {
        "own" => true,
        "shared" => false,
        other => panic!("unknown memory variant {other}"),
    };
    let before = vm_rss();
    let after = match runtime {
        "multitask" => multitask(n, own),
        "tokio" => tokio(n, own),
        "floor" => {
            let kept = crate::floor::park(n, own);
            let rss = vm_rss();
            std::mem::forget(kept);
            rss
        }
        other => panic!("unknown runtime {other}"),
    };
    println!("RSS_PER_TASK {}", (after.saturating_sub(before)) as f64 / n as f64);
    std::process::exit(0)
}

/// multitask's side: `n` tasks parked on a queue get; the RSS then.
fn multitask(n: usize, own: bool) -> u64 {
    let tm = TaskManager::new();
    let shared: Queue<u64> = Queue::new();
    let mut handles: Vec<Queue<u64>> = Vec::with_capacity(if own { n } else { 1 });
    for _ in 0..n {
        let queue = if own { Queue::new() } else { shared.clone() };
        if own {
            handles.push(queue.clone());
        }
        tm.add(Task::new(
            #[coroutine]
            move |_| {
                let _item = wait!(queue.get())?;
                Ok(())
            },
        ));
    }
    tm.run().expect("parking");
    let (runnable, parked, _) = tm.__counts();
    assert_eq!((runnable, parked), (0, n), "every task parked");
    let rss = vm_rss();
    std::mem::forget((tm, shared, handles));
    rss
}

/// tokio's side: `n` tasks awaiting a oneshot each (`own`) or one shared
/// receiver behind a mutex; the RSS then.
fn tokio(n: usize, own: bool) -> u64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime");
    let local = tokio::task::LocalSet::new();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
    let rx = Rc::new(tokio::sync::Mutex::new(rx));
    let started = Rc::new(Cell::new(0usize));
    let mut senders = Vec::with_capacity(if own { n } else { 0 });
    local.block_on(&rt, async {
        for _ in 0..n {
            let started = started.clone();
            if own {
                let (tx, rx) = tokio::sync::oneshot::channel::<u64>();
                senders.push(tx);
                tokio::task::spawn_local(async move {
                    started.set(started.get() + 1);
                    let _item = rx.await;
                });
            } else {
                let rx = rx.clone();
                tokio::task::spawn_local(async move {
                    started.set(started.get() + 1);
                    let mut rx = rx.lock().await;
                    let _item = rx.recv().await;
                });
            }
        }
        // Let every task run up to its wait.
        while started.get() < n {
            tokio::task::yield_now().await;
        }
        tokio::task::yield_now().await;
    });
    assert_eq!(started.get(), n, "every task started");
    let rss = vm_rss();
    std::mem::forget((rt, local, tx, senders));
    rss
}

/// The parent's side: run one child and read its figure (bytes per task).
pub fn measure(runtime: &str, variant: &str, n: usize) -> f64 {
    let exe = std::env::current_exe().expect("current exe");
    let out = Command::new(exe)
        .args(["--memory-child", runtime, variant, &n.to_string()])
        .output()
        .expect("run memory child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let figure = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RSS_PER_TASK "))
        .and_then(|v| v.trim().parse().ok());
    match figure {
        Some(v) if out.status.success() => v,
        _ => {
            eprintln!(
                "memory child {runtime} failed: {}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            f64::NAN
        }
    }
}
