//! Consumer-group membership: the Kafka consumer, its configuration, and what happens
//! when partitions are assigned or revoked.
//!
//! Offsets are never committed automatically (`enable.auto.commit=false`,
//! `enable.auto.offset.store=false`, safety settings of the shared client builder that
//! no pass-through can change): the pipeline stores a partition's offset only after the
//! batch holding its messages is stored, then commits.
//!
//! Rebalances run inside `recv()`, on the pipeline's own task, through
//! [`GroupContext::pre_rebalance`]:
//! - on revocation the stored offsets are committed synchronously (the last chance to
//!   commit for those partitions), the partitions leave the [`Assignment`], and the
//!   pipeline drops the messages of theirs it still buffers (it checks after every
//!   `recv()`); a batch already being written finishes, but its offsets for a revoked
//!   partition are not stored;
//! - on assignment each partition gets a new epoch. A batch's offsets are stored only for
//!   partitions whose epoch has not changed since its messages arrived, so an offset from
//!   an earlier ownership can never be committed over a newer owner's.
//!
//! The time of the last rebalance is kept for the stall watchdog (see
//! [`crate::watchdog`]), which may make the pipeline leave and rejoin the group.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use leadpipe_platform::{ClientRole, KafkaConfig};
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientContext, TopicPartitionList};

use crate::settings::Settings;

pub type LeadConsumer = StreamConsumer<GroupContext>;

/// The partitions of the topic this instance owns, each with the epoch of its current
/// ownership, and the revocations the pipeline has not handled yet.
#[derive(Debug, Default)]
pub struct Assignment {
    inner: Mutex<AssignmentState>,
}

#[derive(Debug, Default)]
struct AssignmentState {
    epochs: HashMap<i32, u64>,
    last_epoch: u64,
    unhandled_revocations: Vec<i32>,
    /// The last assignment, revocation or (re)subscription; `None` before any.
    last_rebalance: Option<Instant>,
}

impl Assignment {
    fn state(&self) -> std::sync::MutexGuard<'_, AssignmentState> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn assign(&self, partitions: &[i32]) {
        let mut state = self.state();
        state.last_rebalance = Some(Instant::now());
        for &partition in partitions {
            state.last_epoch += 1;
            let epoch = state.last_epoch;
            state.epochs.insert(partition, epoch);
        }
    }

    pub fn revoke(&self, partitions: &[i32]) {
        let mut state = self.state();
        state.last_rebalance = Some(Instant::now());
        for partition in partitions {
            state.epochs.remove(partition);
        }
        state.unhandled_revocations.extend_from_slice(partitions);
    }

    /// The epoch of the current ownership of `partition`, if this instance owns it.
    pub fn epoch(&self, partition: i32) -> Option<u64> {
        self.state().epochs.get(&partition).copied()
    }

    /// Revocations since the last call.
    pub fn take_revocations(&self) -> Vec<i32> {
        std::mem::take(&mut self.state().unhandled_revocations)
    }

    /// The consumer (re)subscribed: a rebalance is under way.
    pub fn subscribed(&self) {
        self.state().last_rebalance = Some(Instant::now());
    }

    /// When the last rebalance (or subscription) happened.
    pub fn last_rebalance(&self) -> Instant {
        let state = self.state();
        state.last_rebalance.unwrap_or_else(Instant::now)
    }

    pub fn partitions(&self) -> Vec<i32> {
        let mut partitions: Vec<i32> = self.state().epochs.keys().copied().collect();
        partitions.sort_unstable();
        partitions
    }
}

/// Callbacks librdkafka runs on the consumer's behalf.
pub struct GroupContext {
    topic: String,
    assignment: Arc<Assignment>,
}

impl GroupContext {
    fn partitions_of(&self, tpl: &TopicPartitionList) -> Vec<i32> {
        tpl.elements()
            .iter()
            .filter(|e| e.topic() == self.topic)
            .map(|e| e.partition())
            .collect()
    }
}

impl ClientContext for GroupContext {
    /// Logged only; readiness follows the monitor's measurements.
    fn error(&self, error: KafkaError, reason: &str) {
        tracing::warn!(error = %error, reason, "kafka client error");
    }
}

impl ConsumerContext for GroupContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Revoke(tpl) => {
                let partitions = self.partitions_of(tpl);
                // Offsets stored so far belong to stored batches: commit them while these
                // partitions are still ours.
                match consumer.commit_consumer_state(CommitMode::Sync) {
                    Ok(()) | Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
                    Err(error) => {
                        tracing::warn!(%error, "committing offsets before revocation failed")
                    }
                }
                self.assignment.revoke(&partitions);
                tracing::info!(topic = %self.topic, ?partitions, "partitions revoked");
            }
            Rebalance::Assign(tpl) => {
                let partitions = self.partitions_of(tpl);
                self.assignment.assign(&partitions);
                tracing::info!(topic = %self.topic, ?partitions, "partitions assigned");
            }
            Rebalance::Error(error) => tracing::warn!(%error, "rebalance error"),
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, offsets: &TopicPartitionList) {
        match result {
            Ok(()) => {
                let committed: Vec<(i32, i64)> = offsets
                    .elements()
                    .iter()
                    .filter_map(|e| e.offset().to_raw().map(|o| (e.partition(), o)))
                    .collect();
                tracing::debug!(?committed, "offsets committed");
            }
            Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
            // Not a loss: the messages are stored, a later commit or the next owner's
            // replay (inserting nothing) covers them.
            Err(error) => tracing::warn!(%error, "offset commit failed"),
        }
    }
}

/// The consumer, subscribed to the topic.
pub fn subscribe(
    settings: &Settings,
    kafka: &KafkaConfig,
    assignment: Arc<Assignment>,
) -> Result<LeadConsumer, KafkaError> {
    let context = GroupContext {
        topic: settings.common.topic.clone(),
        assignment: assignment.clone(),
    };
    let group = &settings.group;
    let consumer: LeadConsumer = kafka
        .client(
            ClientRole::GroupMember {
                group_id: &group.group_id,
            },
            "leadpipe-consumer",
        )
        .tuning(group.member_properties())
        .create_with_context(context)?;
    consumer.subscribe(&[&settings.common.topic])?;
    assignment.subscribed();
    Ok(consumer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partition_assigned_again_gets_a_new_epoch_and_revocations_are_reported_once() {
        let assignment = Assignment::default();
        assignment.assign(&[0, 1]);
        let first = assignment.epoch(0).unwrap();
        assignment.revoke(&[0]);
        assert_eq!(assignment.epoch(0), None);
        assert_eq!(assignment.partitions(), vec![1]);
        assignment.assign(&[0]);
        assert_ne!(assignment.epoch(0), Some(first));
        assert_eq!(assignment.take_revocations(), vec![0]);
        assert!(assignment.take_revocations().is_empty());
    }
}
