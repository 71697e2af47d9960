//! The summary printed at the end of a run.

use std::fmt::Write;

use super::Report;
use crate::outcome::Class;
use crate::reconcile::{DrainEnd, Reconciliation};
use crate::stats::Percentiles;

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        "-".to_owned()
    } else {
        format!("{:.2}%", part as f64 * 100.0 / whole as f64)
    }
}

fn latency_line(name: &str, p: &Percentiles) -> String {
    format!(
        "{name:<26} p50 {:>8.2}  p90 {:>8.2}  p99 {:>8.2}  p99.9 {:>8.2}  max {:>8.2}  (n={})",
        p.p50_ms, p.p90_ms, p.p99_ms, p.p999_ms, p.max_ms, p.count
    )
}

pub fn summary(report: &Report) -> String {
    let mut out = String::new();
    let config = &report.config;
    let totals = &report.totals;
    let _ = writeln!(
        out,
        "\nleadpipe-loadtest {}  run {}  started {}",
        report.version,
        report.run_tag,
        report.started_at.format("%Y-%m-%d %H:%M:%S UTC")
    );
    let _ = writeln!(
        out,
        "target {}  rate {}/s for {}s (ramp-up {}s)  {} connections",
        config.target, config.rate, config.duration_secs, config.ramp_up_secs, config.connections
    );
    let _ = writeln!(out, "\n{:<34}{:>10}{:>10}", "requests", "count", "share");
    let row = |out: &mut String, label: &str, count: u64| {
        let _ = writeln!(
            out,
            "  {label:<32}{count:>10}{:>10}",
            percent(count, totals.scheduled)
        );
    };
    row(&mut out, "scheduled", totals.scheduled);
    row(&mut out, "sent", totals.sent);
    for class in [
        Class::Accepted,
        Class::Rejected,
        Class::Unavailable,
        Class::OtherStatus,
        Class::ConnectFailed,
        Class::TimedOut,
        Class::Transport,
        Class::Dropped,
    ] {
        let rows: Vec<_> = report
            .outcomes
            .iter()
            .filter(|o| o.class == class)
            .collect();
        if rows.is_empty() && matches!(class, Class::Accepted | Class::Unavailable) {
            row(
                &mut out,
                if class == Class::Accepted {
                    "202 accepted"
                } else {
                    "503"
                },
                0,
            );
        }
        for outcome in rows {
            row(&mut out, &outcome.label, outcome.count);
        }
    }
    let _ = writeln!(out, "\nlatency in ms");
    let _ = writeln!(
        out,
        "  {}",
        latency_line("from intended send", &report.latency)
    );
    let _ = writeln!(
        out,
        "  {}",
        latency_line("from actual send", &report.service_time)
    );
    let rates = &report.rates;
    let _ = writeln!(
        out,
        "\nachieved rate   sent {:.1}/s  answered {:.1}/s  accepted {:.1}/s   (target {:.1}/s)",
        rates.sent, rates.answered, rates.accepted, rates.target
    );
    let _ = writeln!(
        out,
        "load generator  dispatch lag p99 {:.2} ms, max {:.2} ms; wait for a connection p99 {:.2} ms; peak backlog {} (limit {})",
        report.client.dispatch_lag.p99_ms,
        report.client.dispatch_lag.max_ms,
        report.client.queue_wait.p99_ms,
        report.client.peak_backlog,
        config.max_backlog
    );
    if !report.invalid.is_empty() {
        let sent: u64 = report.invalid.iter().map(|i| i.sent).sum();
        let as_expected: u64 = report.invalid.iter().map(|i| i.as_expected).sum();
        let accepted: u64 = report.invalid.iter().map(|i| i.accepted).sum();
        let _ = writeln!(
            out,
            "invalid leads   {sent} sent, {as_expected} answered as documented, {accepted} accepted"
        );
        for invalid in report.invalid.iter().filter(|i| !i.other.is_empty()) {
            let _ = writeln!(
                out,
                "  {:<22} expected {}; also got {}",
                invalid.kind.as_str(),
                invalid.expected,
                invalid.other_text()
            );
        }
    }
    let _ = writeln!(
        out,
        "verdict         {}",
        if report.verdict.kept_up {
            "kept up: every request went out on time, without queueing, and was answered"
        } else {
            "did not keep up"
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
    let f = &r.findings;
    let mut out = String::new();
    let drain = match r.drain.end {
        DrainEnd::CaughtUp => "caught up",
        DrainEnd::Settled => "row count settled",
        DrainEnd::TimedOut => "TIMED OUT waiting",
    };
    let lag = r.drain.lag_text();
    let _ = writeln!(
        out,
        "\nreconciliation  drain: {drain} after {:.1} s (consumer lag {lag}, rows in run {})",
        r.drain.waited_secs, f.rows_in_run
    );
    if let Some(error) = &r.drain.last_error {
        let _ = writeln!(out, "  last error while waiting: {error}");
    }
    let _ = writeln!(out, "  {}", f.headline());
    let _ = writeln!(
        out,
        "  resubmissions: {} leads sent more than once, {} collapsed to one id and one row",
        f.resubmitted_leads, f.resubmissions_collapsed
    );
    let _ = writeln!(
        out,
        "  ids not as the Idempotency-Key gives: {}; invalid leads accepted: {}, stored: {}",
        f.id_mismatches, f.invalid_accepted, f.invalid_stored
    );
    let _ = writeln!(
        out,
        "  stored although not acknowledged (503/timeout, not a gap): {}",
        f.stored_unacknowledged
    );
    if !f.missing_sample.is_empty() {
        let ids: Vec<String> = f.missing_sample.iter().map(ToString::to_string).collect();
        let _ = writeln!(
            out,
            "  missing ids (first {}): {}",
            ids.len(),
            ids.join(" ")
        );
    }
    if !f.unexpected_sample.is_empty() {
        let ids: Vec<String> = f
            .unexpected_sample
            .iter()
            .map(ToString::to_string)
            .collect();
        let _ = writeln!(
            out,
            "  unexpected ids (first {}): {}",
            ids.len(),
            ids.join(" ")
        );
    }
    let _ = writeln!(
        out,
        "  {}",
        if r.is_clean() {
            "RECONCILED: no gaps"
        } else {
            "GAPS FOUND"
        }
    );
    out
}
