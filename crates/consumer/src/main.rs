use anyhow::Context;
use clap::Parser;
use leadpipe_consumer::settings::DlqAction;
use leadpipe_consumer::{dlq, Application, Cli, Command, LeadStore};
use leadpipe_service::{init_tracing, shutdown_signal};

/// Fewer and cheaper allocations than the system allocator under many small, short-lived
/// requests (see docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = cli.settings.clone();
    let _logs = init_tracing(settings.common.log_format);
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
        Command::Dlq { action } => {
            let kafka = &settings.common.kafka;
            kafka.validate().context("invalid Kafka settings")?;
            match action {
                DlqAction::List { since } => {
                    let letters = dlq::read(kafka, &settings.dlq_topic, since)?;
                    print!("{}", dlq::list(&letters));
                }
                DlqAction::Replay { since, dry_run } => {
                    let letters = dlq::read(kafka, &settings.dlq_topic, since)?;
                    let replay = dlq::replay(
                        kafka,
                        &letters,
                        settings.consent_policy(),
                        &settings.common.topic,
                        dry_run,
                    )
                    .await?;
                    let verb = if dry_run {
                        "would republish"
                    } else {
                        "republished"
                    };
                    println!(
                        "{replay}; {verb} {} to {}",
                        replay.republished, settings.common.topic
                    );
                }
            }
        }
        Command::LagExporter => {
            leadpipe_consumer::exporter::run(&settings, shutdown_signal())
                .await
                .context("exporting the group lag")?;
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
