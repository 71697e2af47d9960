//! Where accepted leads go. The handler holds an `Arc<dyn LeadSink>`: Kafka in
//! production, memory in handler tests. `publish` returns only once the lead is durably
//! stored (for Kafka: acknowledged by all in-sync replicas) or has definitely failed.

mod kafka;
mod memory;

use std::time::Duration;

use async_trait::async_trait;
use leadpipe_domain::{AcceptedLead, LeadId};

pub use kafka::KafkaSink;
pub use memory::{MemorySink, MemorySinkMode};

/// One accepted lead as it goes to the topic: its id (the record key) and its message
/// (the record value, see `leadpipe_domain::message`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub id: LeadId,
    pub payload: Vec<u8>,
}

impl From<&AcceptedLead> for Record {
    fn from(lead: &AcceptedLead) -> Self {
        Self {
            id: lead.id,
            payload: lead.to_message_json(),
        }
    }
}

#[async_trait]
pub trait LeadSink: Send + Sync + 'static {
    /// Stores one lead; `Ok` means the broker acknowledged it.
    async fn publish(&self, record: &Record) -> Result<(), PublishError>;

    /// Whether the sink has finished starting: for Kafka, the first metadata request
    /// has returned (successfully or not), so a ready instance has a warm connection
    /// when the broker is up. Drives `/readyz` with the instance's lifecycle.
    fn is_started(&self) -> bool;

    /// Waits up to `timeout` for everything enqueued to be acknowledged (at shutdown).
    async fn flush(&self, timeout: Duration);
}

/// Why a publish failed. Every kind is answered 503 with `Retry-After`: none of them is
/// the client's fault, and all of them may pass.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    #[error("the broker did not acknowledge within the delivery timeout")]
    Timeout,
    #[error("the producer queue is full")]
    QueueFull,
    #[error("the broker rejected the message as too large")]
    MessageTooLarge,
    #[error("the producer was shut down before delivery")]
    Cancelled,
    #[error("the broker refused the message")]
    Refused,
}

impl PublishError {
    /// Low-cardinality kind, for the `kind` label of `leadpipe_broker_errors_total`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::QueueFull => "queue_full",
            Self::MessageTooLarge => "message_too_large",
            Self::Cancelled => "cancelled",
            Self::Refused => "refused",
        }
    }
}
