//! The producer of every acknowledged write (the gateway's leads, the consumer's dead
//! letters): each send returns a future of the broker's acknowledgement, like rdkafka's
//! `FutureProducer`, but the thread serving the acknowledgements sleeps until librdkafka
//! has one for it.
//!
//! Why not `FutureProducer`: its polling thread waits in windows of 100 ms and, because a
//! wait is handed to librdkafka in whole milliseconds, spins through the last fraction of
//! a millisecond of every window (`clock_gettime` in a loop): 1 % of a core on an idle
//! gateway, ≈ 95 µs per lead at 100 leads/s (`make bench`, `low_rates` section, per-thread
//! CPU). Here a window lasts [`POLL_WINDOW`], so that remainder costs ≈ 0.05 % of a core,
//! and an acknowledgement still wakes the thread at once.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rdkafka::config::{ClientConfig, FromClientConfig};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::message::ToBytes;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::ClientContext;
use tokio::sync::oneshot;

/// How long the acknowledgement thread waits at most before looking whether the
/// producer is gone.
pub const POLL_WINDOW: Duration = Duration::from_secs(1);

/// Hands each delivery report to the future waiting for it.
pub struct AckContext;

impl ClientContext for AckContext {}

impl ProducerContext for AckContext {
    type DeliveryOpaque = Box<oneshot::Sender<Result<(), KafkaError>>>;

    fn delivery(&self, result: &DeliveryResult<'_>, waiting: Self::DeliveryOpaque) {
        let outcome = match result {
            Ok(_) => Ok(()),
            Err((error, _)) => Err(error.clone()),
        };
        // The request may have given up waiting (its own timeout): nothing to tell.
        let _ = waiting.send(outcome);
    }
}

/// The broker's answer to one send.
pub struct Ack(oneshot::Receiver<Result<(), KafkaError>>);

/// Resolves once the record is written, with librdkafka's or the broker's refusal, or
/// `KafkaError::Canceled` if the producer was dropped before an answer.
impl Future for Ack {
    type Output = Result<(), KafkaError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|received| received.unwrap_or(Err(KafkaError::Canceled)))
    }
}

/// A producer whose sends are answered by [`Ack`] futures. Cloning shares it.
#[derive(Clone)]
pub struct AckProducer {
    inner: Arc<Shared>,
}

struct Shared {
    producer: Arc<BaseProducer<AckContext>>,
    stop: Arc<AtomicBool>,
}

impl Drop for Shared {
    /// The acknowledgement thread ends within [`POLL_WINDOW`]; it owns the last handle
    /// of the librdkafka producer, which flushes briefly when dropped.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl FromClientConfig for AckProducer {
    fn from_config(config: &ClientConfig) -> KafkaResult<Self> {
        let producer: Arc<BaseProducer<AckContext>> =
            Arc::new(config.create_with_context(AckContext)?);
        let stop = Arc::new(AtomicBool::new(false));
        let (polled, stopped) = (producer.clone(), stop.clone());
        std::thread::Builder::new()
            .name("kafka-acks".into())
            .spawn(move || {
                while !stopped.load(Ordering::Relaxed) {
                    polled.poll(POLL_WINDOW);
                }
            })
            .map_err(|error| KafkaError::ClientCreation(error.to_string()))?;
        Ok(Self {
            inner: Arc::new(Shared { producer, stop }),
        })
    }
}

impl AckProducer {
    /// Enqueues a record without waiting: a full local queue or a record librdkafka
    /// refuses is an error at once; otherwise the [`Ack`] resolves with the broker's answer
    /// (or librdkafka's `message.timeout.ms` expiry).
    pub fn send<K, P>(&self, record: BaseRecord<'_, K, P>) -> Result<Ack, KafkaError>
    where
        K: ToBytes + ?Sized,
        P: ToBytes + ?Sized,
    {
        let (answer, ack) = oneshot::channel();
        let record = BaseRecord {
            topic: record.topic,
            partition: record.partition,
            payload: record.payload,
            key: record.key,
            timestamp: record.timestamp,
            headers: record.headers,
            delivery_opaque: Box::new(answer),
        };
        match self.inner.producer.send(record) {
            Ok(()) => Ok(Ack(ack)),
            Err((error, _)) => Err(error),
        }
    }

    /// The librdkafka client, for metadata requests.
    pub fn client(&self) -> &rdkafka::client::Client<AckContext> {
        self.inner.producer.client()
    }

    /// Waits up to `timeout` for every enqueued record to be answered.
    pub fn flush(&self, timeout: Duration) -> KafkaResult<()> {
        self.inner.producer.flush(timeout)
    }
}
