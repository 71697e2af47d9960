//! The consume loop: where a lead is taken off the topic, batched, stored, and its offset
//! committed.
//!
//! One task runs the loop; one [`Flusher::flush`] task at a time writes a batch:
//!
//! ```text
//!  recv() ──decode──▶ Buffer ──cut (full or old)──▶ flush task ──done──▶ store offsets, commit
//!     ▲                  │                         (DLQ + INSERT,
//!     └─ held while a full batch waits ◀───────────  retried until stored)
//! ```
//!
//! - While a batch is being written the loop keeps calling `recv()`, filling the next
//!   batch and serving rebalance callbacks. When the next batch is full too, it stops
//!   taking messages until the write finishes (librdkafka's prefetch queue is bounded).
//!   When the write is failing (database down), it pauses fetching from its partitions
//!   instead (librdkafka drops what it had prefetched and later resumes from the last
//!   message handed out) and polls on, so rebalances are still served and memory stays
//!   bounded by two batches however long the outage lasts.
//! - Offsets are stored and committed only after the flush returns, i.e. after the
//!   database transaction committed and the dead letters were acknowledged.
//! - Revoked partitions: see [`crate::group`]. Buffered messages of theirs are dropped;
//!   a batch being written finishes, and only offsets of partitions still owned in the
//!   same epoch are stored.
//! - Shutdown: stop fetching, write everything already received, commit synchronously,
//!   then the caller drops the consumer, which leaves the group.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use leadpipe_domain::{ConsentPolicy, LeadMessage};
use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};
use tokio::task::JoinHandle;

use crate::batch::{Batch, Buffer, Content, Received};
use crate::dead_letter::DeadLetter;
use crate::flush::Flusher;
use crate::group::{Assignment, LeadConsumer};
use crate::health::Health;
use crate::metrics::Metrics;
use crate::monitor::Monitor;

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("the last batches were not stored within {0:?}; their offsets stay uncommitted")]
    ShutdownTimedOut(Duration),
}

pub struct Pipeline {
    pub consumer: Arc<LeadConsumer>,
    pub assignment: Arc<Assignment>,
    pub flusher: Arc<Flusher>,
    pub monitor: Arc<Monitor>,
    pub metrics: Arc<Metrics>,
    pub health: Arc<Health>,
    pub topic: String,
    pub policy: ConsentPolicy,
    pub max_batch_rows: usize,
    pub max_batch_wait: Duration,
    pub check_interval: Duration,
    pub shutdown_timeout: Duration,
}

/// Loop state besides the buffer.
struct Flow {
    in_flight: Option<JoinHandle<Batch>>,
    /// Messages in the batch being written.
    in_flight_messages: usize,
    /// The assignment epochs that were paused, when paused.
    paused: Option<Vec<(i32, u64)>>,
    check: Option<JoinHandle<()>>,
}

impl Pipeline {
    /// Runs until `shutdown` completes, then stores what was received and commits.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), PipelineError> {
        let mut buffer = Buffer::new(self.max_batch_rows, self.max_batch_wait);
        let mut flow = Flow {
            in_flight: None,
            in_flight_messages: 0,
            paused: None,
            check: None,
        };
        let mut checks = tokio::time::interval(self.check_interval);
        checks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);

        loop {
            if self.monitor.take_rejoin_request() {
                self.rejoin();
            }
            self.handle_revocations(&mut buffer);
            if flow.in_flight.is_none() && buffer.is_due(Instant::now()) {
                self.start_flush(buffer.cut(), &mut flow);
            }
            self.apply_backpressure(&buffer, &mut flow);
            self.metrics.buffered_messages.set(buffered(&buffer, &flow));
            let deadline = buffer.deadline().filter(|_| flow.in_flight.is_none());
            let take_messages = !buffer.is_full() || flow.paused.is_some();

            tokio::select! {
                biased;
                () = &mut shutdown => break,
                done = async { flow.in_flight.as_mut().expect("guarded").await }, if flow.in_flight.is_some() => {
                    flow.in_flight = None;
                    match done {
                        Ok(batch) => self.commit(&batch, CommitMode::Async),
                        // The flush task never returns an error; a panic is a bug. Its
                        // offsets are not committed, so its messages are consumed again.
                        Err(join) => panic!("batch writer failed: {join}"),
                    }
                }
                // Before recv(): under constant traffic recv() is always ready and would
                // starve the periodic check.
                _ = checks.tick() => self.spawn_check(&mut flow),
                // A full batch waiting: take no more until it is written (but keep
                // polling while paused, which serves rebalances and delivers nothing).
                received = self.consumer.recv(), if take_messages => match received {
                    Ok(message) => buffer.push(self.decode(&message)),
                    Err(error) => self.report_consume_error(error),
                },
                () = sleep_until(deadline), if deadline.is_some() => {}
            }
        }

        self.drain(buffer, flow).await
    }

    fn start_flush(&self, batch: Batch, flow: &mut Flow) {
        flow.in_flight_messages = batch.message_count();
        flow.in_flight = Some(tokio::spawn(self.flusher.clone().flush(batch)));
    }

    /// Decodes a message; one that is not a valid lead becomes a dead letter.
    fn decode(&self, message: &BorrowedMessage<'_>) -> Received {
        let partition = message.partition();
        let offset = message.offset();
        let payload = message.payload();
        let content = match LeadMessage::decode(payload.unwrap_or_default(), self.policy) {
            Ok(lead) => Content::Lead(Box::new(lead)),
            Err(error) => Content::DeadLetter(Box::new(DeadLetter::new(
                message.topic(),
                partition,
                offset,
                message.key(),
                payload,
                &error,
            ))),
        };
        let epoch = self.assignment.epoch(partition).unwrap_or(0);
        Received {
            partition,
            offset,
            epoch,
            arrived: Instant::now(),
            content,
        }
    }

    /// After a revocation, forgets buffered messages whose ownership has ended. Not by
    /// partition: the partition may already be ours again (a revocation and an
    /// assignment can both run inside one `recv()`), and what arrived under the new
    /// ownership must stay.
    fn handle_revocations(&self, buffer: &mut Buffer) {
        let revoked = self.assignment.take_revocations();
        if !revoked.is_empty() {
            let dropped = buffer
                .drop_stale(|partition, epoch| self.assignment.epoch(partition) == Some(epoch));
            if dropped > 0 {
                tracing::info!(partitions = ?revoked, dropped, "dropped buffered messages of revoked partitions");
            }
        }
    }

    /// Pauses fetching while the batch being written waits for the database (or the
    /// broker) to come back and a full batch waits behind it; resumes when it no longer
    /// does. Newly assigned partitions are paused too.
    ///
    /// A merely slow write does not pause: the loop just stops taking messages while a
    /// full batch waits (see `run`), and librdkafka's prefetch queue stays bounded by
    /// `queued.max.messages.kbytes`. Pausing would throw that prefetch away and cost a
    /// fetch round trip on every resume.
    fn apply_backpressure(&self, buffer: &Buffer, flow: &mut Flow) {
        let owned: Vec<(i32, u64)> = self
            .assignment
            .partitions()
            .into_iter()
            .filter_map(|p| self.assignment.epoch(p).map(|e| (p, e)))
            .collect();
        let must_pause = buffer.is_full() && flow.in_flight.is_some() && self.flusher.is_retrying();
        match (&flow.paused, must_pause) {
            (None, true) => {
                self.set_paused(&owned, true);
                flow.paused = Some(owned);
            }
            (Some(paused), true) if *paused != owned => {
                self.set_paused(&owned, true);
                flow.paused = Some(owned);
            }
            (Some(_), false) => {
                // Resume what is owned now; partitions revoked meanwhile are not ours.
                self.set_paused(&owned, false);
                flow.paused = None;
            }
            _ => {}
        }
    }

    fn set_paused(&self, partitions: &[(i32, u64)], pause: bool) {
        if partitions.is_empty() {
            return;
        }
        let mut tpl = TopicPartitionList::new();
        for (partition, _) in partitions {
            tpl.add_partition(&self.topic, *partition);
        }
        let result = if pause {
            self.consumer.pause(&tpl)
        } else {
            self.consumer.resume(&tpl)
        };
        match result {
            Ok(()) => tracing::debug!(paused = pause, ?partitions, "fetching paused/resumed"),
            Err(error) => {
                tracing::warn!(%error, paused = pause, "pausing or resuming fetching failed")
            }
        }
    }

    /// Stores the offsets of a stored batch for the partitions still owned in the same
    /// epoch, then commits them.
    fn commit(&self, batch: &Batch, mode: CommitMode) {
        let mut tpl = TopicPartitionList::new();
        for (&partition, progress) in &batch.progress {
            if self.assignment.epoch(partition) == Some(progress.epoch) {
                // Cannot fail for a valid offset: adding a partition entry is local.
                let _ = tpl.add_partition_offset(
                    &self.topic,
                    partition,
                    Offset::Offset(progress.next_offset),
                );
            }
        }
        if tpl.count() == 0 {
            return;
        }
        if let Err(error) = self.consumer.store_offsets(&tpl) {
            // A partition revoked between the check and the store: its next owner
            // consumes the batch again and inserts nothing.
            tracing::warn!(%error, "storing offsets failed");
            return;
        }
        match self.consumer.commit_consumer_state(mode) {
            Ok(()) | Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
            Err(error) => tracing::warn!(%error, "offset commit failed"),
        }
    }

    /// Leaves the group and joins it again with a fresh member id (the stall watchdog
    /// asked for it): the coordinator starts a new generation and hands out every
    /// partition again. The revocation runs inside the next `recv()`, like any other:
    /// stored offsets are committed, buffered messages of revoked partitions dropped.
    fn rejoin(&self) {
        self.consumer.unsubscribe();
        match self.consumer.subscribe(&[&self.topic]) {
            Ok(()) => {
                self.assignment.subscribed();
                self.metrics.self_heals.inc();
            }
            Err(error) => tracing::warn!(%error, "subscribing again failed"),
        }
    }

    fn report_consume_error(&self, error: KafkaError) {
        // Transport errors are retried by librdkafka; the periodic check sets readiness.
        tracing::warn!(%error, "kafka consume error");
    }

    /// Runs the monitor's check (database, broker, group lag, stall watchdog, readiness),
    /// unless the previous check still runs.
    fn spawn_check(&self, flow: &mut Flow) {
        if flow.check.as_ref().is_some_and(|c| !c.is_finished()) {
            return;
        }
        flow.check = Some(tokio::spawn(self.monitor.clone().check()));
    }

    /// Shutdown: write what was received, commit synchronously.
    async fn drain(self, mut buffer: Buffer, mut flow: Flow) -> Result<(), PipelineError> {
        self.health.set_stopping();
        let pending = buffered(&buffer, &flow);
        tracing::info!(pending, "stopping: storing received messages");
        let deadline = tokio::time::Instant::now() + self.shutdown_timeout;
        let drained = tokio::time::timeout_at(deadline, async {
            loop {
                if let Some(handle) = flow.in_flight.take() {
                    match handle.await {
                        Ok(batch) => self.commit(&batch, CommitMode::Async),
                        Err(join) => panic!("batch writer failed: {join}"),
                    }
                }
                self.handle_revocations(&mut buffer);
                if buffer.is_empty() {
                    break;
                }
                self.start_flush(buffer.cut(), &mut flow);
            }
        })
        .await;
        if let Some(check) = flow.check.take() {
            // Let a running check finish (its requests time out on their own), so that
            // the consumer is not still in use when it is closed.
            let _ = tokio::time::timeout(Duration::from_secs(10), check).await;
        }
        match self.consumer.commit_consumer_state(CommitMode::Sync) {
            Ok(()) | Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
            Err(error) => tracing::warn!(%error, "final offset commit failed"),
        }
        self.metrics.buffered_messages.set(0);
        match drained {
            Ok(()) => Ok(()),
            Err(_) => {
                if let Some(handle) = flow.in_flight.take() {
                    handle.abort();
                }
                Err(PipelineError::ShutdownTimedOut(self.shutdown_timeout))
            }
        }
    }
}

fn buffered(buffer: &Buffer, flow: &Flow) -> i64 {
    let in_flight = if flow.in_flight.is_some() {
        flow.in_flight_messages
    } else {
        0
    };
    (buffer.len() + in_flight) as i64
}

async fn sleep_until(deadline: Option<Instant>) {
    if let Some(deadline) = deadline {
        tokio::time::sleep_until(deadline.into()).await;
    }
}
