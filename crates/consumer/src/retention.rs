//! `leadpipe-consumer retention --older-than 400d`: leads received before the cutoff
//! removed the cheap way. A partition that ends at or before the cutoff is detached and
//! dropped whole (no row-by-row delete, no bloat, no vacuum debt); the one that straddles
//! the cutoff, and the default partition, lose their older rows in batches of
//! [`DELETE_BATCH`], each its own short transaction; then the ids of `lead_ids` older
//! than the cutoff go the same way.
//!
//! Pruning `lead_ids` ends the duplicate check for those ids: a message older than the
//! cutoff replayed afterwards would be stored again (in the default partition, which the
//! alert watches). The topics' retention is therefore far shorter than this one
//! (docs/schema.md).

use std::fmt;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::partitions::{self, Partition};

/// Rows deleted per transaction from a partition that straddles the cutoff.
pub const DELETE_BATCH: i64 = 10_000;

/// What retention removed (or, with `dry_run`, would remove).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    pub cutoff: DateTime<Utc>,
    pub dry_run: bool,
    /// Partitions dropped whole, with their rows.
    pub dropped: Vec<(String, i64)>,
    /// Rows deleted from partitions that straddle the cutoff (or the default one).
    pub trimmed: Vec<(String, i64)>,
    /// Ids pruned from `lead_ids`.
    pub ids: i64,
}

impl Removed {
    pub fn rows(&self) -> i64 {
        self.dropped
            .iter()
            .chain(&self.trimmed)
            .map(|(_, n)| n)
            .sum()
    }
}

impl fmt::Display for Removed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (drop, delete) = if self.dry_run {
            ("would drop", "would delete")
        } else {
            ("dropped", "deleted")
        };
        writeln!(f, "leads received before {}:", self.cutoff.to_rfc3339())?;
        for (name, rows) in &self.dropped {
            writeln!(f, "  {drop} partition {name} ({rows} rows)")?;
        }
        for (name, rows) in &self.trimmed {
            writeln!(f, "  {delete} {rows} rows from {name}")?;
        }
        write!(
            f,
            "  {delete} {} lead ids from lead_ids; {} leads in all",
            self.ids,
            self.rows()
        )
    }
}

/// Removes the leads received before `cutoff` (see the module's text).
pub async fn apply(
    pool: &PgPool,
    cutoff: DateTime<Utc>,
    dry_run: bool,
) -> Result<Removed, sqlx::Error> {
    let mut removed = Removed {
        cutoff,
        dry_run,
        dropped: Vec::new(),
        trimmed: Vec::new(),
        ids: 0,
    };
    for partition in partitions::list(pool).await? {
        if partition.to.is_some_and(|to| to <= cutoff) && !partition.is_default() {
            let rows = count_before(pool, &partition.ident(), None).await?;
            if !dry_run {
                drop_partition(pool, &partition).await?;
            }
            removed.dropped.push((partition.name, rows));
        } else if partition.from.is_none_or(|from| from < cutoff) {
            let rows = if dry_run {
                count_before(pool, &partition.ident(), Some(cutoff)).await?
            } else {
                delete_before(pool, &partition.ident(), cutoff).await?
            };
            if rows > 0 {
                removed.trimmed.push((partition.name, rows));
            }
        }
    }
    removed.ids = if dry_run {
        count_before(pool, "lead_ids", Some(cutoff)).await?
    } else {
        delete_before(pool, "lead_ids", cutoff).await?
    };
    Ok(removed)
}

/// Rows of `table` (a partition or `lead_ids`), or those received before `cutoff`.
async fn count_before(
    pool: &PgPool,
    table: &str,
    cutoff: Option<DateTime<Utc>>,
) -> Result<i64, sqlx::Error> {
    let sql =
        format!("SELECT count(*) FROM {table} WHERE $1::timestamptz IS NULL OR received_at < $1");
    sqlx::query_scalar(&sql).bind(cutoff).fetch_one(pool).await
}

/// Detaches and drops one partition, in a transaction that gives up rather than wait
/// long for its lock on `leads` (the inserts would queue behind it).
async fn drop_partition(pool: &PgPool, partition: &Partition) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET LOCAL lock_timeout = '10s'")
        .execute(&mut *tx)
        .await?;
    sqlx::query(&format!(
        "ALTER TABLE leads DETACH PARTITION {}",
        partition.ident()
    ))
    .execute(&mut *tx)
    .await?;
    sqlx::query(&format!("DROP TABLE {}", partition.ident()))
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// Deletes the rows of `table` (a partition or `lead_ids`) received before `cutoff`, a
/// batch per transaction; returns how many.
async fn delete_before(
    pool: &PgPool,
    table: &str,
    cutoff: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    let sql = format!(
        "DELETE FROM {table} WHERE ctid = ANY(ARRAY(
             SELECT ctid FROM {table} WHERE received_at < $1 LIMIT $2))"
    );
    let mut total = 0;
    loop {
        let deleted = sqlx::query(&sql)
            .bind(cutoff)
            .bind(DELETE_BATCH)
            .execute(pool)
            .await?
            .rows_affected();
        total += i64::try_from(deleted).unwrap_or(i64::MAX);
        if deleted == 0 {
            return Ok(total);
        }
    }
}
