//! Samples, the result table, and its text and markdown forms.

use std::fmt::Write as _;

/// The repeated measurements of one figure.
#[derive(Clone, Debug, Default)]
pub struct Samples(pub Vec<f64>);

impl Samples {
    /// Adds one measurement.
    pub fn push(&mut self, value: f64) {
        self.0.push(value);
    }

    /// True if there is no measurement but NaN (failed runs).
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|v| v.is_nan())
    }

    /// The measurements, NaN left out, ascending.
    fn sorted(&self) -> Vec<f64> {
        let mut v: Vec<f64> = self.0.iter().copied().filter(|v| !v.is_nan()).collect();
        v.sort_by(|a, b| a.total_cmp(b));
        v
    }

    /// The median (NaN when empty).
    pub fn median(&self) -> f64 {
        let v = self.sorted();
        match v.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => v[n / 2],
            n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        }
    }

    /// The smallest measurement (NaN when empty).
    pub fn min(&self) -> f64 {
        self.sorted().first().copied().unwrap_or(f64::NAN)
    }

    /// The largest measurement (NaN when empty).
    pub fn max(&self) -> f64 {
        self.sorted().last().copied().unwrap_or(f64::NAN)
    }
}

/// Which way a figure is better.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Better {
    Lower,
    Higher,
}

/// A target on a ratio: `≤ x` for costs, `≥ x` for throughput.
#[derive(Clone, Copy, Debug)]
pub struct Target {
    pub better: Better,
    pub bound: f64,
}

impl Target {
    /// A cost target: the ratio must be at most `bound`.
    pub fn at_most(bound: f64) -> Option<Target> {
        Some(Target {
            better: Better::Lower,
            bound,
        })
    }

    /// A throughput target: the ratio must be at least `bound`.
    pub fn at_least(bound: f64) -> Option<Target> {
        Some(Target {
            better: Better::Higher,
            bound,
        })
    }

    /// True if `ratio` meets the target.
    pub fn met(&self, ratio: f64) -> bool {
        match self.better {
            Better::Lower => ratio <= self.bound,
            Better::Higher => ratio >= self.bound,
        }
    }

    /// `≤ x` or `≥ x`.
    fn text(&self) -> String {
        match self.better {
            Better::Lower => format!("≤ {}", self.bound),
            Better::Higher => format!("≥ {}", self.bound),
        }
    }
}

/// One line of the table: a figure for multitask, tokio and the floor (a
/// bare run queue of boxed coroutines; for echo, a bare mio loop).
#[derive(Clone, Debug)]
pub struct Row {
    pub name: String,
    pub unit: String,
    pub multitask: Samples,
    pub tokio: Samples,
    pub floor: Option<Samples>,
    /// The target on multitask / tokio.
    pub target: Option<Target>,
    /// The target on multitask / the floor.
    pub floor_target: Option<Target>,
}

impl Row {
    /// A row with no measurements and no targets.
    pub fn new(name: impl Into<String>, unit: impl Into<String>) -> Row {
        Row {
            name: name.into(),
            unit: unit.into(),
            multitask: Samples::default(),
            tokio: Samples::default(),
            floor: None,
            target: None,
            floor_target: None,
        }
    }

    /// multitask / tokio, of the medians.
    pub fn ratio(&self) -> f64 {
        self.multitask.median() / self.tokio.median()
    }

    /// multitask / floor, of the medians, if the row has a floor.
    pub fn floor_ratio(&self) -> Option<f64> {
        self.floor.as_ref().map(|m| self.multitask.median() / m.median())
    }

    /// "met", "MISSED", or "" when the row has no target.
    fn verdict(target: Option<Target>, ratio: f64) -> &'static str {
        match target {
            Some(_) if ratio.is_nan() => "no data",
            Some(t) if t.met(ratio) => "met",
            Some(_) => "MISSED",
            None => "",
        }
    }
}

/// An integer with thousands separators: 12,345.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Formats a figure with about three significant digits.
pub fn fmt_num(v: f64) -> String {
    if v.is_nan() {
        return "-".to_string();
    }
    let a = v.abs();
    if a >= 100_000.0 {
        // thousands separators for big counts
        let s = format!("{:.0}", v);
        let (sign, digits) = s.split_at(if v < 0.0 { 1 } else { 0 });
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        format!("{sign}{out}")
    } else if a >= 100.0 {
        format!("{:.0}", v)
    } else if a >= 10.0 {
        format!("{:.1}", v)
    } else {
        format!("{:.2}", v)
    }
}

/// A figure with its spread; a single measurement (an exact count) alone.
fn fmt_samples(s: &Samples) -> String {
    if s.is_empty() {
        return "-".to_string();
    }
    if s.0.len() == 1 {
        return fmt_num(s.median());
    }
    format!("{} ({}–{})", fmt_num(s.median()), fmt_num(s.min()), fmt_num(s.max()))
}

/// A ratio to two decimals, or more when two would read as meeting a target
/// it misses (or missing one it meets): 0.2528 against "≤ 0.25" shows as 0.253.
fn fmt_ratio(r: f64, target: Option<Target>) -> String {
    if r.is_nan() {
        return "-".to_string();
    }
    let mut text = format!("{r:.2}");
    for decimals in 3..=6 {
        let shown: f64 = text.parse().unwrap_or(r);
        if target.is_none_or(|t| t.met(shown) == t.met(r)) {
            break;
        }
        text = format!("{r:.decimals$}");
    }
    text
}

const HEADER: [&str; 9] = [
    "benchmark",
    "unit",
    "multitask median (min–max)",
    "tokio median (min–max)",
    "floor (echo: bare mio) median (min–max)",
    "multitask/tokio",
    "target",
    "multitask/floor",
    "target (floor)",
];

/// The cells of one row, in the order of `HEADER`.
fn cells(row: &Row) -> [String; 9] {
    let ratio = row.ratio();
    let floor_ratio = row.floor_ratio().unwrap_or(f64::NAN);
    let target = match row.target {
        Some(t) => format!("{} {}", t.text(), Row::verdict(row.target, ratio)),
        None => String::new(),
    };
    let floor_target = match row.floor_target {
        Some(t) => format!("{} {}", t.text(), Row::verdict(row.floor_target, floor_ratio)),
        None => String::new(),
    };
    [
        row.name.clone(),
        row.unit.clone(),
        fmt_samples(&row.multitask),
        fmt_samples(&row.tokio),
        row.floor.as_ref().map_or(String::new(), fmt_samples),
        fmt_ratio(ratio, row.target),
        target,
        row.floor
            .as_ref()
            .map_or(String::new(), |_| fmt_ratio(floor_ratio, row.floor_target)),
        floor_target,
    ]
}

/// The table as aligned plain text, for the terminal.
pub fn text_table(rows: &[Row]) -> String {
    let all: Vec<[String; 9]> = std::iter::once(HEADER.map(String::from))
        .chain(rows.iter().map(cells))
        .collect();
    let mut widths = [0usize; 9];
    for r in &all {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for (i, r) in all.iter().enumerate() {
        for (j, (c, w)) in r.iter().zip(widths).enumerate() {
            let pad = w - c.chars().count();
            if j >= 2 {
                let _ = write!(out, "{}{}  ", " ".repeat(pad), c);
            } else {
                let _ = write!(out, "{}{}  ", c, " ".repeat(pad));
            }
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
        if i == 0 {
            let total: usize = widths.iter().map(|w| w + 2).sum();
            out.push_str(&"-".repeat(total - 2));
            out.push('\n');
        }
    }
    out
}

/// The table as markdown.
pub fn markdown_table(rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "| {} |", HEADER.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(HEADER.len()));
    for row in rows {
        let _ = writeln!(out, "| {} |", cells(row).join(" | "));
    }
    out
}

/// The rows whose ratio misses a target, described in one line each.
pub fn misses(rows: &[Row]) -> Vec<String> {
    let mut out = Vec::new();
    for row in rows {
        let ratio = row.ratio();
        if let Some(t) = row.target {
            if !t.met(ratio) {
                out.push(format!(
                    "{} ({}): multitask/tokio = {} (target {})",
                    row.name,
                    row.unit,
                    fmt_ratio(ratio, Some(t)),
                    t.text()
                ));
            }
        }
        if let (Some(t), Some(r)) = (row.floor_target, row.floor_ratio()) {
            if !t.met(r) {
                out.push(format!(
                    "{} ({}): multitask/floor = {} (target {})",
                    row.name,
                    row.unit,
                    fmt_ratio(r, Some(t)),
                    t.text()
                ));
            }
        }
    }
    out
}
