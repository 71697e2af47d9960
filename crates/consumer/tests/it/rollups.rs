//! The analysts' rollup `lead_campaign_people` (migration 0008): what it counts, and
//! that it is refreshed once an hour by one consumer.

use std::time::Duration;

use leadpipe_consumer::{rollups, LeadStore};
use leadpipe_domain::AcceptedLead;
use leadpipe_testkit::leads::{accepted, lead_message};
use sqlx::PgPool;

/// Lead `n` (campaign `campaign-{n % 3}`), with another email when given.
fn lead(n: u32, email: Option<&str>) -> AcceptedLead {
    let mut message = lead_message(n);
    if let Some(email) = email {
        message.email = email.to_owned().into();
    }
    accepted(&message)
}

async fn people(pool: &PgPool) -> Vec<(String, i64, i64)> {
    sqlx::query_as("SELECT campaign, leads, people FROM lead_campaign_people ORDER BY campaign")
        .fetch_all(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_people_of_each_campaign_are_counted_once_an_hour(pool: PgPool) {
    // An empty rollup is always due (it has no time of refresh): one lead, refreshed.
    let store = LeadStore::from_pool(pool.clone());
    store.insert_batch(&[lead(0, None)]).await.unwrap();
    assert!(rollups::refresh_if_due(&pool, rollups::MAX_AGE)
        .await
        .unwrap());
    assert_eq!(people(&pool).await, [("campaign-0".to_owned(), 1, 1)]);

    // Eight leads more over three campaigns, lead 1's person again in campaign-1 with
    // the email's case changed, and a canary.
    let mut leads: Vec<AcceptedLead> = (1..9).map(|n| lead(n, None)).collect();
    leads.push(lead(100, Some("LEAD1@Example.COM")));
    store.insert_batch(&leads).await.unwrap();
    sqlx::query(
        "INSERT INTO leads (id, campaign, name, email, country_code, phone_e164, privacy_consent, \
         received_at, schema_version) VALUES (gen_random_uuid(), '_canary', 'leadpipe canary', \
         'canary@leadpipe.invalid', '+82', '+821000000000', true, now(), 1)",
    )
    .execute(&pool)
    .await
    .unwrap();

    // Within the hour the rollup is not refreshed again: it still says what it said.
    assert!(!rollups::refresh_if_due(&pool, rollups::MAX_AGE)
        .await
        .unwrap());
    assert_eq!(people(&pool).await, [("campaign-0".to_owned(), 1, 1)]);

    // Due: refreshed, without the canary, a person counted once whatever the case.
    assert!(rollups::refresh_if_due(&pool, Duration::ZERO)
        .await
        .unwrap());
    let expected = [
        ("campaign-0", 3, 3),
        ("campaign-1", 4, 3),
        ("campaign-2", 3, 3),
    ]
    .map(|(campaign, leads, people)| (campaign.to_owned(), leads, people));
    assert_eq!(people(&pool).await, expected);

    // While another consumer refreshes (holds the lock), this one does not wait.
    let mut other = pool.begin().await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('leadpipe.refresh_lead_rollups'))")
        .execute(&mut *other)
        .await
        .unwrap();
    assert!(!rollups::refresh_if_due(&pool, Duration::ZERO)
        .await
        .unwrap());
    other.rollback().await.unwrap();
    assert!(rollups::refresh_if_due(&pool, Duration::ZERO)
        .await
        .unwrap());

    // The analysts read it.
    let granted: bool = sqlx::query_scalar(
        "SELECT has_table_privilege('leadpipe_analyst', 'lead_campaign_people', 'SELECT')",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(granted);
}
