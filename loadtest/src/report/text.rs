//! The summary printed at the end of a run.

use std::fmt::Write;

use strum::VariantArray;

use super::{percent, Report};
use crate::outcome::Class;
use crate::reconcile::Reconciliation;

pub fn summary(report: &Report) -> String {
    let (config, totals, rates) = (&report.config, &report.totals, &report.rates);
    let mut out = String::new();
    let started = report.started_at.format("%Y-%m-%d %H:%M:%S UTC");
    let _ = writeln!(
        out,
        "\nleadpipe-loadtest {}  run {}  started {started}",
        report.version, report.run_tag
    );
    let (duration, ramp_up) = (config.duration.as_secs_f64(), config.ramp_up.as_secs_f64());
    let _ = writeln!(
        out,
        "target {}  rate {}/s for {duration}s (ramp-up {ramp_up}s)  {} connections",
        config.target, config.rate, config.connections
    );
    let _ = writeln!(out, "\n{:<34}{:>10}{:>10}", "requests", "count", "share");
    let mut row = |label: &str, count: u64| {
        let share = percent(count, totals.scheduled);
        let _ = writeln!(out, "  {label:<32}{count:>10}{share:>10}");
    };
    row("scheduled", totals.scheduled);
    row("sent", totals.sent);
    for &class in Class::VARIANTS {
        let outcomes = report.outcomes.iter();
        let mut rows = outcomes.filter(|o| o.class == class).peekable();
        match class {
            Class::Accepted if rows.peek().is_none() => row("202 accepted", 0),
            Class::Unavailable if rows.peek().is_none() => row("503", 0),
            _ => rows.for_each(|outcome| row(&outcome.label, outcome.count)),
        }
    }
    let _ = writeln!(out, "\nlatency in ms");
    for (name, p) in report.latencies() {
        let _ = writeln!(
            out,
            "  {name:<32} p50 {:>8.2}  p90 {:>8.2}  p99 {:>8.2}  p99.9 {:>8.2}  max {:>8.2}  (n={})",
            p.p50_ms, p.p90_ms, p.p99_ms, p.p999_ms, p.max_ms, p.count
        );
    }
    let _ = writeln!(
        out,
        "\nachieved rate   sent {:.1}/s  answered {:.1}/s  accepted {:.1}/s   (target {:.1}/s)",
        rates.sent, rates.answered, rates.accepted, rates.target
    );
    let (peak, limit) = (report.client.peak_backlog, config.max_backlog);
    let _ = writeln!(out, "load generator  peak backlog {peak} (limit {limit})");
    if !report.invalid.is_empty() {
        let sum = |n: fn(&crate::stats::InvalidAnswers) -> u64| report.invalid.iter().map(n).sum();
        let (sent, as_expected, accepted): (u64, u64, u64) =
            (sum(|i| i.sent), sum(|i| i.as_expected), sum(|i| i.accepted));
        let _ = writeln!(
            out,
            "invalid leads   {sent} sent, {as_expected} answered as documented, {accepted} accepted"
        );
        for invalid in report.invalid.iter().filter(|i| !i.other.is_empty()) {
            let (kind, expected) = (invalid.kind.as_str(), &invalid.expected);
            let other = invalid.other_text();
            let _ = writeln!(out, "  {kind:<22} expected {expected}; also got {other}");
        }
    }
    let _ = writeln!(
        out,
        "verdict         {}",
        match report.verdict.kept_up {
            true => "kept up: every request went out on time, without queueing, and was answered",
            false => "did not keep up",
        }
    );
    for note in &report.verdict.notes {
        let _ = writeln!(out, "  - {note}");
    }
    if let Some(reconciliation) = &report.reconciliation {
        out.push_str(&reconciliation_summary(reconciliation));
    }
    out
}

pub fn reconciliation_summary(r: &Reconciliation) -> String {
    let mut out = format!("\nreconciliation  {}\n", r.findings.headline());
    for (what, value) in r.details() {
        let _ = writeln!(out, "  {what:<46} {value}");
    }
    let verdict = if r.is_clean() {
        "RECONCILED: no gaps"
    } else {
        "GAPS FOUND"
    };
    let _ = writeln!(out, "  {verdict}");
    out
}
