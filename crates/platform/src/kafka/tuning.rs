//! How the producers and the group member are tuned: typed settings, each saying which
//! librdkafka properties it owns (`OWNS`, which the pass-through [`policy`](super::policy)
//! refuses), and the properties a client gets from them.

use clap::{Args, ValueEnum};

/// Producer compression (librdkafka `compression.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Compression {
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

impl Compression {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Gzip => "gzip",
            Self::Snappy => "snappy",
            Self::Lz4 => "lz4",
            Self::Zstd => "zstd",
        }
    }
}

/// The tuning of a producer of leads.
#[derive(Debug, Clone, Args)]
pub struct ProducerTuning {
    /// How long a lead may wait for the broker's acknowledgement before the request is
    /// answered 503 (librdkafka `message.timeout.ms`).
    #[arg(
        long = "kafka-delivery-timeout-ms",
        env = "LEADPIPE_KAFKA_DELIVERY_TIMEOUT_MS",
        default_value_t = 5000
    )]
    pub delivery_timeout_ms: u64,

    /// How long the producer waits to fill a batch (librdkafka `linger.ms`).
    #[arg(
        long = "kafka-linger-ms",
        env = "LEADPIPE_KAFKA_LINGER_MS",
        default_value_t = 5
    )]
    pub linger_ms: u64,

    /// Producer compression: none, gzip, snappy, lz4 or zstd.
    #[arg(
        long = "kafka-compression",
        env = "LEADPIPE_KAFKA_COMPRESSION",
        value_enum,
        ignore_case = true,
        default_value = "lz4"
    )]
    pub compression: Compression,
}

impl ProducerTuning {
    /// The librdkafka properties each field owns (by field name).
    pub const OWNS: &'static [(&'static str, &'static str)] = &[
        ("linger.ms", "linger_ms"),
        ("queue.buffering.max.ms", "linger_ms"),
        ("compression.type", "compression"),
        ("compression.codec", "compression"),
        ("message.timeout.ms", "delivery_timeout_ms"),
        ("delivery.timeout.ms", "delivery_timeout_ms"),
    ];

    /// The client properties of this tuning.
    pub fn properties(&self) -> Vec<(&'static str, String)> {
        vec![
            ("linger.ms", self.linger_ms.to_string()),
            ("compression.type", self.compression.as_str().to_owned()),
            ("message.timeout.ms", self.delivery_timeout_ms.to_string()),
            // One request may not outlast the delivery timeout (nor take under a second).
            (
                "request.timeout.ms",
                self.delivery_timeout_ms.clamp(1000, 30_000).to_string(),
            ),
        ]
    }
}

/// The consumer group and its member's tuning.
#[derive(Debug, Clone, Args)]
pub struct GroupSettings {
    /// Consumer group; instances with the same group share the topic's partitions.
    #[arg(
        long = "group-id",
        global = true,
        env = "LEADPIPE_GROUP_ID",
        default_value = "leadpipe-consumer"
    )]
    pub group_id: String,

    /// Kafka group session timeout, in ms: how soon the partitions of a crashed instance
    /// move to the others.
    #[arg(
        long = "kafka-session-timeout-ms",
        global = true,
        env = "LEADPIPE_KAFKA_SESSION_TIMEOUT_MS",
        default_value_t = 10000
    )]
    pub session_timeout_ms: u64,
}

impl GroupSettings {
    /// The librdkafka properties each field owns (by field name).
    pub const OWNS: &'static [(&'static str, &'static str)] = &[
        ("group.id", "group_id"),
        ("session.timeout.ms", "session_timeout_ms"),
    ];

    /// The properties of a group member: its session and heartbeat, and how much it may
    /// prefetch (part of the consumer's memory bound).
    pub fn member_properties(&self) -> Vec<(&'static str, String)> {
        vec![
            ("session.timeout.ms", self.session_timeout_ms.to_string()),
            (
                "heartbeat.interval.ms",
                (self.session_timeout_ms / 4).max(100).to_string(),
            ),
            ("queued.max.messages.kbytes", "16384".to_owned()),
        ]
    }
}
