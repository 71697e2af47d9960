//! Structured logs for both binaries: `RUST_LOG` picks the level, `LEADPIPE_LOG_FORMAT`
//! the format. `log` records (librdkafka's, through rdkafka) are forwarded too, and JSON
//! lines carry the fields of the current span.
//!
//! Lines are formatted on the thread that logs and written to stdout in batches by a
//! thread of its own ([`log_writer`](crate::log_writer)): a request never waits for a
//! `write` system call nor wakes a thread. The [`LogGuard`] writes what is buffered at
//! exit.

use clap::ValueEnum;
use tracing_subscriber::EnvFilter;

use crate::log_writer::{batched, WriterGuard};

/// Keep it until the process exits: dropping it writes the buffered lines.
#[must_use = "dropping the guard stops the log writer"]
pub struct LogGuard {
    _writer: WriterGuard,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line, for log collectors.
    Json,
    /// Human-readable, for a terminal.
    Pretty,
}

/// Installs the global tracing subscriber (`RUST_LOG`, default `info`). Call once, from
/// `main`, and keep the guard.
pub fn init_tracing(format: LogFormat) -> LogGuard {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let (writer, guard) = batched(std::io::stdout()).expect("starting the log writer thread");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_target(false)
        // A closed stdout (a log collector gone) must not turn into a panic on stderr
        // in the middle of, say, the shutdown sequence: the line is lost, nothing else.
        .log_internal_errors(false);
    match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
        LogFormat::Pretty => builder.compact().init(),
    }
    LogGuard { _writer: guard }
}
