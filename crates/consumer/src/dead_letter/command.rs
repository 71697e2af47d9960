//! `leadpipe-consumer dlq list|replay`: what sits on the dead-letter topic, and putting
//! it back on the lead topic once today's rules accept it (a rule was relaxed, a bug in
//! an older gateway fixed, the consent policy changed).
//!
//! `list` prints each dead letter's position, time, reason and error (which name fields,
//! never values) and the lead id — no personal data. `replay` re-validates every dead
//! letter with the current settings; the valid ones are published again to the lead
//! topic with their key and bytes unchanged, so their lead id is unchanged and the
//! consumer stores each once however often they are replayed; the others stay where
//! they are, counted by reason. `--dry-run` only counts.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use leadpipe_domain::{ConsentPolicy, LeadMessage};
use leadpipe_platform::{AckProducer, ClientRole, KafkaConfig};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message};
use rdkafka::producer::BaseRecord;
use rdkafka::{Offset, TopicPartitionList};

use super::producer::{ERROR_HEADER, REASON_HEADER};
use crate::erasure::{ErasureCheck, ErasureError};

#[derive(Debug, thiserror::Error)]
pub enum DlqError {
    #[error("creating the Kafka client: {0}")]
    Client(#[from] KafkaError),
    #[error("reading {topic}: {source}")]
    Read { topic: String, source: KafkaError },
    #[error("publishing to {topic}: {source}")]
    Publish { topic: String, source: KafkaError },
    #[error("checking erasures: {0}")]
    Erasure(#[from] ErasureError),
}

/// One record of the dead-letter topic.
#[derive(Debug, Clone)]
pub struct DeadLetterRecord {
    pub partition: i32,
    pub offset: i64,
    pub timestamp: Option<DateTime<Utc>>,
    pub key: Option<Vec<u8>>,
    pub payload: Option<Vec<u8>>,
    pub reason: String,
    pub error: String,
}

impl DeadLetterRecord {
    /// The key when it is a lead id; anything else might be personal data.
    pub fn lead_id(&self) -> Option<uuid::Uuid> {
        self.key
            .as_deref()
            .and_then(|k| std::str::from_utf8(k).ok())
            .and_then(|k| uuid::Uuid::parse_str(k).ok())
    }
}

/// Reads the dead-letter topic from `since` (or its start) up to its end at the time of
/// the call.
pub fn read(
    kafka: &KafkaConfig,
    topic: &str,
    since: Option<DateTime<Utc>>,
) -> Result<Vec<DeadLetterRecord>, DlqError> {
    let failed = |source| DlqError::Read {
        topic: topic.to_owned(),
        source,
    };
    let timeout = Duration::from_secs(10);
    // Assigned partitions, never a subscription: the group id only satisfies librdkafka,
    // nothing is committed under it.
    let reader: BaseConsumer = kafka
        .client(
            ClientRole::GroupObserver {
                group_id: "leadpipe-dlq-reader",
            },
            "leadpipe-dlq-reader",
        )
        .create()?;
    let metadata = reader
        .fetch_metadata(Some(topic), timeout)
        .map_err(failed)?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .filter(|t| t.name() == topic)
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    let mut starts = TopicPartitionList::new();
    let mut ends = BTreeMap::new();
    for &partition in &partitions {
        let (low, high) = reader
            .fetch_watermarks(topic, partition, timeout)
            .map_err(failed)?;
        let start = match since {
            Some(since) => Offset::Offset(since.timestamp_millis()),
            None => Offset::Offset(low),
        };
        if high > low {
            ends.insert(partition, high);
            starts
                .add_partition_offset(topic, partition, start)
                .map_err(failed)?;
        }
    }
    if since.is_some() && starts.count() > 0 {
        starts = reader.offsets_for_times(starts, timeout).map_err(failed)?;
        // A partition with nothing since then has no offset to start from: skip it.
        for element in starts.elements() {
            if !matches!(element.offset(), Offset::Offset(_)) {
                ends.remove(&element.partition());
            }
        }
    }
    if ends.is_empty() {
        return Ok(Vec::new());
    }
    reader.assign(&starts).map_err(failed)?;
    let mut letters = Vec::new();
    while !ends.is_empty() {
        let Some(message) = reader.poll(timeout) else {
            return Err(failed(KafkaError::NoMessageReceived));
        };
        let message = message.map_err(failed)?;
        let header = |name: &str| {
            message
                .headers()
                .and_then(|h| h.iter().find(|h| h.key == name))
                .and_then(|h| h.value)
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .unwrap_or_default()
        };
        letters.push(DeadLetterRecord {
            partition: message.partition(),
            offset: message.offset(),
            timestamp: message
                .timestamp()
                .to_millis()
                .and_then(DateTime::from_timestamp_millis),
            key: message.key().map(<[u8]>::to_vec),
            payload: message.payload().map(<[u8]>::to_vec),
            reason: header(REASON_HEADER),
            error: header(ERROR_HEADER),
        });
        if ends
            .get(&message.partition())
            .is_some_and(|end| message.offset() + 1 >= *end)
        {
            ends.remove(&message.partition());
        }
    }
    Ok(letters)
}

/// One line per dead letter: position, time, reason, error, lead id.
pub fn list(letters: &[DeadLetterRecord]) -> String {
    let mut out = format!("{} dead letter(s)\n", letters.len());
    for letter in letters {
        out.push_str(&format!(
            "{}/{}\t{}\t{}\t{}\t{}\n",
            letter.partition,
            letter.offset,
            letter
                .timestamp
                .map(|t| t.to_rfc3339())
                .unwrap_or_else(|| "-".to_owned()),
            letter.reason,
            letter.error,
            letter
                .lead_id()
                .map(|id| id.to_string())
                .unwrap_or_else(|| "(no lead id)".to_owned()),
        ));
    }
    out
}

/// What a replay did (or, dry, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Replay {
    pub read: usize,
    pub republished: usize,
    /// Valid dead letters of erased people: never republished.
    pub erased: usize,
    /// Dead letters today's rules still reject, by the reason they would get now.
    pub still_rejected: BTreeMap<&'static str, usize>,
}

impl std::fmt::Display for Replay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rejected: Vec<String> = self
            .still_rejected
            .iter()
            .map(|(reason, n)| format!("{reason} {n}"))
            .collect();
        write!(
            f,
            "read {} dead letter(s): {} valid by today's rules, {} of erased people (never republished), {} still rejected{}",
            self.read,
            self.republished,
            self.erased,
            self.still_rejected.values().sum::<usize>(),
            if rejected.is_empty() {
                String::new()
            } else {
                format!(" ({})", rejected.join(", "))
            }
        )
    }
}

/// Re-validates each dead letter with `policy`; publishes the valid ones to `topic`
/// unless `dry_run`.
pub async fn replay(
    kafka: &KafkaConfig,
    letters: &[DeadLetterRecord],
    policy: ConsentPolicy,
    topic: &str,
    dry_run: bool,
    erasures: &mut ErasureCheck<'_>,
) -> Result<Replay, DlqError> {
    let producer: AckProducer = kafka
        .client(ClientRole::Producer, "leadpipe-dlq-replay")
        .create()?;
    let mut outcome = Replay {
        read: letters.len(),
        ..Replay::default()
    };
    for letter in letters {
        let payload = letter.payload.as_deref().unwrap_or_default();
        match LeadMessage::decode(payload, policy) {
            Err(error) => *outcome.still_rejected.entry(error.reason()).or_default() += 1,
            Ok(lead) if erasures.erased(&lead.lead).await? => {
                outcome.erased += 1;
            }
            Ok(lead) => {
                if !dry_run {
                    let mut key = [0u8; uuid::fmt::Hyphenated::LENGTH];
                    let key = lead.id.as_uuid().hyphenated().encode_lower(&mut key);
                    let publish = |source| DlqError::Publish {
                        topic: topic.to_owned(),
                        source,
                    };
                    let record = BaseRecord::to(topic).key(key.as_bytes()).payload(payload);
                    producer
                        .send(record)
                        .map_err(publish)?
                        .await
                        .map_err(publish)?;
                }
                outcome.republished += 1;
            }
        }
    }
    Ok(outcome)
}
