//! The timer structures measured against each other for src/time.rs: the
//! heap with lazy deletion that multitask uses (the real `Timers`, compiled
//! here from src/time.rs), the `BTreeMap` it had before, and a hierarchical
//! timing wheel like tokio's.
//!
//! ```text
//! cargo bench -p multitask-bench --bench timers             # wall time and instructions
//! cargo bench -p multitask-bench --bench timers -- --quick  # fewer rounds
//! ```
//!
//! Workloads, each with `N` = 100,000 timers and deadlines drawn from one
//! fixed xorshift sequence (the same for every structure):
//! - **bulk**: insert `N` timers due at random in 0..100 ms (1 µs steps), then
//!   pop them all in order (every pop checked against the one before);
//! - **server**: `N` requests; each sets a timer 100 ms (plus up to 1 ms)
//!   ahead, cancels the one set 1,000 requests before (cancel before fire,
//!   1,000 outstanding, as a server with a timeout per request does), asks
//!   for the earliest deadline and pops what is due, with the clock moving
//!   1 µs a request (nothing fires).
//!
//! Wall time: ns per timer, 7 interleaved rounds (3 with `--quick`), median
//! (min–max). Instructions: this binary re-executed under cachegrind for
//! `N/2` and `N` timers, the difference divided by `N/2`.

#[path = "timers/btree.rs"]
mod btree;
#[path = "compare/cachegrind.rs"]
mod cachegrind;
#[path = "timers/wheel.rs"]
mod wheel;

/// What src/time.rs needs of the library's error module (only `Seconds`,
/// unused here, makes errors).
mod error {
    /// A stand-in for the library's error.
    #[derive(Debug)]
    pub struct Error;

    /// The library's result type.
    pub type Result<T> = std::result::Result<T, Error>;

    impl Error {
        /// A stand-in for the library's `InvalidArgument` error.
        pub fn invalid(_text: impl Into<String>) -> Error {
            Error
        }
    }
}

/// The library's own timer module, as it is in src/.
#[allow(dead_code)]
#[path = "../../src/time.rs"]
mod time;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The operations the workloads use, on every structure.
trait Set {
    type Key: Copy;
    /// An empty set.
    fn make() -> Self;
    /// Sets a timer.
    fn set(&mut self, deadline: Instant, what: u32) -> Self::Key;
    /// Cancels a timer.
    fn unset(&mut self, key: Self::Key) -> Option<u32>;
    /// The earliest deadline (the wheel: a lower bound).
    fn next(&self) -> Option<Instant>;
    /// Takes the earliest timer if it is due at `now`.
    fn pop(&mut self, now: Instant) -> Option<u32>;
}

/// `Set` for a structure whose methods have the names and types of the
/// library's `Timers`; `$pop` turns what its `pop_expired` gives into the timer.
macro_rules! set_by_name {
    ($pop:expr) => {
        fn make() -> Self {
            Self::new()
        }
        fn set(&mut self, deadline: Instant, what: u32) -> Self::Key {
            self.insert(deadline, what)
        }
        fn unset(&mut self, key: Self::Key) -> Option<u32> {
            self.cancel(key)
        }
        fn next(&self) -> Option<Instant> {
            self.earliest()
        }
        fn pop(&mut self, now: Instant) -> Option<u32> {
            ($pop)(self.pop_expired(now))
        }
    };
}

impl Set for time::Timers<u32> {
    type Key = time::TimerKey;
    set_by_name!(|popped: Option<(time::TimerKey, u32)>| popped.map(|(_, what)| what));
}

impl Set for btree::Timers<u32> {
    type Key = btree::Key;
    set_by_name!(|popped| popped);
}

impl<const EXACT: bool> Set for wheel::Wheel<u32, EXACT> {
    type Key = wheel::Key;
    set_by_name!(|popped| popped);
}

/// xorshift64*: the same draws for every structure.
struct Rng(u64);

impl Rng {
    /// The next draw.
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// Inserts `n` timers due at random in 0..100 ms, pops them all, checks the
/// order (deadline, then the order set); ns per timer.
fn bulk<S: Set>(n: usize) -> f64 {
    let mut rng = Rng(0x5eed);
    let base = Instant::now();
    let due: Vec<Duration> = (0..n).map(|_| Duration::from_micros(rng.next() % 100_000)).collect();
    let t0 = Instant::now();
    let mut set = S::make();
    for (i, d) in due.iter().enumerate() {
        set.set(base + *d, i as u32);
    }
    let end = base + Duration::from_millis(200);
    let mut last: Option<(Duration, u32)> = None;
    let mut popped = 0;
    while let Some(i) = set.pop(end) {
        let this = (due[i as usize], i);
        assert!(last.is_none_or(|l| l < this), "out of order: {last:?} then {this:?}");
        last = Some(this);
        popped += 1;
    }
    assert_eq!(popped, n);
    t0.elapsed().as_nanos() as f64 / n as f64
}

/// `n` requests, each setting a timer ~100 ms ahead and cancelling the one
/// set 1,000 requests before; ns per request.
fn server<S: Set>(n: usize) -> f64 {
    const OUTSTANDING: usize = 1_000;
    let mut rng = Rng(0x5eed);
    let base = Instant::now();
    let t0 = Instant::now();
    let mut set = S::make();
    let mut keys = VecDeque::with_capacity(OUTSTANDING + 1);
    for i in 0..n {
        let now = base + Duration::from_micros(i as u64);
        let timeout = Duration::from_micros(100_000 + rng.next() % 1_000);
        keys.push_back(set.set(now + timeout, i as u32));
        if keys.len() > OUTSTANDING {
            let key = keys.pop_front().expect("a key");
            assert!(set.unset(key).is_some(), "cancelled before it fired");
        }
        assert!(set.next().is_some_and(|e| e > now - Duration::from_millis(1)));
        assert!(set.pop(now).is_none(), "nothing is due");
    }
    t0.elapsed().as_nanos() as f64 / n as f64
}

const STRUCTURES: [&str; 4] = ["heap", "btree", "wheel", "wheel-exact"];
const WORKLOADS: [&str; 2] = ["bulk", "server"];

/// One run of one workload on one structure; ns per timer.
fn run(structure: &str, workload: &str, n: usize) -> f64 {
    match (structure, workload) {
        ("heap", "bulk") => bulk::<time::Timers<u32>>(n),
        ("btree", "bulk") => bulk::<btree::Timers<u32>>(n),
        ("wheel", "bulk") => bulk::<wheel::Wheel<u32, false>>(n),
        ("wheel-exact", "bulk") => bulk::<wheel::Wheel<u32, true>>(n),
        ("heap", "server") => server::<time::Timers<u32>>(n),
        ("btree", "server") => server::<btree::Timers<u32>>(n),
        ("wheel", "server") => server::<wheel::Wheel<u32, false>>(n),
        ("wheel-exact", "server") => server::<wheel::Wheel<u32, true>>(n),
        _ => panic!("unknown structure or workload: {structure} {workload}"),
    }
}

/// Median, min and max of some figures.
fn spread(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

/// Runs every workload on every structure and prints the figures (or,
/// with `--child`, one workload once, for cachegrind).
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        let arg = |k: usize| args.get(i + k).expect("--child STRUCTURE WORKLOAD N");
        run(arg(1), arg(2), arg(3).parse().expect("N"));
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let (n, rounds) = (100_000, if quick { 3 } else { 7 });
    let valgrind = cachegrind::available();
    if !valgrind {
        println!("valgrind not found: wall times only, no instruction counts");
    }
    let log = std::env::temp_dir().join(format!("timers-cachegrind-{}.log", std::process::id()));
    println!("N = {n}; ns per timer: median (min–max) of {rounds} interleaved rounds; instructions per timer: (I(N) - I(N/2)) / (N/2)");
    println!(
        "{:<8} {:<11} {:>24} {:>14}",
        "workload", "struct", "ns/timer", "instr/timer"
    );
    for workload in WORKLOADS {
        let mut times = STRUCTURES.map(|_| Vec::new());
        for _ in 0..rounds {
            for (k, s) in STRUCTURES.iter().enumerate() {
                times[k].push(run(s, workload, n));
            }
        }
        for (k, s) in STRUCTURES.iter().enumerate() {
            let (median, min, max) = spread(times[k].clone());
            let instr = if valgrind {
                let args = |size: u64| ["--child", s, workload, &size.to_string()].map(String::from).to_vec();
                match cachegrind::per_op(n as u64 / 2, n as u64, args, &log) {
                    Ok(i) => format!("{i:.0}"),
                    Err(e) => format!("failed: {e}"),
                }
            } else {
                "-".into()
            };
            let time = format!("{median:.1} ({min:.1}–{max:.1})");
            println!("{workload:<8} {s:<11} {time:>24} {instr:>14}");
        }
    }
    let _ = std::fs::remove_file(&log);
}
