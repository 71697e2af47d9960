//! Batching: received messages wait in a [`Buffer`] until a [`Batch`] is cut from it,
//! when `max_batch_rows` messages are waiting or the oldest has waited `max_batch_wait`.
//!
//! A batch carries, besides the leads to insert and the messages to dead-letter, the
//! offset to commit for each partition it touches: one past its last message there.
//! Messages of a partition arrive in offset order and batches are written one after
//! another, so once a batch is stored everything before that offset is stored too.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use leadpipe_domain::AcceptedLead;

use crate::dead_letter::DeadLetter;

/// What a message turned out to be.
#[derive(Debug)]
pub enum Content {
    Lead(Box<AcceptedLead>),
    DeadLetter(Box<DeadLetter>),
}

/// A message taken from the topic, decoded, not yet stored.
#[derive(Debug)]
pub struct Received {
    pub partition: i32,
    pub offset: i64,
    /// The partition's assignment epoch when the message arrived (see
    /// [`crate::group::Assignment`]).
    pub epoch: u64,
    pub arrived: Instant,
    pub content: Content,
}

/// The per-partition result of a batch: the offset to commit once it is stored, and the
/// assignment epoch its messages were received in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionProgress {
    pub next_offset: i64,
    pub epoch: u64,
}

/// Messages to store together.
#[derive(Debug, Default)]
pub struct Batch {
    pub leads: Vec<AcceptedLead>,
    pub dead_letters: Vec<DeadLetter>,
    pub progress: BTreeMap<i32, PartitionProgress>,
}

impl Batch {
    pub fn message_count(&self) -> usize {
        self.leads.len() + self.dead_letters.len()
    }
}

/// Received messages in arrival order.
#[derive(Debug)]
pub struct Buffer {
    records: VecDeque<Received>,
    max_rows: usize,
    max_wait: Duration,
}

impl Buffer {
    pub fn new(max_rows: usize, max_wait: Duration) -> Self {
        Self {
            records: VecDeque::with_capacity(max_rows),
            max_rows: max_rows.max(1),
            max_wait,
        }
    }

    pub fn push(&mut self, record: Received) {
        self.records.push_back(record);
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// A full batch is waiting: time to stop fetching until it is written.
    pub fn is_full(&self) -> bool {
        self.records.len() >= self.max_rows
    }

    /// When the oldest waiting message has waited long enough.
    pub fn deadline(&self) -> Option<Instant> {
        self.records.front().map(|r| r.arrived + self.max_wait)
    }

    /// Whether a batch should be cut now.
    pub fn is_due(&self, now: Instant) -> bool {
        self.is_full() || self.deadline().is_some_and(|d| now >= d)
    }

    /// Takes up to `max_rows` of the oldest messages as one batch.
    pub fn cut(&mut self) -> Batch {
        let take = self.records.len().min(self.max_rows);
        let mut batch = Batch {
            leads: Vec::with_capacity(take),
            ..Batch::default()
        };
        for record in self.records.drain(..take) {
            batch.progress.insert(
                record.partition,
                PartitionProgress {
                    next_offset: record.offset + 1,
                    epoch: record.epoch,
                },
            );
            match record.content {
                Content::Lead(lead) => batch.leads.push(*lead),
                Content::DeadLetter(letter) => batch.dead_letters.push(*letter),
            }
        }
        batch
    }

    /// Forgets the messages received under an ownership that has ended: those for which
    /// `current(partition, epoch)` is false. Nothing of them was committed, so whoever
    /// owns the partition now consumes them again. Messages of a partition revoked and
    /// assigned again are kept when they arrived under the new ownership: dropping them
    /// would let the next batch commit past them.
    pub fn drop_stale(&mut self, current: impl Fn(i32, u64) -> bool) -> usize {
        let before = self.records.len();
        self.records.retain(|r| current(r.partition, r.epoch));
        before - self.records.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leadpipe_domain::{ConsentPolicy, LeadMessage};

    fn lead(n: u32) -> Content {
        let json = format!(
            r#"{{"schema_version":1,"id":"01936f0e-8f3a-7c1d-9e2b-{n:012x}","received_at":"2026-03-14T09:26:53Z",
               "consented_at":"2026-03-14T09:26:53Z","campaign":"spring","name":"Kim","email":"k{n}@example.com",
               "country_code":"+82","phone_e164":"+821012345678","privacy_consent":true}}"#
        );
        Content::Lead(Box::new(
            LeadMessage::decode(json.as_bytes(), ConsentPolicy::default()).unwrap(),
        ))
    }

    fn received(partition: i32, offset: i64, arrived: Instant) -> Received {
        received_in(partition, offset, 1, arrived)
    }

    fn received_in(partition: i32, offset: i64, epoch: u64, arrived: Instant) -> Received {
        Received {
            partition,
            offset,
            epoch,
            arrived,
            content: lead(offset as u32),
        }
    }

    #[test]
    fn a_batch_is_due_when_full_or_when_its_oldest_message_is_old() {
        let start = Instant::now();
        let mut buffer = Buffer::new(3, Duration::from_millis(100));
        assert!(
            !buffer.is_due(start + Duration::from_secs(10)),
            "an empty buffer is never due"
        );
        buffer.push(received(0, 0, start));
        buffer.push(received(0, 1, start + Duration::from_millis(50)));
        assert!(!buffer.is_due(start + Duration::from_millis(99)));
        assert!(buffer.is_due(start + Duration::from_millis(100)));
        assert_eq!(buffer.deadline(), Some(start + Duration::from_millis(100)));
        buffer.push(received(0, 2, start + Duration::from_millis(60)));
        assert!(buffer.is_full());
        assert!(buffer.is_due(start));
    }

    #[test]
    fn cutting_takes_at_most_max_rows_and_records_the_next_offset_per_partition() {
        let now = Instant::now();
        let mut buffer = Buffer::new(3, Duration::from_millis(100));
        for (partition, offset) in [(0, 10), (1, 5), (0, 11), (1, 6), (0, 12)] {
            buffer.push(received(partition, offset, now));
        }
        let batch = buffer.cut();
        assert_eq!(batch.message_count(), 3);
        assert_eq!(batch.progress[&0].next_offset, 12);
        assert_eq!(batch.progress[&1].next_offset, 6);
        assert_eq!(buffer.len(), 2);
        let rest = buffer.cut();
        assert_eq!(rest.progress[&1].next_offset, 7);
        assert_eq!(rest.progress[&0].next_offset, 13);
        assert!(buffer.is_empty());
    }

    #[test]
    fn dropping_a_revoked_partition_keeps_the_others_in_order() {
        let now = Instant::now();
        let mut buffer = Buffer::new(10, Duration::from_millis(100));
        for (partition, offset) in [(0, 1), (1, 1), (2, 1), (1, 2), (0, 2)] {
            buffer.push(received(partition, offset, now));
        }
        assert_eq!(buffer.drop_stale(|partition, _| partition != 1), 2);
        let batch = buffer.cut();
        assert_eq!(
            batch.progress.keys().copied().collect::<Vec<_>>(),
            vec![0, 2]
        );
        assert_eq!(batch.progress[&0].next_offset, 3);
    }

    #[test]
    fn a_partition_revoked_and_assigned_again_keeps_what_arrived_under_the_new_ownership() {
        // Partition 0 was owned in epoch 1, revoked, and assigned again in epoch 2 before
        // the pipeline looked at the revocation: offsets 5-6 arrived in epoch 1 (they were
        // not committed and come again), offset 5 again in epoch 2.
        let now = Instant::now();
        let mut buffer = Buffer::new(10, Duration::from_millis(100));
        buffer.push(received_in(0, 5, 1, now));
        buffer.push(received_in(0, 6, 1, now));
        buffer.push(received_in(0, 5, 2, now));
        assert_eq!(buffer.drop_stale(|_, epoch| epoch == 2), 2);
        let batch = buffer.cut();
        assert_eq!(batch.message_count(), 1);
        assert_eq!(
            batch.progress[&0],
            PartitionProgress {
                next_offset: 6,
                epoch: 2
            }
        );
    }
}
