use std::sync::Arc;

use clap::Parser;
use leadpipe_gateway::{Application, KafkaSink, Metrics, Settings};
use leadpipe_service::{init_tracing, shutdown_signal};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::parse();
    init_tracing(settings.log_format);
    let metrics = Arc::new(Metrics::new());
    let sink = Arc::new(KafkaSink::connect(&settings, metrics.clone())?);
    let app = Application::build(&settings, sink, metrics)?;
    tracing::info!(addr = %settings.http_addr, port = app.port(), topic = %settings.topic, "gateway listening");
    app.run_until(shutdown_signal()).await?;
    tracing::info!("gateway stopped");
    Ok(())
}
