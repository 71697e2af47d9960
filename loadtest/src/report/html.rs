//! `report.html`: one self-contained page (inline CSS and SVG, no script, no network)
//! with the run's key numbers, the three [`charts`](super::charts) and the tables behind
//! them, as a `maud` template (text is escaped by the template). The JSON report is
//! embedded too (`<script type="application/json" id="report-data">`), so the page
//! carries its own data.

use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::{charts, Report};
use crate::reconcile::Reconciliation;

const STYLE: &str = include_str!("report.css");

fn tile(value: impl maud::Render, key: &str, class: &str) -> Markup {
    html! { div.tile { div class={ "v " (class) } { (value) } div.k { (key) } } }
}

fn chart(svg: String) -> Markup {
    html! { div.chart { (PreEscaped(svg)) } }
}

fn latency_table(report: &Report) -> Markup {
    html! {
        table {
            tr { th { "ms" } @for h in ["p50", "p90", "p99", "p99.9", "max", "mean", "n"] { th.n { (h) } } }
            @for (name, p) in report.latencies() {
                tr {
                    td { (name) }
                    @for v in [p.p50_ms, p.p90_ms, p.p99_ms, p.p999_ms, p.max_ms, p.mean_ms] { td.n { (format!("{v:.2}")) } }
                    td.n { (p.count) }
                }
            }
        }
    }
}

fn outcomes_table(report: &Report) -> Markup {
    let share = |count: u64| super::percent(count, report.totals.scheduled);
    html! {
        table {
            tr { th { "answer" } th.n { "count" } th.n { "share" } }
            @for outcome in &report.outcomes {
                tr { td { (outcome.label) } td.n { (outcome.count) } td.n { (share(outcome.count)) } }
            }
        }
    }
}

fn invalid_table(report: &Report) -> Markup {
    html! {
        h2 { "Invalid leads" }
        table {
            tr {
                th { "kind" } th { "documented answer" } th.n { "sent" } th.n { "as documented" }
                th.n { "accepted" } th { "other answers" }
            }
            @for invalid in &report.invalid {
                tr {
                    td { (invalid.kind.as_str()) } td { (invalid.expected) }
                    td.n { (invalid.sent) } td.n { (invalid.as_expected) }
                    td.n.bad[invalid.accepted > 0] { (invalid.accepted) }
                    td { (invalid.other_text()) }
                }
            }
        }
    }
}

fn reconciliation_section(r: &Reconciliation) -> Markup {
    html! {
        h2 { "Reconciliation" }
        @if r.is_clean() { p.ok { b { "Reconciled: no gaps." } } } @else { p.bad { b { "Gaps found." } } }
        p { code { (r.findings.headline()) } }
        table { @for (key, value) in r.details() { tr { td { (key) } td { (value) } } } }
    }
}

/// The page; `json` is the report as written to `report.json`.
pub fn render(report: &Report, json: &str) -> String {
    let (config, totals, rates) = (&report.config, &report.totals, &report.rates);
    let title = format!("leadpipe load test {}", report.run_tag);
    let problems = totals.unavailable + totals.unusable() + totals.dropped;
    let kept_up = report.verdict.kept_up;
    let mix = &config.mix;
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { (title) }
                p.sub {
                    (config.target.as_str()) " · " (report.tool) " at " (config.rate) "/s for " (config.duration.as_secs_f64())
                    " s (ramp-up " (config.ramp_up.as_secs_f64()) " s) · " (config.connections) " connections · started "
                    (report.started_at.format("%Y-%m-%d %H:%M:%S UTC"))
                }
                div.tiles {
                    (tile(totals.sent, "requests sent", ""))
                    (tile(totals.accepted, "answered 202", "ok"))
                    (tile(format!("{:.0}/s", rates.answered), &format!("answered per second (target {:.0}/s)", rates.target), ""))
                    (tile(problems, "503, errors and dropped", if problems == 0 { "ok" } else { "bad" }))
                    (tile(format!("{:.2} ms", report.latency.p50_ms), "p50 latency", ""))
                    (tile(format!("{:.2} ms", report.latency.p99_ms), "p99 latency", ""))
                    (tile(format!("{:.2} ms", report.latency.max_ms), "max latency", ""))
                    @match &report.reconciliation {
                        Some(r) if r.is_clean() => (tile("no gaps", "reconciliation", "ok")),
                        Some(_) => (tile("GAPS", "reconciliation", "bad")),
                        None => (tile("—", "reconciliation not run", "")),
                    }
                }
                h2 { "Verdict" }
                @if kept_up {
                    p.ok { "Kept up: every request went out on time, without queueing, and was answered." }
                } @else {
                    p.bad { "Did not keep up." }
                }
                @if !report.verdict.notes.is_empty() {
                    ul.notes { @for note in &report.verdict.notes { li { (note) } } }
                }
                h2 { "Over time" }
                (chart(charts::rates(report)))
                (chart(charts::latency(report)))
                h2 { "Latency distribution" }
                (chart(charts::spectrum(report)))
                (latency_table(report))
                h2 { "Outcomes" }
                (outcomes_table(report))
                p {
                    (format!("Rates: sent {:.1}/s, answered {:.1}/s, accepted {:.1}/s; target {:.1}/s. ",
                        rates.sent, rates.answered, rates.accepted, rates.target))
                    "Peak backlog " (report.client.peak_backlog) " (limit " (config.max_backlog) ")."
                }
                @if !report.invalid.is_empty() { (invalid_table(report)) }
                @if let Some(r) = &report.reconciliation { (reconciliation_section(r)) }
                h2 { "Run" }
                table {
                    tr { td { "run tag" } td { (report.run_tag) } }
                    tr { td { "campaigns" } td { (report.campaigns.join(", ")) } }
                    tr {
                        td { "mix" }
                        td { (format!("invalid {:.1}%, resubmitted {:.1}%, without key {:.1}% of fresh leads",
                            mix.invalid_share * 100.0, mix.resubmit_share * 100.0, mix.keyless_share * 100.0)) }
                    }
                    tr { td { "request timeout" } td { (config.request_timeout.as_secs_f64()) " s" } }
                    tr { td { "seed" } td { (config.seed) } }
                }
                // JSON inside <script> only needs `</` broken up to be safe.
                script type="application/json" id="report-data" { (PreEscaped(json.replace("</", "<\\/"))) }
            }
        }
    }
    .into_string()
}
