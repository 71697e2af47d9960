use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use leadpipe_gateway::{Application, KafkaSink, Metrics, Settings};
use leadpipe_platform::{exit_code, init_tracing, parse_or_exit, shutdown_signal};

/// Fewer and cheaper allocations than the system allocator under many small, short-lived
/// requests (see docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A setting that cannot work ends the process with one line and exit code 2 (clap does
/// the same for a malformed value); anything else with its cause chain and exit code 1.
#[tokio::main]
async fn main() -> ExitCode {
    let settings: Settings = parse_or_exit("leadpipe-gateway");
    let _logs = init_tracing(settings.common.log_format);
    match run(settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => exit_code("leadpipe-gateway", &error),
    }
}

async fn run(settings: Settings) -> anyhow::Result<()> {
    let kafka = settings.common.kafka.validate()?;
    let metrics = Arc::new(Metrics::new());
    let sink = Arc::new(
        KafkaSink::connect(&settings, &kafka, metrics.clone())
            .context("creating the Kafka producer")?,
    );
    let app = Application::build(&settings, sink, metrics)?;
    tracing::info!(addr = %settings.http_addr, port = app.port(), topic = %settings.common.topic,
        kafka = %kafka.describe(), "gateway listening");
    app.run_until(shutdown_signal()).await?;
    tracing::info!("gateway stopped");
    Ok(())
}
