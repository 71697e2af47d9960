//! Erasure that survives a replay: `leadpipe-consumer erase --email …|--phone …`.
//!
//! A person's leads are not only rows: the `leads` topic (and maybe the dead-letter
//! topic) still holds their messages, and a replay — a reset or new consumer group, a
//! dead letter replayed, a message in flight at the moment of the delete — would store
//! them again. So an erasure, in one transaction, deletes the person's rows and records
//! a keyed hash of what identifies them (HMAC-SHA256 with `LEADPIPE_ERASURE_KEY_FILE` of
//! `email:<lower-cased email>` or `phone:<E.164>`; never the value) in `erasures`, plus
//! an audit row with the time and the number of rows removed. The consumer's insert
//! skips every lead whose email or phone hash is recorded, in the statement that inserts
//! (see `store`), and the two take one advisory lock — the insert shared, the erasure
//! exclusive — so there is no window between the check and the insert.
//!
//! The key's fingerprint is recorded by the first erasure: an erasure or a consumer with
//! another key, or none, is refused with a clear error instead of silently matching
//! nobody.

use hmac::{Hmac, Mac};
use leadpipe_domain::field::{CallingCode, EmailAddress, PhoneNumber};
use leadpipe_platform::{ClientRole, KafkaConfig, Secret};
use sha2::Sha256;
use sqlx::PgPool;

/// The advisory lock an erasure holds exclusively and every batch insert shares.
pub const ERASURE_LOCK: i64 = 0x6c65_6164_7069_7065; // "leadpipe"

/// The shortest key accepted, in bytes.
const MIN_KEY_BYTES: usize = 16;

/// The key of the erasure hashes.
#[derive(Clone)]
pub struct ErasureKey {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for ErasureKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ErasureKey(***)")
    }
}

/// Why an erasure could not be done, or why the consumer refuses to insert.
#[derive(Debug, thiserror::Error)]
pub enum ErasureError {
    #[error(
        "LEADPIPE_ERASURE_KEY_FILE (or LEADPIPE_ERASURE_KEY) is not set: an erasure needs the key"
    )]
    MissingKey,
    #[error("the erasure key must be at least {MIN_KEY_BYTES} bytes")]
    ShortKey,
    #[error(
        "the erasure key is not the one earlier erasures were recorded with (its fingerprint differs): \
         use that key, or erased people would be stored again"
    )]
    WrongKey,
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: &'static str,
    },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl ErasureKey {
    pub fn new(secret: &Secret) -> Result<Self, ErasureError> {
        let key = secret.expose().as_bytes();
        if key.len() < MIN_KEY_BYTES {
            return Err(ErasureError::ShortKey);
        }
        Ok(Self {
            mac: Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length"),
        })
    }

    fn hash(&self, kind: &str, value: &str) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(kind.as_bytes());
        mac.update(b":");
        mac.update(value.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The hash of an email address, whatever its case.
    pub fn email_hash(&self, email: &EmailAddress) -> [u8; 32] {
        self.hash("email", &email.as_str().to_lowercase())
    }

    /// The hash of a phone number, in E.164.
    pub fn phone_hash(&self, phone: &PhoneNumber) -> [u8; 32] {
        self.hash("phone", phone.e164())
    }

    /// What `erasure_key` records of the key: the hash of a fixed text.
    pub fn fingerprint(&self) -> [u8; 32] {
        self.hash("fingerprint", "leadpipe erasure key")
    }
}

/// Who is erased: everything stored under one email address or one phone number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Person {
    Email(EmailAddress),
    Phone(PhoneNumber),
}

impl Person {
    pub fn email(raw: &str) -> Result<Self, ErasureError> {
        EmailAddress::parse(raw)
            .map(Self::Email)
            .map_err(|e| ErasureError::Invalid {
                field: "--email",
                message: e.message,
            })
    }

    /// A phone number in a form the API accepts: a national number with its calling code
    /// (`--country-code +82 --phone 010-1234-5678`), or international with a plus
    /// (`+82 10-1234-5678`, `+821012345678`).
    pub fn phone(country_code: Option<&str>, raw: &str) -> Result<Self, ErasureError> {
        let invalid = |message| ErasureError::Invalid {
            field: "--phone",
            message,
        };
        let parsed = match country_code {
            Some(code) => {
                let code = CallingCode::parse(code).map_err(|e| ErasureError::Invalid {
                    field: "--country-code",
                    message: e.message,
                })?;
                PhoneNumber::parse(code, raw).map_err(|e| invalid(e.message))?
            }
            None => {
                let rest = raw.trim().strip_prefix('+').ok_or(invalid(
                    "give --country-code, or the number in international form with a leading +",
                ))?;
                let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
                (1..=3.min(digits.len()))
                    .find_map(|len| {
                        let code = CallingCode::parse(&digits[..len]).ok()?;
                        PhoneNumber::parse(code, &digits[len..]).ok()
                    })
                    .ok_or(invalid("is not a valid international phone number"))?
            }
        };
        Ok(Self::Phone(parsed))
    }

    fn hash(&self, key: &ErasureKey) -> [u8; 32] {
        match self {
            Self::Email(email) => key.email_hash(email),
            Self::Phone(phone) => key.phone_hash(phone),
        }
    }
}

/// Checks `key` against the recorded fingerprint (in a transaction that holds the
/// erasure lock); records it when there is none yet and `record` is set.
async fn check_fingerprint(
    tx: &mut sqlx::PgConnection,
    key: &ErasureKey,
    record: bool,
) -> Result<(), ErasureError> {
    let stored: Option<Vec<u8>> = sqlx::query_scalar("SELECT fingerprint FROM erasure_key")
        .fetch_optional(&mut *tx)
        .await?;
    match stored {
        Some(stored) if stored != key.fingerprint() => Err(ErasureError::WrongKey),
        Some(_) => Ok(()),
        None if record => {
            sqlx::query("INSERT INTO erasure_key (fingerprint) VALUES ($1)")
                .bind(key.fingerprint().to_vec())
                .execute(&mut *tx)
                .await?;
            Ok(())
        }
        None => Ok(()),
    }
}

/// Erases `person`: deletes their rows and records their hash, in one transaction.
/// Returns the number of rows removed.
pub async fn erase(pool: &PgPool, key: &ErasureKey, person: &Person) -> Result<u64, ErasureError> {
    let mut tx = pool.begin().await?;
    // Waits for the batch inserts in flight, and holds back new ones until this commits.
    sqlx::query("SELECT pg_advisory_xact_lock($1)::text")
        .bind(ERASURE_LOCK)
        .execute(&mut *tx)
        .await?;
    check_fingerprint(&mut tx, key, true).await?;
    sqlx::query("INSERT INTO erasures (hash) VALUES ($1) ON CONFLICT (hash) DO NOTHING")
        .bind(person.hash(key).to_vec())
        .execute(&mut *tx)
        .await?;
    let deleted = match person {
        Person::Email(email) => {
            sqlx::query("DELETE FROM leads WHERE lower(email) = lower($1)").bind(email.as_str())
        }
        Person::Phone(phone) => {
            sqlx::query("DELETE FROM leads WHERE phone_e164 = $1").bind(phone.e164())
        }
    }
    .execute(&mut *tx)
    .await?
    .rows_affected();
    sqlx::query("INSERT INTO erasure_log (rows_removed) VALUES ($1)")
        .bind(i32::try_from(deleted).unwrap_or(i32::MAX))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(deleted)
}

/// Whether leads belong to erased people, for the dead-letter replay: the key is checked
/// against the recorded fingerprint once, at the first lead, then each lead costs one
/// lookup.
pub struct ErasureCheck<'a> {
    pool: &'a PgPool,
    key: Option<&'a ErasureKey>,
    verified: bool,
}

impl<'a> ErasureCheck<'a> {
    pub fn new(pool: &'a PgPool, key: Option<&'a ErasureKey>) -> Self {
        Self {
            pool,
            key,
            verified: false,
        }
    }

    pub async fn erased(&mut self, lead: &leadpipe_domain::Lead) -> Result<bool, ErasureError> {
        let mut conn = self.pool.acquire().await?;
        if !self.verified {
            match self.key {
                Some(key) => check_fingerprint(&mut conn, key, false).await?,
                None => {
                    let recorded: bool =
                        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM erasure_key)")
                            .fetch_one(&mut *conn)
                            .await?;
                    if recorded {
                        return Err(ErasureError::MissingKey);
                    }
                }
            }
            self.verified = true;
        }
        // Without a key nothing was ever erased (checked above).
        let Some(key) = self.key else {
            return Ok(false);
        };
        let hashes = vec![
            key.email_hash(&lead.email).to_vec(),
            key.phone_hash(&lead.phone).to_vec(),
        ];
        Ok(
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM erasures WHERE hash = ANY($1))")
                .bind(hashes)
                .fetch_one(&mut *conn)
                .await?,
        )
    }
}

/// What an operator reads after an erasure about the copies still in Kafka: each topic's
/// retention as the broker reports it, or that it could not be read.
pub async fn kafka_retention(kafka: &KafkaConfig, topics: &[&str]) -> String {
    let retention = describe_retention(kafka, topics).await;
    let named = match retention {
        Ok(found) => found
            .iter()
            .map(|(topic, ms)| match ms {
                Some(ms) => format!("{topic}: {}", retention_text(*ms)),
                None => format!("{topic}: the broker's default"),
            })
            .collect::<Vec<_>>()
            .join(", "),
        Err(error) => {
            return format!(
                "copies in Kafka ({}) expire with the topics' retention, which could not be read \
                 from the broker: {error}",
                topics.join(", ")
            )
        }
    };
    format!("copies in Kafka expire with the topics' retention ({named}); until then no replay stores them")
}

fn retention_text(ms: i64) -> String {
    match ms {
        ms if ms < 0 => "unlimited (they never expire: delete them by hand)".to_owned(),
        ms if ms % 86_400_000 == 0 => format!("{} days", ms / 86_400_000),
        ms if ms % 3_600_000 == 0 => format!("{} hours", ms / 3_600_000),
        ms => format!("{ms} ms"),
    }
}

async fn describe_retention(
    kafka: &KafkaConfig,
    topics: &[&str],
) -> Result<Vec<(String, Option<i64>)>, String> {
    use rdkafka::admin::{AdminClient, AdminOptions, ResourceSpecifier};
    use rdkafka::client::DefaultClientContext;
    let admin: AdminClient<DefaultClientContext> = kafka
        .client(ClientRole::Admin, "leadpipe-erase")
        .create()
        .map_err(|e| e.to_string())?;
    let options = AdminOptions::new().request_timeout(Some(std::time::Duration::from_secs(5)));
    let specifiers: Vec<ResourceSpecifier<'_>> =
        topics.iter().map(|t| ResourceSpecifier::Topic(t)).collect();
    let results = admin
        .describe_configs(&specifiers, &options)
        .await
        .map_err(|e| e.to_string())?;
    topics
        .iter()
        .zip(results)
        .map(|(topic, result)| {
            let resource = result.map_err(|code| format!("{topic}: {code}"))?;
            let ms = resource
                .get("retention.ms")
                .and_then(|entry| entry.value.as_deref())
                .and_then(|v| v.parse::<i64>().ok());
            Ok(((*topic).to_owned(), ms))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> ErasureKey {
        ErasureKey::new(&Secret::new(text)).unwrap()
    }

    #[test]
    fn every_form_of_one_number_is_one_person() {
        let national = Person::phone(Some("+82"), "010-1234-5678").unwrap();
        for other in [
            Person::phone(Some("82"), "01012345678").unwrap(),
            Person::phone(None, "+82 10-1234-5678").unwrap(),
            Person::phone(None, "+821012345678").unwrap(),
        ] {
            assert_eq!(other, national);
        }
        let k = key("an erasure key of the test.....");
        assert_eq!(
            national.hash(&k),
            Person::phone(None, "+82 10 1234 5678").unwrap().hash(&k)
        );
        assert!(Person::phone(None, "010-1234-5678").is_err());
        assert!(Person::phone(Some("+82"), "12").is_err());
    }

    #[test]
    fn an_email_is_one_person_whatever_its_case_and_hashes_differ_by_key_and_kind() {
        let a = key("an erasure key of the test.....");
        let b = key("another erasure key, long enough");
        let lower = Person::email("gildong@example.com").unwrap();
        let upper = Person::email(" GilDong@Example.com ").unwrap();
        assert_eq!(lower.hash(&a), upper.hash(&a));
        assert_ne!(lower.hash(&a), lower.hash(&b));
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert!(ErasureKey::new(&Secret::new("short")).is_err());
        assert!(!format!("{a:?}").contains("erasure key"));
    }

    #[test]
    fn a_retention_reads_as_people_count_it() {
        assert_eq!(retention_text(604_800_000), "7 days");
        assert_eq!(retention_text(7_200_000), "2 hours");
        assert_eq!(retention_text(1500), "1500 ms");
        assert!(retention_text(-1).starts_with("unlimited"));
    }
}
