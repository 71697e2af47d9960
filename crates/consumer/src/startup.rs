//! Wiring: [`Application::build`] creates the store, the Kafka clients, the metrics and
//! the HTTP server from the settings; [`Application::run_until`] consumes until the
//! given future completes (SIGTERM in production, whatever a test likes).

use std::future::Future;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use leadpipe_platform::{ClientRole, ConfigError, KafkaConfig};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;

use crate::dead_letter::DeadLetterProducer;
use crate::flush::Flusher;
use crate::group::{self, Assignment, LeadConsumer};
use crate::health::Health;
use crate::lag::GroupLagProbe;
use crate::metrics::Metrics;
use crate::monitor::Monitor;
use crate::pipeline::{Pipeline, PipelineError};
use crate::settings::Settings;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("binding the HTTP address {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A setting that cannot work (the database URL, its password file).
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("creating the Kafka client: {0}")]
    Kafka(#[from] KafkaError),
}

pub struct Application {
    port: u16,
    http: actix_web::dev::Server,
    consumer: Arc<LeadConsumer>,
    pipeline: Pipeline,
    metrics: Arc<Metrics>,
}

impl Application {
    /// Starts the consumer with `kafka`, the Kafka settings validated once at start.
    pub async fn build(settings: &Settings, kafka: &KafkaConfig) -> Result<Self, StartupError> {
        let metrics = Arc::new(Metrics::new());
        leadpipe_domain::field::load_numbering_rules();
        let health = Arc::new(Health::new(metrics.ready.clone()));
        let listener =
            TcpListener::bind(settings.http_addr).map_err(|source| StartupError::Bind {
                addr: settings.http_addr,
                source,
            })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartupError::Bind {
                addr: settings.http_addr,
                source,
            })?
            .port();
        let http =
            crate::http::serve(listener, health.clone(), metrics.clone()).map_err(|source| {
                StartupError::Bind {
                    addr: settings.http_addr,
                    source,
                }
            })?;

        let erasure_key = settings.erasure_key()?;
        if erasure_key.is_none() {
            tracing::warn!(
                "LEADPIPE_ERASURE_KEY is not set: once an erasure is recorded, this consumer \
                 stores nothing until it has the key"
            );
        }
        let store = settings
            .lead_store(settings.db_pool_size)?
            .with_erasure_key(erasure_key);
        ensure_topic(kafka, &settings.dlq_topic).await;
        let dead_letters = DeadLetterProducer::new(kafka, &settings.dlq_topic)?;
        let assignment = Arc::new(Assignment::default());
        let consumer = Arc::new(group::subscribe(settings, kafka, assignment.clone())?);
        let flusher = Arc::new(Flusher::new(store, dead_letters, metrics.clone()));
        let probe = GroupLagProbe::new(kafka, &settings.group.group_id, &settings.common.topic)?;
        let monitor = Arc::new(Monitor::new(
            probe,
            settings.stall_timeout(),
            assignment.clone(),
            flusher.clone(),
            health.clone(),
            metrics.clone(),
        ));
        let pipeline = Pipeline {
            consumer: consumer.clone(),
            assignment,
            flusher,
            monitor,
            metrics: metrics.clone(),
            health,
            topic: settings.common.topic.clone(),
            policy: settings.consent_policy(),
            max_batch_rows: settings.max_batch_rows(),
            max_batch_wait: settings.max_batch_wait(),
            check_interval: settings.lag_interval(),
            shutdown_timeout: settings.common.shutdown_timeout(),
        };
        Ok(Self {
            port,
            http,
            consumer,
            pipeline,
            metrics,
        })
    }

    /// The port of the HTTP server (useful when the address asked for port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// Consumes until `shutdown` completes; then stores what was received, commits,
    /// leaves the group and stops the HTTP server.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> Result<(), PipelineError> {
        let Self {
            http,
            consumer,
            pipeline,
            ..
        } = self;
        let handle = http.handle();
        let server = tokio::spawn(http);
        let result = pipeline.run(shutdown).await;
        // Closing the consumer leaves the group at once (partitions move to the other
        // instances without waiting for the session timeout); it blocks while it does.
        let closing = tokio::task::spawn_blocking(move || drop(consumer));
        if tokio::time::timeout(Duration::from_secs(15), closing)
            .await
            .is_err()
        {
            tracing::warn!("leaving the consumer group took too long");
        }
        handle.stop(true).await;
        let _ = server.await;
        result
    }
}

/// Creates the dead-letter topic when it does not exist, so a bad message never waits
/// for an operator. Failing here (no permission, say) is only logged: the topic may exist
/// anyway, and a dead letter that cannot be written is retried, never dropped.
async fn ensure_topic(kafka: &KafkaConfig, topic: &str) {
    let admin: Result<AdminClient<DefaultClientContext>, _> =
        kafka.client(ClientRole::Admin, "leadpipe-admin").create();
    let admin = match admin {
        Ok(admin) => admin,
        Err(error) => {
            tracing::warn!(%error, topic, "cannot check the dead-letter topic");
            return;
        }
    };
    let options = AdminOptions::new()
        .operation_timeout(Some(Duration::from_secs(5)))
        .request_timeout(Some(Duration::from_secs(5)));
    let new_topic = NewTopic::new(topic, 1, TopicReplication::Fixed(1));
    match admin.create_topics([&new_topic], &options).await {
        Ok(results) => {
            for result in results {
                match result {
                    Ok(_) => tracing::info!(topic, "dead-letter topic created"),
                    Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                    Err((_, code)) => {
                        tracing::warn!(topic, error = %code, "cannot create the dead-letter topic")
                    }
                }
            }
        }
        Err(error) => tracing::warn!(%error, topic, "cannot create the dead-letter topic"),
    }
}
