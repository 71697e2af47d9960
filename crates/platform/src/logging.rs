//! Structured logs for both binaries: `RUST_LOG` picks the level, `LEADPIPE_LOG_FORMAT`
//! the format. `log` records (librdkafka's, through rdkafka) are forwarded too, and JSON
//! lines carry the fields of the current span.
//!
//! Lines are formatted on the thread that logs but written to stdout by a thread of
//! their own: a request never waits for a `write` system call. If stdout cannot keep up
//! (more than [`BUFFERED_LINES`] waiting), further lines are dropped rather than
//! blocking the service; the [`LogGuard`] flushes what is buffered at exit.

use clap::ValueEnum;
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

/// Log lines that may wait for stdout before new ones are dropped.
pub const BUFFERED_LINES: usize = 64 * 1024;

/// Keep it until the process exits: dropping it flushes the buffered lines.
#[must_use = "dropping the guard stops the log writer"]
pub struct LogGuard {
    _writer: WorkerGuard,
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
    let (writer, guard) = NonBlockingBuilder::default()
        .buffered_lines_limit(BUFFERED_LINES)
        .lossy(true)
        .thread_name("log-writer")
        .finish(std::io::stdout());
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
