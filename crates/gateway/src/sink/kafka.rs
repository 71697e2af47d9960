//! The production sink: an idempotent rdkafka producer with `acks=all`.
//!
//! Memory stays bounded whatever the broker does: the handler admits at most
//! `max_in_flight` publishes (see `routes::leads`), librdkafka's queue is sized to match,
//! and every message either is acknowledged or fails after `message.timeout.ms` — the
//! gateway's delivery timeout — which the handler answers with 503.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use leadpipe_domain::LeadMessage;
use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::types::RDKafkaErrorCode;

use super::{LeadSink, PublishError};
use crate::metrics::Metrics;
use crate::settings::Settings;

/// How often readiness is re-checked with a metadata request for the topic.
const READINESS_INTERVAL: Duration = Duration::from_secs(1);

pub struct KafkaSink {
    producer: FutureProducer,
    topic: String,
    delivery_timeout: Duration,
    ready: Arc<AtomicBool>,
    metrics: Arc<Metrics>,
}

impl KafkaSink {
    /// Creates the producer and starts the readiness probe. Connecting is lazy: a broker
    /// that is down now makes the gateway not ready, not unable to start.
    pub fn connect(settings: &Settings, metrics: Arc<Metrics>) -> anyhow::Result<Self> {
        let queue_messages = (settings.max_in_flight * 2).clamp(1000, 10_000_000);
        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", &settings.kafka_brokers)
            .set("client.id", "leadpipe-gateway")
            .set("enable.idempotence", settings.kafka_idempotence.to_string())
            .set("acks", "all")
            .set("linger.ms", settings.kafka_linger_ms.to_string())
            .set("compression.type", &settings.kafka_compression)
            .set(
                "message.timeout.ms",
                settings.kafka_delivery_timeout_ms.to_string(),
            )
            .set(
                "request.timeout.ms",
                settings
                    .kafka_delivery_timeout_ms
                    .clamp(1000, 30_000)
                    .to_string(),
            )
            .set("queue.buffering.max.messages", queue_messages.to_string())
            .set("queue.buffering.max.kbytes", "262144")
            .set("topic.metadata.refresh.interval.ms", "30000")
            .create()?;
        let ready = Arc::new(AtomicBool::new(false));
        spawn_readiness_probe(
            producer.clone(),
            settings.topic.clone(),
            ready.clone(),
            metrics.clone(),
        );
        Ok(Self {
            producer,
            topic: settings.topic.clone(),
            delivery_timeout: settings.delivery_timeout(),
            ready,
            metrics,
        })
    }
}

/// Asks the broker for the topic's metadata every second, on a blocking thread (the
/// librdkafka call blocks). The thread ends when the sink's producer is the last owner.
fn spawn_readiness_probe(
    producer: FutureProducer,
    topic: String,
    ready: Arc<AtomicBool>,
    metrics: Arc<Metrics>,
) {
    std::thread::Builder::new()
        .name("kafka-readiness".into())
        .spawn(move || loop {
            let reachable = producer
                .client()
                .fetch_metadata(Some(&topic), READINESS_INTERVAL * 2)
                .map(|m| {
                    m.topics().iter().any(|t| {
                        t.name() == topic && t.error().is_none() && !t.partitions().is_empty()
                    })
                })
                .unwrap_or(false);
            let was = ready.swap(reachable, Ordering::SeqCst);
            metrics.broker_ready.set(i64::from(reachable));
            if was != reachable {
                if reachable {
                    tracing::info!(%topic, "broker reachable: ready");
                } else {
                    tracing::warn!(%topic, "broker unreachable or topic missing: not ready");
                }
            }
            if Arc::strong_count(&ready) == 1 {
                return;
            }
            std::thread::sleep(READINESS_INTERVAL);
        })
        .expect("spawning a thread");
}

fn classify(error: &KafkaError) -> PublishError {
    match error.rdkafka_error_code() {
        Some(RDKafkaErrorCode::MessageTimedOut) => PublishError::Timeout,
        Some(RDKafkaErrorCode::QueueFull) => PublishError::QueueFull,
        Some(RDKafkaErrorCode::MessageSizeTooLarge | RDKafkaErrorCode::InvalidMessageSize) => {
            PublishError::MessageTooLarge
        }
        _ => PublishError::Refused,
    }
}

#[async_trait]
impl LeadSink for KafkaSink {
    async fn publish(&self, message: &LeadMessage) -> Result<(), PublishError> {
        let key = message.id.to_string();
        let payload = message.to_json();
        // No record headers: the version travels in the payload, and Tansu's storage
        // slows down with every stored header (its header table is scanned on fetch).
        let record = FutureRecord::to(&self.topic).key(&key).payload(&payload);
        let started = Instant::now();
        // `send_result` enqueues without waiting: a full queue is an immediate 503. The
        // wait for the acknowledgement is capped here too: with the broker down,
        // librdkafka reports `message.timeout.ms` expiry seconds late.
        let outcome = match self.producer.send_result(record) {
            Err((error, _)) => Err(classify(&error)),
            Ok(delivery) => match tokio::time::timeout(self.delivery_timeout, delivery).await {
                Ok(Ok(Ok(_))) => Ok(()),
                Ok(Ok(Err((error, _)))) => Err(classify(&error)),
                Ok(Err(_cancelled)) => Err(PublishError::Cancelled),
                Err(_elapsed) => Err(PublishError::Timeout),
            },
        };
        self.metrics
            .kafka_delivery_duration
            .observe(started.elapsed().as_secs_f64());
        if let Err(error) = &outcome {
            self.metrics
                .broker_errors
                .with_label_values(&[error.kind()])
                .inc();
        }
        outcome
    }

    fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    async fn flush(&self, timeout: Duration) {
        let producer = self.producer.clone();
        let result = tokio::task::spawn_blocking(move || producer.flush(timeout)).await;
        match result {
            Ok(Ok(())) => tracing::info!("producer flushed"),
            Ok(Err(error)) => tracing::warn!(%error, "producer flush incomplete"),
            Err(error) => tracing::warn!(%error, "producer flush task failed"),
        }
    }
}
