//! The queries reconciliation runs against `leads` (runtime queries: no database is
//! needed to build). The run's rows are found through its campaigns, which are indexed.

use std::collections::HashSet;
use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use uuid::Uuid;

use super::check::Evidence;

/// Ids per `id = ANY($1)` lookup.
const CHUNK: usize = 5000;

pub struct LeadsTable {
    pool: PgPool,
}

impl LeadsTable {
    /// Connects lazily: the database may be down for a moment when reconciliation starts
    /// (a fault test restarts it), and the drain wait retries.
    pub fn connect(url: &str) -> Result<Self, sqlx::Error> {
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(Duration::from_secs(5))
            .connect_lazy(url)?;
        Ok(Self { pool })
    }

    /// Rows in `campaigns`.
    pub async fn count(&self, campaigns: &[String]) -> Result<u64, sqlx::Error> {
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM leads WHERE campaign = ANY($1)")
            .bind(campaigns)
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// Which of `accepted` are stored, and every row in `campaigns`.
    pub async fn evidence(
        &self,
        accepted: &[Uuid],
        campaigns: &[String],
    ) -> Result<Evidence, sqlx::Error> {
        let mut stored_accepted = HashSet::with_capacity(accepted.len());
        for chunk in accepted.chunks(CHUNK) {
            let ids: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM leads WHERE id = ANY($1)")
                .bind(chunk)
                .fetch_all(&self.pool)
                .await?;
            stored_accepted.extend(ids);
        }
        let rows = sqlx::query_as("SELECT id, email FROM leads WHERE campaign = ANY($1)")
            .bind(campaigns)
            .fetch_all(&self.pool)
            .await?;
        Ok(Evidence {
            stored_accepted,
            rows,
        })
    }

    pub async fn close(self) {
        self.pool.close().await;
    }
}
