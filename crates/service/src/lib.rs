//! The platform both leadpipe binaries stand on, so that they behave the same way for
//! operators:
//! - [`settings`]: the settings both share ([`CommonSettings`]: topic, consent policy,
//!   log format, shutdown timeout and the Kafka connection), flattened into each
//!   binary's own settings;
//! - [`kafka`]: [`KafkaSettings`] (brokers, TLS, SASL, pass-through properties) and
//!   [`KafkaSettings::client_config`], the one builder of every librdkafka client;
//! - [`secret`]: secret values that never reach logs, and the `_FILE` convention;
//! - [`logging`]: structured logs (`RUST_LOG`, JSON or pretty);
//! - [`shutdown`]: SIGTERM or Ctrl-C;
//! - [`metrics`]: a Prometheus registry in the text exposition format.

pub mod kafka;
pub mod logging;
pub mod metrics;
pub mod secret;
pub mod settings;
pub mod shutdown;

pub use kafka::{
    ClientRole, KafkaClientError, KafkaConfigError, KafkaSettings, SaslMechanism, SecurityProtocol,
};
pub use logging::{init_tracing, LogFormat};
pub use metrics::render_metrics;
pub use secret::Secret;
pub use settings::CommonSettings;
pub use shutdown::shutdown_signal;
