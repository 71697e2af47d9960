//! The command line: options, each also read from a `LEADPIPE_LOADTEST_*` variable, each
//! with a default. What a run does with them is in [`orchestration`](crate::orchestration).

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::reconcile::DrainOptions;
use crate::runner::LoadConfig;

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

    #[command(flatten)]
    pub drain: DrainOptions,
}

/// A duration as people write it: `30s`, `2m`, `1h 30m`.
pub(crate) fn duration(text: &str) -> Result<Duration, humantime::DurationError> {
    humantime::parse_duration(text)
}

/// `T`'s options as the command line would give them without arguments: the defaults,
/// or the `LEADPIPE_LOADTEST_*` variables. Panics if such a variable is invalid.
pub(crate) fn defaults<T: clap::Args>() -> T {
    let command = T::augment_args(clap::Command::new("leadpipe-loadtest"));
    let matches = command.try_get_matches_from(["leadpipe-loadtest"]);
    let matches = matches.expect("the LEADPIPE_LOADTEST_* variables are valid");
    T::from_arg_matches(&matches).expect("options read")
}
