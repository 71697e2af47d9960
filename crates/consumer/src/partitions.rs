//! The monthly partitions of `leads` (migration 0007): created ahead of time, so that an
//! insert never lands in the default partition for want of its month, and the default
//! partition watched.
//!
//! The SQL function `create_lead_partitions(since, until)` does the work (one home for
//! it: the migration, this module and the analyst benchmark call it). The consumer calls
//! it at start and every hour (see `monitor`) for this month and the next
//! [`MONTHS_AHEAD`]; `leadpipe-consumer migrate` too. Creating a partition locks `leads`
//! for a moment: a lock timeout keeps it from queueing in front of the inserts behind a
//! long query, and the next hour tries again (three months ahead leave time).

use sqlx::PgPool;

/// Months after the current one that always have their partition.
pub const MONTHS_AHEAD: i32 = 3;

/// The partition that catches rows of a month without its own.
pub const DEFAULT_PARTITION: &str = "leads_default";

const CREATE_AHEAD: &str =
    "SELECT create_lead_partitions(now(), now() + make_interval(months => $1))";

/// Creates the missing partitions of this month and the next [`MONTHS_AHEAD`] (moving
/// any of their rows out of the default partition); returns the names created.
pub async fn create_ahead(pool: &PgPool) -> Result<Vec<String>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET LOCAL lock_timeout = '5s'")
        .execute(&mut *tx)
        .await?;
    let created: Vec<String> = sqlx::query_scalar(CREATE_AHEAD)
        .bind(MONTHS_AHEAD)
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(created)
}

/// Rows in the default partition: 0 unless a lead's month had no partition (a clock far
/// off, partitions not created, a replay of leads older than retention).
pub async fn default_rows(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(&format!("SELECT count(*) FROM {DEFAULT_PARTITION}"))
        .fetch_one(pool)
        .await
}

/// One partition of `leads` and its bounds (`None`: unbounded on that side, or the
/// default partition, which has neither).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    pub name: String,
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    pub to: Option<chrono::DateTime<chrono::Utc>>,
}

impl Partition {
    pub fn is_default(&self) -> bool {
        self.name == DEFAULT_PARTITION
    }

    /// The name quoted as an SQL identifier.
    pub fn ident(&self) -> String {
        format!("\"{}\"", self.name.replace('"', "\"\""))
    }
}

/// The bounds come from PostgreSQL's own text of them (`FOR VALUES FROM ('…') TO
/// ('…')`); `MINVALUE`/`MAXVALUE` and `DEFAULT` have none.
const LIST: &str = r#"
SELECT c.relname::text,
       (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \(''([^'']+)''\)'))[1]::timestamptz,
       (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''([^'']+)''\)'))[1]::timestamptz
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'leads'::regclass
ORDER BY 3 NULLS LAST, 1
"#;

/// Every partition of `leads`, oldest first, the default one last.
pub async fn list(pool: &PgPool) -> Result<Vec<Partition>, sqlx::Error> {
    let rows: Vec<(String, Option<_>, Option<_>)> = sqlx::query_as(LIST).fetch_all(pool).await?;
    Ok(rows
        .into_iter()
        .map(|(name, from, to)| Partition { name, from, to })
        .collect())
}
