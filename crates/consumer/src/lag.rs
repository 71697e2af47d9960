//! Consumer lag, the number operators scale on: for each partition this instance owns,
//! the high watermark (offset of the next message to be produced) minus the group's
//! committed offset, i.e. messages on the topic not yet durably handled. Measured every
//! `lag_interval` with a `ListOffsets` and an `OffsetFetch` request, published as
//! `leadpipe_consumer_lag{topic,partition}`; a partition that moves to another instance
//! is removed from this instance's metrics, so each partition is reported by its owner.
//!
//! The same requests tell whether the broker answers, which feeds readiness.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;
use rdkafka::{Offset, TopicPartitionList};

use crate::group::{Assignment, LeadConsumer};
use crate::health::Health;
use crate::metrics::Metrics;

/// Messages after `committed` up to `high`; with nothing committed (or an offset older
/// than the oldest retained message) everything still on the partition is pending.
pub fn lag(low: i64, high: i64, committed: Option<i64>) -> i64 {
    let from = committed.map_or(low, |c| c.max(low));
    (high - from).max(0)
}

pub struct LagMonitor {
    consumer: Arc<LeadConsumer>,
    assignment: Arc<Assignment>,
    topic: String,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    published: Mutex<Vec<i32>>,
}

impl LagMonitor {
    const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);

    pub fn new(
        consumer: Arc<LeadConsumer>,
        assignment: Arc<Assignment>,
        topic: &str,
        metrics: Arc<Metrics>,
        health: Arc<Health>,
    ) -> Self {
        Self {
            consumer,
            assignment,
            topic: topic.to_owned(),
            metrics,
            health,
            published: Mutex::new(Vec::new()),
        }
    }

    /// Measures and publishes the lag of the owned partitions; marks the broker reachable
    /// or not.
    pub async fn check(self: Arc<Self>) {
        let partitions = self.assignment.partitions();
        let this = self.clone();
        let measured = tokio::task::spawn_blocking(move || this.measure(&partitions))
            .await
            .unwrap_or_else(|join| {
                tracing::error!(error = %join, "lag measurement panicked");
                Err(KafkaError::Canceled)
            });
        match measured {
            Ok(lags) => {
                self.health.set_broker(true);
                self.publish(&lags);
            }
            Err(error) => {
                tracing::warn!(%error, "measuring consumer lag failed");
                self.health.set_broker(false);
            }
        }
    }

    /// Blocking broker requests: committed offsets and watermarks of `partitions`.
    fn measure(&self, partitions: &[i32]) -> Result<Vec<(i32, i64)>, KafkaError> {
        if partitions.is_empty() {
            // Nothing owned (more instances than partitions): still check the broker.
            self.consumer
                .fetch_metadata(Some(&self.topic), Self::REQUEST_TIMEOUT)?;
            return Ok(Vec::new());
        }
        let mut tpl = TopicPartitionList::new();
        for &partition in partitions {
            tpl.add_partition(&self.topic, partition);
        }
        let committed = self
            .consumer
            .committed_offsets(tpl, Self::REQUEST_TIMEOUT)?;
        let mut lags = Vec::with_capacity(partitions.len());
        for &partition in partitions {
            let (low, high) =
                self.consumer
                    .fetch_watermarks(&self.topic, partition, Self::REQUEST_TIMEOUT)?;
            let committed = committed
                .find_partition(&self.topic, partition)
                .and_then(|e| match e.offset() {
                    Offset::Offset(o) => Some(o),
                    _ => None,
                });
            lags.push((partition, lag(low, high, committed)));
        }
        Ok(lags)
    }

    fn publish(&self, lags: &[(i32, i64)]) {
        let mut published = self
            .published
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for stale in published
            .iter()
            .filter(|p| !lags.iter().any(|(q, _)| q == *p))
        {
            let _ = self
                .metrics
                .lag
                .remove_label_values(&[&self.topic, &stale.to_string()]);
        }
        for (partition, lag) in lags {
            self.metrics
                .lag
                .with_label_values(&[&self.topic, &partition.to_string()])
                .set(*lag);
        }
        *published = lags.iter().map(|(p, _)| *p).collect();
    }
}

#[cfg(test)]
mod tests {
    use super::lag;

    #[test]
    fn lag_counts_messages_after_the_committed_offset() {
        assert_eq!(lag(0, 100, Some(40)), 60);
        assert_eq!(lag(0, 100, Some(100)), 0);
        assert_eq!(
            lag(0, 100, None),
            100,
            "nothing committed: everything is pending"
        );
        assert_eq!(
            lag(50, 100, Some(10)),
            50,
            "committed offset older than retention"
        );
        assert_eq!(lag(0, 0, None), 0);
        assert_eq!(lag(0, 5, Some(7)), 0, "never negative");
    }
}
