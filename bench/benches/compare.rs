//! The comparison benchmarks: multitask against tokio's `current_thread`
//! runtime and a floor (for the micro benchmarks, a bare run queue of boxed
//! coroutines; for echo, a bare mio event loop), every figure for all three
//! in the same run, interleaved, with the median and the min–max spread.
//!
//! ```text
//! cargo bench -p multitask-bench --bench compare               # the full run (about 5 minutes)
//! cargo bench -p multitask-bench --bench compare -- --quick    # a short run, about a minute (or MULTITASK_BENCH_QUICK=1)
//! ```
//!
//! Prints the table, writes it as markdown to `target/bench-results.md`, and
//! draws `docs/switch.svg` and `docs/echo.svg` (the workspace's `target/` and
//! the repository root's `docs/`: this package lives in `bench/`). A quick run writes
//! `target/bench-results-quick.md` and its charts to `target/` instead.
//! See BENCHMARKS.md for what each benchmark does and how it is measured.
//!
//! Beside the micro benchmarks' wall times, their instructions per operation
//! under cachegrind (`instr.rs`; skipped, saying so, without valgrind). Two
//! benchmarks count rather than time: `echo-cost`, each echo server's
//! instructions (valgrind) and syscalls (strace) per request, and
//! `fd-waiters`, many tasks waiting on one socket.
//!
//! For profiling and development, these narrow a run (which then writes
//! `target/*-partial.*` only): `--only switch,spawn,pingpong,sleepers,memory,instructions,echo,echo-cost,fd-waiters,run-in-thread,echo-threads`
//! (a micro benchmark's name brings its instruction count along; `instructions`
//! alone counts them all), `--servers multitask,tokio,mio`, `--reps N`,
//! `--echo-conns 50,1000`, `--echo-depths 1,16`. `--tokio-variants` compares
//! tokio setups (how the cheapest was chosen). `--memory-child`,
//! `--micro-child`, `--echo-client` and `--echo-server` are this binary
//! re-executing itself.

#![feature(coroutines, coroutine_trait)]

#[path = "compare/cachegrind.rs"]
mod cachegrind;
#[path = "compare/chart.rs"]
mod chart;
#[path = "compare/cost.rs"]
mod cost;
#[path = "compare/echo.rs"]
mod echo;
#[path = "compare/floor.rs"]
mod floor;
#[path = "compare/instr.rs"]
mod instr;
#[path = "compare/memory.rs"]
mod memory;
#[path = "compare/micro.rs"]
mod micro;
#[path = "compare/perf.rs"]
mod perf;
#[path = "compare/stats.rs"]
mod stats;
#[path = "compare/threads.rs"]
mod threads;
#[path = "compare/waiters.rs"]
mod waiters;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use echo::{Outcome, Server};
use stats::{Row, Samples, Target};

/// How much of everything to do.
#[derive(Clone)]
struct Plan {
    quick: bool,
    reps: usize,
    switch_counts: Vec<usize>,
    switch_total: usize,
    spawn_tasks: usize,
    pingpong_trips: usize,
    sleepers: usize,
    sleeper_reps: usize,
    memory_tasks: usize,
    memory_reps: usize,
    echo_conns: Vec<usize>,
    echo_depths: Vec<usize>,
    echo_reps: usize,
    echo_warmup: Duration,
    echo_window: Duration,
    /// `echo-cost` runs `cost::SCENARIOS` with their request counts divided by this.
    cost_scale: u64,
    /// Task counts of `fd-waiters`, and its repetitions.
    waiters: Vec<usize>,
    waiter_reps: usize,
    servers: Vec<Server>,
    only: Option<Vec<String>>,
}

impl Plan {
    /// The sizes and repetitions of a full or a `--quick` run.
    fn new(quick: bool, only: Option<Vec<String>>) -> Plan {
        if quick {
            Plan {
                quick,
                reps: 3,
                switch_counts: vec![10, 100, 1_000, 10_000],
                switch_total: 300_000,
                spawn_tasks: 100_000,
                pingpong_trips: 50_000,
                sleepers: 100_000,
                sleeper_reps: 2,
                memory_tasks: 1_000_000,
                memory_reps: 1,
                echo_conns: vec![50, 1_000, 10_000],
                echo_depths: vec![1, 16],
                echo_reps: 1,
                echo_warmup: Duration::from_millis(100),
                echo_window: Duration::from_millis(300),
                cost_scale: 5,
                waiters: vec![10_000, 100_000],
                waiter_reps: 1,
                servers: vec![Server::Multitask, Server::Tokio, Server::Mio],
                only,
            }
        } else {
            Plan {
                quick,
                reps: 7,
                switch_counts: vec![10, 100, 1_000, 10_000],
                switch_total: 2_000_000,
                spawn_tasks: 100_000,
                pingpong_trips: 200_000,
                sleepers: 100_000,
                sleeper_reps: 5,
                memory_tasks: 1_000_000,
                memory_reps: 3,
                echo_conns: vec![50, 1_000, 10_000],
                echo_depths: vec![1, 16],
                echo_reps: 5,
                echo_warmup: Duration::from_millis(300),
                echo_window: Duration::from_millis(1_000),
                cost_scale: 1,
                waiters: vec![10_000, 100_000],
                waiter_reps: 3,
                servers: vec![Server::Multitask, Server::Tokio, Server::Mio],
                only,
            }
        }
    }

    /// True if `--only` (when given) names `name`.
    fn wants(&self, name: &str) -> bool {
        self.only.as_ref().is_none_or(|o| o.iter().any(|n| n == name))
    }

    /// True if the instruction count of the micro benchmark `bench`
    /// (`switch10`, `spawn`, ...) is wanted: `--only` is not given, or names
    /// `instructions`, or names the benchmark (`switch` for both switches).
    fn wants_counted(&self, bench: &str) -> bool {
        self.only.as_ref().is_none_or(|only| {
            only.iter()
                .any(|n| n == "instructions" || bench.starts_with(n.as_str()))
        })
    }
}

/// Progress on stderr, with the time since the start.
fn note(start: Instant, text: &str) {
    eprintln!("[{:6.1}s] {text}", start.elapsed().as_secs_f64());
}

/// Runs `m`, `t` and `f` (multitask, tokio, the floor) `reps` times each,
/// interleaved, into `row` (only the runtimes `--servers` names, when given;
/// the floor runs when multitask does).
fn trio(
    plan: &Plan,
    row: &mut Row,
    mut m: impl FnMut() -> f64,
    mut t: impl FnMut() -> f64,
    mut f: impl FnMut() -> f64,
) {
    let mut floor = Samples::default();
    for _ in 0..plan.reps {
        if plan.servers.contains(&Server::Multitask) {
            row.multitask.push(m());
        }
        if plan.servers.contains(&Server::Tokio) {
            row.tokio.push(t());
        }
        if plan.servers.contains(&Server::Multitask) {
            floor.push(f());
        }
    }
    row.floor = Some(floor);
}

/// The micro benchmarks' rows, each instruction row right after its
/// wall-time row, and the switch rows again for the chart.
fn micro_rows(plan: &Plan, start: Instant) -> (Vec<Row>, Vec<(usize, Row)>) {
    let mut counted: Vec<(String, Row)> = Vec::new();
    let benches: Vec<instr::Counted> = instr::benches()
        .into_iter()
        .filter(|c| plan.wants_counted(c.bench))
        .collect();
    if !benches.is_empty() {
        if cachegrind::available() {
            let dir = target_dir().join("micro-instructions");
            let _ = std::fs::create_dir_all(&dir);
            let runtimes = ["multitask", "tokio", "floor"];
            for c in &benches {
                counted.push((
                    c.bench.to_string(),
                    instr::row(c, &runtimes, &dir, &|t: &str| note(start, t)),
                ));
            }
        } else {
            note(
                start,
                "valgrind not found: no instruction counts for the micro benchmarks (wall times only)",
            );
        }
    }
    let mut rows = Vec::new();
    let mut push = |rows: &mut Vec<Row>, row: Row, bench: &str| {
        rows.push(row);
        if let Some(i) = counted.iter().position(|(b, _)| b == bench) {
            rows.push(counted.remove(i).1);
        }
    };
    let mut switch = Vec::new();
    if plan.wants("switch") {
        // The last row, for reference: tokio's own `yield_now` defers the wake
        // past a driver poll, and costs more than the self-wake the other rows
        // give tokio.
        let runs = plan.switch_counts.iter().map(|&n| (n, false)).chain([(1_000, true)]);
        for (n, yield_now) in runs {
            let label = match yield_now {
                false => format!("switch, {n} tasks"),
                true => format!("switch, {n} tasks, tokio using yield_now"),
            };
            let mut row = Row::new(label, "ns/switch");
            if (n == 10 || n == 1_000) && !yield_now {
                row.target = Target::at_most(0.25);
                row.floor_target = Target::at_most(2.0);
            }
            let total = plan.switch_total;
            trio(
                plan,
                &mut row,
                || micro::switch_multitask(n, total),
                || micro::switch_tokio(n, total, yield_now),
                || floor::switch(n, total),
            );
            note(
                start,
                &format!(
                    "{}: multitask {:.1} ns, tokio {:.1} ns, floor {:.1} ns",
                    row.name,
                    row.multitask.median(),
                    row.tokio.median(),
                    row.floor.as_ref().map_or(f64::NAN, Samples::median)
                ),
            );
            if yield_now {
                rows.push(row);
            } else {
                switch.push((n, row.clone()));
                push(&mut rows, row, &format!("switch{n}"));
            }
        }
    }
    type Run<'a> = Box<dyn FnMut() -> f64 + 'a>;
    let (spawn_n, trips, sleepers) = (plan.spawn_tasks, plan.pingpong_trips, plan.sleepers);
    // name, row label, unit, targets (tokio, floor), repetitions, the three runs
    let timed: [(&str, String, &str, _, usize, [Run; 3]); 3] = [
        (
            "spawn",
            format!("spawn + finish {spawn_n} tasks"),
            "ns/task",
            (Target::at_most(0.35), Target::at_most(1.6)),
            plan.reps,
            [
                Box::new(|| micro::spawn_multitask(spawn_n)),
                Box::new(|| micro::spawn_tokio(spawn_n)),
                Box::new(|| floor::spawn(spawn_n)),
            ],
        ),
        (
            "pingpong",
            "ping-pong, two queues of size 1".to_string(),
            "ns/round trip",
            (Target::at_most(0.6), None),
            plan.reps,
            [
                Box::new(|| micro::pingpong_multitask(trips)),
                Box::new(|| micro::pingpong_tokio(trips)),
                Box::new(|| floor::pingpong(trips)),
            ],
        ),
        (
            "sleepers",
            format!("sleepers, {sleepers} × 0..100 ms: wall − 100 ms"),
            "ms overhead",
            (Target::at_most(0.75), None),
            plan.sleeper_reps,
            [
                Box::new(|| micro::sleepers_multitask(sleepers)),
                Box::new(|| micro::sleepers_tokio(sleepers)),
                Box::new(|| floor::sleepers(micro::sleeps(sleepers), micro::SLEEP_SPAN)),
            ],
        ),
    ];
    for (name, label, unit, (target, floor_target), reps, [m, t, f]) in timed {
        if !plan.wants(name) {
            continue;
        }
        let mut row = Row::new(label, unit);
        (row.target, row.floor_target) = (target, floor_target);
        let plan = Plan { reps, ..plan.clone() };
        trio(&plan, &mut row, m, t, f);
        note(start, &format!("{name} done"));
        push(&mut rows, row, name);
    }
    if plan.wants("memory") {
        let n = plan.memory_tasks;
        let plan = Plan {
            reps: plan.memory_reps,
            ..plan.clone()
        };
        for (variant, what, target) in [
            ("own", "each on a queue of its own (tokio: a oneshot each)", 0.6),
            ("shared", "all on one shared queue", 0.5),
        ] {
            let mut row = Row::new(format!("memory, {n} idle tasks, {what}"), "bytes RSS/task");
            row.target = Target::at_most(target);
            trio(
                &plan,
                &mut row,
                || memory::measure("multitask", variant, n),
                || memory::measure("tokio", variant, n),
                || memory::measure("floor", variant, n),
            );
            rows.push(row);
        }
        note(start, "memory done");
    }
    rows.extend(counted.into_iter().map(|(_, row)| row));
    (rows, switch)
}

/// The echo figures of one configuration: rps, user CPU and total CPU rows.
struct EchoRows {
    conns: usize,
    depth: usize,
    rps: Row,
    user: Row,
    total: Row,
    errors: [u64; 3],
    responses: [u64; 3],
}

/// Runs every echo configuration of `plan`, the three servers interleaved.
fn echo_rows(plan: &Plan, start: Instant, nofile: u64) -> Vec<EchoRows> {
    let mut out = Vec::new();
    for &depth in &plan.echo_depths {
        for &conns in &plan.echo_conns {
            let label = if depth == 1 {
                format!("echo, {conns} conns")
            } else {
                format!("echo pipelined ×{depth}, {conns} conns")
            };
            let mut rows = EchoRows {
                conns,
                depth,
                rps: Row::new(format!("{label}: throughput"), "requests/s"),
                user: Row::new(format!("{label}: server user CPU"), "ns/request"),
                total: Row::new(format!("{label}: server user+sys CPU"), "ns/request"),
                errors: [0; 3],
                responses: [0; 3],
            };
            rows.rps.target = Target::at_least(1.0);
            rows.user.target = Target::at_most(0.6);
            rows.user.floor_target = Target::at_most(1.5);
            let mut mio = [Samples::default(), Samples::default(), Samples::default()];
            if !echo::client_in_process(conns, nofile) {
                note(
                    start,
                    &format!("{label}: open-file limit {nofile}: the client runs in a child process"),
                );
            }
            let cfg = echo::Config {
                conns,
                depth,
                warmup: plan.echo_warmup,
                window: plan.echo_window,
            };
            for rep in 0..plan.echo_reps {
                for (i, server) in [Server::Multitask, Server::Tokio, Server::Mio].into_iter().enumerate() {
                    if !plan.servers.contains(&server) {
                        continue;
                    }
                    let outcome = echo::run(server, cfg, nofile).unwrap_or_else(|e| {
                        eprintln!("  echo {} {label}: FAILED: {e}", server.name());
                        rows.errors[i] += 1;
                        Outcome {
                            rps: f64::NAN,
                            user_ns: f64::NAN,
                            total_ns: f64::NAN,
                            ..Outcome::default()
                        }
                    });
                    rows.errors[i] += outcome.errors;
                    rows.responses[i] += outcome.responses;
                    let figures = [outcome.rps, outcome.user_ns, outcome.total_ns];
                    for (k, row) in [&mut rows.rps, &mut rows.user, &mut rows.total].into_iter().enumerate() {
                        match server {
                            Server::Multitask => row.multitask.push(figures[k]),
                            Server::Tokio => row.tokio.push(figures[k]),
                            Server::Mio => mio[k].push(figures[k]),
                        }
                    }
                    note(
                        start,
                        &format!(
                            "{label} #{rep} {:<9}: {:>9.0} req/s, user {:>6.0} ns/req ({} samples; getrusage {:.0}), user+sys {:>6.0} ns/req; set up in {:.2} s",
                            server.name(),
                            outcome.rps,
                            outcome.user_ns,
                            outcome.user_samples,
                            outcome.rusage_user_ns,
                            outcome.total_ns,
                            outcome.setup_s
                        ),
                    );
                }
            }
            let [m0, m1, m2] = mio;
            rows.rps.floor = Some(m0);
            rows.user.floor = Some(m1);
            rows.total.floor = Some(m2);
            out.push(rows);
        }
    }
    out
}

/// The machine in one line: cores, CPU model, kernel, compiler.
fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|r| r.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let rustc = std::process::Command::new("rustc")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    format!("nproc {nproc}, CPU \"{model}\", Linux {}, {rustc}", kernel.trim())
}

/// The 1, 5 and 15 minute load averages.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// The date and time in UTC, to the minute.
fn date() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// The repository root (this package is `bench/` in it).
fn repo_root() -> PathBuf {
    let bench = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    bench.parent().unwrap_or(bench).to_path_buf()
}

/// `target/`: three levels above this binary (`target/release/deps/compare-…`),
/// the workspace's target directory (or `CARGO_TARGET_DIR`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    exe.ancestors()
        .nth(3)
        .filter(|p| p.join("CACHEDIR.TAG").exists() || p.ends_with("target"))
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
}

/// A chart point at `x`: the median and spread of `s`.
fn point(x: usize, s: &Samples) -> chart::Point {
    chart::Point {
        x: x as f64,
        median: s.median(),
        min: s.min(),
        max: s.max(),
    }
}

const MULTITASK_COLOR: &str = "#1f77b4";
const TOKIO_COLOR: &str = "#d62728";
const MIO_COLOR: &str = "#2ca02c";

/// The chart of the switch rows: multitask, tokio and the floor by task count.
fn switch_svg(switch: &[(usize, Row)], note: &[String]) -> String {
    let series = |name: &str, color, pick: fn(&Row) -> Option<&Samples>| chart::Series {
        name: name.to_string(),
        color,
        points: switch
            .iter()
            .filter_map(|(n, row)| pick(row).map(|s| point(*n, s)))
            .collect(),
    };
    let chart = chart::Chart {
        title: "Task switch: one yield and resume".into(),
        x_label: "tasks yielding in turn (log scale)".into(),
        y_label: "ns per switch".into(),
        series: vec![
            series("multitask", MULTITASK_COLOR, |r| Some(&r.multitask)),
            series("tokio", TOKIO_COLOR, |r| Some(&r.tokio)),
            series("floor (bare run queue)", MIO_COLOR, |r| r.floor.as_ref()),
        ],
        labels: true,
    };
    chart::render(&[vec![chart]], note)
}

/// The echo charts: throughput, user CPU and total CPU by connection count,
/// one row of panels per pipelining depth.
fn echo_svg(echo: &[EchoRows], note: &[String]) -> String {
    type Pick = fn(&EchoRows) -> &Row;
    let picks: [(&str, &str, Pick); 3] = [
        ("throughput", "requests per second", |e| &e.rps),
        ("server user CPU", "ns of user time per request", |e| &e.user),
        ("server user+sys CPU", "ns of CPU time per request", |e| &e.total),
    ];
    type Track = (&'static str, &'static str, fn(&Row) -> Option<&Samples>);
    let tracks: [Track; 3] = [
        ("multitask", MULTITASK_COLOR, |r| Some(&r.multitask)),
        ("tokio", TOKIO_COLOR, |r| Some(&r.tokio)),
        ("bare mio", MIO_COLOR, |r| r.floor.as_ref()),
    ];
    let mut depths: Vec<usize> = echo.iter().map(|e| e.depth).collect();
    depths.dedup();
    let mut grid = Vec::new();
    for depth in depths {
        let rows: Vec<&EchoRows> = echo.iter().filter(|e| e.depth == depth).collect();
        let mode = if depth == 1 {
            "Echo".to_string()
        } else {
            format!("Echo ×{depth} pipelined")
        };
        let mut panels = Vec::new();
        for (title, y_label, pick) in picks {
            let series = tracks
                .iter()
                .map(|(name, color, samples)| chart::Series {
                    name: name.to_string(),
                    color,
                    points: rows
                        .iter()
                        .filter_map(|e| samples(pick(e)).map(|s| point(e.conns, s)))
                        .collect(),
                })
                .collect();
            panels.push(chart::Chart {
                title: format!("{mode}: {title}"),
                x_label: "connections (log scale)".into(),
                y_label: y_label.into(),
                series,
                labels: false,
            });
        }
        grid.push(panels);
    }
    chart::render(&grid, note)
}

/// Runs the benchmarks (or the child process it was re-executed as), prints
/// the table and writes the results and charts.
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--memory-child") {
        let usage = "--memory-child RUNTIME VARIANT N";
        let arg = |k: usize| args.get(i + k).expect(usage);
        memory::child(arg(1), arg(2), arg(3).parse().expect(usage));
    }
    if let Some(i) = args.iter().position(|a| a == "--micro-child") {
        let usage = "--micro-child BENCH RUNTIME SIZE";
        let arg = |k: usize| args.get(i + k).expect(usage);
        instr::child(arg(1), arg(2), arg(3).parse().expect(usage));
    }
    if let Some(i) = args.iter().position(|a| a == "--echo-client") {
        let arg = |k: usize| args.get(i + k).expect("--echo-client ADDR CONNS DEPTH");
        let parse = |k: usize| arg(k).parse().expect("--echo-client ADDR CONNS DEPTH");
        echo::client_process(arg(1), parse(2), parse(3));
    }
    if let Some(i) = args.iter().position(|a| a == "--echo-server") {
        let usage = "--echo-server SERVER --requests N";
        let name = args.get(i + 1).expect(usage);
        let requests = args
            .iter()
            .position(|a| a == "--requests")
            .and_then(|k| args.get(k + 1))
            .and_then(|n| n.parse().ok())
            .expect(usage);
        echo::server_process(name, requests);
    }
    if args.iter().any(|a| a == "--tokio-variants") {
        micro::tokio_variants();
        return;
    }
    let quick = args.iter().any(|a| a == "--quick")
        || std::env::var("MULTITASK_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map(|list| list.split(',').map(str::to_string).collect());
    // A run narrowed by any of these options writes `-partial` files under
    // target/ only, never docs/ or the full results.
    let partial = only.is_some()
        || ["--echo-conns", "--echo-depths", "--reps", "--servers"]
            .iter()
            .any(|o| args.iter().any(|a| a == o));
    let mut plan = Plan::new(quick, only);
    // Narrowing options, for profiling and development.
    let list = |name: &str| -> Option<Vec<usize>> {
        let i = args.iter().position(|a| a == name)?;
        args.get(i + 1)
            .map(|l| l.split(',').filter_map(|n| n.parse().ok()).collect())
    };
    if let Some(conns) = list("--echo-conns") {
        plan.echo_conns = conns;
    }
    if let Some(depths) = list("--echo-depths") {
        plan.echo_depths = depths;
    }
    if let Some(i) = args.iter().position(|a| a == "--servers") {
        let names = args.get(i + 1).map_or("", String::as_str);
        plan.servers.retain(|s| names.split(',').any(|n| n == s.name()));
    }
    if let Some(reps) = list("--reps").and_then(|r| r.first().copied()) {
        plan.reps = reps;
        plan.echo_reps = reps;
        plan.sleeper_reps = reps;
        plan.memory_reps = reps;
        plan.waiter_reps = reps;
    }
    let start = Instant::now();
    let load_before = loadavg();
    let nofile = echo::raise_nofile(65_536);
    note(start, &format!("{}; open-file limit {nofile}", machine()));

    let (mut rows, switch) = micro_rows(&plan, start);
    let echo = if plan.wants("echo") {
        echo_rows(&plan, start, nofile)
    } else {
        Vec::new()
    };
    for e in &echo {
        rows.push(e.rps.clone());
        rows.push(e.user.clone());
        rows.push(e.total.clone());
    }
    let costs = if plan.wants("echo-cost") {
        let dir = target_dir().join("echo-cost");
        Some(cost::run_all(&plan.servers, plan.cost_scale, &dir, &|text: &str| {
            note(start, text)
        }))
    } else {
        None
    };
    let mut waiter_times = Vec::new();
    if plan.wants("fd-waiters") {
        for &n in &plan.waiters {
            let mut reps = Vec::new();
            for rep in 0..plan.waiter_reps {
                match waiters::measure(n) {
                    Ok(t) => {
                        note(start, &format!("fd-waiters {n} #{rep}: {t:?}"));
                        reps.push(t);
                    }
                    Err(e) => note(start, &format!("fd-waiters {n} #{rep}: FAILED: {e}")),
                }
            }
            if let Some(t) = waiters::median(&reps) {
                waiter_times.push(t);
            }
        }
    }
    let (round_trip, echo_threads) = (plan.wants("run-in-thread"), plan.wants("echo-threads"));
    let threads_md = (round_trip || echo_threads).then(|| {
        threads::run(plan.quick, round_trip, echo_threads, &repo_root(), &|t: &str| {
            note(start, t)
        })
    });
    let elapsed = start.elapsed();

    // The report.
    let command = if plan.quick {
        "cargo bench -p multitask-bench --bench compare -- --quick"
    } else {
        "cargo bench -p multitask-bench --bench compare"
    };
    let table = if rows.is_empty() {
        String::new()
    } else {
        stats::text_table(&rows)
    };
    println!("\n{table}");
    if let Some((tools, costs)) = &costs {
        println!("echo cost per request, exact counts:\n{}", cost::method(*tools));
        println!("\n{}", cost::text_table(costs));
    }
    if !waiter_times.is_empty() {
        println!(
            "fd waiters on one socket (timeout {} s; each figure the median over runs: {}):\n\n{}",
            waiters::TIMEOUT,
            plan.waiter_reps,
            waiters::text_table(&waiter_times)
        );
    }
    let misses = stats::misses(&rows);
    let mut echo_errors = String::new();
    for e in &echo {
        let _ = writeln!(
            echo_errors,
            "- {} conns, depth {}: responses verified multitask {} / tokio {} / mio {}; errors {} / {} / {}",
            e.conns, e.depth, e.responses[0], e.responses[1], e.responses[2], e.errors[0], e.errors[1], e.errors[2]
        );
    }
    println!("echo client checks:\n{echo_errors}");
    if misses.is_empty() {
        println!("every target met");
    } else {
        println!("targets missed:");
        for m in &misses {
            println!("  {m}");
        }
    }
    println!("total time {:.0} s", elapsed.as_secs_f64());

    let mut md = String::new();
    let _ = writeln!(
        md,
        "# Benchmark results ({})\n",
        if plan.quick { "quick run" } else { "full run" }
    );
    let _ = writeln!(md, "- command: `{command}`");
    let _ = writeln!(md, "- date: {}", date());
    let _ = writeln!(md, "- machine: {}", machine());
    let _ = writeln!(md, "- load average before / after: {load_before} / {}", loadavg());
    let _ = writeln!(md, "- wall time of the run: {:.0} s\n", elapsed.as_secs_f64());
    if !rows.is_empty() {
        let _ = writeln!(
            md,
            "Medians of the repeated runs, spread (min–max) in brackets; ratios are of medians.\n"
        );
        md.push_str(&stats::markdown_table(&rows));
    }
    if let Some((tools, costs)) = &costs {
        let _ = writeln!(md, "\n## Echo cost per request: instructions and syscalls\n");
        let _ = writeln!(md, "{}\n", cost::method(*tools));
        md.push_str(&cost::markdown_table(costs));
    }
    if !waiter_times.is_empty() {
        let _ = writeln!(
            md,
            "\n## fd waiters: tasks waiting on one socket\n\nTimeout {} s; each figure the median over runs: {}.\n",
            waiters::TIMEOUT,
            plan.waiter_reps
        );
        md.push_str(&waiters::markdown_table(&waiter_times));
    }
    if let Some(section) = &threads_md {
        println!("\n{section}");
        let _ = writeln!(md, "\n{section}");
    }
    if !echo_errors.is_empty() {
        let _ = writeln!(md, "\nEcho client checks (every response verified):\n\n{echo_errors}");
    }
    if misses.is_empty() {
        let _ = writeln!(md, "\nEvery target met.");
    } else {
        let _ = writeln!(md, "\nTargets missed:\n");
        for m in &misses {
            let _ = writeln!(md, "- {m}");
        }
    }
    let target = target_dir();
    let md_path = target.join(match (plan.quick, partial) {
        (_, true) => "bench-results-partial.md",
        (true, false) => "bench-results-quick.md",
        (false, false) => "bench-results.md",
    });
    match std::fs::write(&md_path, md) {
        Ok(()) => println!("wrote {}", md_path.display()),
        Err(e) => eprintln!("could not write {}: {e}", md_path.display()),
    }

    let chart_note = [
        format!("{command} ({}); median of each point, whiskers min–max", date()),
        machine(),
    ];
    let docs = repo_root().join("docs");
    let (dir, suffix) = match (plan.quick, partial) {
        (_, true) => (target, "-partial"),
        (true, false) => (target, "-quick"),
        (false, false) => (docs, ""),
    };
    let mut charts = Vec::new();
    if !switch.is_empty() {
        charts.push((format!("switch{suffix}.svg"), switch_svg(&switch, &chart_note)));
    }
    if !echo.is_empty() {
        charts.push((format!("echo{suffix}.svg"), echo_svg(&echo, &chart_note)));
    }
    for (name, content) in charts {
        let path = dir.join(name);
        let _ = std::fs::create_dir_all(&dir);
        match std::fs::write(&path, content) {
            Ok(()) => println!("wrote {}", path.display()),
            Err(e) => eprintln!("could not write {}: {e}", path.display()),
        }
    }
}
