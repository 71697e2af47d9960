//! The command line: options, each also read from a `LEADPIPE_LOADTEST_*` variable, each
//! with a default. What a run does with them is in [`orchestration`](crate::orchestration).

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use url::Url;

use crate::reconcile::DrainOptions;
use crate::runner::{duration, LoadConfig};

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
    #[command(flatten)]
    pub run: LoadConfig,

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
}

impl Options {
    /// The run's configuration; requests are recorded when the run is reconciled.
    pub fn load_config(&self) -> LoadConfig {
        let mut config = self.run.clone();
        config.keep_records = self.verify_db.is_some();
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
