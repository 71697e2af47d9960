//! The rate limits of a submission: per client address, per email address (trimmed,
//! case-insensitive) and per phone number (E.164), each `N/period` or off. Checked
//! after the body is parsed and before the publish, all at once: a submission over any
//! limit is refused and counts against none.
//!
//! Each gateway keeps its own bounded [`Table`] per limit. With `LEADPIPE_REDIS_URL`
//! the limits are shared by every gateway ([`RedisStore`], one script call per
//! submission); when Redis does not answer in time the local tables decide (fail open to
//! per-instance limits), counted in `leadpipe_rate_limit_store_errors_total`.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::client_ip::limit_key;
use super::gcra::{Table, Verdict};
use super::rate::{Keys, LimitName, Rate, Refusal};
use super::redis_store::RedisStore;
use crate::metrics::Metrics;

/// Which checks a submission passed, to give them back if its publish fails.
#[derive(Debug)]
pub struct Admission {
    hashes: [u64; 3],
    shared: bool,
}

pub struct RateLimits {
    /// The limits that are on, in the order they are checked.
    rates: Vec<(LimitName, Rate)>,
    /// Each one's local table, in the same order.
    tables: Vec<Table>,
    hasher: std::hash::RandomState,
    shared: Option<RedisStore>,
    metrics: Arc<Metrics>,
    started: Instant,
    last_warning_ms: AtomicU64,
}

impl RateLimits {
    /// `slots` entries per limit in the local tables (8 bytes each).
    pub fn new(
        configured: [(LimitName, Option<Rate>); 3],
        slots: usize,
        shared: Option<RedisStore>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let rates: Vec<(LimitName, Rate)> = configured
            .into_iter()
            .filter_map(|(name, rate)| Some((name, rate?)))
            .collect();
        Self {
            tables: rates.iter().map(|_| Table::new(slots)).collect(),
            rates,
            hasher: std::hash::RandomState::new(),
            shared,
            metrics,
            started: Instant::now(),
            last_warning_ms: AtomicU64::new(0),
        }
    }

    pub fn is_off(&self) -> bool {
        self.rates.is_empty()
    }

    /// The configured limits, for the startup log: `ip=30/60s email=5/3600s`.
    pub fn describe(&self) -> String {
        let mut text: Vec<String> = self
            .rates
            .iter()
            .map(|(name, rate)| format!("{}={rate}", name.as_str()))
            .collect();
        if self.shared.is_some() {
            text.push("shared through Redis".to_owned());
        }
        text.join(" ")
    }

    /// Bytes of the local tables (fixed at start).
    pub fn table_bytes(&self) -> usize {
        self.tables.iter().map(Table::bytes).sum()
    }

    pub async fn check(&self, keys: &Keys<'_>) -> Result<Admission, Refusal> {
        if let Some(shared) = &self.shared {
            match shared.check(&self.rates, keys).await {
                Ok(None) => {
                    return Ok(Admission {
                        hashes: [0; 3],
                        shared: true,
                    })
                }
                Ok(Some(refusal)) => return Err(self.refused(refusal)),
                Err(error) => self.store_failed(&error),
            }
        }
        self.check_local(keys)
            .map_err(|refusal| self.refused(refusal))
    }

    /// Gives back what `admission` took: the submission was not accepted after all.
    pub async fn refund(&self, admission: &Admission, keys: &Keys<'_>) {
        if admission.shared {
            if let Some(shared) = &self.shared {
                if let Err(error) = shared.refund(&self.rates, keys).await {
                    self.store_failed(&error);
                }
            }
            return;
        }
        for ((_, rate), (table, hash)) in self
            .rates
            .iter()
            .zip(self.tables.iter().zip(admission.hashes))
        {
            table.refund(hash, *rate);
        }
    }

    fn check_local(&self, keys: &Keys<'_>) -> Result<Admission, Refusal> {
        let mut hashes = [0u64; 3];
        for (index, (&(name, rate), table)) in self.rates.iter().zip(&self.tables).enumerate() {
            let hash = self.hash(name, keys);
            if let Verdict::Limited { retry_after_ms } = table.check(hash, rate, table.now_ms()) {
                let passed = self.rates[..index].iter().zip(&self.tables);
                for (((_, rate), table), hash) in passed.zip(hashes) {
                    table.refund(hash, *rate);
                }
                return Err(Refusal {
                    limit: name,
                    rate,
                    retry_after_ms,
                });
            }
            hashes[index] = hash;
        }
        Ok(Admission {
            hashes,
            shared: false,
        })
    }

    fn hash(&self, name: LimitName, keys: &Keys<'_>) -> u64 {
        let mut hasher = self.hasher.build_hasher();
        hasher.write_u8(name as u8);
        match name {
            LimitName::Ip => hasher.write(&limit_key(keys.ip)),
            LimitName::Email => {
                for c in keys.email.trim().chars().flat_map(char::to_lowercase) {
                    hasher.write_u32(c as u32);
                }
            }
            LimitName::Phone => hasher.write(keys.phone_e164.as_bytes()),
        }
        hasher.finish()
    }

    fn refused(&self, refusal: Refusal) -> Refusal {
        self.metrics
            .rate_limited
            .with_label_values(&[refusal.limit.as_str()])
            .inc();
        refusal
    }

    /// Counted every time; logged at most every 10 s (an outage must not flood logs).
    fn store_failed(&self, error: &super::redis_store::StoreError) {
        self.metrics.rate_limit_store_errors.inc();
        let now = self.started.elapsed().as_millis() as u64 + 1;
        let last = self.last_warning_ms.load(Ordering::Relaxed);
        if (last == 0 || now.saturating_sub(last) >= 10_000)
            && self
                .last_warning_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(
                error = %error,
                "the shared rate-limit store did not answer: this instance's own limits apply"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn limits(ip: Option<&str>, email: Option<&str>, phone: Option<&str>) -> RateLimits {
        let rate = |r: Option<&str>| r.and_then(|r| Rate::parse_setting(r).unwrap());
        RateLimits::new(
            [
                (LimitName::Ip, rate(ip)),
                (LimitName::Email, rate(email)),
                (LimitName::Phone, rate(phone)),
            ],
            1024,
            None,
            Arc::new(Metrics::new()),
        )
    }

    fn keys<'a>(ip: &str, email: &'a str, phone: &'a str) -> Keys<'a> {
        Keys {
            ip: ip.parse().unwrap(),
            email,
            phone_e164: phone,
        }
    }

    #[tokio::test]
    async fn an_email_is_limited_whatever_its_case_and_whatever_the_address() {
        let limits = limits(None, Some("2/1h"), None);
        let a = keys("1.1.1.1", "Kim@Example.com", "+821012345678");
        let b = keys("2.2.2.2", " kim@example.COM ", "+821099999999");
        assert!(limits.check(&a).await.is_ok());
        assert!(limits.check(&b).await.is_ok());
        let refusal = limits.check(&a).await.unwrap_err();
        assert_eq!(refusal.limit, LimitName::Email);
        assert_eq!(refusal.rate.period, Duration::from_secs(3600));
        assert!(
            (1799..=1800).contains(&refusal.retry_after_secs()),
            "{refusal:?}"
        );
        assert!(limits
            .check(&keys("1.1.1.1", "other@example.com", "+1"))
            .await
            .is_ok());
    }

    #[tokio::test]
    async fn a_refused_submission_counts_against_no_limit_and_a_refund_gives_back() {
        let limits = limits(Some("2/1m"), Some("1/1h"), Some("5/1h"));
        let first = keys("1.1.1.1", "a@example.com", "+821012345678");
        let admission = limits.check(&first).await.unwrap();
        // Over the email limit: the IP's request is given back.
        assert_eq!(
            limits.check(&first).await.unwrap_err().limit,
            LimitName::Email
        );
        assert!(limits
            .check(&keys("1.1.1.1", "b@example.com", "+1"))
            .await
            .is_ok());
        assert_eq!(
            limits
                .check(&keys("1.1.1.1", "c@example.com", "+2"))
                .await
                .unwrap_err()
                .limit,
            LimitName::Ip
        );
        // The first publish failed: its retry is not a new submission, and takes back
        // the address's and the email's budget.
        limits.refund(&admission, &first).await;
        assert!(limits.check(&first).await.is_ok());
        assert_eq!(
            limits
                .check(&keys("9.9.9.9", "a@example.com", "+3"))
                .await
                .unwrap_err()
                .limit,
            LimitName::Email
        );
        assert_eq!(
            limits
                .check(&keys("1.1.1.1", "d@example.com", "+4"))
                .await
                .unwrap_err()
                .limit,
            LimitName::Ip
        );
    }

    #[test]
    fn off_means_no_table() {
        let off = limits(None, None, None);
        assert!(off.is_off());
        assert_eq!(off.table_bytes(), 0);
        assert_eq!(limits(Some("1/1s"), None, None).table_bytes(), 1024 * 8);
    }
}
