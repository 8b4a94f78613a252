//! `echo-cost`: what one echo request costs each server, exactly: user-space
//! instructions (valgrind's cachegrind, `I refs`) and syscalls (strace -c),
//! by name.
//!
//! Each server runs alone in a process of its own, this bench binary
//! re-executed with `--echo-server SERVER --requests N` (see
//! [`echo::server_process`]) under the tool; the client runs here, outside
//! it, and makes exactly `N` requests, one in flight per connection, every
//! response verified ([`echo::drive`]). Each figure is the difference of two
//! runs, `R` and `3R` requests, divided by `2R`: start-up, connecting and
//! closing cancel out. Under valgrind the server runs about 50 times slower
//! than the client, so the client's next requests are always there by the time
//! the server polls again: with many connections, one `epoll_wait` brings
//! more events than it would natively. Under strace every syscall costs the
//! server a round trip through the tracer, which has a similar, smaller
//! effect.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::cachegrind;
use crate::echo::{self, Server};
use crate::stats::thousands;

/// One load: `conns` connections, one request in flight on each, `requests`
/// in the smaller of the two runs.
#[derive(Clone, Copy, Debug)]
pub struct Scenario {
    pub name: &'static str,
    pub conns: usize,
    pub requests: u64,
    /// The client sends each next request only once the server sleeps in
    /// `epoll_wait` (else, slowed down by the tool, the server would mostly
    /// find the next request there already).
    pub idle: bool,
}

/// The loads measured. In lockstep, every server read waits on epoll.
pub const SCENARIOS: [Scenario; 3] = [
    Scenario {
        name: "lockstep, 1 conn",
        conns: 1,
        requests: 2_000,
        idle: true,
    },
    Scenario {
        name: "50 conns",
        conns: 50,
        requests: 10_000,
        idle: false,
    },
    Scenario {
        name: "1000 conns",
        conns: 1_000,
        requests: 20_000,
        idle: false,
    },
];

/// The syscalls with a column of their own; the rest are summed as others.
pub const NAMED: [&str; 4] = ["recvfrom", "sendto", "epoll_wait", "epoll_ctl"];

/// The tools, and whether each is installed.
#[derive(Clone, Copy, Debug)]
pub struct Tools {
    pub valgrind: bool,
    pub strace: bool,
}

impl Tools {
    /// Which of the tools run here.
    pub fn find() -> Tools {
        let works = |tool: &str| {
            Command::new(tool)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        Tools {
            valgrind: cachegrind::available(),
            strace: works("strace"),
        }
    }
}

/// How many pairs of runs give each instruction count. The figure of one
/// pair moves by a few percent from run to run with many connections (how
/// many reads find their data there at once, and how many wait on epoll,
/// depends on how the client and the slowed-down server interleave), so
/// the table gives the median and the range of three.
pub const REPS: usize = 3;

/// One server's figures in one scenario, per request.
#[derive(Clone, Debug)]
pub struct Cost {
    pub scenario: Scenario,
    pub server: Server,
    /// User-space instructions per request, the median of [`REPS`] pairs
    /// of runs (`None`: not measured, or failed).
    pub instructions: Option<f64>,
    /// The lowest and highest of those pairs' figures.
    pub instructions_range: Option<(f64, f64)>,
    /// Syscalls per request, by name.
    pub syscalls: Option<BTreeMap<String, f64>>,
}

impl Cost {
    /// Syscalls per request, all names.
    fn total_syscalls(&self) -> Option<f64> {
        self.syscalls.as_ref().map(|m| m.values().sum())
    }

    /// Calls per request of one syscall.
    fn syscall(&self, name: &str) -> Option<f64> {
        self.syscalls.as_ref().map(|m| m.get(name).copied().unwrap_or(0.0))
    }

    /// The syscalls not in [`NAMED`]: their sum, and the ones that are not
    /// zero, by name.
    fn others(&self) -> Option<(f64, String)> {
        let m = self.syscalls.as_ref()?;
        let mut sum = 0.0;
        let mut names = Vec::new();
        for (name, &v) in m {
            if NAMED.contains(&name.as_str()) {
                continue;
            }
            sum += v;
            if v.abs() >= 0.005 {
                names.push(format!("{name} {v:.2}"));
            }
        }
        Some((sum, names.join(", ")))
    }
}

/// A server process under a tool, and where the tool writes.
struct Traced {
    child: Child,
    output: PathBuf,
    addr: std::sync::mpsc::Receiver<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tool {
    Valgrind,
    Strace,
}

/// Starts `server` under `tool` for `requests` requests; its output goes to `dir`.
fn start(tool: Tool, server: Server, requests: u64, dir: &Path) -> Result<Traced, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let output = dir.join(format!("{}-{:?}-{requests}.txt", server.name(), tool).to_lowercase());
    let _ = std::fs::remove_file(&output);
    let mut command = match tool {
        Tool::Valgrind => cachegrind::command(&output),
        Tool::Strace => {
            let mut c = Command::new("strace");
            c.args(["-f", "-c", "-o"]).arg(&output).arg("--");
            c
        }
    };
    let mut child = command
        .arg(exe)
        .args(["--echo-server", server.name(), "--requests", &requests.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{tool:?}: {e}"))?;
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line.trim().to_string());
    });
    Ok(Traced {
        child,
        output,
        addr: rx,
    })
}

/// How long one traced run may take before it counts as failed.
const RUN_LIMIT: Duration = Duration::from_secs(300);

/// One run of `server` under `tool` with `requests` requests in `scenario`;
/// the tool's output file.
fn run_once(tool: Tool, server: Server, scenario: Scenario, requests: u64, dir: &Path) -> Result<String, String> {
    let mut traced = start(tool, server, requests, dir)?;
    let deadline = Instant::now() + RUN_LIMIT;
    let result = (|| {
        let line = traced
            .addr
            .recv_timeout(Duration::from_secs(60))
            .map_err(|_| "the server did not print its address".to_string())?;
        let bad = || format!("the server printed {line:?}, not its address and process id");
        let (addr, pid) = line.split_once(' ').ok_or_else(bad)?;
        let addr: SocketAddr = addr.parse().map_err(|_| bad())?;
        let pid: u32 = pid.parse().map_err(|_| bad())?;
        let child = &mut traced.child;
        let idle = scenario.idle.then_some(pid);
        echo::drive(addr, scenario.conns, requests, idle, || {
            Instant::now() > deadline || child.try_wait().is_ok_and(|s| s.is_some())
        })
    })();
    // The server exits by itself after the stop connection; if it does not, it is killed.
    let status = loop {
        match traced.child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() > deadline => {
                let _ = traced.child.kill();
                let _ = traced.child.wait();
                return Err("the server did not exit; killed".into());
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(e.to_string()),
        }
    };
    result?;
    if !status.success() {
        return Err(format!("the server exited with {status}"));
    }
    std::fs::read_to_string(&traced.output).map_err(|e| format!("{}: {e}", traced.output.display()))
}

/// Calls per syscall name in an `strace -c` summary.
fn syscalls(summary: &str) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for line in summary.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        // % time, seconds, usecs/call, calls, [errors,] syscall
        if cols.len() < 5 || cols[0].parse::<f64>().is_err() {
            continue;
        }
        let name = cols[cols.len() - 1];
        if name == "total" {
            continue;
        }
        if let Ok(calls) = cols[3].parse::<u64>() {
            *out.entry(name.to_string()).or_insert(0) += calls;
        }
    }
    out
}

/// The figures of one server in one scenario: two runs per tool, `R` and `3R`.
fn measure(scenario: Scenario, server: Server, tools: Tools, dir: &Path, note: &dyn Fn(&str)) -> Cost {
    let r = scenario.requests;
    let (small, large) = (r, 3 * r);
    let per = (large - small) as f64;
    let label = format!("echo-cost {} {}", scenario.name, server.name());
    let mut cost = Cost {
        scenario,
        server,
        instructions: None,
        instructions_range: None,
        syscalls: None,
    };
    let mut figures = Vec::new();
    for _ in 0..if tools.valgrind { REPS } else { 0 } {
        let runs = [small, large].map(|n| {
            let started = Instant::now();
            let out = run_once(Tool::Valgrind, server, scenario, n, dir).and_then(|log| {
                cachegrind::instructions(&log).ok_or_else(|| "no `I refs` line in the valgrind log".to_string())
            });
            note(&format!(
                "{label}: valgrind, {n} requests: {} in {:.1} s",
                match &out {
                    Ok(i) => format!("{} instructions", thousands(*i)),
                    Err(e) => format!("FAILED: {e}"),
                },
                started.elapsed().as_secs_f64()
            ));
            out
        });
        if let [Ok(a), Ok(b)] = runs {
            figures.push((b as f64 - a as f64) / per);
        }
    }
    if !figures.is_empty() {
        figures.sort_by(f64::total_cmp);
        cost.instructions = Some(figures[figures.len() / 2]);
        cost.instructions_range = Some((figures[0], figures[figures.len() - 1]));
    }
    if tools.strace {
        let runs = [small, large].map(|n| {
            let started = Instant::now();
            let out = run_once(Tool::Strace, server, scenario, n, dir).map(|s| syscalls(&s));
            note(&format!(
                "{label}: strace, {n} requests: {} in {:.1} s",
                match &out {
                    Ok(m) => format!("{} syscalls", m.values().sum::<u64>()),
                    Err(e) => format!("FAILED: {e}"),
                },
                started.elapsed().as_secs_f64()
            ));
            out
        });
        if let [Ok(a), Ok(b)] = runs {
            let mut names: Vec<&String> = a.keys().chain(b.keys()).collect();
            names.sort();
            names.dedup();
            let diff = names
                .into_iter()
                .map(|name| {
                    let get = |m: &BTreeMap<String, u64>| m.get(name).copied().unwrap_or(0) as f64;
                    (name.clone(), (get(&b) - get(&a)) / per)
                })
                .collect();
            cost.syscalls = Some(diff);
        }
    }
    cost
}

/// Every scenario, every server in `servers`, in turn, with each scenario's
/// request counts divided by `scale` (1 in a full run).
pub fn run_all(servers: &[Server], scale: u64, dir: &Path, note: &dyn Fn(&str)) -> (Tools, Vec<Cost>) {
    let tools = Tools::find();
    if !tools.valgrind {
        note("echo-cost: valgrind not found: no instruction counts");
    }
    if !tools.strace {
        note("echo-cost: strace not found: no syscall counts");
    }
    let mut out = Vec::new();
    if !tools.valgrind && !tools.strace {
        return (tools, out);
    }
    let _ = std::fs::create_dir_all(dir);
    for mut scenario in SCENARIOS {
        scenario.requests /= scale;
        for server in [Server::Multitask, Server::Tokio, Server::Mio] {
            if servers.contains(&server) {
                out.push(measure(scenario, server, tools, dir, note));
            }
        }
    }
    (tools, out)
}

/// multitask's instructions per request over `server`'s, in the same scenario.
fn ratio(costs: &[Cost], c: &Cost, server: Server) -> Option<f64> {
    if c.server != Server::Multitask {
        return None;
    }
    let other = costs
        .iter()
        .find(|o| o.server == server && o.scenario.name == c.scenario.name)?;
    Some(c.instructions? / other.instructions?)
}

/// A figure to `digits` decimals, `-` when missing.
fn cell(v: Option<f64>, digits: usize) -> String {
    // A difference of counts can come out a hair below zero: that is zero.
    let zero = 0.5 * 10f64.powi(-(digits as i32));
    v.map_or_else(
        || "-".to_string(),
        |v| format!("{:.digits$}", if v.abs() < zero { 0.0 } else { v }),
    )
}

/// The table's rows: one per scenario and server.
fn rows(costs: &[Cost]) -> Vec<[String; 11]> {
    costs
        .iter()
        .map(|c| {
            let (others, other_names) = c.others().map_or((None, String::new()), |(s, n)| (Some(s), n));
            [
                format!("{} (R = {})", c.scenario.name, thousands(c.scenario.requests)),
                c.server.name().to_string(),
                match (c.instructions, c.instructions_range) {
                    (Some(i), Some((lo, hi))) if hi - lo >= 0.5 => format!(
                        "{} ({}–{})",
                        thousands(i.max(0.0).round() as u64),
                        thousands(lo.max(0.0).round() as u64),
                        thousands(hi.max(0.0).round() as u64)
                    ),
                    (Some(i), _) => thousands(i.max(0.0).round() as u64),
                    _ => "-".to_string(),
                },
                cell(c.total_syscalls(), 2),
                cell(c.syscall("recvfrom"), 2),
                cell(c.syscall("sendto"), 2),
                cell(c.syscall("epoll_wait"), 2),
                cell(c.syscall("epoll_ctl"), 2),
                if other_names.is_empty() {
                    cell(others, 2)
                } else {
                    format!("{} ({other_names})", cell(others, 2))
                },
                cell(ratio(costs, c, Server::Mio), 2),
                cell(ratio(costs, c, Server::Tokio), 2),
            ]
        })
        .collect()
}

const HEADER: [&str; 11] = [
    "scenario",
    "server",
    "instructions/request",
    "syscalls/request",
    "recvfrom",
    "sendto",
    "epoll_wait",
    "epoll_ctl",
    "others",
    "instr. multitask/mio",
    "instr. multitask/tokio",
];

/// The table as aligned plain text.
pub fn text_table(costs: &[Cost]) -> String {
    if costs.is_empty() {
        return "(nothing measured)\n".to_string();
    }
    let rows = rows(costs);
    let mut widths: Vec<usize> = HEADER.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: &[String]| {
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            let pad = w - c.chars().count();
            if i < 2 || i == 8 {
                let _ = write!(out, "{c}{}  ", " ".repeat(pad));
            } else {
                let _ = write!(out, "{}{c}  ", " ".repeat(pad));
            }
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
    };
    line(&mut out, &HEADER.map(String::from));
    for row in &rows {
        line(&mut out, row);
    }
    out
}

/// The table as markdown.
pub fn markdown_table(costs: &[Cost]) -> String {
    if costs.is_empty() {
        return "(nothing measured)\n".to_string();
    }
    let mut out = format!("| {} |\n", HEADER.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(HEADER.len()));
    for row in rows(costs) {
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
    out
}

/// What the tables show, and how.
pub fn method(tools: Tools) -> String {
    let mut s = String::from(
        "Per request, from two runs of R and 3R requests (the difference over 2R): \
         instructions are cachegrind's `I refs` of the server process (user space, \
         the whole process), the median of three such pairs with their range in \
         brackets; syscalls are `strace -f -c` counts, one pair. Each server alone \
         in its own process, the client outside the tool.",
    );
    if !tools.valgrind {
        s.push_str(" valgrind was not found: no instruction counts.");
    }
    if !tools.strace {
        s.push_str(" strace was not found: no syscall counts.");
    }
    s
}
