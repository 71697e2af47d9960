//! `report.html`: one self-contained page (inline CSS and SVG, no script, no network)
//! with the run's key numbers, three charts — rates over time, latency percentiles over
//! time, and the HDR percentile distribution — and the tables behind them. The JSON
//! report is embedded too (`<script type="application/json" id="report-data">`), so the
//! page carries its own data.

use std::fmt::Write;

use super::svg::{self, escape, Axis, Series};
use super::Report;
use crate::reconcile::Reconciliation;

const STYLE: &str = r#"
body { font: 14px/1.45 -apple-system, "Segoe UI", Roboto, "Noto Sans", "Noto Sans CJK KR", sans-serif; margin: 24px auto; max-width: 1000px; color: #222; padding: 0 16px; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.sub { color: #666; margin-top: 0; }
.tiles { display: grid; grid-template-columns: repeat(4, 1fr); gap: 10px; margin: 16px 0; }
.tile { border: 1px solid #ddd; border-radius: 6px; padding: 10px 12px; }
.tile .v { font-size: 22px; font-weight: 600; } .tile .k { color: #666; font-size: 12px; }
.ok { color: #17803d; } .bad { color: #b42318; }
table { border-collapse: collapse; margin: 8px 0; } td, th { padding: 3px 12px 3px 0; text-align: left; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
tr + tr td { border-top: 1px solid #f0f0f0; }
svg.chart { width: 100%; height: auto; border: 1px solid #eee; border-radius: 6px; margin: 6px 0; }
svg .title { font-weight: 600; font-size: 14px; } svg .tick { font-size: 11px; fill: #555; }
svg .axis { font-size: 12px; fill: #333; } svg .legend { font-size: 12px; fill: #333; }
ul.notes li { margin: 2px 0; }
"#;

fn tile(out: &mut String, value: &str, key: &str, class: &str) {
    let _ = write!(
        out,
        r#"<div class="tile"><div class="v {class}">{}</div><div class="k">{}</div></div>"#,
        escape(value),
        escape(key)
    );
}

fn rate_chart(report: &Report) -> String {
    let t = &report.timeline;
    let points = |f: &dyn Fn(&crate::stats::SecondSummary) -> f64| -> Vec<(f64, f64)> {
        t.iter().map(|s| (s.second as f64, f(s))).collect()
    };
    let peak = t
        .iter()
        .map(|s| s.target.max(s.sent as f64).max(s.answered as f64))
        .fold(1.0, f64::max);
    let x = svg::linear_axis("seconds since start", 0.0, t.len().max(1) as f64);
    let y = svg::linear_axis("requests per second", 0.0, peak);
    let series = [
        Series {
            name: "target".into(),
            color: "#888888",
            dashed: true,
            points: points(&|s| s.target),
        },
        Series {
            name: "sent".into(),
            color: "#1f6feb",
            dashed: false,
            points: points(&|s| s.sent as f64),
        },
        Series {
            name: "answered".into(),
            color: "#8250df",
            dashed: false,
            points: points(&|s| s.answered as f64),
        },
        Series {
            name: "202".into(),
            color: "#17803d",
            dashed: false,
            points: points(&|s| s.accepted as f64),
        },
        Series {
            name: "4xx".into(),
            color: "#bf8700",
            dashed: false,
            points: points(&|s| s.rejected as f64),
        },
        Series {
            name: "503".into(),
            color: "#d1242f",
            dashed: false,
            points: points(&|s| s.unavailable as f64),
        },
        Series {
            name: "errors+dropped".into(),
            color: "#000000",
            dashed: true,
            points: points(&|s| (s.failed + s.dropped) as f64),
        },
    ];
    svg::chart("Rate over time", &x, &y, &series)
}

fn latency_chart(report: &Report) -> String {
    let timed: Vec<_> = report
        .timeline
        .iter()
        .filter(|s| s.latency.count > 0)
        .collect();
    let (low, high) = timed.iter().fold((f64::MAX, 0.0f64), |(lo, hi), s| {
        (lo.min(s.latency.p50_ms), hi.max(s.latency.max_ms))
    });
    let (low, high) = if timed.is_empty() {
        (1.0, 10.0)
    } else {
        (low, high)
    };
    let x = svg::linear_axis(
        "seconds since start",
        0.0,
        report.timeline.len().max(1) as f64,
    );
    let y = svg::log_axis("latency, ms (log scale)", low, high);
    let line = |name: &str, color: &'static str, f: fn(&crate::stats::Percentiles) -> f64| Series {
        name: name.to_owned(),
        color,
        dashed: false,
        points: timed
            .iter()
            .map(|s| (s.second as f64, f(&s.latency).max(1e-3).log10()))
            .collect(),
    };
    let series = [
        line("p50", "#17803d", |p| p.p50_ms),
        line("p90", "#1f6feb", |p| p.p90_ms),
        line("p99", "#bf8700", |p| p.p99_ms),
        line("max", "#d1242f", |p| p.max_ms),
    ];
    svg::chart(
        "Latency percentiles per second (from intended send)",
        &x,
        &y,
        &series,
    )
}

fn spectrum_chart(report: &Report) -> String {
    // x = log10(1 / (1 - p)): 0 at 0 %, 1 at 90 %, 2 at 99 %, … capped at 99.999 %.
    let position = |p: f64| (-(1.0 - (p / 100.0).min(0.99999)).log10()).clamp(0.0, 5.0);
    let points: Vec<(f64, f64)> = report
        .spectrum
        .iter()
        .map(|s| (position(s.percentile), s.latency_ms))
        .collect();
    let (low, high) = points
        .iter()
        .fold((f64::MAX, 0.0f64), |(lo, hi), p| (lo.min(p.1), hi.max(p.1)));
    let (low, high) = if points.is_empty() {
        (1.0, 10.0)
    } else {
        (low, high)
    };
    let x = Axis {
        label: "percentile".into(),
        min: 0.0,
        max: 5.0,
        ticks: ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%"]
            .iter()
            .enumerate()
            .map(|(i, t)| (i as f64, (*t).to_owned()))
            .collect(),
    };
    let y = svg::log_axis("latency, ms (log scale)", low, high);
    let series = [Series {
        name: "latency at percentile".into(),
        color: "#8250df",
        dashed: false,
        points: points
            .iter()
            .map(|&(p, ms)| (p, ms.max(1e-3).log10()))
            .collect(),
    }];
    svg::chart("Latency by percentile (whole run)", &x, &y, &series)
}

fn reconciliation_section(out: &mut String, r: &Reconciliation) {
    let f = &r.findings;
    let verdict = if r.is_clean() {
        r#"<p class="ok"><b>Reconciled: no gaps.</b></p>"#
    } else {
        r#"<p class="bad"><b>Gaps found.</b></p>"#
    };
    let _ = write!(
        out,
        "<h2>Reconciliation</h2>{verdict}<p><code>{}</code></p><table>",
        escape(&f.headline())
    );
    let rows: [(&str, String); 10] = [
        (
            "drain",
            format!("{:?} after {:.1} s", r.drain.end, r.drain.waited_secs),
        ),
        (
            "consumer lag at the end",
            match (r.drain.last_lag, r.drain.lag_partitions) {
                (Some(lag), Some(partitions)) => format!("{lag} over {partitions} partitions"),
                _ => "not read".to_owned(),
            },
        ),
        ("rows in the run's campaigns", f.rows_in_run.to_string()),
        ("leads resubmitted", f.resubmitted_leads.to_string()),
        (
            "… collapsed to one id and one row",
            f.resubmissions_collapsed.to_string(),
        ),
        ("ids not as the key gives", f.id_mismatches.to_string()),
        ("invalid leads accepted", f.invalid_accepted.to_string()),
        ("invalid leads stored", f.invalid_stored.to_string()),
        (
            "stored although not acknowledged (not a gap)",
            f.stored_unacknowledged.to_string(),
        ),
        (
            "missing ids (sample)",
            f.missing_sample
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" "),
        ),
    ];
    for (key, value) in rows {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td></tr>",
            escape(key),
            escape(&value)
        );
    }
    out.push_str("</table>");
}

/// The page; `json` is the report as written to `report.json`.
pub fn render(report: &Report, json: &str) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let config = &report.config;
    let title = format!("leadpipe load test {}", report.run_tag);
    let _ = write!(
        out,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{}</title><style>{STYLE}</style></head><body>"#,
        escape(&title)
    );
    let _ = write!(
        out,
        r#"<h1>{}</h1><p class="sub">{} · {} at {}/s for {} s (ramp-up {} s) · {} connections · started {}</p>"#,
        escape(&title),
        escape(&config.target),
        escape(report.tool),
        config.rate,
        config.duration_secs,
        config.ramp_up_secs,
        config.connections,
        report.started_at.format("%Y-%m-%d %H:%M:%S UTC")
    );

    out.push_str(r#"<div class="tiles">"#);
    let totals = &report.totals;
    tile(&mut out, &totals.sent.to_string(), "requests sent", "");
    tile(&mut out, &totals.accepted.to_string(), "answered 202", "ok");
    tile(
        &mut out,
        &format!("{:.0}/s", report.rates.answered),
        &format!("answered per second (target {:.0}/s)", report.rates.target),
        "",
    );
    let problems = totals.unavailable + totals.errors() + totals.other_status + totals.dropped;
    tile(
        &mut out,
        &problems.to_string(),
        "503, errors and dropped",
        if problems == 0 { "ok" } else { "bad" },
    );
    tile(
        &mut out,
        &format!("{:.2} ms", report.latency.p50_ms),
        "p50 latency",
        "",
    );
    tile(
        &mut out,
        &format!("{:.2} ms", report.latency.p99_ms),
        "p99 latency",
        "",
    );
    tile(
        &mut out,
        &format!("{:.2} ms", report.latency.max_ms),
        "max latency",
        "",
    );
    match &report.reconciliation {
        Some(r) => tile(
            &mut out,
            if r.is_clean() { "no gaps" } else { "GAPS" },
            "reconciliation",
            if r.is_clean() { "ok" } else { "bad" },
        ),
        None => tile(&mut out, "—", "reconciliation not run", ""),
    }
    out.push_str("</div>");

    let _ = write!(
        out,
        "<h2>Verdict</h2><p class=\"{}\">{}</p>",
        if report.verdict.kept_up { "ok" } else { "bad" },
        if report.verdict.kept_up {
            "Kept up: every request went out on time, without queueing, and was answered."
        } else {
            "Did not keep up."
        }
    );
    if !report.verdict.notes.is_empty() {
        out.push_str("<ul class=\"notes\">");
        for note in &report.verdict.notes {
            let _ = write!(out, "<li>{}</li>", escape(note));
        }
        out.push_str("</ul>");
    }

    out.push_str("<h2>Over time</h2>");
    out.push_str(&rate_chart(report));
    out.push_str(&latency_chart(report));
    out.push_str("<h2>Latency distribution</h2>");
    out.push_str(&spectrum_chart(report));
    out.push_str("<table><tr><th></th><th class=\"n\">p50</th><th class=\"n\">p90</th><th class=\"n\">p99</th><th class=\"n\">p99.9</th><th class=\"n\">max</th><th class=\"n\">mean</th><th class=\"n\">n</th></tr>");
    for (name, p) in [
        ("from intended send (ms)", &report.latency),
        ("from actual send (ms)", &report.service_time),
        ("wait for a free connection (ms)", &report.client.queue_wait),
        ("scheduler dispatch lag (ms)", &report.client.dispatch_lag),
    ] {
        let _ = write!(
            out,
            "<tr><td>{name}</td><td class=\"n\">{:.2}</td><td class=\"n\">{:.2}</td><td class=\"n\">{:.2}</td><td class=\"n\">{:.2}</td><td class=\"n\">{:.2}</td><td class=\"n\">{:.2}</td><td class=\"n\">{}</td></tr>",
            p.p50_ms, p.p90_ms, p.p99_ms, p.p999_ms, p.max_ms, p.mean_ms, p.count
        );
    }
    out.push_str("</table>");

    out.push_str("<h2>Outcomes</h2><table><tr><th>answer</th><th class=\"n\">count</th><th class=\"n\">share</th></tr>");
    for outcome in &report.outcomes {
        let share = if totals.scheduled == 0 {
            0.0
        } else {
            outcome.count as f64 * 100.0 / totals.scheduled as f64
        };
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{share:.2}%</td></tr>",
            escape(&outcome.label),
            outcome.count
        );
    }
    let _ = write!(
        out,
        "</table><p>Rates: sent {:.1}/s, answered {:.1}/s, accepted {:.1}/s; target {:.1}/s. Peak backlog {} (limit {}).</p>",
        report.rates.sent,
        report.rates.answered,
        report.rates.accepted,
        report.rates.target,
        report.client.peak_backlog,
        config.max_backlog
    );

    if !report.invalid.is_empty() {
        out.push_str("<h2>Invalid leads</h2><table><tr><th>kind</th><th>documented answer</th><th class=\"n\">sent</th><th class=\"n\">as documented</th><th class=\"n\">accepted</th><th>other answers</th></tr>");
        for invalid in &report.invalid {
            let other: Vec<String> = invalid
                .other
                .iter()
                .map(|(label, n)| format!("{label} ×{n}"))
                .collect();
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n{}\">{}</td><td>{}</td></tr>",
                invalid.kind.as_str(),
                escape(&invalid.expected),
                invalid.sent,
                invalid.as_expected,
                if invalid.accepted > 0 { " bad" } else { "" },
                invalid.accepted,
                escape(&other.join(", "))
            );
        }
        out.push_str("</table>");
    }

    if let Some(r) = &report.reconciliation {
        reconciliation_section(&mut out, r);
    }

    let _ = write!(
        out,
        "<h2>Run</h2><table><tr><td>run tag</td><td>{}</td></tr><tr><td>campaigns</td><td>{}</td></tr><tr><td>mix</td><td>invalid {:.1}%, resubmitted {:.1}%, without key {:.1}% of fresh leads</td></tr><tr><td>request timeout</td><td>{} s</td></tr><tr><td>seed</td><td>{}</td></tr></table>",
        escape(&report.run_tag),
        escape(&report.campaigns.join(", ")),
        config.mix.invalid_share * 100.0,
        config.mix.resubmit_share * 100.0,
        config.mix.keyless_share * 100.0,
        config.request_timeout_secs,
        config.seed
    );
    // JSON inside <script> only needs `</` broken up to be safe.
    let _ = write!(
        out,
        r#"<script type="application/json" id="report-data">{}</script></body></html>"#,
        json.replace("</", "<\\/")
    );
    out
}
