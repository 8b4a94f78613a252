//! Beyond one thread (issue 12): `run-in-thread`, the cost of one
//! `run_in_thread` round trip (a task hands a trivial closure to a worker
//! and is resumed with its result) against tokio's `spawn_blocking` awaited
//! on a `current_thread` runtime; and `echo-threads`, the echo server example
//! (`examples/echo_server.rs`, release build) with `--threads 1` and
//! `--threads 2`, as total CPU (user + system, every thread of the server
//! process, from `/proc/PID/task/*/schedstat`, nanosecond counts) per
//! request. This machine has 2 cores and the load generator needs one, so
//! throughput with 2 server threads says little; CPU per request says what
//! the second manager costs or saves.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use multitask::{run_in_thread, wait, Task, TaskManager};

use crate::echo;

/// Round trips per measurement, and measurements (interleaved) per side.
fn sizes(quick: bool) -> (usize, usize) {
    if quick {
        (5_000, 3)
    } else {
        (20_000, 7)
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn spread(v: &[f64]) -> (f64, f64) {
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(0.0, f64::max);
    (min, max)
}

/// ns per `run_in_thread` round trip, `n` in a row from one task.
fn multitask_round_trips(n: usize) -> f64 {
    let tm = TaskManager::new();
    let started = std::rc::Rc::new(std::cell::Cell::new(None));
    let s = started.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(run_in_thread(|| 0u64))?; // the worker is started
            s.set(Some(Instant::now()));
            let mut sum = 0u64;
            for i in 0..n as u64 {
                sum += wait!(run_in_thread(move || i))?;
            }
            assert_eq!(sum, (n as u64 - 1) * n as u64 / 2);
            Ok(())
        },
    ));
    tm.run().expect("round trips");
    let elapsed = started.get().expect("started").elapsed();
    elapsed.as_nanos() as f64 / n as f64
}

/// ns per `spawn_blocking(..).await` round trip, `n` in a row from one task.
fn tokio_round_trips(n: usize) -> f64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime");
    rt.block_on(async move {
        tokio::task::spawn_blocking(|| 0u64).await.expect("warm-up");
        let started = Instant::now();
        let mut sum = 0u64;
        for i in 0..n as u64 {
            sum += tokio::task::spawn_blocking(move || i).await.expect("round trip");
        }
        assert_eq!(sum, (n as u64 - 1) * n as u64 / 2);
        started.elapsed().as_nanos() as f64 / n as f64
    })
}

/// Nanoseconds on CPU of every thread of process `pid` so far.
fn cpu_ns(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next().and_then(|n| n.parse::<u64>().ok()))
        .sum()
}

/// The release build of the echo server example (built here if need be).
fn echo_server_binary(root: &Path) -> Result<std::path::PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "--quiet", "--example", "echo_server"])
        .current_dir(root)
        .status()
        .map_err(|e| format!("cargo build: {e}"))?;
    if !status.success() {
        return Err("cargo build --release --example echo_server failed".into());
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), Into::into);
    Ok(target.join("release").join("examples").join("echo_server"))
}

/// Total server CPU ns per request of the echo server with `threads`
/// threads, `requests` requests over `conns` connections (after a warm-up).
fn echo_cpu_per_request(binary: &Path, threads: usize, conns: usize, requests: u64) -> Result<f64, String> {
    let mut server = Command::new(binary)
        .args(["0", "--threads", &threads.to_string(), "--grace", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("echo_server: {e}"))?;
    let mut line = String::new();
    // Kept open: the server prints what it served when it stops.
    let mut stdout = BufReader::new(server.stdout.take().expect("piped"));
    stdout.read_line(&mut line).map_err(|e| e.to_string())?;
    let addr: SocketAddr = line.trim().parse().map_err(|e| format!("address {line:?}: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(300);
    let result = (|| {
        echo::drive(addr, conns, conns as u64 * 100, None, || Instant::now() > deadline)?;
        let before = cpu_ns(server.id());
        echo::drive(addr, conns, requests, None, || Instant::now() > deadline)?;
        let after = cpu_ns(server.id());
        Ok((after - before) as f64 / requests as f64)
    })();
    // SAFETY: kill(2) to our own child: it shuts down cleanly.
    unsafe { libc::kill(server.id() as libc::pid_t, libc::SIGTERM) };
    let mut served = String::new();
    let _ = std::io::Read::read_to_string(&mut stdout, &mut served);
    let status = server.wait().map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("echo_server exited with {status}"));
    }
    result
}

/// Runs the benchmarks asked for; gives their markdown section.
pub fn run(quick: bool, round_trip: bool, echo_threads: bool, root: &Path, note: &dyn Fn(&str)) -> String {
    let mut md = String::from("## Beyond one thread: run_in_thread and --threads\n\n");
    let (n, reps) = sizes(quick);
    if round_trip {
        let (mut m, mut t) = (Vec::new(), Vec::new());
        for _ in 0..reps {
            m.push(multitask_round_trips(n));
            t.push(tokio_round_trips(n));
        }
        let (mm, tm) = (median(m.clone()), median(t.clone()));
        let ((m0, m1), (t0, t1)) = (spread(&m), spread(&t));
        note(&format!(
            "run_in_thread round trip: multitask {mm:.0} ns, tokio spawn_blocking {tm:.0} ns"
        ));
        md.push_str(&format!(
            "`run_in_thread` round trip ({n} in a row from one task, median of {reps} runs, min–max in brackets):\n\n\
             | | multitask `run_in_thread` | tokio `spawn_blocking` | ratio |\n|---|---|---|---|\n\
             | ns per round trip | {mm:.0} ({m0:.0}–{m1:.0}) | {tm:.0} ({t0:.0}–{t1:.0}) | {:.2} |\n\n",
            mm / tm
        ));
    }
    if echo_threads {
        let root_dir = root.to_path_buf();
        match echo_server_binary(&root_dir) {
            Err(e) => md.push_str(&format!("echo --threads: not measured: {e}\n")),
            Ok(binary) => {
                let (conns, requests) = if quick { (50, 50_000) } else { (50, 200_000) };
                let reps = if quick { 1 } else { 3 };
                let mut rows = Vec::new();
                for threads in [1, 2] {
                    let mut v = Vec::new();
                    for _ in 0..reps {
                        match echo_cpu_per_request(&binary, threads, conns, requests) {
                            Ok(ns) => v.push(ns),
                            Err(e) => note(&format!("echo --threads {threads}: FAILED: {e}")),
                        }
                    }
                    if !v.is_empty() {
                        let (lo, hi) = spread(&v);
                        let med = median(v);
                        note(&format!("echo --threads {threads}: {med:.0} ns CPU per request"));
                        rows.push((threads, med, lo, hi));
                    }
                }
                md.push_str(&format!(
                    "Echo server example, {conns} connections, {requests} requests of 64 bytes, one in flight per \
                     connection; server CPU (user + system, all its threads) per request, median of {reps}:\n\n\
                     | `--threads` | ns CPU per request |\n|---|---|\n"
                ));
                for (threads, med, lo, hi) in &rows {
                    md.push_str(&format!("| {threads} | {med:.0} ({lo:.0}–{hi:.0}) |\n"));
                }
                if let [(_, one, ..), (_, two, ..)] = rows[..] {
                    md.push_str(&format!("\nratio 2 threads / 1: {:.2}\n", two / one));
                }
            }
        }
    }
    md
}
