//! The platform both leadpipe binaries stand on, so that they behave the same way for
//! operators:
//! - [`settings`]: the settings both share ([`CommonSettings`]: topic, consent policy,
//!   log format, shutdown timeout and the Kafka connection), flattened into each
//!   binary's own settings;
//! - [`kafka`]: [`KafkaSettings`] (brokers, TLS, SASL, pass-through properties),
//!   validated once at start into the [`KafkaConfig`] every librdkafka client is built
//!   from, the typed tuning of producers and the group, and the property policy;
//! - [`exit`]: how a binary ends when it cannot start (a configuration error is one
//!   line and exit code 2);
//! - [`secret`]: secret values that never reach logs, and the `_FILE` convention;
//! - [`logging`]: structured logs (`RUST_LOG`, JSON or pretty);
//! - [`shutdown`]: SIGTERM or Ctrl-C;
//! - [`metrics`]: a Prometheus registry in the text exposition format.

pub mod exit;
pub mod kafka;
pub mod log_writer;
pub mod logging;
pub mod metrics;
pub mod secret;
pub mod settings;
pub mod shutdown;

pub use exit::{exit_code, parse_or_exit, ConfigError};
pub use kafka::{
    Ack, AckProducer, ClientBuilder, ClientRole, Compression, GroupSettings, KafkaClientError,
    KafkaConfig, KafkaConfigError, KafkaSettings, ProducerTuning, SaslMechanism, SecurityProtocol,
};
pub use logging::{init_tracing, LogFormat};
pub use metrics::render_metrics;
pub use secret::Secret;
pub use settings::CommonSettings;
pub use shutdown::shutdown_signal;
