//! The production sink: an rdkafka producer with `acks=all` (idempotent unless turned
//! off), built from the validated [`KafkaConfig`] like every other Kafka client of
//! leadpipe (TLS, SASL, pass-through properties).
//!
//! Memory stays bounded whatever the broker does: the handler admits at most
//! `max_in_flight` publishes (see `routes::leads`), librdkafka's queue is sized to match,
//! and every message either is acknowledged or fails after `message.timeout.ms` — the
//! gateway's delivery timeout — which the handler answers with 503.
//!
//! A probe asks the broker for the topic's metadata every second: `leadpipe_broker_up`
//! says whether it answers. It does not drive readiness (see `state::Lifecycle`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use leadpipe_platform::{AckProducer, ClientRole, KafkaConfig};
use rdkafka::error::KafkaError;
use rdkafka::producer::BaseRecord;
use rdkafka::types::RDKafkaErrorCode;

use super::{LeadSink, PublishError, Record};
use crate::metrics::Metrics;
use crate::settings::Settings;

/// How often the broker is probed with a metadata request for the topic.
const PROBE_INTERVAL: Duration = Duration::from_secs(1);

pub struct KafkaSink {
    producer: AckProducer,
    topic: String,
    delivery_timeout: Duration,
    started: Arc<AtomicBool>,
    metrics: Arc<Metrics>,
}

impl KafkaSink {
    /// Creates the producer and starts the broker probe. Connecting is lazy: a broker
    /// that is down now makes publishes fail with 503, not the gateway unable to start.
    pub fn connect(
        settings: &Settings,
        kafka: &KafkaConfig,
        metrics: Arc<Metrics>,
    ) -> Result<Self, KafkaError> {
        let producer: AckProducer = kafka
            .client(ClientRole::Producer, "leadpipe-gateway")
            .tuning(Self::tuning(settings))
            .create()?;
        let started = Arc::new(AtomicBool::new(false));
        spawn_broker_probe(
            producer.clone(),
            settings.common.topic.clone(),
            started.clone(),
            metrics.clone(),
        );
        Ok(Self {
            producer,
            topic: settings.common.topic.clone(),
            delivery_timeout: settings.delivery_timeout(),
            started,
            metrics,
        })
    }

    /// The producer's properties besides connection and safety: the typed
    /// [`ProducerTuning`](leadpipe_platform::ProducerTuning), and a local queue sized to
    /// the publishes admitted at once. The producer benchmark uses the same.
    pub fn tuning(settings: &Settings) -> Vec<(&'static str, String)> {
        let queue_messages = (settings.max_in_flight * 2).clamp(1000, 10_000_000);
        let mut tuning = settings.producer.properties();
        tuning.extend([
            ("queue.buffering.max.messages", queue_messages.to_string()),
            ("queue.buffering.max.kbytes", "262144".to_owned()),
            ("topic.metadata.refresh.interval.ms", "30000".to_owned()),
        ]);
        tuning
    }
}

/// Asks the broker for the topic's metadata every second, on a thread of its own (the
/// librdkafka call blocks), and publishes the answer as `leadpipe_broker_up`. The first
/// answer, whatever it is, marks the sink started. The thread ends when the sink's
/// producer is the last owner.
fn spawn_broker_probe(
    producer: AckProducer,
    topic: String,
    started: Arc<AtomicBool>,
    metrics: Arc<Metrics>,
) {
    std::thread::Builder::new()
        .name("kafka-probe".into())
        .spawn(move || {
            let mut was_up = None;
            loop {
                let up = producer
                    .client()
                    .fetch_metadata(Some(&topic), PROBE_INTERVAL * 2)
                    .map(|m| {
                        m.topics().iter().any(|t| {
                            t.name() == topic && t.error().is_none() && !t.partitions().is_empty()
                        })
                    })
                    .unwrap_or(false);
                metrics.broker_up.set(i64::from(up));
                if was_up != Some(up) {
                    if up {
                        tracing::info!(%topic, "broker reachable");
                    } else {
                        tracing::warn!(%topic, "broker unreachable or topic missing: leads are answered 503 until it is back");
                    }
                    was_up = Some(up);
                }
                started.store(true, Ordering::SeqCst);
                if Arc::strong_count(&started) == 1 {
                    return;
                }
                std::thread::sleep(PROBE_INTERVAL);
            }
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
    async fn publish(&self, record: &Record) -> Result<(), PublishError> {
        let mut key = [0u8; uuid::fmt::Hyphenated::LENGTH];
        let key = record.id.as_uuid().hyphenated().encode_lower(&mut key);
        // No record headers: the version travels in the payload, and Tansu's storage
        // slows down with every stored header (its header table is scanned on fetch).
        let record = BaseRecord::to(&self.topic)
            .key(key.as_bytes())
            .payload(&record.payload);
        let started = Instant::now();
        // `send` enqueues without waiting: a full queue is an immediate 503. The wait for
        // the acknowledgement is capped here too: with the broker down, librdkafka
        // reports `message.timeout.ms` expiry seconds late.
        let outcome = match self.producer.send(record) {
            Err(error) => Err(classify(&error)),
            Ok(ack) => match tokio::time::timeout(self.delivery_timeout, ack).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(KafkaError::Canceled)) => Err(PublishError::Cancelled),
                Ok(Err(error)) => Err(classify(&error)),
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

    fn is_started(&self) -> bool {
        self.started.load(Ordering::SeqCst)
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
