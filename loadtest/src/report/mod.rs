//! What a run leaves behind: the summary on the terminal ([`text`]), `report.json` (the
//! [`Report`] below, for scripts and comparisons) and `report.html` ([`html`]: the same
//! numbers with [`charts`], self-contained, to open in a browser).

pub mod charts;
pub mod html;
pub mod text;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::reconcile::Reconciliation;
use crate::runner::{LoadConfig, LoadRun};
use crate::stats::{self, InvalidAnswers, OutcomeCount, Percentiles, SecondSummary};
use crate::stats::{SpectrumPoint, Totals};

/// Rates per second: what was asked for and what was achieved.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Rates {
    /// The schedule's average over the run (the ramp included).
    pub target: f64,
    pub sent: f64,
    pub answered: f64,
    pub accepted: f64,
}

/// Whether the load generator itself kept up, so the numbers describe the gateway.
#[derive(Debug, Clone, Serialize)]
pub struct ClientHealth {
    /// How late the scheduler released requests: large values mean the client machine
    /// was the bottleneck.
    pub dispatch_lag: Percentiles,
    /// How long requests waited for a free connection: above zero, the gateway answered
    /// slower than requests arrived (for this many connections).
    pub queue_wait: Percentiles,
    /// Most requests waiting for a free connection at once.
    pub peak_backlog: usize,
}

/// A one-line judgement of the run and what stands out.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// Every request went out on time, found a free connection, and got an answer other
    /// than a 503.
    pub kept_up: bool,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub tool: &'static str,
    pub version: &'static str,
    pub run_tag: String,
    pub campaigns: Vec<String>,
    pub started_at: DateTime<Utc>,
    pub config: LoadConfig,
    pub elapsed_secs: f64,
    pub totals: Totals,
    pub outcomes: Vec<OutcomeCount>,
    pub rates: Rates,
    /// From the intended send instant to the answer.
    pub latency: Percentiles,
    /// From the actual send to the answer (excludes waiting for a connection).
    pub service_time: Percentiles,
    pub client: ClientHealth,
    pub spectrum: Vec<SpectrumPoint>,
    pub timeline: Vec<SecondSummary>,
    pub invalid: Vec<InvalidAnswers>,
    pub verdict: Verdict,
    pub reconciliation: Option<Reconciliation>,
}

/// Dispatch lag above this means the client, not the gateway, set the pace.
const CLIENT_LAG_LIMIT_MS: f64 = 10.0;

/// A p99 wait for a connection above this means requests queued: the gateway did not
/// keep up with the arrivals.
const QUEUE_WAIT_LIMIT_MS: f64 = 10.0;

impl Report {
    pub fn new(run: &LoadRun, reconciliation: Option<Reconciliation>) -> Self {
        let config = &run.config;
        let schedule = config.schedule();
        let measured = &run.measured;
        let dispatch_lag = Percentiles::of(&measured.dispatch);
        let queue_wait = Percentiles::of(&measured.queue);
        let totals = measured.totals;
        let (duration, elapsed) = (config.duration.as_secs_f64(), run.elapsed.as_secs_f64());
        let mut notes = Vec::new();
        if totals.dropped > 0 {
            notes.push(format!(
                "{} requests were dropped: {} were already waiting for a connection — the gateway did not keep up",
                totals.dropped, config.max_backlog
            ));
        }
        if dispatch_lag.p99_ms > CLIENT_LAG_LIMIT_MS {
            notes.push(format!(
                "the load generator fell behind its own schedule (dispatch lag p99 {:.1} ms): the client machine limited this run",
                dispatch_lag.p99_ms
            ));
        }
        if queue_wait.p99_ms > QUEUE_WAIT_LIMIT_MS {
            notes.push(format!(
                "requests queued for a free connection (p99 {:.1} ms, max {:.1} ms, up to {} waiting): the gateway answered slower than they arrived on {} connections; that wait is part of the latency",
                queue_wait.p99_ms, queue_wait.max_ms, measured.peak_backlog, config.connections
            ));
        }
        if totals.unavailable > 0 {
            notes.push(format!("{} requests were answered 503", totals.unavailable));
        }
        if totals.unusable() > 0 {
            notes.push(format!(
                "{} requests got no usable answer (timeouts, broken or refused connections, unexpected statuses)",
                totals.unusable()
            ));
        }
        // Each note is one way of not keeping up.
        let kept_up = notes.is_empty();
        Self {
            tool: "leadpipe-loadtest",
            version: env!("CARGO_PKG_VERSION"),
            run_tag: run.leads.run_tag.clone(),
            campaigns: run.leads.campaigns.clone(),
            started_at: run.started_at,
            config: config.clone(),
            elapsed_secs: elapsed,
            totals,
            outcomes: measured.outcomes.values().cloned().collect(),
            rates: Rates {
                target: schedule.count() as f64 / duration,
                sent: totals.sent as f64 / duration,
                answered: totals.answered as f64 / elapsed,
                accepted: totals.accepted as f64 / elapsed,
            },
            latency: Percentiles::of(&measured.latency),
            service_time: Percentiles::of(&measured.service),
            client: ClientHealth {
                dispatch_lag,
                queue_wait,
                peak_backlog: measured.peak_backlog,
            },
            spectrum: stats::spectrum(&measured.latency),
            timeline: measured.timeline.clone(),
            invalid: measured.invalid.values().cloned().collect(),
            verdict: Verdict { kept_up, notes },
            reconciliation,
        }
    }

    /// The four latencies the reports tabulate, by name.
    pub fn latencies(&self) -> [(&'static str, &Percentiles); 4] {
        [
            ("from intended send", &self.latency),
            ("from actual send", &self.service_time),
            ("wait for a free connection", &self.client.queue_wait),
            ("scheduler dispatch lag", &self.client.dispatch_lag),
        ]
    }
}

/// `part` as a percentage of `whole`: `12.50%`, or `-` of nothing.
pub(crate) fn percent(part: u64, whole: u64) -> String {
    match whole {
        0 => "-".to_owned(),
        _ => format!("{:.2}%", part as f64 * 100.0 / whole as f64),
    }
}

/// A report that could not be written, and where.
#[derive(Debug, thiserror::Error)]
#[error("writing {path}: {source}")]
pub struct ReportError {
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

/// Writes `report.json` and `report.html` into `dir` (created if needed) and returns
/// their paths.
pub fn write(dir: &Path, report: &Report) -> Result<[PathBuf; 2], ReportError> {
    let (json, html) = (dir.join("report.json"), dir.join("report.html"));
    let failed = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ReportError { path, source }
    };
    std::fs::create_dir_all(dir).map_err(failed(dir))?;
    let text = serde_json::to_string_pretty(report).map_err(std::io::Error::from);
    let text = text.map_err(failed(&json))?;
    std::fs::write(&json, &text).map_err(failed(&json))?;
    std::fs::write(&html, html::render(report, &text)).map_err(failed(&html))?;
    Ok([json, html])
}
