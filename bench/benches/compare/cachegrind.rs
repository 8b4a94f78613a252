//! Exact user-space instruction counts: this bench binary re-executed under
//! `valgrind --tool=cachegrind --cache-sim=no` (no cache simulation: only
//! `I refs`, the instructions the whole process executed in user space).
//!
//! A figure per operation is always the difference of two runs of different
//! sizes divided by the extra operations, so that process start-up, the
//! runtime's set-up and tear-down cancel out. The counts do not move with
//! machine load: two runs of one build give the same count, except where a
//! program sleeps (how many passes it makes then depends on timing; a few
//! tenths of a percent). A rebuild that lays the code out differently can move
//! them by a percent or two (ping-pong: 2,959 and 3,009 instructions per
//! round trip from two builds of the same library).

use std::path::Path;
use std::process::{Command, Stdio};

/// True if `valgrind` runs here.
pub fn available() -> bool {
    Command::new("valgrind")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `valgrind` set up for instruction counts, writing its summary to `log`;
/// the program and its arguments follow.
pub fn command(log: &Path) -> Command {
    let mut c = Command::new("valgrind");
    c.args(["--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"])
        .arg(format!("--log-file={}", log.display()));
    c
}

/// `I refs` in a cachegrind log.
pub fn instructions(log: &str) -> Option<u64> {
    log.lines().find_map(|l| {
        let (_, rest) = l.split_once("I   refs:").or_else(|| l.split_once("I refs:"))?;
        rest.trim().replace(',', "").parse().ok()
    })
}

/// The instructions of one run of this binary with `args`, under cachegrind;
/// `log` is where valgrind writes (overwritten).
pub fn count(args: &[String], log: &Path) -> Result<u64, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(log);
    let out = command(log)
        .arg(exe)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("valgrind: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{} exited with {}: {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let text = std::fs::read_to_string(log).map_err(|e| format!("{}: {e}", log.display()))?;
    instructions(&text).ok_or_else(|| "no `I refs` line in the valgrind log".to_string())
}

/// Instructions per operation: runs `args(small)` and `args(large)` and
/// divides the difference by `large - small` operations.
pub fn per_op(small: u64, large: u64, args: impl Fn(u64) -> Vec<String>, log: &Path) -> Result<f64, String> {
    let a = count(&args(small), log)?;
    let b = count(&args(large), log)?;
    Ok((b as f64 - a as f64) / (large - small) as f64)
}
