//! What a run leaves behind: the summary on the terminal ([`text`]), `report.json` (the
//! [`Report`] below, for scripts and comparisons) and `report.html` ([`html`]: the same
//! numbers with [`charts`], self-contained, to open in a browser).

pub mod charts;
pub mod html;
pub mod text;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::generator::LeadMix;
use crate::reconcile::Reconciliation;
use crate::runner::LoadRun;
use crate::stats::{self, InvalidAnswers, OutcomeCount, Percentiles, SecondSummary, Totals};

/// The run's settings, in the units a reader expects.
#[derive(Debug, Clone, Serialize)]
pub struct ReportConfig {
    pub target: String,
    pub rate: f64,
    pub duration_secs: f64,
    pub ramp_up_secs: f64,
    pub connections: usize,
    pub max_backlog: usize,
    pub request_timeout_secs: f64,
    pub mix: LeadMix,
    pub seed: u64,
}

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

#[derive(Debug, Clone, Serialize)]
pub struct SpectrumPoint {
    pub percentile: f64,
    pub latency_ms: f64,
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
    pub config: ReportConfig,
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
        if totals.errors() + totals.other_status > 0 {
            notes.push(format!(
                "{} requests got no usable answer (timeouts, broken or refused connections, unexpected statuses)",
                totals.errors() + totals.other_status
            ));
        }
        let kept_up = totals.dropped == 0
            && totals.unavailable == 0
            && totals.errors() + totals.other_status == 0
            && dispatch_lag.p99_ms <= CLIENT_LAG_LIMIT_MS
            && queue_wait.p99_ms <= QUEUE_WAIT_LIMIT_MS;
        Self {
            tool: "leadpipe-loadtest",
            version: env!("CARGO_PKG_VERSION"),
            run_tag: run.leads.run_tag.clone(),
            campaigns: run.leads.campaigns.clone(),
            started_at: run.started_at,
            config: ReportConfig {
                target: config.target.to_string(),
                rate: config.rate,
                duration_secs: config.duration.as_secs_f64(),
                ramp_up_secs: config.ramp_up.as_secs_f64(),
                connections: config.connections,
                max_backlog: config.max_backlog,
                request_timeout_secs: config.request_timeout.as_secs_f64(),
                mix: config.mix,
                seed: config.seed,
            },
            elapsed_secs: run.elapsed.as_secs_f64(),
            totals,
            outcomes: measured.outcomes.clone(),
            rates: Rates {
                target: schedule.count() as f64 / config.duration.as_secs_f64(),
                sent: run.sent_rate(),
                answered: run.answered_rate(),
                accepted: run.accepted_rate(),
            },
            latency: Percentiles::of(&measured.latency),
            service_time: Percentiles::of(&measured.service),
            client: ClientHealth {
                dispatch_lag,
                queue_wait,
                peak_backlog: measured.peak_backlog,
            },
            spectrum: stats::spectrum(&measured.latency)
                .into_iter()
                .map(|(percentile, latency_ms)| SpectrumPoint {
                    percentile,
                    latency_ms,
                })
                .collect(),
            timeline: measured.timeline.clone(),
            invalid: measured.invalid.clone(),
            verdict: Verdict { kept_up, notes },
            reconciliation,
        }
    }

    pub fn to_json(&self) -> Result<String, ReportError> {
        serde_json::to_string_pretty(self).map_err(ReportError::Json)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("encoding the report: {0}")]
    Json(#[source] serde_json::Error),
}

/// Where the reports went.
#[derive(Debug, Clone)]
pub struct Written {
    pub json: PathBuf,
    pub html: PathBuf,
}

/// Writes `report.json` and `report.html` into `dir` (created if needed).
pub fn write(dir: &Path, report: &Report) -> Result<Written, ReportError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ReportError::Write { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let json = report.to_json()?;
    let written = Written {
        json: dir.join("report.json"),
        html: dir.join("report.html"),
    };
    std::fs::write(&written.json, &json).map_err(io(&written.json))?;
    std::fs::write(&written.html, html::render(report, &json)).map_err(io(&written.html))?;
    Ok(written)
}
