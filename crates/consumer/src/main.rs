use anyhow::Context;
use clap::Parser;
use leadpipe_consumer::{Application, Cli, Command, LeadStore};
use leadpipe_service::{init_tracing, shutdown_signal};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = cli.settings.clone();
    init_tracing(settings.common.log_format);
    match cli.command() {
        Command::Migrate => {
            let store = LeadStore::connect_lazy(
                &settings.database_url,
                settings.database_password_file.as_deref(),
                1,
            )?;
            store.migrate().await.context("applying migrations")?;
            tracing::info!("migrations applied");
        }
        Command::Run => {
            let app = Application::build(&settings)
                .await
                .context("starting the consumer")?;
            tracing::info!(port = app.port(), topic = %settings.common.topic, group = %settings.group_id,
                kafka = %settings.common.kafka.describe(), "consumer started");
            app.run_until(shutdown_signal()).await?;
            tracing::info!("consumer stopped");
        }
    }
    Ok(())
}
