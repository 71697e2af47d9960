//! The gateway's configuration: one struct, read from `LEADPIPE_*` environment variables
//! (or the matching flags), each with a default. `leadpipe-gateway --help` lists them.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{ArgAction, Parser};
pub use leadpipe_service::LogFormat;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "leadpipe-gateway",
    version,
    about = "Accepts leads over HTTP and publishes them to Kafka."
)]
pub struct Settings {
    /// Address the HTTP server listens on.
    #[arg(long, env = "LEADPIPE_HTTP_ADDR", default_value = "0.0.0.0:8080")]
    pub http_addr: SocketAddr,

    /// Kafka bootstrap servers, comma-separated.
    #[arg(long, env = "LEADPIPE_KAFKA_BROKERS", default_value = "127.0.0.1:9092")]
    pub kafka_brokers: String,

    /// Topic accepted leads are published to.
    #[arg(long, env = "LEADPIPE_TOPIC", default_value = "leads")]
    pub topic: String,

    /// Reject leads whose `privacy_consent` is false (422 `consent_required`).
    #[arg(long, env = "LEADPIPE_REQUIRE_CONSENT", default_value_t = true, action = ArgAction::Set)]
    pub require_consent: bool,

    /// Origins allowed to post from a browser (CORS), comma-separated; `*` allows any.
    /// Empty allows none.
    #[arg(
        long,
        env = "LEADPIPE_CORS_ALLOWED_ORIGINS",
        value_delimiter = ',',
        default_value = ""
    )]
    pub cors_allowed_origins: Vec<String>,

    /// Largest accepted request body, in bytes.
    #[arg(long, env = "LEADPIPE_MAX_BODY_BYTES", default_value_t = 16 * 1024)]
    pub max_body_bytes: usize,

    /// Publishes awaiting the broker's acknowledgement at once; above it requests are
    /// answered 503 at once. Bounds memory whatever the broker does.
    #[arg(long, env = "LEADPIPE_MAX_IN_FLIGHT", default_value_t = 4096)]
    pub max_in_flight: usize,

    /// How long a lead may wait for the broker's acknowledgement before the request is
    /// answered 503 (librdkafka `message.timeout.ms`).
    #[arg(
        long,
        env = "LEADPIPE_KAFKA_DELIVERY_TIMEOUT_MS",
        default_value_t = 5000
    )]
    pub kafka_delivery_timeout_ms: u64,

    /// How long the producer waits to fill a batch (librdkafka `linger.ms`).
    #[arg(long, env = "LEADPIPE_KAFKA_LINGER_MS", default_value_t = 5)]
    pub kafka_linger_ms: u64,

    /// Idempotent producer (`enable.idempotence`). Keep it on with Apache Kafka. The local
    /// Tansu 0.6 broker wedges idempotent producers whose messages timed out during an
    /// outage (it rejects librdkafka's epoch bump), so the local stack turns it off; lead
    /// ids are deterministic and the consumer stores each id once, so a retried duplicate
    /// on the topic is harmless either way.
    #[arg(long, env = "LEADPIPE_KAFKA_IDEMPOTENCE", default_value_t = true, action = ArgAction::Set)]
    pub kafka_idempotence: bool,

    /// Producer compression: none, gzip, snappy, lz4 or zstd.
    #[arg(long, env = "LEADPIPE_KAFKA_COMPRESSION", default_value = "lz4")]
    pub kafka_compression: String,

    /// Seconds clients are told to wait (`Retry-After`) when answered 503.
    #[arg(long, env = "LEADPIPE_RETRY_AFTER_SECS", default_value_t = 2)]
    pub retry_after_secs: u64,

    /// HTTP worker threads; 0 means one per CPU core.
    #[arg(long, env = "LEADPIPE_HTTP_WORKERS", default_value_t = 0)]
    pub http_workers: usize,

    /// On SIGTERM, how long in-flight requests may take to finish.
    #[arg(long, env = "LEADPIPE_SHUTDOWN_TIMEOUT_SECS", default_value_t = 30)]
    pub shutdown_timeout_secs: u64,

    /// Log format. The level comes from `RUST_LOG` (default `info`).
    #[arg(
        long,
        env = "LEADPIPE_LOG_FORMAT",
        value_enum,
        default_value = "pretty"
    )]
    pub log_format: LogFormat,
}

impl Settings {
    pub fn delivery_timeout(&self) -> Duration {
        Duration::from_millis(self.kafka_delivery_timeout_ms)
    }

    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout_secs)
    }

    /// What `leadpipe-gateway` without flags would use: the environment where set, the
    /// defaults elsewhere. Tests start from this and override fields.
    pub fn defaults() -> Self {
        Self::parse_from(["leadpipe-gateway"])
    }
}
