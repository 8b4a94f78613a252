//! Instructions per operation of the micro benchmarks, for multitask, tokio
//! and the floor: this binary re-executed as `--micro-child BENCH RUNTIME
//! SIZE` under cachegrind (see `cachegrind.rs`), at two sizes, the
//! difference divided by the extra operations.

use std::path::Path;

use crate::stats::{Row, Samples, Target};
use crate::{cachegrind, floor, micro};

/// One counted benchmark: its name on the command line, its row, the two
/// sizes (in operations: switches, tasks, round trips, sleepers) and its targets.
pub struct Counted {
    pub bench: &'static str,
    pub label: &'static str,
    pub unit: &'static str,
    pub sizes: (u64, u64),
    /// Targets on multitask/tokio and multitask/floor.
    pub targets: (Option<Target>, Option<Target>),
}

/// The benchmarks counted, in the order of the table.
pub fn benches() -> Vec<Counted> {
    let at_most = Target::at_most;
    let counted = |bench, label, unit, sizes, targets| Counted {
        bench,
        label,
        unit,
        sizes,
        targets,
    };
    let switch = (at_most(0.25), at_most(2.0));
    vec![
        counted(
            "switch10",
            "switch, 10 tasks: instructions",
            "instr/switch",
            (30_000, 90_000),
            switch,
        ),
        counted(
            "switch1000",
            "switch, 1000 tasks: instructions",
            "instr/switch",
            (30_000, 90_000),
            switch,
        ),
        counted(
            "spawn",
            "spawn + finish: instructions",
            "instr/task",
            (10_000, 30_000),
            (at_most(0.35), at_most(1.6)),
        ),
        counted(
            "pingpong",
            "ping-pong, two queues of size 1: instructions",
            "instr/round trip",
            (5_000, 15_000),
            (at_most(0.6), None),
        ),
        counted(
            "sleepers",
            "sleepers 0..100 ms: instructions (spawn, sleep, wake, end)",
            "instr/sleeper",
            (10_000, 30_000),
            (None, None),
        ),
    ]
}

/// The child's side: runs `bench` once on `runtime` with `size` operations.
pub fn child(bench: &str, runtime: &str, size: usize) -> ! {
    let _ = match (bench, runtime) {
        ("switch10", "multitask") => micro::switch_multitask(10, size),
        ("switch10", "tokio") => micro::switch_tokio(10, size, false),
        ("switch10", "floor") => floor::switch(10, size),
        ("switch1000", "multitask") => micro::switch_multitask(1000, size),
        ("switch1000", "tokio") => micro::switch_tokio(1000, size, false),
        ("switch1000", "floor") => floor::switch(1000, size),
        ("spawn", "multitask") => micro::spawn_multitask(size),
        ("spawn", "tokio") => micro::spawn_tokio(size),
        ("spawn", "floor") => floor::spawn(size),
        ("pingpong", "multitask") => micro::pingpong_multitask(size),
        ("pingpong", "tokio") => micro::pingpong_tokio(size),
        ("pingpong", "floor") => floor::pingpong(size),
        ("sleepers", "multitask") => micro::sleepers_multitask(size),
        ("sleepers", "tokio") => micro::sleepers_tokio(size),
        ("sleepers", "floor") => floor::sleepers(micro::sleeps(size), micro::SLEEP_SPAN),
        _ => panic!("--micro-child: unknown benchmark or runtime: {bench} {runtime}"),
    };
    std::process::exit(0)
}

/// The row of one counted benchmark: one exact figure per runtime
/// (`runtimes` of `multitask`, `tokio`, `floor`).
pub fn row(c: &Counted, runtimes: &[&str], dir: &Path, note: &dyn Fn(&str)) -> Row {
    let mut row = Row::new(c.label, c.unit);
    (row.target, row.floor_target) = c.targets;
    let mut floor = Samples::default();
    for &runtime in runtimes {
        let log = dir.join(format!("{}-{runtime}.log", c.bench));
        let args = |size: u64| {
            ["--micro-child", c.bench, runtime, &size.to_string()]
                .map(String::from)
                .to_vec()
        };
        let figure = match cachegrind::per_op(c.sizes.0, c.sizes.1, args, &log) {
            Ok(v) => v,
            Err(e) => {
                note(&format!("{} {runtime}: valgrind FAILED: {e}", c.bench));
                f64::NAN
            }
        };
        note(&format!("{} {runtime}: {figure:.0} {}", c.bench, c.unit));
        match runtime {
            "multitask" => row.multitask.push(figure),
            "tokio" => row.tokio.push(figure),
            _ => floor.push(figure),
        }
    }
    row.floor = Some(floor);
    row
}
