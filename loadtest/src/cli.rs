//! The command line: options, each also read from a `LEADPIPE_LOADTEST_*` variable, each
//! with a default. What a run does with them is in [`orchestration`](crate::orchestration).

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Parser};
use url::Url;

use crate::generator::{LeadMix, RunLeads};
use crate::reconcile::DrainOptions;
use crate::runner::LoadConfig;

fn duration(text: &str) -> Result<Duration, humantime::DurationError> {
    humantime::parse_duration(text)
}

#[derive(Debug, Clone, Parser)]
#[command(
    name = "leadpipe-loadtest",
    version,
    about = "Open-loop load generator for the leadpipe gateway, with end-to-end reconciliation.",
    long_about = "Open-loop load generator for the leadpipe gateway, with end-to-end reconciliation.\n\n\
Requests are sent on a fixed schedule whatever the gateway answers, and latency is \
measured from when each request was due, so a slow server cannot hide its latency. \
With --verify-db, after sending it waits for the consumer to drain and checks that \
every lead answered 202 is stored exactly once, that resubmissions collapsed to one \
row, and that no invalid lead was stored.\n\n\
Exit status: 0 done (and reconciled, if asked); 1 reconciliation found gaps; 2 the run \
or the reconciliation could not be carried out."
)]
pub struct Options {
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
    pub duration: Duration,

    /// Time to rise linearly from 0 to the rate (part of the duration), e.g. `5s`.
    #[arg(long, env = "LEADPIPE_LOADTEST_RAMP_UP", default_value = "0s", value_parser = duration)]
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
    pub request_timeout: Duration,

    /// Share of requests carrying an invalid lead, spread over every kind of validation
    /// failure (0–1).
    #[arg(long, env = "LEADPIPE_LOADTEST_INVALID_SHARE", default_value_t = 0.05)]
    pub invalid_share: f64,

    /// Share of requests resubmitting a recent lead with the same Idempotency-Key (0–1).
    #[arg(long, env = "LEADPIPE_LOADTEST_RESUBMIT_SHARE", default_value_t = 0.05)]
    pub resubmit_share: f64,

    /// Share of fresh valid leads sent without an Idempotency-Key (0–1).
    #[arg(long, env = "LEADPIPE_LOADTEST_KEYLESS_SHARE", default_value_t = 0.2)]
    pub keyless_share: f64,

    /// Seed of the lead generator (random if not given; printed in the report).
    #[arg(long, env = "LEADPIPE_LOADTEST_SEED")]
    pub seed: Option<u64>,

    /// Tag of this run: prefixes its campaigns and keys (random `lt-xxxxxxxx` if not
    /// given). Letters, digits and dashes, at most 24.
    #[arg(long, env = "LEADPIPE_LOADTEST_RUN_TAG")]
    pub run_tag: Option<String>,

    /// Directory for report.json and report.html.
    #[arg(
        long,
        env = "LEADPIPE_LOADTEST_REPORT_DIR",
        default_value = "loadtest/reports"
    )]
    pub report_dir: PathBuf,

    /// PostgreSQL URL of the leads database: reconcile the run against it.
    #[arg(long, env = "LEADPIPE_LOADTEST_VERIFY_DB")]
    pub verify_db: Option<String>,

    /// The consumer's metrics URL (e.g. http://127.0.0.1:9091/metrics): before
    /// reconciling, also wait for the group lag of every partition (`leadpipe_consumer_group_lag`) to reach 0.
    #[arg(long, env = "LEADPIPE_LOADTEST_CONSUMER_METRICS")]
    pub consumer_metrics: Option<Url>,

    /// Longest wait for the consumer to drain before reconciling.
    #[arg(long, env = "LEADPIPE_LOADTEST_DRAIN_TIMEOUT", default_value = "120s", value_parser = duration)]
    pub drain_timeout: Duration,

    /// A stored-row count unchanged this long ends the drain wait early.
    #[arg(long, env = "LEADPIPE_LOADTEST_SETTLE", default_value = "10s", value_parser = duration)]
    pub settle: Duration,

    /// Print a progress line every second on stderr.
    #[arg(long, env = "LEADPIPE_LOADTEST_PROGRESS", default_value_t = true, action = ArgAction::Set)]
    pub progress: bool,
}

impl Options {
    pub fn load_config(&self) -> LoadConfig {
        let mut config = LoadConfig::new(self.target.clone());
        config.rate = self.rate;
        config.duration = self.duration;
        config.ramp_up = self.ramp_up;
        config.connections = self.connections;
        config.max_backlog = self.max_backlog;
        config.request_timeout = self.request_timeout;
        config.mix = LeadMix {
            invalid_share: self.invalid_share,
            resubmit_share: self.resubmit_share,
            keyless_share: self.keyless_share,
        };
        if let Some(seed) = self.seed {
            config.seed = seed;
        }
        config.run_tag = self.run_tag.clone().unwrap_or_else(RunLeads::random_tag);
        config.keep_records = self.verify_db.is_some();
        config.progress = self.progress;
        config
    }

    pub fn drain_options(&self) -> DrainOptions {
        DrainOptions {
            consumer_metrics: self.consumer_metrics.clone(),
            timeout: self.drain_timeout,
            settle: self.settle,
            ..DrainOptions::default()
        }
    }
}
