//! Line charts as inline SVG, so the HTML report needs no script library and no network.
//! Points are given in axis space: a log axis takes `log10` of the value, and its ticks
//! carry the labels of the untransformed values.

use std::fmt::Write;

pub const WIDTH: f64 = 960.0;
pub const HEIGHT: f64 = 320.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 36.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 50.0;

pub struct Axis {
    pub label: String,
    pub min: f64,
    pub max: f64,
    /// Position (axis space) and text of each tick.
    pub ticks: Vec<(f64, String)>,
}

pub struct Series {
    pub name: String,
    pub color: &'static str,
    pub dashed: bool,
    pub points: Vec<(f64, f64)>,
}

/// Escapes text for XML and HTML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
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

/// A linear axis from 0 (or `min`) to a round number at or above `max`.
pub fn linear_axis(label: &str, min: f64, max: f64) -> Axis {
    let max = if max > min { max } else { min + 1.0 };
    let raw = (max - min) / 5.0;
    let power = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|s| *s >= raw)
        .unwrap_or(power * 10.0);
    let top = (max / step).ceil() * step;
    let mut ticks = Vec::new();
    let mut at = (min / step).floor() * step;
    while at <= top + step * 1e-9 {
        ticks.push((at, short(at)));
        at += step;
    }
    Axis {
        label: label.to_owned(),
        min: ticks.first().map_or(min, |t| t.0),
        max: top,
        ticks,
    }
}

/// A log10 axis covering `[min, max]` (values > 0), ticked at 1, 2 and 5 per decade.
pub fn log_axis(label: &str, min: f64, max: f64) -> Axis {
    let min = min.max(1e-3);
    let max = max.max(min * 10.0);
    let low = min.log10().floor();
    let high = max.log10().ceil();
    let mut ticks = Vec::new();
    let mut decade = low;
    while decade <= high {
        for m in [1.0, 2.0, 5.0] {
            let value = m * 10f64.powf(decade);
            let at = value.log10();
            if at >= low - 1e-9 && at <= high + 1e-9 {
                ticks.push((at, short(value)));
            }
        }
        decade += 1.0;
    }
    Axis {
        label: label.to_owned(),
        min: low,
        max: high,
        ticks,
    }
}

pub fn chart(title: &str, x: &Axis, y: &Axis, series: &[Series]) -> String {
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let span = |a: &Axis| if a.max > a.min { a.max - a.min } else { 1.0 };
    let px = |v: f64| LEFT + (v - x.min) / span(x) * plot_w;
    let py = |v: f64| TOP + plot_h - (v.clamp(y.min, y.max) - y.min) / span(y) * plot_h;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{t}"><title>{t}</title><rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#fff"/><text x="{LEFT}" y="20" class="title">{t}</text>"##,
        t = escape(title)
    );
    for (at, text) in &y.ticks {
        let yy = py(*at);
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#e5e5e5"/><text x="{:.1}" y="{:.1}" text-anchor="end" class="tick">{}</text>"##,
            WIDTH - RIGHT,
            LEFT - 6.0,
            yy + 4.0,
            escape(text)
        );
    }
    for (at, text) in &x.ticks {
        let xx = px(*at);
        let _ = write!(
            svg,
            r##"<line x1="{xx:.1}" y1="{TOP}" x2="{xx:.1}" y2="{:.1}" stroke="#f0f0f0"/><text x="{xx:.1}" y="{:.1}" text-anchor="middle" class="tick">{}</text>"##,
            TOP + plot_h,
            TOP + plot_h + 16.0,
            escape(text)
        );
    }
    let _ = write!(
        svg,
        r##"<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/><text x="{:.1}" y="{:.1}" text-anchor="middle" class="axis">{}</text><text transform="translate(16 {:.1}) rotate(-90)" text-anchor="middle" class="axis">{}</text>"##,
        LEFT + plot_w / 2.0,
        HEIGHT - 8.0,
        escape(&x.label),
        TOP + plot_h / 2.0,
        escape(&y.label)
    );
    // The legend goes on its own line under the title.
    let mut legend_x = LEFT;
    for s in series {
        let dash = if s.dashed {
            r#" stroke-dasharray="6 4""#
        } else {
            ""
        };
        if !s.points.is_empty() {
            let path: Vec<String> = s
                .points
                .iter()
                .filter(|(a, b)| a.is_finite() && b.is_finite())
                .map(|&(a, b)| format!("{:.1},{:.1}", px(a), py(b)))
                .collect();
            let _ = write!(
                svg,
                r#"<polyline fill="none" stroke="{}" stroke-width="2"{dash} points="{}"><title>{}</title></polyline>"#,
                s.color,
                path.join(" "),
                escape(&s.name)
            );
        }
        let _ = write!(
            svg,
            r#"<line x1="{legend_x:.1}" y1="34" x2="{:.1}" y2="34" stroke="{}" stroke-width="3"{dash}/><text x="{:.1}" y="38" class="legend">{}</text>"#,
            legend_x + 18.0,
            s.color,
            legend_x + 22.0,
            escape(&s.name)
        );
        legend_x += 30.0 + 7.0 * s.name.chars().count() as f64;
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_axes_end_on_round_numbers() {
        let axis = linear_axis("rate", 0.0, 2130.0);
        assert_eq!(axis.min, 0.0);
        assert_eq!(axis.max, 2500.0);
        let labels: Vec<_> = axis.ticks.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(labels, ["0", "500", "1000", "1500", "2000", "2500"]);
    }

    #[test]
    fn log_axes_tick_each_decade() {
        let axis = log_axis("ms", 0.4, 120.0);
        let labels: Vec<_> = axis.ticks.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(
            labels,
            ["0.1", "0.2", "0.5", "1", "2", "5", "10", "20", "50", "100", "200", "500", "1000"]
        );
    }

    #[test]
    fn a_chart_draws_every_series_and_escapes_text() {
        let x = linear_axis("s", 0.0, 10.0);
        let y = linear_axis("n", 0.0, 5.0);
        let svg = chart(
            "a < b",
            &x,
            &y,
            &[Series {
                name: "sent & answered".to_owned(),
                color: "#123456",
                dashed: true,
                points: vec![(0.0, 1.0), (5.0, 2.0), (10.0, f64::NAN)],
            }],
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("a &lt; b"));
        assert!(svg.contains("sent &amp; answered"));
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert!(!svg.contains("NaN"));
    }
}
