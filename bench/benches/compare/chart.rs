//! The charts, drawn with `plotters` (its SVG backend only): a grid of
//! panels, each with a log-scale x axis and a linear y axis from 0 (with room
//! above the data for the legend), one line per series through its medians,
//! min–max error bars, and a legend; a note (command, date, machine) above
//! the grid.

use plotters::prelude::*;

/// One point: x, and the median, min and max of its samples.
#[derive(Clone, Copy, Debug)]
pub struct Point {
    pub x: f64,
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

/// One line of a panel.
pub struct Series {
    pub name: String,
    /// `#rrggbb`.
    pub color: &'static str,
    pub points: Vec<Point>,
}

/// One panel.
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    /// Write each median's value beside its point.
    pub labels: bool,
}

const PANEL_W: u32 = 480;
const PANEL_H: u32 = 340;
/// The narrowest a chart is, so that the note fits on its lines.
const MIN_W: u32 = 800;
/// The height of one line of the note.
const NOTE_LINE: u32 = 18;

/// `#rrggbb` as a colour (black if it is not one).
fn color(hex: &str) -> RGBColor {
    let byte = |i: usize| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("00"), 16).unwrap_or(0);
    RGBColor(byte(1), byte(3), byte(5))
}

/// An axis tick: `1.5M`, `80k`, `250`, `2.5`.
fn tick(v: f64) -> String {
    let trim = |x: f64| {
        let t = format!("{x:.1}");
        t.strip_suffix(".0").map(str::to_string).unwrap_or(t)
    };
    match v.abs() {
        a if a >= 1e6 => format!("{}M", trim(v / 1e6)),
        a if a >= 1e4 => format!("{}k", trim(v / 1e3)),
        _ => trim(v),
    }
}

/// A median as a label: about three significant digits.
fn label(v: f64) -> String {
    match v.abs() {
        a if a >= 100.0 => format!("{v:.0}"),
        a if a >= 10.0 => format!("{v:.1}"),
        _ => format!("{v:.2}"),
    }
}

/// Draws one panel into `area`.
fn panel<DB: DrawingBackend>(area: &DrawingArea<DB, plotters::coord::Shift>, chart: &Chart) -> Result<(), String> {
    let points = || {
        chart
            .series
            .iter()
            .flat_map(|s| s.points.iter())
            .filter(|p| p.median.is_finite())
    };
    let (lo, hi) = points().fold((f64::MAX, f64::MIN), |(lo, hi), p| (lo.min(p.x), hi.max(p.x)));
    let (lo, hi) = if lo <= hi { (lo / 1.5, hi * 1.5) } else { (1.0, 10.0) };
    let top = points()
        .map(|p| p.max.max(p.median))
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max)
        * 1.4;
    let top = if top > 0.0 { top } else { 1.0 };
    let mut c = ChartBuilder::on(area)
        .caption(&chart.title, ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d((lo..hi).log_scale(), 0.0..top)
        .map_err(|e| e.to_string())?;
    c.configure_mesh()
        .x_desc(chart.x_label.as_str())
        .y_desc(chart.y_label.as_str())
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| tick(*y))
        .draw()
        .map_err(|e| e.to_string())?;
    for s in &chart.series {
        let col = color(s.color);
        let pts: Vec<Point> = s.points.iter().copied().filter(|p| p.median.is_finite()).collect();
        c.draw_series(LineSeries::new(
            pts.iter().map(|p| (p.x, p.median)),
            col.stroke_width(2),
        ))
        .map_err(|e| e.to_string())?
        .label(s.name.as_str())
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], col.stroke_width(2)));
        c.draw_series(
            pts.iter()
                .map(|p| ErrorBar::new_vertical(p.x, p.min, p.median, p.max, col.filled(), 6)),
        )
        .map_err(|e| e.to_string())?;
        if chart.labels {
            c.draw_series(pts.iter().map(|p| {
                Text::new(
                    label(p.median),
                    (p.x, p.median),
                    ("sans-serif", 11).into_font().color(&col),
                )
            }))
            .map_err(|e| e.to_string())?;
        }
    }
    c.configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| e.to_string())
}

/// The SVG of a grid of panels (`rows` of them side by side), `note` above.
pub fn render(rows: &[Vec<Chart>], note: &[String]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(1).max(1);
    let head = NOTE_LINE * note.len() as u32 + 8;
    let size = (
        (PANEL_W * cols as u32).max(MIN_W),
        head + PANEL_H * rows.len().max(1) as u32,
    );
    let mut out = String::new();
    let drawn = (|| -> Result<(), String> {
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let (top, grid) = root.split_vertically(head);
        for (i, line) in note.iter().enumerate() {
            top.draw(&Text::new(
                line.as_str(),
                (10, 4 + NOTE_LINE as i32 * i as i32),
                ("sans-serif", 13),
            ))
            .map_err(|e| e.to_string())?;
        }
        let areas = grid.split_evenly((rows.len().max(1), cols));
        for (r, row) in rows.iter().enumerate() {
            for (k, chart) in row.iter().enumerate() {
                panel(&areas[r * cols + k], chart)?;
            }
        }
        root.present().map_err(|e| e.to_string())
    })();
    if let Err(e) = drawn {
        eprintln!("chart: {e}");
    }
    out
}
