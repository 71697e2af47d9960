//! The report's three charts, drawn with `plotters` into SVG that the page inlines (no
//! script library, no network): rates over time, latency percentiles over time, and the
//! HDR percentile distribution of the whole run.

use std::error::Error;
use std::ops::Range;

use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::Report;
use crate::stats::{SecondSummary, SpectrumPoint};

const SIZE: (u32, u32) = (960, 320);

/// One line of a chart: its name, colour (`0xRRGGBB`), dash, and points in data
/// coordinates.
pub struct Line {
    pub name: &'static str,
    pub color: u32,
    pub dashed: bool,
    pub points: Vec<(f64, f64)>,
}

/// A number short enough for a tick label.
pub fn short(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude >= 1_000_000.0 {
        format!("{:.1}M", value / 1_000_000.0)
    } else if magnitude >= 10_000.0 {
        format!("{:.0}k", value / 1000.0)
    } else if magnitude >= 100.0 || value.fract() == 0.0 {
        format!("{value:.0}")
    } else if magnitude >= 1.0 {
        format!("{value:.1}")
    } else {
        let text = format!("{value:.3}");
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// Axes of a chart: `x` linear, `y` linear or logarithmic.
pub struct Axes<'a, Y> {
    pub x: Range<f64>,
    pub x_label: &'a str,
    /// How many ticks at most, and their labels.
    pub x_labels: usize,
    pub x_ticks: &'a dyn Fn(&f64) -> String,
    pub y: Y,
    pub y_label: &'a str,
}

/// Draws `lines` into an SVG document; a chart that cannot be drawn says why instead.
pub fn draw<Y>(title: &str, axes: Axes<'_, Y>, lines: &[Line]) -> String
where
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let mut svg = String::new();
    let drawn = (|| -> Result<(), Box<dyn Error>> {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 17))
            .margin(10)
            .margin_right(36)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(RangedCoordf64::from(axes.x), axes.y)?;
        chart
            .configure_mesh()
            .x_desc(axes.x_label)
            .y_desc(axes.y_label)
            .x_labels(axes.x_labels)
            .x_label_formatter(axes.x_ticks)
            .y_label_formatter(&|v| short(*v))
            .light_line_style(RGBColor(245, 245, 245))
            .draw()?;
        for line in lines {
            let [_, r, g, b] = line.color.to_be_bytes();
            let style = RGBColor(r, g, b).stroke_width(2);
            let points =
                (line.points.iter().copied()).filter(|(x, y)| x.is_finite() && y.is_finite());
            let series = if line.dashed {
                chart.draw_series(DashedLineSeries::new(points, 6, 4, style))?
            } else {
                chart.draw_series(LineSeries::new(points, style))?
            };
            series
                .label(line.name)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], style));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .draw()?;
        root.present()?;
        Ok(())
    })();
    match drawn {
        Ok(()) => svg,
        Err(error) => format!("<p>{title}: not drawn ({error})</p>"),
    }
}

/// Axes over the run's seconds, with `y` up the side.
fn over_time<'a, Y>(report: &Report, y: Y, y_label: &'a str) -> Axes<'a, Y> {
    fn tick(second: &f64) -> String {
        short(*second)
    }
    let x = 0.0..report.timeline.len().max(1) as f64;
    let (x_label, x_labels) = ("seconds since start", 10);
    Axes {
        x,
        x_label,
        x_labels,
        x_ticks: &tick,
        y,
        y_label,
    }
}

/// Every value of `lines`, up the y axis.
fn ys(lines: &[Line]) -> impl Iterator<Item = f64> + '_ {
    lines
        .iter()
        .flat_map(|line| line.points.iter().map(|&(_, y)| y))
}

/// Low and high of `values`, for a log axis (with a decade when there is nothing).
fn log_range(values: impl Iterator<Item = f64>) -> Range<f64> {
    let (low, high) = values.fold((f64::MAX, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let low = if high > 0.0 { low.max(1e-3) } else { 1.0 };
    low..high.max(low * 10.0)
}

/// How one line of a chart is drawn: name, colour, dashed, and its value at a point.
type Series<T> = (&'static str, u32, bool, fn(&T) -> f64);

/// The lines of `series` over `items`, each at `x` of an item.
fn lines<T>(items: &[T], x: fn(&T) -> f64, series: &[Series<T>]) -> Vec<Line> {
    let points = |y: fn(&T) -> f64| items.iter().map(|i| (x(i), y(i))).collect();
    (series.iter())
        .map(|&(name, color, dashed, y)| Line {
            name,
            color,
            dashed,
            points: points(y),
        })
        .collect()
}

pub fn rates(report: &Report) -> String {
    let series: [Series<SecondSummary>; 7] = [
        ("target", 0x888888, true, |s| s.target),
        ("sent", 0x1f6feb, false, |s| s.counts.sent as f64),
        ("answered", 0x8250df, false, |s| s.counts.answered as f64),
        ("202", 0x17803d, false, |s| s.counts.accepted as f64),
        ("4xx", 0xbf8700, false, |s| s.counts.rejected as f64),
        ("503", 0xd1242f, false, |s| s.counts.unavailable as f64),
        ("errors+dropped", 0x000000, true, |s| {
            (s.counts.unusable() + s.counts.dropped) as f64
        }),
    ];
    let lines = lines(&report.timeline, |s| s.second as f64, &series);
    let peak = ys(&lines).fold(1.0, f64::max);
    let axes = over_time(report, 0.0..peak * 1.1, "requests per second");
    draw("Rate over time", axes, &lines)
}

pub fn latency(report: &Report) -> String {
    let timed: Vec<SecondSummary> = (report.timeline.iter())
        .filter(|s| s.latency.count > 0)
        .copied()
        .collect();
    let series: [Series<SecondSummary>; 4] = [
        ("p50", 0x17803d, false, |s| s.latency.p50_ms),
        ("p90", 0x1f6feb, false, |s| s.latency.p90_ms),
        ("p99", 0xbf8700, false, |s| s.latency.p99_ms),
        ("max", 0xd1242f, false, |s| s.latency.max_ms),
    ];
    let lines = lines(&timed, |s| s.second as f64, &series);
    let y = log_range(ys(&lines)).log_scale();
    let axes = over_time(report, y, "latency, ms (log scale)");
    let title = "Latency percentiles per second (from intended send)";
    draw(title, axes, &lines)
}

/// x = log10(1 / (1 - p)): 0 at 0 %, 1 at 90 %, 2 at 99 %, … capped at 99.999 %.
fn spectrum_position(percentile: f64) -> f64 {
    (-(1.0 - (percentile / 100.0).min(0.99999)).log10()).clamp(0.0, 5.0)
}

/// The label of a whole step of that axis: 0 %, 90 %, 99 %, 99.9 %, ….
fn percentile_tick(position: &f64) -> String {
    let nines = position.round() as i32;
    let decimals = (nines - 2).max(0) as usize;
    format!("{:.*}%", decimals, 100.0 - 100.0 * 10f64.powi(-nines))
}

pub fn spectrum(report: &Report) -> String {
    let series: [Series<SpectrumPoint>; 1] =
        [("latency at percentile", 0x8250df, false, |s| s.latency_ms)];
    let x = |s: &SpectrumPoint| spectrum_position(s.percentile);
    let lines = lines(&report.spectrum, x, &series);
    let axes = Axes {
        x: 0.0..5.0,
        x_label: "percentile",
        x_labels: 6,
        x_ticks: &percentile_tick,
        y: log_range(ys(&lines)).log_scale(),
        y_label: "latency, ms (log scale)",
    };
    draw("Latency by percentile (whole run)", axes, &lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_labels_stay_short() {
        let labels: Vec<String> = [0.004, 0.25, 2.5, 250.0, 25_000.0, 2_500_000.0]
            .into_iter()
            .map(short)
            .collect();
        assert_eq!(labels, ["0.004", "0.25", "2.5", "250", "25k", "2.5M"]);
    }

    #[test]
    fn the_percentile_axis_puts_each_nine_one_step_further() {
        let at: Vec<f64> = [0.0, 90.0, 99.0, 99.9, 100.0]
            .into_iter()
            .map(|p| (spectrum_position(p) * 1000.0).round() / 1000.0)
            .collect();
        assert_eq!(at, [0.0, 1.0, 2.0, 3.0, 5.0]);
        let ticks: Vec<String> = (0..6).map(|n| percentile_tick(&f64::from(n))).collect();
        assert_eq!(ticks, ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%"]);
    }

    #[test]
    fn a_chart_draws_every_series_and_escapes_text() {
        let lines = [
            Line {
                name: "sent & answered",
                color: 0x123456,
                dashed: false,
                points: vec![(0.0, 1.0), (5.0, 2.0), (10.0, f64::NAN)],
            },
            Line {
                name: "target",
                color: 0x888888,
                dashed: true,
                points: vec![(0.0, 2.0), (10.0, 2.0)],
            },
        ];
        let axes = Axes {
            x: 0.0..10.0,
            x_label: "s",
            x_labels: 10,
            x_ticks: &|v| short(*v),
            y: (0.1..100.0).log_scale(),
            y_label: "ms",
        };
        let svg = draw("a < b", axes, &lines);
        assert!(
            svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
            "{svg}"
        );
        assert!(svg.contains("a &lt; b"));
        assert!(svg.contains("sent &amp; answered") && svg.contains(">\ntarget\n<"));
        // Both lines are drawn (in their colours), and the NaN point is left out.
        assert!(svg.contains(r##"stroke="#123456""##) && svg.contains(r##"stroke="#888888""##));
        assert!(!svg.contains("NaN"));
    }
}
