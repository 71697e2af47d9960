//! The gateway's configuration: the settings both binaries share ([`CommonSettings`]:
//! Kafka connection and security, topic, consent policy, log format, shutdown timeout)
//! and the gateway's own, each read from a `LEADPIPE_*` environment variable (or the
//! matching flag) with a default. `leadpipe-gateway --help` lists them all.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args, Parser};
use leadpipe_platform::Secret;
pub use leadpipe_platform::{CommonSettings, LogFormat, ProducerTuning};

use crate::abuse::client_ip::TrustedProxies;
use crate::abuse::rate::RateSetting;
pub use crate::consent::ConsentSettings;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "leadpipe-gateway",
    version,
    about = "Accepts leads over HTTP and publishes them to Kafka."
)]
pub struct Settings {
    #[command(flatten)]
    pub common: CommonSettings,

    #[command(flatten)]
    pub abuse: AbuseSettings,

    #[command(flatten)]
    pub producer: ProducerTuning,

    #[command(flatten)]
    pub consent: ConsentSettings,

    /// Address the HTTP server listens on.
    #[arg(long, env = "LEADPIPE_HTTP_ADDR", default_value = "0.0.0.0:8080")]
    pub http_addr: SocketAddr,

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

    /// Seconds clients are told to wait (`Retry-After`) when answered 503.
    #[arg(long, env = "LEADPIPE_RETRY_AFTER_SECS", default_value_t = 2)]
    pub retry_after_secs: u64,

    /// How long an idle keep-alive connection stays open, in seconds. Behind a load
    /// balancer, keep it above the balancer's own idle timeout (60 s for AWS ALB), or the
    /// balancer may send a request on a connection the gateway is closing.
    #[arg(long, env = "LEADPIPE_HTTP_KEEP_ALIVE_SECS", default_value_t = 75)]
    pub http_keep_alive_secs: u64,

    /// HTTP worker threads; 0 means one per CPU core.
    #[arg(long, env = "LEADPIPE_HTTP_WORKERS", default_value_t = 0)]
    pub http_workers: usize,

    /// Publish a synthetic canary lead (campaign `_canary`) every this many seconds, to
    /// measure the pipeline end to end; 0 turns it off.
    #[arg(long, env = "LEADPIPE_CANARY_INTERVAL_SECS", default_value_t = 0)]
    pub canary_interval_secs: u64,

    /// On SIGTERM, how long to keep serving, answering `/readyz` 503 and closing every
    /// connection after its response, before the listener closes — time for load
    /// balancers to take this instance out. In-flight requests then get
    /// LEADPIPE_SHUTDOWN_TIMEOUT_SECS to finish.
    #[arg(long, env = "LEADPIPE_DRAIN_SECS", default_value_t = 5)]
    pub drain_secs: u64,
}

/// Rate limits, trusted proxies, honeypot and CAPTCHA (see the `abuse` module).
#[derive(Debug, Clone, Args)]
pub struct AbuseSettings {
    /// Submissions per client address (an IPv4 address or an IPv6 /64), as N/period
    /// (`30/1m`); empty turns it off (the default: behind a load balancer it needs
    /// LEADPIPE_TRUSTED_PROXIES, and carrier NAT puts many visitors behind one address).
    #[arg(long, env = "LEADPIPE_RATE_LIMIT_IP", default_value = "")]
    pub rate_limit_ip: RateSetting,

    /// Submissions per email address (trimmed, case-insensitive), as N/period; empty
    /// turns it off.
    #[arg(long, env = "LEADPIPE_RATE_LIMIT_EMAIL", default_value = "5/1h")]
    pub rate_limit_email: RateSetting,

    /// Submissions per phone number (E.164), as N/period; empty turns it off.
    #[arg(long, env = "LEADPIPE_RATE_LIMIT_PHONE", default_value = "5/1h")]
    pub rate_limit_phone: RateSetting,

    /// Keys each limit remembers on this instance (8 bytes each, allocated at start):
    /// memory stays fixed however many distinct visitors come; past it the least recent
    /// keys are forgotten first.
    #[arg(long, env = "LEADPIPE_RATE_LIMIT_SLOTS", default_value_t = 1 << 18)]
    pub rate_limit_slots: usize,

    /// Proxies whose X-Forwarded-For is believed (CIDR blocks or addresses,
    /// comma-separated): the client is the right-most address not in this list.
    #[arg(long, env = "LEADPIPE_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: TrustedProxies,

    /// Redis that shares the limits among gateways (`redis://host:6379/0`); unset, each
    /// gateway limits on its own. When Redis does not answer, each gateway's own limits
    /// apply (fail open, counted in leadpipe_rate_limit_store_errors_total).
    #[arg(long, env = "LEADPIPE_REDIS_URL")]
    pub redis_url: Option<String>,

    /// How long a submission waits for Redis before this instance's limits decide.
    #[arg(long, env = "LEADPIPE_REDIS_TIMEOUT_MS", default_value_t = 50)]
    pub redis_timeout_ms: u64,

    /// Key of the hashes that stand for addresses and numbers outside the gateway (the
    /// Redis keys). The same on every gateway. Secret.
    #[arg(long, env = "LEADPIPE_HASH_SECRET", hide_env_values = true)]
    pub hash_secret: Option<Secret>,

    /// A file holding LEADPIPE_HASH_SECRET (wins over it).
    #[arg(long, env = "LEADPIPE_HASH_SECRET_FILE")]
    pub hash_secret_file: Option<PathBuf>,

    /// A body field the page hides from people (e.g. `website`): a submission that fills
    /// it is answered exactly like an accepted lead and never published. Empty: off.
    #[arg(long, env = "LEADPIPE_HONEYPOT_FIELD")]
    pub honeypot_field: Option<String>,

    /// The CAPTCHA provider's siteverify URL (Turnstile, hCaptcha, reCAPTCHA); set, every
    /// submission must carry a token that passes.
    #[arg(long, env = "LEADPIPE_CAPTCHA_VERIFY_URL")]
    pub captcha_verify_url: Option<String>,

    /// The CAPTCHA provider's secret key. Secret.
    #[arg(long, env = "LEADPIPE_CAPTCHA_SECRET", hide_env_values = true)]
    pub captcha_secret: Option<Secret>,

    /// A file holding LEADPIPE_CAPTCHA_SECRET (wins over it).
    #[arg(long, env = "LEADPIPE_CAPTCHA_SECRET_FILE")]
    pub captcha_secret_file: Option<PathBuf>,

    /// How long to wait for the verifier.
    #[arg(long, env = "LEADPIPE_CAPTCHA_TIMEOUT_MS", default_value_t = 3000)]
    pub captcha_timeout_ms: u64,

    /// When the verifier does not answer: false (default) answers 503 with Retry-After
    /// (no unverified lead gets in); true lets the submission through, counted.
    #[arg(long, env = "LEADPIPE_CAPTCHA_FAIL_OPEN", default_value_t = false, action = ArgAction::Set)]
    pub captcha_fail_open: bool,
}

impl Settings {
    pub fn delivery_timeout(&self) -> Duration {
        Duration::from_millis(self.producer.delivery_timeout_ms)
    }

    pub fn drain_period(&self) -> Duration {
        Duration::from_secs(self.drain_secs)
    }

    /// What `leadpipe-gateway` without flags would use: the environment where set, the
    /// defaults elsewhere. Tests start from this and override fields.
    pub fn defaults() -> Self {
        Self::parse_from(["leadpipe-gateway"])
    }
}
