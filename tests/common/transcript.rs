//! The harness of the tests that port a program of the original: what the
//! port prints (`p!`) is kept as lines, `passes` runs a manager as the
//! programs' `passes(tm)` helper does (`|` after each `run_next`), and
//! `check` compares it all with the transcript the original printed.

use std::cell::RefCell;

use multitask::{wait, Task, TaskManager};

thread_local! {
    /// The lines printed so far by this test's thread.
    pub static OUT: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Prints a line of the transcript, as the Python program's `print`.
#[allow(unused_macros)]
macro_rules! p {
    ($($arg:tt)*) => { $crate::common::transcript::OUT.with_borrow_mut(|o| o.push(format!($($arg)*))) };
}

/// What was printed, a line each.
pub fn transcript() -> String {
    OUT.with_borrow(|o| o.iter().map(|l| format!("{l}\n")).collect())
}

/// The lines of `text`, pass by pass, each pass's sorted.
fn by_pass(text: &str) -> Vec<Vec<String>> {
    text.split("|\n")
        .map(|pass| {
            let mut lines: Vec<String> = pass.lines().map(str::to_string).collect();
            lines.sort();
            lines
        })
        .collect()
}

/// Asserts that the transcript is `expected`, exactly; the message says if
/// only the order of lines within a pass differs.
pub fn check(expected: &str) {
    let got = transcript();
    if got != expected {
        let kind = match by_pass(&got) == by_pass(expected) {
            true => "only the order within a pass differs",
            false => "differs",
        };
        panic!("transcript {kind}\n--- python\n{expected}--- rust\n{got}");
    }
}

/// As [`check`], but the lines within each pass compared as a set: for the
/// programs where several fds are ready at once, whose order the original
/// leaves arbitrary (its `select`'s lists go through a `set`; DESIGN.md §2).
pub fn check_each_pass_unordered(expected: &str) {
    let got = transcript();
    assert_eq!(
        by_pass(&got),
        by_pass(expected),
        "--- python\n{expected}--- rust\n{got}"
    );
}

/// Runs `tm` as the programs' `passes(tm)` does: while anything is runnable,
/// waits on I/O or on a timeout, one `run_next` and a `|`; an error escaping
/// it is printed; at most 100 passes.
pub fn passes(tm: &TaskManager) {
    let mut n = 0;
    while tm.has_runnable() || tm.has_io_waits() || tm.has_timeouts() {
        if let Err(e) = tm.run_next(None) {
            p!("ERR {}: {}", e.name(), e);
        }
        p!("|");
        n += 1;
        if n >= 100 {
            p!("LIMIT");
            break;
        }
    }
}

/// Python 2 repr of a byte string (the ASCII cases the programs use).
pub fn repr(b: &[u8]) -> String {
    let mut s = String::from("'");
    for &c in b {
        match c {
            b'\n' => s += "\\n",
            b'\'' => s += "\\'",
            b'\\' => s += "\\\\",
            0x20..=0x7e => s.push(c as char),
            _ => s += &format!("\\x{c:02x}"),
        }
    }
    s + "'"
}

/// A task that prints `name i` and yields, `n` times.
pub fn ticker(name: &'static str, n: usize) -> Task {
    Task::new(
        #[coroutine]
        move |_| {
            for i in 0..n {
                p!("{name} {i}");
                wait!();
            }
            Ok(())
        },
    )
}
