//! The analysts' rollups (migration 0008): `lead_campaign_people`, the leads and
//! distinct people of each campaign, a materialized view that the consumers refresh
//! once an hour. Counting distinct emails reads every lead of a campaign, which no index
//! makes fast at tens of millions of rows (docs/schema.md, "At 10 million rows"); the
//! rollup answers it in a millisecond, up to an hour old.
//!
//! The SQL function `refresh_lead_rollups(max_age)` does the work: one consumer refreshes
//! (an advisory lock), the others find it fresh or being refreshed and skip.

use std::time::Duration;

use sqlx::PgPool;

/// A rollup younger than this is not refreshed again (a little under the hour of the
/// upkeep, so that the consumer that comes first each hour refreshes).
pub const MAX_AGE: Duration = Duration::from_secs(55 * 60);

/// Refreshes the rollups unless they are younger than `max_age` or another session is
/// refreshing them; returns whether it refreshed.
pub async fn refresh_if_due(pool: &PgPool, max_age: Duration) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT refresh_lead_rollups(make_interval(secs => $1))")
        .bind(max_age.as_secs_f64())
        .fetch_one(pool)
        .await
}
