//! Writing dead letters: the record, its headers, and the producer that publishes it
//! (see the module above for the format).

use std::time::Duration;

use leadpipe_domain::DecodeError;
use leadpipe_platform::{AckProducer, ClientRole, Compression, KafkaConfig, ProducerTuning};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::BaseRecord;

pub const REASON_HEADER: &str = "leadpipe-dlq-reason";
pub const ERROR_HEADER: &str = "leadpipe-dlq-error";
pub const SOURCE_TOPIC_HEADER: &str = "leadpipe-source-topic";
pub const SOURCE_PARTITION_HEADER: &str = "leadpipe-source-partition";
pub const SOURCE_OFFSET_HEADER: &str = "leadpipe-source-offset";

/// A rejected message, ready to be written to the dead-letter topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub key: Option<Vec<u8>>,
    pub payload: Option<Vec<u8>>,
    pub reason: &'static str,
    pub error: String,
    pub source_topic: String,
    pub source_partition: i32,
    pub source_offset: i64,
}

impl DeadLetter {
    pub fn new(
        source_topic: &str,
        source_partition: i32,
        source_offset: i64,
        key: Option<&[u8]>,
        payload: Option<&[u8]>,
        error: &DecodeError,
    ) -> Self {
        Self {
            key: key.map(<[u8]>::to_vec),
            payload: payload.map(<[u8]>::to_vec),
            reason: error.reason(),
            error: error.to_string(),
            source_topic: source_topic.to_owned(),
            source_partition,
            source_offset,
        }
    }

    /// The headers of the dead-letter record, in the order of the table above.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        vec![
            (REASON_HEADER, self.reason.to_owned()),
            (ERROR_HEADER, self.error.clone()),
            (SOURCE_TOPIC_HEADER, self.source_topic.clone()),
            (SOURCE_PARTITION_HEADER, self.source_partition.to_string()),
            (SOURCE_OFFSET_HEADER, self.source_offset.to_string()),
        ]
    }

    /// The key when it is a lead id, for logs: anything else might be personal data.
    pub fn lead_id(&self) -> Option<uuid::Uuid> {
        self.key
            .as_deref()
            .and_then(|k| std::str::from_utf8(k).ok())
            .and_then(|k| uuid::Uuid::parse_str(k).ok())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("writing to dead-letter topic {topic}: {source}")]
pub struct DeadLetterError {
    topic: String,
    #[source]
    source: KafkaError,
}

/// Writes dead letters and waits for the broker's acknowledgement.
pub struct DeadLetterProducer {
    producer: AckProducer,
    topic: String,
}

impl DeadLetterProducer {
    /// How long one attempt may wait for the acknowledgement; the caller retries.
    const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

    /// Dead letters are few: no compression, a short linger.
    const TUNING: ProducerTuning = ProducerTuning {
        delivery_timeout_ms: Self::DELIVERY_TIMEOUT.as_millis() as u64,
        linger_ms: 5,
        compression: Compression::None,
    };

    pub fn new(kafka: &KafkaConfig, topic: &str) -> Result<Self, KafkaError> {
        let producer = kafka
            .client(ClientRole::Producer, "leadpipe-consumer-dlq")
            .tuning(Self::TUNING.properties())
            .create()?;
        Ok(Self {
            producer,
            topic: topic.to_owned(),
        })
    }

    /// Sends one dead letter; `Ok` once the broker has acknowledged it.
    pub async fn send(&self, letter: &DeadLetter) -> Result<(), DeadLetterError> {
        let headers = letter.headers();
        let mut owned = OwnedHeaders::new_with_capacity(headers.len());
        for (key, value) in &headers {
            owned = owned.insert(Header {
                key,
                value: Some(value.as_bytes()),
            });
        }
        let mut record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(&self.topic).headers(owned);
        if let Some(key) = &letter.key {
            record = record.key(key.as_slice());
        }
        if let Some(payload) = &letter.payload {
            record = record.payload(payload.as_slice());
        }
        let error = |source| DeadLetterError {
            topic: self.topic.clone(),
            source,
        };
        let ack = self.producer.send(record).map_err(error)?;
        match tokio::time::timeout(Self::DELIVERY_TIMEOUT, ack).await {
            Ok(result) => result.map_err(error),
            Err(_elapsed) => Err(error(KafkaError::MessageProduction(
                rdkafka::types::RDKafkaErrorCode::MessageTimedOut,
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leadpipe_domain::{ConsentPolicy, LeadMessage};

    #[test]
    fn headers_say_why_and_where_and_the_bytes_are_kept() {
        let payload = br#"{"schema_version":3,"name":"Hong Gildong"}"#;
        let error = LeadMessage::decode(payload, ConsentPolicy::default()).unwrap_err();
        let key = b"01936f0e-8f3a-7c1d-9e2b-3a4c5d6e7f80";
        let letter = DeadLetter::new("leads", 3, 42, Some(key), Some(payload), &error);
        assert_eq!(letter.payload.as_deref(), Some(&payload[..]));
        assert_eq!(letter.key.as_deref(), Some(&key[..]));
        assert_eq!(
            letter.headers(),
            vec![
                (REASON_HEADER, "unsupported_version".to_owned()),
                (ERROR_HEADER, "unsupported schema_version 3".to_owned()),
                (SOURCE_TOPIC_HEADER, "leads".to_owned()),
                (SOURCE_PARTITION_HEADER, "3".to_owned()),
                (SOURCE_OFFSET_HEADER, "42".to_owned()),
            ]
        );
        assert_eq!(
            letter.lead_id().map(|u| u.to_string()).as_deref(),
            Some("01936f0e-8f3a-7c1d-9e2b-3a4c5d6e7f80")
        );
    }

    #[test]
    fn the_error_header_names_fields_but_never_their_values() {
        let payload = br#"{"schema_version":1,"id":"01936f0e-8f3a-7c1d-9e2b-3a4c5d6e7f80","received_at":"2026-03-14T09:26:53Z",
            "consented_at":"2026-03-14T09:26:53Z","campaign":"c","name":"Secret Name","email":"not-an-email",
            "country_code":"+82","phone_e164":"+8299","privacy_consent":true}"#;
        let error = LeadMessage::decode(payload, ConsentPolicy::default()).unwrap_err();
        let letter = DeadLetter::new("leads", 0, 7, None, Some(payload), &error);
        assert_eq!(letter.reason, "invalid");
        assert!(letter.error.contains("email"), "{}", letter.error);
        for secret in ["Secret Name", "not-an-email", "+8299"] {
            assert!(
                !letter.error.contains(secret),
                "{} leaks {secret}",
                letter.error
            );
        }
        assert_eq!(letter.lead_id(), None);
    }
}
