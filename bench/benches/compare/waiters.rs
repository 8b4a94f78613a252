//! `fd-waiters`: many tasks waiting on ONE file descriptor (one end of a
//! `UnixStream` pair), with the public API only.
//!
//! Round 1: `n` tasks each wait with `readable(&sock).timeout(T)`; nothing is
//! ever written, so all of them time out. Timed: registering them all (the
//! one `run_next` pass that runs each task up to its wait, after adding them)
//! and, from the end of that pass, until `run` returns with every task timed
//! out; the part of that past `T` is the cost of the timeouts themselves.
//! Round 2: `n` tasks each wait with `readable(&sock)`, no timeout. Timed:
//! registering, and from writing one byte to the peer until `run` returns
//! with every task woken (none reads the byte, so the socket stays readable
//! for all of them).

use std::cell::Cell;
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::time::{Duration, Instant};

use multitask::{readable, wait, Task, TaskManager};

/// The timeout of round 1, seconds.
pub const TIMEOUT: f64 = 0.05;

/// One size's times, seconds.
#[derive(Clone, Copy, Debug)]
pub struct Times {
    pub tasks: usize,
    /// Round 1: the pass that registers every wait with a timeout.
    pub register_timeout: f64,
    /// Round 1: from the end of that pass until every task has timed out.
    pub all_timed_out: f64,
    /// Round 2: the pass that registers every wait without a timeout.
    pub register: f64,
    /// Round 2: from the write until every task has woken and finished.
    pub wake_all: f64,
}

impl Times {
    /// The part of `all_timed_out` past the timeout.
    pub fn past_timeout(&self) -> f64 {
        self.all_timed_out - TIMEOUT
    }
}

/// One run with `n` waiting tasks: the times of its phases.
pub fn measure(n: usize) -> Result<Times, String> {
    let (mut peer, sock) = UnixStream::pair().map_err(|e| e.to_string())?;
    let sock = Rc::new(sock);
    let tm = TaskManager::new();

    // Round 1: every task times out.
    let timed_out = Rc::new(Cell::new(0usize));
    for _ in 0..n {
        let (sock, timed_out) = (sock.clone(), timed_out.clone());
        tm.add(Task::new(
            #[coroutine]
            move |_| {
                match wait!(readable(&*sock).timeout(TIMEOUT)) {
                    Err(e) if e.is_timeout() => timed_out.set(timed_out.get() + 1),
                    other => other?,
                }
                Ok(())
            },
        ));
    }
    let t0 = Instant::now();
    tm.run_next(Some(Duration::ZERO)).map_err(|e| e.to_string())?;
    let t1 = Instant::now();
    if !tm.has_io_waits() || tm.has_runnable() {
        return Err("round 1: the tasks did not all wait after one pass".into());
    }
    tm.run().map_err(|e| e.to_string())?;
    let t2 = Instant::now();
    if timed_out.get() != n {
        return Err(format!("round 1: {} of {n} tasks timed out", timed_out.get()));
    }

    // Round 2: one byte wakes every task.
    let woken = Rc::new(Cell::new(0usize));
    for _ in 0..n {
        let (sock, woken) = (sock.clone(), woken.clone());
        tm.add(Task::new(
            #[coroutine]
            move |_| {
                wait!(readable(&*sock))?;
                woken.set(woken.get() + 1);
                Ok(())
            },
        ));
    }
    let t3 = Instant::now();
    tm.run_next(Some(Duration::ZERO)).map_err(|e| e.to_string())?;
    let t4 = Instant::now();
    if !tm.has_io_waits() || tm.has_runnable() || woken.get() != 0 {
        return Err("round 2: the tasks did not all wait after one pass".into());
    }
    peer.write_all(b"x").map_err(|e| e.to_string())?;
    let t5 = Instant::now();
    tm.run().map_err(|e| e.to_string())?;
    let t6 = Instant::now();
    if woken.get() != n {
        return Err(format!("round 2: {} of {n} tasks woke", woken.get()));
    }
    Ok(Times {
        tasks: n,
        register_timeout: (t1 - t0).as_secs_f64(),
        all_timed_out: (t2 - t1).as_secs_f64(),
        register: (t4 - t3).as_secs_f64(),
        wake_all: (t6 - t5).as_secs_f64(),
    })
}

/// The median of each figure over repetitions of one size (`None` if none).
pub fn median(reps: &[Times]) -> Option<Times> {
    let first = reps.first()?;
    let med = |f: fn(&Times) -> f64| {
        let mut s = crate::stats::Samples::default();
        for t in reps {
            s.push(f(t));
        }
        s.median()
    };
    Some(Times {
        tasks: first.tasks,
        register_timeout: med(|t| t.register_timeout),
        all_timed_out: med(|t| t.all_timed_out),
        register: med(|t| t.register),
        wake_all: med(|t| t.wake_all),
    })
}

/// Seconds as ms, to three significant digits.
fn ms(s: f64) -> String {
    crate::stats::fmt_num(s * 1e3)
}

const HEADER: [&str; 6] = [
    "tasks",
    "register, with timeout (ms)",
    "until all timed out (ms)",
    "of which past the timeout (ms)",
    "register, no timeout (ms)",
    "wake all by one byte (ms)",
];

/// The rows: one per size, then the ratio of the largest to the smallest.
fn rows(times: &[Times]) -> Vec<[String; 6]> {
    let figures = |t: &Times| {
        [
            t.register_timeout,
            t.all_timed_out,
            t.past_timeout(),
            t.register,
            t.wake_all,
        ]
    };
    let mut out: Vec<[String; 6]> = times
        .iter()
        .map(|t| {
            let f = figures(t);
            [
                crate::stats::thousands(t.tasks as u64),
                ms(f[0]),
                ms(f[1]),
                ms(f[2]),
                ms(f[3]),
                ms(f[4]),
            ]
        })
        .collect();
    if let (Some(a), Some(b)) = (times.first(), times.last()) {
        if b.tasks > a.tasks {
            let (fa, fb) = (figures(a), figures(b));
            let r = |i: usize| format!("{:.1}", fb[i] / fa[i]);
            out.push([
                format!(
                    "ratio {}k/{}k (linear: {:.0})",
                    b.tasks / 1000,
                    a.tasks / 1000,
                    b.tasks as f64 / a.tasks as f64
                ),
                r(0),
                r(1),
                r(2),
                r(3),
                r(4),
            ]);
        }
    }
    out
}

/// The table as aligned plain text.
pub fn text_table(times: &[Times]) -> String {
    let rows = rows(times);
    let mut widths: Vec<usize> = HEADER.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[String]| {
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            let pad = " ".repeat(w - c.chars().count());
            if i == 0 {
                out.push_str(&format!("{c}{pad}  "));
            } else {
                out.push_str(&format!("{pad}{c}  "));
            }
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
    };
    line(&HEADER.map(String::from));
    for row in &rows {
        line(row);
    }
    out
}

/// The table as markdown.
pub fn markdown_table(times: &[Times]) -> String {
    let mut out = format!("| {} |\n|{}\n", HEADER.join(" | "), "---|".repeat(HEADER.len()));
    for row in rows(times) {
        out.push_str(&format!("| {} |\n", row.join(" | ")));
    }
    out
}
