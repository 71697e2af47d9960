//! Settings both binaries share, flattened into each binary's own `clap` struct so that
//! one variable means the same thing everywhere and `--help` of both lists it.

use std::time::Duration;

use clap::{ArgAction, Args};

use crate::kafka::KafkaSettings;
use crate::logging::LogFormat;

#[derive(Debug, Clone, Args)]
pub struct CommonSettings {
    #[command(flatten)]
    pub kafka: KafkaSettings,

    /// Topic of accepted leads: the gateway publishes to it, the consumer reads it.
    #[arg(long, global = true, env = "LEADPIPE_TOPIC", default_value = "leads")]
    pub topic: String,

    /// Personal data is collected only with consent: the gateway answers
    /// `privacy_consent: false` with 422 `consent_required`, the consumer dead-letters
    /// such a lead. Gateway and consumer must agree.
    #[arg(long, global = true, env = "LEADPIPE_REQUIRE_CONSENT", default_value_t = true, action = ArgAction::Set)]
    pub require_consent: bool,

    /// Log format: `json` (one object per line) or `pretty`. The level comes from
    /// `RUST_LOG` (default `info`).
    #[arg(
        long,
        global = true,
        env = "LEADPIPE_LOG_FORMAT",
        value_enum,
        default_value = "pretty"
    )]
    pub log_format: LogFormat,

    /// On SIGTERM, how long the work in hand may take to finish (requests in flight and
    /// the producer flush for the gateway, the last batches for the consumer), seconds.
    #[arg(
        long,
        global = true,
        env = "LEADPIPE_SHUTDOWN_TIMEOUT_SECS",
        default_value_t = 30
    )]
    pub shutdown_timeout_secs: u64,
}

impl CommonSettings {
    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout_secs)
    }
}
