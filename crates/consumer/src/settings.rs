//! The consumer's configuration: the settings both binaries share ([`CommonSettings`]:
//! Kafka connection and security, topic, consent policy, log format, shutdown timeout)
//! and the consumer's own, each read from a `LEADPIPE_*` environment variable (or the
//! matching flag) with a default. `leadpipe-consumer --help` lists them all.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};
use leadpipe_domain::ConsentPolicy;

use leadpipe_platform::Secret;
pub use leadpipe_platform::{CommonSettings, GroupSettings, LogFormat};

/// Command line: a subcommand (default `run`) and the settings, which every subcommand
/// accepts.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "leadpipe-consumer",
    version,
    about = "Drains the leads topic into PostgreSQL in batches; stores each lead exactly once."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub settings: Settings,
}

#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Consume the topic and store leads until SIGTERM (the default).
    Run,
    /// Apply the database migrations and exit (run before a new version starts).
    Migrate,
    /// Only export the group lag of every partition (`/metrics`), without consuming: a
    /// lag signal that survives when no consumer is alive.
    LagExporter,
    /// The dead-letter topic: list what is there, or replay what today's rules accept.
    Dlq {
        #[command(subcommand)]
        action: DlqAction,
    },
    /// Erase a person: delete every lead with this email (or phone number) and record a
    /// keyed hash of it, so that no replay of the topic stores them again. Needs
    /// LEADPIPE_ERASURE_KEY_FILE.
    Erase {
        #[command(flatten)]
        person: PersonArgs,
    },
    /// Remove the leads received longer ago than --older-than: monthly partitions that
    /// end before the cutoff are dropped whole, older rows of the one that straddles it
    /// are deleted in batches, and so are their ids. Prints what it removed.
    Retention {
        /// How long leads are kept (`400d`, `13months`); at least a day.
        #[arg(long, value_parser = parse_retention)]
        older_than: std::time::Duration,
        /// Only print what would be removed.
        #[arg(long)]
        dry_run: bool,
    },
}

/// A retention period: a duration of at least a day (a typo such as `400s` would
/// otherwise remove every lead).
fn parse_retention(text: &str) -> Result<std::time::Duration, String> {
    let period = humantime::parse_duration(text)
        .map_err(|_| format!("{text:?} is not a duration such as 400d"))?;
    if period < std::time::Duration::from_secs(24 * 3600) {
        return Err(format!("{text} is shorter than a day"));
    }
    Ok(period)
}

/// Whom `erase` erases: an email address, or a phone number.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
#[group(skip)]
#[command(group(clap::ArgGroup::new("who").required(true).args(["email", "phone"])))]
pub struct PersonArgs {
    /// The email address (any case).
    #[arg(long)]
    pub email: Option<String>,
    /// The phone number: national with --country-code (`010-1234-5678`), or
    /// international with a plus (`+82 10-1234-5678`).
    #[arg(long, allow_hyphen_values = true)]
    pub phone: Option<String>,
    /// The calling code of a national --phone (`+82`).
    #[arg(long, requires = "phone")]
    pub country_code: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum DlqAction {
    /// Print each dead letter's position, time, reason and lead id (no personal data).
    List {
        /// Only dead letters written since this time (RFC 3339, or a duration ago such
        /// as `2h`).
        #[arg(long, value_parser = parse_since)]
        since: Option<DateTime<Utc>>,
    },
    /// Re-validate every dead letter with today's settings and publish the valid ones to
    /// the lead topic again (same key and bytes, so each is stored once).
    Replay {
        /// Only dead letters written since this time (RFC 3339, or a duration ago such
        /// as `2h`).
        #[arg(long, value_parser = parse_since)]
        since: Option<DateTime<Utc>>,
        /// Count what would be replayed; publish nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

/// An RFC 3339 instant, or a duration before now (`90m`, `2h`, `7days`).
fn parse_since(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    let ago = humantime::parse_duration(text)
        .map_err(|_| format!("{text:?} is neither an RFC 3339 time nor a duration such as 2h"))?;
    chrono::Duration::from_std(ago)
        .ok()
        .and_then(|ago| Utc::now().checked_sub_signed(ago))
        .ok_or_else(|| format!("{text} is too long ago"))
}

impl Cli {
    pub fn command(&self) -> Command {
        self.command.clone().unwrap_or(Command::Run)
    }
}

#[derive(Debug, Clone, Args)]
pub struct Settings {
    #[command(flatten)]
    pub common: CommonSettings,

    /// PostgreSQL connection URL. TLS through `sslmode` (disable, prefer, require,
    /// verify-ca, verify-full) and `sslrootcert` (the CA file) query parameters.
    #[arg(
        long,
        global = true,
        env = "LEADPIPE_DATABASE_URL",
        default_value = "postgres://127.0.0.1:5432/leadpipe"
    )]
    pub database_url: String,

    /// File holding the database password (a mounted secret); wins over a password in
    /// LEADPIPE_DATABASE_URL.
    #[arg(long, global = true, env = "LEADPIPE_DATABASE_PASSWORD_FILE")]
    pub database_password_file: Option<PathBuf>,

    /// Key of the erasure hashes (HMAC-SHA256, at least 16 bytes): what `erase` records of
    /// a person and what the insert checks every lead against. Secret; the same for every
    /// consumer and every erasure. Prefer LEADPIPE_ERASURE_KEY_FILE.
    #[arg(
        long,
        global = true,
        env = "LEADPIPE_ERASURE_KEY",
        hide_env_values = true
    )]
    pub erasure_key: Option<Secret>,

    /// A file holding LEADPIPE_ERASURE_KEY (wins over it).
    #[arg(long, global = true, env = "LEADPIPE_ERASURE_KEY_FILE")]
    pub erasure_key_file: Option<PathBuf>,

    /// Database connections: one for the batch being written, one for health checks.
    #[arg(
        long,
        global = true,
        env = "LEADPIPE_DB_POOL_SIZE",
        default_value_t = 2
    )]
    pub db_pool_size: u32,

    /// Dead-letter topic for messages that cannot be decoded or no longer validate.
    #[arg(
        long,
        global = true,
        env = "LEADPIPE_DLQ_TOPIC",
        default_value = "leads.dlq"
    )]
    pub dlq_topic: String,

    #[command(flatten)]
    pub group: GroupSettings,

    /// A batch is written when it holds this many messages…
    #[arg(long, global = true, env = "LEADPIPE_MAX_BATCH_ROWS", default_value_t = 1000,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_batch_rows: u32,

    /// …or when its oldest message has waited this long, in milliseconds.
    #[arg(
        long,
        global = true,
        env = "LEADPIPE_MAX_BATCH_WAIT_MS",
        default_value_t = 100
    )]
    pub max_batch_wait_ms: u64,

    /// Address of the `/healthz`, `/readyz` and `/metrics` endpoints.
    #[arg(
        long,
        global = true,
        env = "LEADPIPE_HTTP_ADDR",
        default_value = "0.0.0.0:9091"
    )]
    pub http_addr: SocketAddr,

    /// How often consumer lag is measured and the broker and database are checked, in ms.
    #[arg(long, global = true, env = "LEADPIPE_LAG_INTERVAL_MS", default_value_t = 5000,
          value_parser = clap::value_parser!(u64).range(100..))]
    pub lag_interval_ms: u64,

    /// Partitions with lag whose committed offset has not moved for this long, while this
    /// instance could work on them, make it not ready, and it leaves and rejoins the group
    /// (at most once per this period, and not sooner than this after a rebalance), in ms.
    /// Never less than the session timeout: a member that crashed must have expired.
    #[arg(
        long,
        global = true,
        env = "LEADPIPE_STALL_TIMEOUT_MS",
        default_value_t = 15000
    )]
    pub stall_timeout_ms: u64,
}

impl Settings {
    /// The erasure key, read from its file; `None` when none is set.
    pub fn erasure_key(
        &self,
    ) -> Result<Option<crate::erasure::ErasureKey>, leadpipe_platform::ConfigError> {
        let secret = Secret::resolve(self.erasure_key.as_ref(), self.erasure_key_file.as_ref())
            .map_err(|e| {
                leadpipe_platform::ConfigError::new(format!("LEADPIPE_ERASURE_KEY_FILE: {e}"))
            })?;
        secret
            .filter(|s| !s.expose().is_empty())
            .map(|s| crate::erasure::ErasureKey::new(&s))
            .transpose()
            .map_err(|e| leadpipe_platform::ConfigError::new(format!("LEADPIPE_ERASURE_KEY: {e}")))
    }

    /// The lead store on `database_url`, connecting on first use; a URL or password file
    /// that cannot work is a configuration error.
    pub fn lead_store(
        &self,
        pool_size: u32,
    ) -> Result<crate::store::LeadStore, leadpipe_platform::ConfigError> {
        crate::store::LeadStore::connect_lazy(
            &self.database_url,
            self.database_password_file.as_deref(),
            pool_size,
        )
        .map_err(|error| leadpipe_platform::ConfigError::new(error.to_string()))
    }

    pub fn consent_policy(&self) -> ConsentPolicy {
        ConsentPolicy {
            require_consent: self.common.require_consent,
        }
    }

    pub fn max_batch_rows(&self) -> usize {
        self.max_batch_rows as usize
    }

    pub fn max_batch_wait(&self) -> Duration {
        Duration::from_millis(self.max_batch_wait_ms)
    }

    /// The stall timeout, at least the session timeout.
    pub fn stall_timeout(&self) -> Duration {
        Duration::from_millis(self.stall_timeout_ms.max(self.group.session_timeout_ms))
    }

    pub fn lag_interval(&self) -> Duration {
        Duration::from_millis(self.lag_interval_ms)
    }

    /// What `leadpipe-consumer` without flags would use: the environment where set, the
    /// defaults elsewhere. Tests start from this and override fields.
    pub fn defaults() -> Self {
        Cli::parse_from(["leadpipe-consumer"]).settings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_is_the_default_command_and_migrate_is_accepted_with_flags_after_it() {
        let cli = Cli::try_parse_from(["leadpipe-consumer"]).unwrap();
        assert_eq!(cli.command(), Command::Run);
        let cli = Cli::try_parse_from([
            "leadpipe-consumer",
            "migrate",
            "--database-url",
            "postgres://db/x",
        ])
        .unwrap();
        assert_eq!(cli.command(), Command::Migrate);
        assert_eq!(cli.settings.database_url, "postgres://db/x");
    }

    #[test]
    fn dlq_commands_take_a_time_or_a_duration_ago() {
        let cli = Cli::try_parse_from([
            "leadpipe-consumer",
            "dlq",
            "replay",
            "--since",
            "2026-03-14T09:00:00Z",
            "--dry-run",
        ])
        .unwrap();
        let Command::Dlq {
            action: DlqAction::Replay { since, dry_run },
        } = cli.command()
        else {
            panic!("dlq replay");
        };
        assert!(dry_run);
        assert_eq!(since.unwrap().to_rfc3339(), "2026-03-14T09:00:00+00:00");
        let cli =
            Cli::try_parse_from(["leadpipe-consumer", "dlq", "list", "--since", "2h"]).unwrap();
        let Command::Dlq {
            action: DlqAction::List { since: Some(since) },
        } = cli.command()
        else {
            panic!("dlq list");
        };
        let ago = Utc::now() - since;
        assert!(ago >= chrono::Duration::minutes(119) && ago <= chrono::Duration::minutes(121));
        assert!(Cli::try_parse_from([
            "leadpipe-consumer",
            "dlq",
            "list",
            "--since",
            "yesterday-ish"
        ])
        .is_err());
    }

    #[test]
    fn a_zero_batch_size_is_rejected() {
        assert!(Cli::try_parse_from(["leadpipe-consumer", "--max-batch-rows", "0"]).is_err());
        assert!(Cli::try_parse_from(["leadpipe-consumer", "--require-consent", "false"]).is_ok());
    }
}
