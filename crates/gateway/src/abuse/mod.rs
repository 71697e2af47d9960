//! What stands between a public form and a script filling the table: rate limits per
//! client address, email and phone ([`limits`], shared through Redis by [`redis_store`]),
//! the client's address behind trusted proxies ([`client_ip`]), a honeypot field, and
//! server-side CAPTCHA verification ([`captcha`]). All of it runs after a body has
//! parsed into a valid lead and before the publish.

pub mod captcha;
pub mod client_ip;
pub mod gcra;
pub mod limits;
pub mod rate;
pub mod redis_store;

use std::net::IpAddr;
use std::time::Duration;

use leadpipe_platform::Secret;

use crate::metrics::Metrics;

use crate::settings::{AbuseSettings, Settings};
use captcha::CaptchaVerifier;
use client_ip::TrustedProxies;
use limits::RateLimits;
use rate::LimitName;
use redis_store::RedisStore;

pub use captcha::CaptchaVerdict;
pub use rate::{Keys, Refusal};

/// The header a page may send the CAPTCHA token in, instead of the body field.
pub const CAPTCHA_TOKEN_HEADER: &str = "captcha-token";

pub struct Guard {
    pub proxies: TrustedProxies,
    pub limits: RateLimits,
    pub honeypot_field: Option<String>,
    pub captcha: Option<CaptchaVerifier>,
}

impl Guard {
    /// From the settings; every misconfiguration is named at start. Must run inside the
    /// Tokio runtime (the Redis connection is made in the background).
    pub fn from_settings(
        settings: &Settings,
        metrics: std::sync::Arc<crate::metrics::Metrics>,
    ) -> anyhow::Result<Self> {
        let a: &AbuseSettings = &settings.abuse;
        let proxies = a.trusted_proxies.clone();
        let configured = [
            (LimitName::Ip, a.rate_limit_ip.0),
            (LimitName::Email, a.rate_limit_email.0),
            (LimitName::Phone, a.rate_limit_phone.0),
        ];
        let shared = match a
            .redis_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
        {
            None => None,
            Some(url) => {
                let secret = Secret::resolve(a.hash_secret.as_ref(), a.hash_secret_file.as_ref())?
                    .filter(|s| !s.expose().is_empty())
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                            "LEADPIPE_REDIS_URL needs LEADPIPE_HASH_SECRET (or _FILE), the same on every \
                             gateway: Redis keys are keyed hashes, never addresses or numbers"
                        )
                    })?;
                Some(
                    RedisStore::connect(url, secret, Duration::from_millis(a.redis_timeout_ms))
                        .map_err(|e| anyhow::anyhow!("LEADPIPE_REDIS_URL: {e}"))?,
                )
            }
        };
        let limits = RateLimits::new(configured, a.rate_limit_slots, shared, metrics);
        if configured[0].1.is_some() && proxies.is_empty() {
            tracing::warn!(
                "LEADPIPE_RATE_LIMIT_IP is on and LEADPIPE_TRUSTED_PROXIES is empty: behind a load \
                 balancer every visitor has the balancer's address and shares one limit"
            );
        }
        let honeypot_field = a
            .honeypot_field
            .as_deref()
            .map(str::trim)
            .filter(|f| !f.is_empty());
        if let Some(field) = honeypot_field {
            anyhow::ensure!(
                !leadpipe_domain::is_api_field(field),
                "LEADPIPE_HONEYPOT_FIELD {field:?} is a field of the API; pick a name the API does not use"
            );
        }
        let captcha = match a
            .captcha_verify_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
        {
            None => None,
            Some(url) => {
                let secret =
                    Secret::resolve(a.captcha_secret.as_ref(), a.captcha_secret_file.as_ref())?
                        .filter(|s| !s.expose().is_empty())
                        .ok_or_else(|| {
                            anyhow::anyhow!(
                        "LEADPIPE_CAPTCHA_VERIFY_URL needs LEADPIPE_CAPTCHA_SECRET (or _FILE)"
                    )
                        })?;
                Some(CaptchaVerifier::new(
                    url.to_owned(),
                    secret,
                    Duration::from_millis(a.captcha_timeout_ms),
                    a.captcha_fail_open,
                )?)
            }
        };
        tracing::info!(
            limits = %limits.describe(),
            table_bytes = limits.table_bytes(),
            trusted_proxies = proxies.len(),
            honeypot = honeypot_field.is_some(),
            captcha = captcha.is_some(),
            "abuse protection"
        );
        Ok(Self {
            proxies,
            limits,
            honeypot_field: honeypot_field.map(str::to_owned),
            captcha,
        })
    }
}

impl Guard {
    /// With a verifier configured, checks the submission's token (body field or header;
    /// blank means none) and counts the result. `Err` carries why it does not pass:
    /// `Failed` (no token, or refused) or `Unavailable` (unless configured to fail open).
    pub async fn verify_captcha(
        &self,
        token: Option<&str>,
        client_ip: IpAddr,
        metrics: &Metrics,
    ) -> Result<(), CaptchaVerdict> {
        let Some(verifier) = &self.captcha else {
            return Ok(());
        };
        let token = token.filter(|t| !t.trim().is_empty());
        let verdict = verifier.verify(token, client_ip).await;
        let result = match (verdict, token) {
            (CaptchaVerdict::Failed, None) => "missing",
            (verdict, _) => verdict.as_str(),
        };
        metrics
            .captcha_verifications
            .with_label_values(&[result])
            .inc();
        match verdict {
            CaptchaVerdict::Passed => Ok(()),
            CaptchaVerdict::Unavailable if verifier.fail_open => Ok(()),
            refusal => Err(refusal),
        }
    }
}
