//! Memory per idle task: each runtime in a fresh process (this bench binary,
//! re-executed with `--memory-child RUNTIME N`), which reads its own `VmRSS`
//! before making anything and again once `N` tasks are parked on a queue get.
//!
//! multitask: `N` tasks each waiting in `wait!(queue.get())` on one shared
//! `Queue<u64>`. tokio: `N` `spawn_local` tasks each waiting to take an item
//! from one shared unbounded mpsc receiver behind a `tokio::sync::Mutex`
//! (tokio's idiom for a queue with several consumers: one task waits in
//! `recv`, the others wait for the lock).

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
pub fn child(runtime: &str, n: usize) -> ! {
    let before = vm_rss();
    let after = match runtime {
        "multitask" => {
            let tm = TaskManager::new();
            let queue: Queue<u64> = Queue::new();
            for _ in 0..n {
                let queue = queue.clone();
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
            std::mem::forget((tm, queue));
            rss
        }
        "tokio" => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("tokio runtime");
            let local = tokio::task::LocalSet::new();
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
            let rx = Rc::new(tokio::sync::Mutex::new(rx));
            let started = Rc::new(Cell::new(0usize));
            local.block_on(&rt, async {
                for _ in 0..n {
                    let (rx, started) = (rx.clone(), started.clone());
                    tokio::task::spawn_local(async move {
                        started.set(started.get() + 1);
                        let mut rx = rx.lock().await;
                        let _item = rx.recv().await;
                    });
                }
                // Let every task run up to its wait.
                while started.get() < n {
                    tokio::task::yield_now().await;
                }
                tokio::task::yield_now().await;
            });
            assert_eq!(started.get(), n, "every task started");
            let rss = vm_rss();
            std::mem::forget((rt, local, tx));
            rss
        }
        other => panic!("unknown runtime {other}"),
    };
    println!("RSS_PER_TASK {}", (after.saturating_sub(before)) as f64 / n as f64);
    std::process::exit(0)
}

/// The parent's side: run one child and read its figure (bytes per task).
pub fn measure(runtime: &str, n: usize) -> f64 {
    let exe = std::env::current_exe().expect("current exe");
    let out = Command::new(exe)
        .args(["--memory-child", runtime, &n.to_string()])
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
