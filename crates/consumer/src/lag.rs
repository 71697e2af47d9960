//! Group lag of every partition of the topic, measured from the broker whether or not
//! this instance owns the partition: the high watermark (offset of the next message to
//! be produced) minus the group's committed offset, i.e. messages on the topic not yet
//! durably handled by the group.
//!
//! A client of its own ([`ClientRole::GroupObserver`]) asks, every `lag_interval`, for
//! the topic's partitions (metadata), the group's committed offsets (`OffsetFetch`,
//! without joining the group) and each partition's watermarks (`ListOffsets`). Because
//! nothing here depends on owning partitions, the lag stays visible when no member owns
//! them — a crashed group, a stalled member, or `leadpipe-consumer lag-exporter` running
//! with no consumer at all.

use std::collections::BTreeMap;
use std::time::Duration;

use leadpipe_platform::{ClientRole, KafkaConfig};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::{Offset, TopicPartitionList};

/// Messages after `committed` up to `high`; with nothing committed (or an offset older
/// than the oldest retained message) everything still on the partition is pending.
pub fn lag(low: i64, high: i64, committed: Option<i64>) -> i64 {
    let from = committed.map_or(low, |c| c.max(low));
    (high - from).max(0)
}

/// One partition's position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionLag {
    /// The group's committed offset (the next message it will handle), if any.
    pub committed: Option<i64>,
    /// The offset of the next message to be produced.
    pub high: i64,
    pub lag: i64,
}

/// The group's lag on every partition of the topic, by partition.
pub type GroupLag = BTreeMap<i32, PartitionLag>;

/// Measures [`GroupLag`] with a client that never joins the group.
pub struct GroupLagProbe {
    client: BaseConsumer,
    topic: String,
}

impl GroupLagProbe {
    const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);

    pub fn new(kafka: &KafkaConfig, group_id: &str, topic: &str) -> Result<Self, KafkaError> {
        Ok(Self {
            client: kafka
                .client(ClientRole::GroupObserver { group_id }, "leadpipe-lag")
                .create()?,
            topic: topic.to_owned(),
        })
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Blocking broker requests (run it on a blocking thread). An error means the broker
    /// did not answer, or the topic does not exist.
    pub fn measure(&self) -> Result<GroupLag, KafkaError> {
        let metadata = self
            .client
            .fetch_metadata(Some(&self.topic), Self::REQUEST_TIMEOUT)?;
        let partitions: Vec<i32> = metadata
            .topics()
            .iter()
            .filter(|t| t.name() == self.topic && t.error().is_none())
            .flat_map(|t| t.partitions().iter().map(|p| p.id()))
            .collect();
        if partitions.is_empty() {
            return Err(KafkaError::MetadataFetch(
                rdkafka::types::RDKafkaErrorCode::UnknownTopicOrPartition,
            ));
        }
        let mut tpl = TopicPartitionList::new();
        for &partition in &partitions {
            tpl.add_partition(&self.topic, partition);
        }
        let committed = self.client.committed_offsets(tpl, Self::REQUEST_TIMEOUT)?;
        let mut lags = GroupLag::new();
        for partition in partitions {
            let (low, high) =
                self.client
                    .fetch_watermarks(&self.topic, partition, Self::REQUEST_TIMEOUT)?;
            let committed = committed
                .find_partition(&self.topic, partition)
                .and_then(|e| match e.offset() {
                    Offset::Offset(o) => Some(o),
                    _ => None,
                });
            lags.insert(
                partition,
                PartitionLag {
                    committed,
                    high,
                    lag: lag(low, high, committed),
                },
            );
        }
        Ok(lags)
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
