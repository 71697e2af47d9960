//! What every leadpipe process needs besides its own work, shared by the gateway and the
//! consumer so both behave the same way for operators:
//! - [`LogFormat`] and [`init_tracing`]: structured logs (`RUST_LOG`, JSON or pretty);
//! - [`shutdown_signal`]: SIGTERM (what orchestrators send) or Ctrl-C;
//! - [`render_metrics`]: a Prometheus registry in the text exposition format.

use clap::ValueEnum;
use prometheus::{Encoder, Registry, TextEncoder};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line, for log collectors.
    Json,
    /// Human-readable, for a terminal.
    Pretty,
}

/// Installs the global tracing subscriber (`RUST_LOG`, default `info`). Call once, from
/// `main`. `log` records (librdkafka's, through rdkafka) are forwarded too. JSON lines
/// carry the fields of the current span, such as the request id and the lead id.
pub fn init_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
        LogFormat::Pretty => builder.compact().init(),
    }
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("interrupted: shutting down"),
        () = terminate => tracing::info!("SIGTERM: shutting down"),
    }
}

/// The Prometheus text exposition of every metric in `registry`.
pub fn render_metrics(registry: &Registry) -> String {
    let mut buffer = Vec::new();
    TextEncoder::new()
        .encode(&registry.gather(), &mut buffer)
        .expect("text encoding cannot fail");
    String::from_utf8(buffer).expect("the text format is UTF-8")
}
