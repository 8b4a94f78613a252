//! Soak: churns a million short-lived tasks through queues, sleeps, children
//! and TCP sockets, and prints the resident memory as it goes. Memory must
//! settle at a steady level: nothing a finished task used may stay behind.
//!
//! ```text
//! cargo run --release --example soak [-- TASKS]      # default 1,000,000
//! ```
#![feature(coroutines)]

use std::net::TcpListener;
use std::time::Instant;

use multitask::{accept, connect, recv, send, sleep, value, wait, Queue, Task};

/// At most this many workers run at once.
const LIVE: usize = 1000;

/// Echoes one message per connection, then closes it.
fn listener(sock: TcpListener) -> Task {
    Task::new(
        #[coroutine]
        move |_| loop {
            let (conn, _) = wait!(accept(&sock))?;
            multitask::add(Task::new(
                #[coroutine]
                move |_| {
                    let data = wait!(recv(&conn, 64))?;
                    wait!(send(&conn, data))?;
                    Ok(())
                },
            ));
        },
    )
}

fn child(depth: u32) -> Task<u32> {
    Task::new(
        #[coroutine]
        move |_| {
            if depth == 0 {
                return wait!(value(1));
            }
            Ok(wait!(child(depth - 1))? + 1)
        },
    )
}

/// One short-lived task; kind by `i % 4`. Hands its slot back when done.
fn worker(i: u64, slots: Queue<()>, done: Queue<u64>, addr: std::net::SocketAddr) -> Task {
    Task::new(
        #[coroutine]
        move |_| {
            match i % 4 {
                0 => {
                    let q = Queue::with_maxsize(1);
                    let q2 = q.clone();
                    multitask::add(Task::new(
                        #[coroutine]
                        move |_| {
                            let n: u64 = wait!(q2.get())?;
                            wait!(q2.put(n + 1))?;
                            Ok(())
                        },
                    ));
                    wait!(q.put(i))?;
                    wait!();
                    let _ = wait!(q.get().timeout(1))?;
                }
                1 => wait!(sleep(0.001))?,
                2 => {
                    let stream = wait!(connect(addr))?;
                    wait!(send(&stream, "ping"))?;
                    let reply = wait!(recv(&stream, 64))?;
                    assert_eq!(reply, b"ping");
                }
                _ => assert_eq!(wait!(child(3))?, 4),
            }
            wait!(done.put(i))?;
            wait!(slots.put(()))?;
            Ok(())
        },
    )
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .unwrap_or("VmRSS: 0 kB");
    line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).unwrap_or(0)
}

fn main() -> multitask::Result<()> {
    let total: u64 = std::env::args()
        .nth(1)
        .map_or(1_000_000, |n| n.parse().expect("TASKS must be a number"));
    let sock = TcpListener::bind("127.0.0.1:0")?;
    let addr = sock.local_addr()?;
    multitask::add(listener(sock));

    let slots = Queue::with_contents(std::iter::repeat_n((), LIVE), 0);
    let done = Queue::new();
    let (spawn_slots, spawn_done) = (slots.clone(), done.clone());
    multitask::add(Task::new(
        #[coroutine]
        move |_| {
            for i in 0..total {
                wait!(spawn_slots.get())?;
                multitask::add(worker(i, spawn_slots.clone(), spawn_done.clone(), addr));
            }
            Ok(())
        },
    ));

    let start = Instant::now();
    println!("{:>10} {:>8} {:>10}", "tasks", "seconds", "RSS KiB");
    let step = (total / 20).max(1);
    multitask::add(Task::<()>::new(
        #[coroutine]
        move |_| {
            for finished in 1..=total {
                wait!(done.get())?;
                if finished % step == 0 {
                    println!(
                        "{finished:>10} {:>8.1} {:>10}",
                        start.elapsed().as_secs_f64(),
                        rss_kib()
                    );
                }
            }
            std::process::exit(0);
        },
    ));
    multitask::run()
}
