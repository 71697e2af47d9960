//! The open-loop run. One scheduler task releases requests at their intended instants;
//! each becomes a task that waits for one of `connections` permits (the connection
//! pool), sends, and records. The scheduler never waits for answers, so a slow gateway
//! makes requests queue in the client — and that wait counts as latency.
//!
//! The queue is bounded: a request that falls due while `max_backlog` others are still
//! waiting for a connection is not sent but counted as dropped, so memory stays bounded
//! however far behind the gateway falls.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hdrhistogram::Histogram;
use tokio::sync::{mpsc, Semaphore};
use tokio::time::Instant;
use url::Url;

use crate::client::LeadClient;
use crate::generator::{Generator, LeadMix, RunLeads};
use crate::outcome::RequestRecord;
use crate::progress::Progress;
use crate::recorder::{Recorder, RequestMeta};
use crate::schedule::Schedule;
use crate::stats::{InvalidAnswers, OutcomeCount, SecondSummary, Totals};

/// Everything a run needs to know.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Base URL of the gateway; leads go to `{target}/v1/leads`.
    pub target: Url,
    /// Requests per second once ramped up.
    pub rate: f64,
    pub duration: Duration,
    pub ramp_up: Duration,
    /// Concurrent requests (and so connections) at most.
    pub connections: usize,
    /// Requests that may wait for a connection before new ones are dropped.
    pub max_backlog: usize,
    pub request_timeout: Duration,
    pub mix: LeadMix,
    pub seed: u64,
    pub run_tag: String,
    /// Keep a record of every request (needed for reconciliation; costs ~100 bytes each).
    pub keep_records: bool,
    /// Print a progress line to stderr every second.
    pub progress: bool,
}

impl LoadConfig {
    /// A configuration with the command line's defaults for everything but the target.
    pub fn new(target: Url) -> Self {
        Self {
            target,
            rate: 500.0,
            duration: Duration::from_secs(30),
            ramp_up: Duration::ZERO,
            connections: 128,
            max_backlog: 20_000,
            request_timeout: Duration::from_secs(10),
            mix: LeadMix::default(),
            seed: fastrand::u64(..),
            run_tag: RunLeads::random_tag(),
            keep_records: true,
            progress: false,
        }
    }

    pub fn schedule(&self) -> Schedule {
        Schedule::new(self.rate, self.duration, self.ramp_up)
    }

    fn check(&self) -> Result<RunLeads, LoadError> {
        let invalid = |reason: String| Err(LoadError::Config(reason));
        if !(self.rate.is_finite() && self.rate > 0.0) {
            return invalid(format!("rate must be a positive number, not {}", self.rate));
        }
        if self.duration.is_zero() {
            return invalid("duration must be longer than zero".to_owned());
        }
        if self.connections == 0 {
            return invalid("at least one connection is needed".to_owned());
        }
        if self.request_timeout.is_zero() {
            return invalid("the request timeout must be longer than zero".to_owned());
        }
        if !matches!(self.target.scheme(), "http" | "https") {
            return invalid(format!("target {} is not an http(s) URL", self.target));
        }
        self.mix.check().map_err(LoadError::Config)?;
        RunLeads::new(&self.run_tag).map_err(LoadError::Config)
    }
}

/// Why a run could not start. Once it runs, every failure is an outcome, not an error.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

/// A finished run: its numbers and, if kept, every request.
pub struct LoadRun {
    pub config: LoadConfig,
    pub leads: RunLeads,
    pub started_at: DateTime<Utc>,
    /// The instant offsets in records are counted from.
    pub started: std::time::Instant,
    /// From the start to the last answer.
    pub elapsed: Duration,
    pub latency: Histogram<u64>,
    pub service: Histogram<u64>,
    pub dispatch: Histogram<u64>,
    pub queue: Histogram<u64>,
    pub totals: Totals,
    pub outcomes: Vec<OutcomeCount>,
    pub invalid: Vec<InvalidAnswers>,
    pub timeline: Vec<SecondSummary>,
    pub records: Vec<RequestRecord>,
    /// Most requests already waiting for a connection when another fell due.
    pub peak_backlog: usize,
}

/// How long before the first intended instant the scheduler starts, so the first
/// requests are not late merely because setting up took a moment.
const LEAD_IN: Duration = Duration::from_millis(20);

/// Runs the load described by `config` and returns what happened.
pub async fn run(config: &LoadConfig) -> Result<LoadRun, LoadError> {
    let leads = config.check()?;
    let client = Arc::new(LeadClient::new(
        &config.target,
        config.connections,
        config.request_timeout,
    )?);
    let schedule = config.schedule();
    let total = schedule.count();
    let mut generator = Generator::new(config.seed, leads.clone(), config.mix);
    let recorder = Arc::new(Recorder::new(config.keep_records, total));
    let permits = Arc::new(Semaphore::new(config.connections));
    let waiting = Arc::new(AtomicUsize::new(0));
    let mut peak_backlog = 0;
    // Every request task holds a clone of `done`; when the last one finishes, the
    // receiver sees the channel close.
    let (done, mut all_done) = mpsc::channel::<()>(1);

    let started_at = Utc::now();
    let start = Instant::now() + LEAD_IN;
    let progress = config.progress.then(|| {
        Progress::spawn(
            recorder.clone(),
            waiting.clone(),
            start,
            schedule,
            config.duration,
        )
    });

    for n in 0..total {
        let request = generator.next_request();
        let offset = schedule.offset(n);
        let intended = start + offset;
        tokio::time::sleep_until(intended).await;
        recorder.scheduled(offset, Instant::now().saturating_duration_since(intended));
        let meta = RequestMeta::from(&request);
        let backlog = waiting.load(Ordering::Relaxed);
        if backlog >= config.max_backlog {
            recorder.dropped(meta, offset);
            continue;
        }
        peak_backlog = peak_backlog.max(backlog);
        waiting.fetch_add(1, Ordering::Relaxed);
        let (client, recorder, permits, waiting, done) = (
            client.clone(),
            recorder.clone(),
            permits.clone(),
            waiting.clone(),
            done.clone(),
        );
        tokio::spawn(async move {
            let _done = done;
            let permit = permits.acquire_owned().await;
            waiting.fetch_sub(1, Ordering::Relaxed);
            let sent = start.elapsed();
            recorder.sent(offset, sent);
            let outcome = client.send(&request).await;
            drop(permit);
            recorder.finished(meta, offset, sent, start.elapsed(), outcome);
        });
    }
    drop(done);
    let _ = all_done.recv().await;
    if let Some(progress) = progress {
        progress.stop().await;
    }

    let recorded = recorder.finish(&schedule);
    Ok(LoadRun {
        config: config.clone(),
        leads,
        started_at,
        started: start.into_std(),
        elapsed: recorded.last_finished.max(config.duration),
        latency: recorded.latency,
        service: recorded.service,
        dispatch: recorded.dispatch,
        queue: recorded.queue,
        totals: recorded.totals,
        outcomes: recorded.outcomes,
        invalid: recorded.invalid,
        timeline: recorded.timeline,
        records: recorded.records,
        peak_backlog,
    })
}

impl LoadRun {
    /// Offset from the start of the run of an instant a test observed.
    pub fn offset_of(&self, instant: std::time::Instant) -> Duration {
        instant.saturating_duration_since(self.started)
    }

    /// Requests sent per second over the scheduled duration.
    pub fn sent_rate(&self) -> f64 {
        self.totals.sent as f64 / self.config.duration.as_secs_f64()
    }

    /// Answers (any status) per second, from the start to the last answer.
    pub fn answered_rate(&self) -> f64 {
        self.totals.answered as f64 / self.elapsed.as_secs_f64()
    }

    /// 202s per second, from the start to the last answer.
    pub fn accepted_rate(&self) -> f64 {
        self.totals.accepted as f64 / self.elapsed.as_secs_f64()
    }
}
