use std::process::ExitCode;

use anyhow::Context;
use leadpipe_consumer::dead_letter::command as dlq;
use leadpipe_consumer::erasure::{self, Person};
use leadpipe_consumer::settings::{DlqAction, PersonArgs, Settings};
use leadpipe_consumer::{partitions, retention};
use leadpipe_consumer::{Application, Cli, Command};
use leadpipe_platform::{exit_code, init_tracing, parse_or_exit, shutdown_signal, ConfigError};

/// Fewer and cheaper allocations than the system allocator under many small, short-lived
/// requests (see docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A setting that cannot work ends the process with one line and exit code 2 (clap does
/// the same for a malformed value); anything else with its cause chain and exit code 1.
#[tokio::main]
async fn main() -> ExitCode {
    let cli: Cli = parse_or_exit("leadpipe-consumer");
    let settings = cli.settings.clone();
    let _logs = init_tracing(settings.common.log_format);
    match run(cli.command(), settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => exit_code("leadpipe-consumer", &error),
    }
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Migrate => {
            let store = settings.lead_store(1)?;
            store.migrate().await?;
            let created = partitions::create_ahead(store.pool()).await?;
            tracing::info!(partitions_created = created.len(), "migrations applied");
        }
        Command::Dlq { action } => {
            let kafka = &settings.common.kafka.validate()?;
            match action {
                DlqAction::List { since } => {
                    let letters = dlq::read(kafka, &settings.dlq_topic, since)?;
                    print!("{}", dlq::list(&letters));
                }
                DlqAction::Replay { since, dry_run } => {
                    let erasure_key = settings.erasure_key()?;
                    let store = settings.lead_store(1)?;
                    let letters = dlq::read(kafka, &settings.dlq_topic, since)?;
                    let mut erasures =
                        erasure::ErasureCheck::new(store.pool(), erasure_key.as_ref());
                    let replay = dlq::replay(
                        kafka,
                        &letters,
                        settings.consent_policy(),
                        &settings.common.topic,
                        dry_run,
                        &mut erasures,
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
        Command::Erase { person } => erase(&settings, &person).await?,
        Command::Retention {
            older_than,
            dry_run,
        } => {
            let cutoff = chrono::Utc::now()
                - chrono::Duration::from_std(older_than).context("retention period")?;
            let store = settings.lead_store(1)?;
            println!("{}", retention::apply(store.pool(), cutoff, dry_run).await?);
        }
        Command::LagExporter => {
            let kafka = settings.common.kafka.validate()?;
            leadpipe_consumer::exporter::run(&settings, &kafka, shutdown_signal())
                .await
                .context("exporting the group lag")?;
        }
        Command::Run => {
            let kafka = settings.common.kafka.validate()?;
            let app = Application::build(&settings, &kafka)
                .await
                .context("starting the consumer")?;
            tracing::info!(port = app.port(), topic = %settings.common.topic, group = %settings.group.group_id,
                kafka = %kafka.describe(), "consumer started");
            app.run_until(shutdown_signal()).await?;
            tracing::info!("consumer stopped");
        }
    }
    Ok(())
}

/// `leadpipe-consumer erase`: the person's rows deleted and their hash recorded, then
/// what is left to the operator (the copies in Kafka).
async fn erase(settings: &Settings, person: &PersonArgs) -> anyhow::Result<()> {
    let config = |error: erasure::ErasureError| ConfigError::new(error.to_string());
    let key = settings
        .erasure_key()?
        .ok_or_else(|| config(erasure::ErasureError::MissingKey))?;
    let who = match (&person.email, &person.phone) {
        (Some(email), _) => Person::email(email),
        (None, Some(phone)) => Person::phone(person.country_code.as_deref(), phone),
        (None, None) => unreachable!("clap requires --email or --phone"),
    }
    .map_err(config)?;
    let store = settings.lead_store(1)?;
    let removed = match erasure::erase(store.pool(), &key, &who).await {
        Err(error @ erasure::ErasureError::WrongKey) => return Err(config(error).into()),
        other => other?,
    };
    println!(
        "erased: {removed} row(s) removed; the person's hash is recorded, so no replay stores them again"
    );
    let topics = [settings.common.topic.as_str(), settings.dlq_topic.as_str()];
    match settings.common.kafka.validate() {
        Ok(kafka) => println!("{}", erasure::kafka_retention(&kafka, &topics).await),
        Err(error) => println!(
            "copies in Kafka ({}) expire with the topics' retention, which could not be read: {error}",
            topics.join(", ")
        ),
    }
    Ok(())
}
