use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use leadpipe_gateway::{Application, KafkaSink, Metrics, Settings};
use leadpipe_service::{init_tracing, shutdown_signal};

/// Fewer and cheaper allocations than the system allocator under many small, short-lived
/// requests (see docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::parse();
    let _logs = init_tracing(settings.common.log_format);
    settings
        .common
        .kafka
        .validate()
        .context("invalid Kafka settings")?;
    let metrics = Arc::new(Metrics::new());
    let sink = Arc::new(
        KafkaSink::connect(&settings, metrics.clone()).context("creating the Kafka producer")?,
    );
    let app = Application::build(&settings, sink, metrics)?;
    tracing::info!(addr = %settings.http_addr, port = app.port(), topic = %settings.common.topic,
        kafka = %settings.common.kafka.describe(), "gateway listening");
    app.run_until(shutdown_signal()).await?;
    tracing::info!("gateway stopped");
    Ok(())
}
