//! Hand-written SVG line charts: a log-scale x axis, a linear y axis from 0,
//! one polyline per series with its median points and min–max whiskers, and
//! a legend. No dependency.

use std::fmt::Write as _;

/// One point: x, and the median, min and max of its samples.
#[derive(Clone, Copy, Debug)]
pub struct Point {
    pub x: f64,
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

pub struct Series {
    pub name: String,
    pub color: &'static str,
    pub dashed: bool,
    pub points: Vec<Point>,
}

pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    /// Write each median's value beside its point.
    pub labels: bool,
}

const PANEL_W: f64 = 460.0;
const PANEL_H: f64 = 330.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 55.0;

/// A round step for about `n` ticks up to `max`.
fn nice_step(max: f64, n: f64) -> f64 {
    let raw = (max / n).max(f64::MIN_POSITIVE);
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let nice = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 2.5 {
        2.5
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

fn fmt_tick(v: f64) -> String {
    if v >= 1e6 {
        format!("{}M", trim(v / 1e6))
    } else if v >= 1e3 {
        format!("{}k", trim(v / 1e3))
    } else {
        trim(v)
    }
}

fn trim(v: f64) -> String {
    let s = format!("{:.2}", v);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Draws `chart` with its top-left corner at (`ox`, `oy`).
fn panel(out: &mut String, chart: &Chart, ox: f64, oy: f64) {
    let (pw, ph) = (PANEL_W - LEFT - RIGHT, PANEL_H - TOP - BOTTOM);
    let (x0, y0) = (ox + LEFT, oy + TOP);
    let points = chart
        .series
        .iter()
        .flat_map(|s| s.points.iter())
        .filter(|p| !p.median.is_nan());
    let xs: Vec<f64> = points.clone().map(|p| p.x).collect();
    let y_top = points
        .map(|p| if p.max.is_nan() { p.median } else { p.max })
        .fold(0.0f64, f64::max);
    let (xmin, xmax) = xs
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
    let (lmin, lmax) = (xmin.log10(), xmax.log10());
    let span = if lmax > lmin { lmax - lmin } else { 1.0 };
    let px = |x: f64| x0 + 20.0 + (x.log10() - lmin) / span * (pw - 40.0);
    let step = nice_step(if y_top > 0.0 { y_top } else { 1.0 }, 5.0);
    let ymax = (y_top / step).ceil().max(1.0) * step;
    let py = |y: f64| y0 + ph - y / ymax * ph;

    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="{:.1}" font-size="15" font-weight="bold" text-anchor="middle">{}</text>"#,
        x0 + pw / 2.0,
        oy + 22.0,
        esc(&chart.title)
    );
    // Grid and y ticks.
    let mut v = 0.0;
    while v <= ymax + step / 2.0 {
        let y = py(v);
        let _ = writeln!(
            out,
            r##"<line x1="{x0:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end">{}</text>"##,
            x0 + pw,
            x0 - 6.0,
            y + 4.0,
            fmt_tick(v)
        );
        v += step;
    }
    // x ticks at the measured x values.
    let mut ticks = xs.clone();
    ticks.sort_by(|a, b| a.total_cmp(b));
    ticks.dedup();
    for x in ticks {
        let _ = writeln!(
            out,
            r##"<line x1="{0:.1}" y1="{1:.1}" x2="{0:.1}" y2="{2:.1}" stroke="#999"/><text x="{0:.1}" y="{3:.1}" font-size="11" text-anchor="middle">{4}</text>"##,
            px(x),
            y0 + ph,
            y0 + ph + 5.0,
            y0 + ph + 18.0,
            fmt_tick(x)
        );
    }
    // Axes and labels.
    let _ = writeln!(
        out,
        r##"<polyline points="{x0:.1},{y0:.1} {x0:.1},{:.1} {:.1},{:.1}" fill="none" stroke="#333"/>"##,
        y0 + ph,
        x0 + pw,
        y0 + ph
    );
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="{:.1}" font-size="12" text-anchor="middle">{}</text>"#,
        x0 + pw / 2.0,
        y0 + ph + 36.0,
        esc(&chart.x_label)
    );
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="{:.1}" font-size="12" text-anchor="middle" transform="rotate(-90 {:.1} {:.1})">{}</text>"#,
        ox + 16.0,
        y0 + ph / 2.0,
        ox + 16.0,
        y0 + ph / 2.0,
        esc(&chart.y_label)
    );
    // Series.
    for s in &chart.series {
        let pts: Vec<&Point> = s.points.iter().filter(|p| !p.median.is_nan()).collect();
        let dash = if s.dashed { r#" stroke-dasharray="6 4""# } else { "" };
        let line: Vec<String> = pts
            .iter()
            .map(|p| format!("{:.1},{:.1}", px(p.x), py(p.median)))
            .collect();
        let _ = writeln!(
            out,
            r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="2"{dash}/>"#,
            line.join(" "),
            s.color
        );
        for p in pts {
            let (x, y) = (px(p.x), py(p.median));
            if !p.min.is_nan() && !p.max.is_nan() {
                let _ = writeln!(
                    out,
                    r#"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="{}" stroke-width="1"/>"#,
                    py(p.min),
                    py(p.max),
                    s.color
                );
            }
            let _ = writeln!(out, r#"<circle cx="{x:.1}" cy="{y:.1}" r="3.5" fill="{}"/>"#, s.color);
            if chart.labels {
                let _ = writeln!(
                    out,
                    r#"<text x="{:.1}" y="{:.1}" font-size="10" fill="{}">{}</text>"#,
                    x + 6.0,
                    y - 6.0,
                    s.color,
                    label(p.median)
                );
            }
        }
    }
}

/// A point's label: one decimal below 100, none above.
fn label(v: f64) -> String {
    if v >= 100.0 {
        fmt_tick(v)
    } else {
        format!("{v:.1}")
    }
}

/// Rows of panels, a shared legend underneath, and the lines of `note` at the bottom.
pub fn render(rows: &[Vec<Chart>], note: &[String]) -> String {
    let legend: Vec<(&str, &str, bool)> = {
        let mut seen = Vec::new();
        for s in rows.iter().flatten().flat_map(|c| c.series.iter()) {
            if !seen.iter().any(|(n, _, _)| *n == s.name.as_str()) {
                seen.push((s.name.as_str(), s.color, s.dashed));
            }
        }
        seen
    };
    let cols = rows.iter().map(Vec::len).max().unwrap_or(1);
    // At least wide enough for the footnote.
    let width = (PANEL_W * cols as f64).max(720.0);
    let panels_h = PANEL_H * rows.len() as f64;
    let legend_rows = legend.len().div_ceil(3) as f64;
    let height = panels_h + 20.0 + legend_rows * 20.0 + 16.0 * note.len() as f64 + 8.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="sans-serif">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    for (r, row) in rows.iter().enumerate() {
        for (c, chart) in row.iter().enumerate() {
            panel(&mut out, chart, PANEL_W * c as f64, PANEL_H * r as f64);
        }
    }
    for (i, (name, color, dashed)) in legend.iter().enumerate() {
        let (col, row) = ((i % 3) as f64, (i / 3) as f64);
        let x = 40.0 + col * 150.0;
        let y = panels_h + 14.0 + row * 20.0;
        let dash = if *dashed { r#" stroke-dasharray="6 4""# } else { "" };
        let _ = writeln!(
            out,
            r#"<line x1="{x:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{color}" stroke-width="2"{dash}/><circle cx="{:.1}" cy="{y:.1}" r="3.5" fill="{color}"/><text x="{:.1}" y="{:.1}" font-size="12">{}</text>"#,
            x + 30.0,
            x + 15.0,
            x + 38.0,
            y + 4.0,
            esc(name)
        );
    }
    for (i, line) in note.iter().enumerate() {
        let y = panels_h + 20.0 + legend_rows * 20.0 + 16.0 * i as f64 + 8.0;
        let _ = writeln!(
            out,
            r##"<text x="10" y="{y:.1}" font-size="11" fill="#555">{}</text>"##,
            esc(line)
        );
    }
    out.push_str("</svg>\n");
    out
}
