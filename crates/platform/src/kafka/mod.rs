//! Every librdkafka client leadpipe creates is configured here: the gateway's lead
//! producer, the consumer's group member and dead-letter producer, and the clients that
//! only read metadata, offsets and lag.
//! - [`settings`]: how to reach the brokers ([`KafkaSettings`]: bootstrap servers, TLS,
//!   SASL, pass-through properties), parsed by `clap` and checked together once at start
//!   by [`KafkaSettings::validate`], which returns a [`KafkaConfig`];
//! - [`tuning`]: the producer's and the group member's typed tuning
//!   ([`ProducerTuning`], [`GroupSettings`]);
//! - [`policy`]: the safety settings each [`ClientRole`] always has (`acks=all`,
//!   idempotence, manual offset commits) and what the pass-through refuses;
//! - [`properties`]: the operator's pass-through (`LEADPIPE_KAFKA_PROPERTIES`);
//! - [`client`]: [`KafkaConfig::client`], the one builder of every client;
//! - [`producer`]: [`AckProducer`], the producer whose sends are answered by futures.
//!
//! Misconfiguration is an error at start naming the setting: a missing CA file, SASL
//! without credentials, TLS files with a plaintext protocol, a refused property.

pub mod client;
pub mod policy;
pub mod producer;
pub mod properties;
pub mod settings;
pub mod tuning;

pub use client::{ClientBuilder, KafkaClientError, KafkaConfig};
pub use policy::ClientRole;
pub use producer::{Ack, AckProducer};
pub use properties::KafkaProperties;
pub use settings::{Brokers, KafkaConfigError, KafkaSettings, SaslMechanism, SecurityProtocol};
pub use tuning::{Compression, GroupSettings, ProducerTuning};
