//! The open-loop run. One scheduler task releases requests at their intended instants;
//! each becomes a task that waits for one of `connections` permits (the connection
//! pool), sends, and records. The scheduler never waits for answers, so a slow gateway
//! makes requests queue in the client — and that wait counts as latency.
//!
//! The queue is bounded: a request that falls due while `max_backlog` others are still
//! waiting for a connection is not sent but counted as dropped, so memory stays bounded
//! however far behind the gateway falls.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, Semaphore};
use tokio::time::Instant;
use url::Url;

use crate::cli::{defaults, duration};
use crate::client::LeadClient;
use crate::generator::{Generator, LeadMix, RunLeads};
use crate::outcome::RequestRecord;
use crate::progress::Progress;
use crate::recorder::{Measured, Recorder};
use crate::schedule::Schedule;

/// Seconds, as the report gives durations.
fn secs<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(duration.as_secs_f64())
}

/// Everything a run needs to know: the command line's options of the run itself, each
/// also read from a `LEADPIPE_LOADTEST_*` variable, each with a default. The report
/// carries it as `config`, durations in seconds.
#[derive(Debug, Clone, clap::Args, serde::Serialize)]
pub struct LoadConfig {
    /// Base URL of the gateway; leads are posted to <TARGET>/v1/leads.
    #[arg(
        long,
        env = "LEADPIPE_LOADTEST_TARGET",
        default_value = "http://127.0.0.1:8080"
    )]
    pub target: Url,

    /// Requests per second once ramped up (sent on schedule, whatever the answers).
    #[arg(long, env = "LEADPIPE_LOADTEST_RATE", default_value_t = 500.0)]
    pub rate: f64,

    /// How long to send, e.g. `30s`, `2m`.
    #[arg(long, env = "LEADPIPE_LOADTEST_DURATION", default_value = "30s", value_parser = duration)]
    #[serde(rename = "duration_secs", serialize_with = "secs")]
    pub duration: Duration,

    /// Time to rise linearly from 0 to the rate (part of the duration), e.g. `5s`.
    #[arg(long, env = "LEADPIPE_LOADTEST_RAMP_UP", default_value = "0s", value_parser = duration)]
    #[serde(rename = "ramp_up_secs", serialize_with = "secs")]
    pub ramp_up: Duration,

    /// Concurrent requests, and so connections, at most. Requests due while all are busy
    /// wait in the client, and the wait counts as latency.
    #[arg(long, env = "LEADPIPE_LOADTEST_CONNECTIONS", default_value_t = 128)]
    pub connections: usize,

    /// Requests that may wait for a connection; one due beyond that is dropped (counted,
    /// never sent), so the client's memory stays bounded.
    #[arg(long, env = "LEADPIPE_LOADTEST_MAX_BACKLOG", default_value_t = 20_000)]
    pub max_backlog: usize,

    /// How long one request may take before it counts as timed out.
    #[arg(long, env = "LEADPIPE_LOADTEST_REQUEST_TIMEOUT", default_value = "10s", value_parser = duration)]
    #[serde(rename = "request_timeout_secs", serialize_with = "secs")]
    pub request_timeout: Duration,

    #[command(flatten)]
    pub mix: LeadMix,

    /// Seed of the lead generator (random if not given; printed in the report).
    #[arg(long, env = "LEADPIPE_LOADTEST_SEED", default_value_t = fastrand::u64(..), hide_default_value = true)]
    pub seed: u64,

    /// Tag of this run: prefixes its campaigns and keys (random `lt-xxxxxxxx` if not
    /// given). Letters, digits and dashes, at most 24.
    #[arg(long, env = "LEADPIPE_LOADTEST_RUN_TAG", default_value_t = RunLeads::random_tag(), hide_default_value = true)]
    #[serde(skip)]
    pub run_tag: String,

    /// Print a progress line every second on stderr.
    #[arg(long, env = "LEADPIPE_LOADTEST_PROGRESS", default_value_t = true, action = clap::ArgAction::Set)]
    #[serde(skip)]
    pub progress: bool,

    /// Keep a record of every request (needed for reconciliation; costs ~100 bytes
    /// each); set when the run is reconciled.
    #[arg(skip = true)]
    #[serde(skip)]
    pub keep_records: bool,
}

impl LoadConfig {
    /// The command line's defaults (and `LEADPIPE_LOADTEST_*` variables) for everything
    /// but the target, without the progress line, and with a seed and run tag of its own
    /// (clap draws a random default once per process). Panics if such a variable is
    /// invalid.
    pub fn new(target: Url) -> Self {
        Self {
            target,
            progress: false,
            seed: fastrand::u64(..),
            run_tag: RunLeads::random_tag(),
            ..defaults()
        }
    }

    pub fn schedule(&self) -> Schedule {
        Schedule::new(self.rate, self.duration, self.ramp_up)
    }

    fn check(&self) -> Result<RunLeads, LoadError> {
        let problem = if !(self.rate.is_finite() && self.rate > 0.0) {
            format!("rate must be a positive number, not {}", self.rate)
        } else if self.duration.is_zero() {
            "duration must be longer than zero".to_owned()
        } else if self.request_timeout.is_zero() {
            "the request timeout must be longer than zero".to_owned()
        } else if self.connections == 0 {
            "at least one connection is needed".to_owned()
        } else if !matches!(self.target.scheme(), "http" | "https") {
            format!("target {} is not an http(s) URL", self.target)
        } else {
            self.mix.check().map_err(LoadError::Config)?;
            return RunLeads::new(&self.run_tag).map_err(LoadError::Config);
        };
        Err(LoadError::Config(problem))
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

/// A finished run: what it was asked to do, and what it measured.
pub struct LoadRun {
    pub config: LoadConfig,
    pub leads: RunLeads,
    pub started_at: DateTime<Utc>,
    /// The instant offsets in records are counted from.
    pub started: std::time::Instant,
    /// From the start to the last answer.
    pub elapsed: Duration,
    pub measured: Measured,
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
    // Every request task holds a clone of `done`; when the last one finishes, the
    // receiver sees the channel close.
    let (done, mut all_done) = mpsc::channel::<()>(1);

    let started_at = Utc::now();
    let start = Instant::now() + LEAD_IN;
    let progress = config
        .progress
        .then(|| Progress::spawn(recorder.clone(), start, schedule, config.duration));

    for n in 0..total {
        let request = generator.next_request();
        let offset = schedule.offset(n);
        let intended = start + offset;
        tokio::time::sleep_until(intended).await;
        let record = RequestRecord::planned(&request, offset);
        let lag = Instant::now().saturating_duration_since(intended);
        if !recorder.scheduled(offset, lag, config.max_backlog) {
            recorder.dropped(record);
            continue;
        }
        let (client, recorder, permits, done) = (
            client.clone(),
            recorder.clone(),
            permits.clone(),
            done.clone(),
        );
        tokio::spawn(async move {
            let _done = done;
            let permit = permits.acquire_owned().await;
            let sent = start.elapsed();
            recorder.sent(offset, sent);
            let outcome = client.send(&request).await;
            drop(permit);
            recorder.finished(record, sent, start.elapsed(), outcome);
        });
    }
    drop(done);
    let _ = all_done.recv().await;
    if let Some(progress) = progress {
        progress.stop().await;
    }

    let measured = recorder.finish(&schedule);
    Ok(LoadRun {
        config: config.clone(),
        leads,
        started_at,
        started: start.into_std(),
        elapsed: measured.last_finished.max(config.duration),
        measured,
    })
}

impl LoadRun {
    /// Offset from the start of the run of an instant a test observed.
    pub fn offset_of(&self, instant: std::time::Instant) -> Duration {
        instant.saturating_duration_since(self.started)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_made_in_code_has_the_command_lines_defaults() {
        let config = LoadConfig::new(Url::parse("http://gateway:8080").unwrap());
        assert_eq!(config.target.as_str(), "http://gateway:8080/");
        assert_eq!(
            (config.rate, config.duration, config.ramp_up),
            (500.0, Duration::from_secs(30), Duration::ZERO)
        );
        assert_eq!((config.connections, config.max_backlog), (128, 20_000));
        assert_eq!(config.request_timeout, Duration::from_secs(10));
        assert_eq!(config.mix, LeadMix::default());
        assert!(config.keep_records && !config.progress);
        let again = LoadConfig::new(config.target.clone());
        assert_ne!(again.run_tag, config.run_tag, "a fresh tag per run");
    }
}
