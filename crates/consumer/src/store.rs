//! The repository: where a decoded lead becomes a row of the `leads` table.
//!
//! A batch is one statement, `INSERT … SELECT * FROM UNNEST($1::smallint[],
//! $2::uuid[], …)`, which PostgreSQL runs as one transaction: the whole batch is stored
//! or none of it. The statement has one array parameter per column whatever the batch
//! size, so it stays prepared and never meets the 65,535-bind limit. (A COPY into a
//! staging table followed by the same insert was measured slower at these batch sizes;
//! see `benches/drain.rs`.)
//!
//! Inserting is idempotent: a lead id already stored, or repeated within the batch,
//! inserts nothing, so replaying a batch after a crash or a rebalance is harmless. The
//! statement claims each id in the unpartitioned `lead_ids` table (`ON CONFLICT (id) DO
//! NOTHING`) and inserts into the partitioned `leads` only the leads it claimed: a client
//! retry with the same `Idempotency-Key` has the same id but a later `received_at`, which
//! the key of `leads` (it must hold the partition key) could not tell apart. A lead of an
//! erased person (see `erasure`) is not inserted either, checked in the same statement.

use std::path::Path;
use std::time::Duration;

use leadpipe_domain::{AcceptedLead, LeadMessage};

use crate::erasure::{ErasureKey, ERASURE_LOCK};
use leadpipe_platform::Secret;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Row};

/// The schema, embedded from the repository's `migrations/` folder.
pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("invalid database URL: {0}")]
    Url(#[source] sqlx::Error),
    #[error("database password: {0}")]
    PasswordFile(#[from] leadpipe_platform::secret::SecretFileError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("applying migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Storing now could store an erased person again: nothing is stored until fixed.
    #[error(
        "erasures were recorded with an erasure key this consumer does not have \
         (LEADPIPE_ERASURE_KEY_FILE missing or different): nothing is stored until it has it"
    )]
    ErasureKey,
}

/// What a batch insert did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InsertOutcome {
    /// New rows.
    pub inserted: u64,
    /// Leads not inserted: repeated within the batch or already in the table.
    pub duplicates: u64,
    /// Leads not inserted because their email or phone was erased.
    pub erased: u64,
    /// The ids of the new rows.
    pub inserted_ids: Vec<uuid::Uuid>,
}

/// The columns are the fields of the wire message ([`LeadMessage`]), in its order; a test
/// below holds the two sets equal, so a field added to the message is a column here too.
/// The last two arrays are not columns: the erasure hashes of each lead's email and phone
/// (NULL without an erasure key). A lead whose hash is in `erasures` is not inserted, and
/// nothing is when the recorded erasure key is not the consumer's (`$21`). Each returned
/// row says what became of one lead: `inserted`, `erased`, or a lone `key_mismatch`.
const INSERT_BATCH: &str = r#"
WITH batch AS (
    SELECT * FROM UNNEST(
        $1::smallint[], $2::uuid[], $3::timestamptz[], $4::timestamptz[], $5::text[],
        $6::text[], $7::text[], $8::text[], $9::text[], $10::boolean[], $11::text[],
        $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[],
        $18::text[], $19::bytea[], $20::bytea[]
    ) AS b(
        schema_version, id, received_at, consented_at, campaign, name, email, country_code,
        phone_e164, privacy_consent, consent_text_version, client_ip_hash, utm_source,
        utm_medium, utm_campaign, utm_term, utm_content, page_url, email_hash, phone_hash
    )
), key_mismatch AS (
    SELECT 1 FROM erasure_key WHERE fingerprint IS DISTINCT FROM $21::bytea
), erased AS (
    -- Hashed subplans: the erased hashes are read once per statement, not per lead.
    SELECT id FROM batch
    WHERE email_hash IN (SELECT hash FROM erasures) OR phone_hash IN (SELECT hash FROM erasures)
), claimed AS (
    -- An id is stored once across the partitions of `leads`: claimed here first.
    INSERT INTO lead_ids (id, received_at)
    SELECT id, received_at FROM batch
    WHERE id NOT IN (SELECT id FROM erased) AND NOT EXISTS (SELECT 1 FROM key_mismatch)
    ON CONFLICT (id) DO NOTHING
    RETURNING id
), inserted AS (
    INSERT INTO leads (
        schema_version, id, received_at, consented_at, campaign, name, email, country_code,
        phone_e164, privacy_consent, consent_text_version, client_ip_hash, utm_source,
        utm_medium, utm_campaign, utm_term, utm_content, page_url
    )
    SELECT
        schema_version, id, received_at, consented_at, campaign, name, email, country_code,
        phone_e164, privacy_consent, consent_text_version, client_ip_hash, utm_source,
        utm_medium, utm_campaign, utm_term, utm_content, page_url
    FROM batch
    WHERE id IN (SELECT id FROM claimed)
    ON CONFLICT DO NOTHING
    RETURNING id
)
SELECT id, 'inserted' AS outcome FROM inserted
UNION ALL SELECT id, 'erased' FROM erased WHERE NOT EXISTS (SELECT 1 FROM key_mismatch)
UNION ALL SELECT NULL::uuid, 'key_mismatch' FROM key_mismatch
"#;

/// Shares the erasure lock for the transaction, so that an erasure waits for the batch
/// and the batch's insert sees an erasure committed before it.
const SHARE_ERASURE_LOCK: &str = "SELECT pg_advisory_xact_lock_shared($1)::text";

const DELETE_OLD_CANARIES: &str =
    "DELETE FROM leads WHERE campaign = $1 AND received_at < now() - make_interval(secs => $2)";

#[derive(Clone)]
pub struct LeadStore {
    pool: PgPool,
    erasure_key: Option<ErasureKey>,
}

impl LeadStore {
    /// A pool that connects on first use, so the consumer starts (and reports not-ready)
    /// while the database is down. `sslmode` and `sslrootcert` in the URL choose TLS and
    /// the CA; a password file (a mounted secret) wins over a password in the URL.
    pub fn connect_lazy(
        database_url: &str,
        password_file: Option<&Path>,
        pool_size: u32,
    ) -> Result<Self, StoreError> {
        let mut options: PgConnectOptions = database_url.parse().map_err(StoreError::Url)?;
        if let Some(path) = password_file {
            options = options.password(Secret::from_file(path)?.expose());
        }
        let pool = PgPoolOptions::new()
            .max_connections(pool_size.max(1))
            .acquire_timeout(Duration::from_secs(5))
            .connect_lazy_with(options.application_name("leadpipe-consumer"));
        Ok(Self {
            pool,
            erasure_key: None,
        })
    }

    pub fn from_pool(pool: PgPool) -> Self {
        Self {
            pool,
            erasure_key: None,
        }
    }

    /// The same store, checking erasures with `key` (see `erasure`).
    #[must_use]
    pub fn with_erasure_key(mut self, key: Option<ErasureKey>) -> Self {
        self.erasure_key = key;
        self
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Applies the pending migrations (each in its own transaction; already-applied ones
    /// are checked against their checksum and skipped).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    /// Whether the database answers a trivial query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Inserts the leads not stored yet and not erased, in one statement, in a
    /// transaction that shares the erasure lock.
    pub async fn insert_batch(&self, leads: &[AcceptedLead]) -> Result<InsertOutcome, StoreError> {
        if leads.is_empty() {
            return Ok(InsertOutcome::default());
        }
        let unique = unique_by_id(leads);
        let (email_hashes, phone_hashes): (Vec<Hash>, Vec<Hash>) = unique
            .iter()
            .map(|accepted| match &self.erasure_key {
                Some(key) => (
                    Some(key.email_hash(&accepted.lead.email).to_vec()),
                    Some(key.phone_hash(&accepted.lead.phone).to_vec()),
                ),
                None => (None, None),
            })
            .unzip();
        let messages: Vec<LeadMessage<'_>> = unique.into_iter().map(LeadMessage::from).collect();
        let columns = Columns::from_messages(&messages);
        let mut tx = self.pool.begin().await?;
        sqlx::query(SHARE_ERASURE_LOCK)
            .bind(ERASURE_LOCK)
            .execute(&mut *tx)
            .await?;
        let result = sqlx::query(INSERT_BATCH)
            .bind(columns.schema_version)
            .bind(columns.id)
            .bind(columns.received_at)
            .bind(columns.consented_at)
            .bind(columns.campaign)
            .bind(columns.name)
            .bind(columns.email)
            .bind(columns.country_code)
            .bind(columns.phone_e164)
            .bind(columns.privacy_consent)
            .bind(columns.consent_text_version)
            .bind(columns.client_ip_hash)
            .bind(columns.utm_source)
            .bind(columns.utm_medium)
            .bind(columns.utm_campaign)
            .bind(columns.utm_term)
            .bind(columns.utm_content)
            .bind(columns.page_url)
            .bind(email_hashes)
            .bind(phone_hashes)
            .bind(self.erasure_key.as_ref().map(|k| k.fingerprint().to_vec()))
            .fetch_all(&mut *tx)
            .await?;
        let mut outcome = InsertOutcome::default();
        for row in &result {
            match row.try_get::<&str, _>(1)? {
                "inserted" => outcome.inserted_ids.push(row.try_get(0)?),
                "erased" => outcome.erased += 1,
                _ => return Err(StoreError::ErasureKey),
            }
        }
        tx.commit().await?;
        outcome.inserted = outcome.inserted_ids.len() as u64;
        outcome.duplicates = leads.len() as u64 - outcome.inserted - outcome.erased;
        Ok(outcome)
    }

    /// Deletes canary leads older than `age`; returns how many.
    pub async fn delete_old_canaries(&self, age: Duration) -> Result<u64, StoreError> {
        let result = sqlx::query(DELETE_OLD_CANARIES)
            .bind(leadpipe_domain::CANARY_CAMPAIGN)
            .bind(age.as_secs_f64())
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected())
    }
}

/// The leads with duplicate ids removed (the first one kept), sorted by id. Sorting makes
/// concurrent batches take row locks in the same order, so two consumers replaying
/// overlapping batches during a rebalance wait for each other instead of deadlocking;
/// UUIDv7 ids in order are also kind to the primary-key index.
pub fn unique_by_id(leads: &[AcceptedLead]) -> Vec<&AcceptedLead> {
    let mut unique: Vec<&AcceptedLead> = leads.iter().collect();
    // A stable sort keeps the first of equal ids in front; dedup keeps the first of a run.
    unique.sort_by_key(|lead| lead.id);
    unique.dedup_by_key(|lead| lead.id);
    unique
}

/// An erasure hash of one lead, or NULL without an erasure key.
type Hash = Option<Vec<u8>>;

/// One array per column, in the message's field order, borrowing from the messages.
struct Columns<'a> {
    schema_version: Vec<i16>,
    id: Vec<uuid::Uuid>,
    received_at: Vec<chrono::DateTime<chrono::Utc>>,
    consented_at: Vec<Option<chrono::DateTime<chrono::Utc>>>,
    campaign: Vec<&'a str>,
    name: Vec<&'a str>,
    email: Vec<&'a str>,
    country_code: Vec<&'a str>,
    phone_e164: Vec<&'a str>,
    privacy_consent: Vec<bool>,
    consent_text_version: Vec<Option<&'a str>>,
    client_ip_hash: Vec<Option<&'a str>>,
    utm_source: Vec<Option<&'a str>>,
    utm_medium: Vec<Option<&'a str>>,
    utm_campaign: Vec<Option<&'a str>>,
    utm_term: Vec<Option<&'a str>>,
    utm_content: Vec<Option<&'a str>>,
    page_url: Vec<Option<&'a str>>,
}

impl<'a> Columns<'a> {
    fn from_messages(messages: &'a [LeadMessage<'a>]) -> Self {
        fn column<'a, T>(
            messages: &'a [LeadMessage<'a>],
            f: impl Fn(&'a LeadMessage<'a>) -> T,
        ) -> Vec<T> {
            messages.iter().map(f).collect()
        }
        let text = |m: &'a Option<std::borrow::Cow<'a, str>>| m.as_deref();
        Columns {
            // Versions are small numbers (the decoder reads only the known ones).
            schema_version: column(messages, |m| {
                i16::try_from(m.schema_version).unwrap_or(i16::MAX)
            }),
            id: column(messages, |m| m.id.as_uuid()),
            received_at: column(messages, |m| m.received_at),
            consented_at: column(messages, |m| m.consented_at),
            campaign: column(messages, |m| &*m.campaign),
            name: column(messages, |m| &*m.name),
            email: column(messages, |m| &*m.email),
            country_code: column(messages, |m| &*m.country_code),
            phone_e164: column(messages, |m| &*m.phone_e164),
            privacy_consent: column(messages, |m| m.privacy_consent),
            consent_text_version: column(messages, |m| text(&m.consent_text_version)),
            client_ip_hash: column(messages, |m| m.client_ip_hash.as_deref()),
            utm_source: column(messages, |m| text(&m.utm_source)),
            utm_medium: column(messages, |m| text(&m.utm_medium)),
            utm_campaign: column(messages, |m| text(&m.utm_campaign)),
            utm_term: column(messages, |m| text(&m.utm_term)),
            utm_content: column(messages, |m| text(&m.utm_content)),
            page_url: column(messages, |m| text(&m.page_url)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The column list of [`INSERT_BATCH`], in order.
    fn inserted_columns() -> Vec<String> {
        let list = INSERT_BATCH
            .split_once("INSERT INTO leads (")
            .and_then(|(_, rest)| rest.split_once(')'))
            .expect("an INSERT with a column list")
            .0;
        list.split(',').map(|c| c.trim().to_owned()).collect()
    }

    #[test]
    fn the_insert_writes_every_field_of_the_message() {
        let mut message = leadpipe_testkit::leads::lead_message(1);
        for optional in [
            &mut message.utm_medium,
            &mut message.utm_term,
            &mut message.utm_content,
            &mut message.consent_text_version,
        ] {
            *optional = Some("set".into());
        }
        message.client_ip_hash = Some("0".repeat(64));
        let json: serde_json::Value = serde_json::from_slice(&message.to_json()).unwrap();
        // serde_json's map is sorted by key: compare the two lists sorted.
        let fields: Vec<String> = json.as_object().unwrap().keys().cloned().collect();
        let mut columns = inserted_columns();
        columns.sort();
        assert_eq!(columns, fields);
    }
}
