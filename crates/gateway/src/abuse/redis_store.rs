//! Limits shared by every gateway: the GCRA state in Redis, checked and updated by one
//! Lua script per submission (atomic, one round trip, Redis's own clock). Keys are keyed
//! hashes (HMAC-SHA-256 with `LEADPIPE_HASH_SECRET`), never an address or a number,
//! and expire when their state is back to fresh. All keys of one submission go to one
//! script call, so a Redis Cluster is not supported: use one primary (with replicas or
//! Sentinel).

use std::fmt::Write;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use hmac::{Hmac, Mac};
use leadpipe_platform::Secret;
use redis::aio::ConnectionManager;
use sha2::Sha256;

use super::client_ip::limit_key;
use super::rate::{Keys, LimitName, Rate, Refusal};

/// KEYS: one per limit. ARGV: interval and period (ms) of each. Returns {0, 0} when
/// allowed (every state moved on), or {i, ms} when limit i refuses (nothing changed).
const CHECK: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local new = {}
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * i - 1])
  local period = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', key)) or now
  if tat < now then tat = now end
  local allow_at = tat + interval - period
  if now < allow_at then return {i, allow_at - now} end
  new[i] = tat + interval
end
for i, key in ipairs(KEYS) do
  redis.call('SET', key, new[i], 'PX', new[i] - now)
end
return {0, 0}
";

/// KEYS: one per limit. ARGV: the interval (ms) of each. Moves each state back by one
/// interval.
const REFUND: &str = r"
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[i])
  local tat = tonumber(redis.call('GET', key))
  local ttl = redis.call('PTTL', key)
  if tat and ttl > interval then
    redis.call('SET', key, tat - interval, 'PX', ttl - interval)
  elseif tat then
    redis.call('DEL', key)
  end
end
return 0
";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not connected to Redis yet")]
    NotConnected,
    #[error("Redis did not answer within {0:?}")]
    Timeout(Duration),
    #[error("Redis: {0}")]
    Redis(#[from] redis::RedisError),
}

pub struct RedisStore {
    connection: Arc<OnceLock<ConnectionManager>>,
    timeout: Duration,
    secret: Secret,
    check: redis::Script,
    refund: redis::Script,
}

impl RedisStore {
    /// Connects in the background (retrying every second until Redis answers), so a
    /// gateway starts and serves with its local limits while Redis is away.
    pub fn connect(url: &str, secret: Secret, timeout: Duration) -> Result<Self, StoreError> {
        let client = redis::Client::open(url)?;
        let connection = Arc::new(OnceLock::new());
        let slot = connection.clone();
        tokio::spawn(async move {
            loop {
                match ConnectionManager::new(client.clone()).await {
                    Ok(manager) => {
                        let _ = slot.set(manager);
                        tracing::info!("connected to Redis: rate limits are shared");
                        return;
                    }
                    Err(error) => {
                        tracing::warn!(%error, "cannot connect to Redis yet; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        });
        Ok(Self {
            connection,
            timeout,
            secret,
            check: redis::Script::new(CHECK),
            refund: redis::Script::new(REFUND),
        })
    }

    /// `None` when allowed, the refusal when a limit refuses.
    pub async fn check(
        &self,
        rates: &[(LimitName, Rate)],
        keys: &Keys<'_>,
    ) -> Result<Option<Refusal>, StoreError> {
        let mut invocation = self.check.prepare_invoke();
        for (name, rate) in rates {
            invocation
                .key(self.key(*name, keys))
                .arg(rate.interval_ms())
                .arg(rate.period_ms());
        }
        let mut connection = self.connection()?;
        let answer: (usize, u64) = self
            .bounded(invocation.invoke_async(&mut connection))
            .await?;
        Ok(match answer {
            (0, _) => None,
            (index, retry_after_ms) => rates.get(index - 1).map(|(limit, rate)| Refusal {
                limit: *limit,
                rate: *rate,
                retry_after_ms,
            }),
        })
    }

    pub async fn refund(
        &self,
        rates: &[(LimitName, Rate)],
        keys: &Keys<'_>,
    ) -> Result<(), StoreError> {
        let mut invocation = self.refund.prepare_invoke();
        for (name, rate) in rates {
            invocation
                .key(self.key(*name, keys))
                .arg(rate.interval_ms());
        }
        let mut connection = self.connection()?;
        let _: i64 = self
            .bounded(invocation.invoke_async(&mut connection))
            .await?;
        Ok(())
    }

    fn connection(&self) -> Result<ConnectionManager, StoreError> {
        self.connection
            .get()
            .cloned()
            .ok_or(StoreError::NotConnected)
    }

    async fn bounded<T>(
        &self,
        call: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, StoreError> {
        tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| StoreError::Timeout(self.timeout))?
            .map_err(StoreError::from)
    }

    /// `leadpipe:rl:<limit>:<32 hex digits of HMAC-SHA-256(secret, key)>`.
    fn key(&self, name: LimitName, keys: &Keys<'_>) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.secret.expose().as_bytes())
            .expect("HMAC takes a key of any length");
        mac.update(name.as_str().as_bytes());
        mac.update(b"\0");
        match name {
            LimitName::Ip => mac.update(&limit_key(keys.ip)),
            LimitName::Email => mac.update(keys.email.trim().to_lowercase().as_bytes()),
            LimitName::Phone => mac.update(keys.phone_e164.as_bytes()),
        }
        let digest = mac.finalize().into_bytes();
        let mut key = String::with_capacity(48);
        key.push_str("leadpipe:rl:");
        key.push_str(name.as_str());
        key.push(':');
        for byte in &digest[..16] {
            let _ = write!(key, "{byte:02x}");
        }
        key
    }
}
