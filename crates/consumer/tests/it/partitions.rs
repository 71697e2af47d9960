//! The partitioned `leads` table (migration 0007): the conversion of a populated table,
//! an id stored once across partitions, the default partition, partitions created ahead
//! and retention dropping whole months.

use std::process::Command;

use chrono::{DateTime, Datelike, Duration, Utc};
use leadpipe_consumer::{partitions, retention, LeadStore, MIGRATOR};
use leadpipe_domain::AcceptedLead;
use leadpipe_testkit::leads::{accepted, lead_message};
use leadpipe_testkit::{shared, TestDatabase};
use sqlx::migrate::Migrator;
use sqlx::PgPool;

/// Lead `n`, received at `at`.
fn lead_at(n: u32, at: DateTime<Utc>) -> AcceptedLead {
    let mut message = lead_message(n);
    message.received_at = at;
    message.consented_at = Some(at);
    accepted(&message)
}

async fn scalar<T>(pool: &PgPool, sql: &str) -> T
where
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Unpin,
{
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

/// Every row of `relation` as one JSON text, in a fixed order.
async fn snapshot(pool: &PgPool, relation: &str, order: &str) -> String {
    scalar(
        pool,
        &format!("SELECT coalesce(json_agg(r ORDER BY {order})::text, '') FROM {relation} r"),
    )
    .await
}

/// The migrations before 0007, from the repository's folder, as a migrator of their own.
async fn migrations_before_partitioning() -> (tempfile::TempDir, Migrator) {
    let dir = tempfile::tempdir().unwrap();
    let source = concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations");
    for entry in std::fs::read_dir(source).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if name.as_str() < "0007" {
            std::fs::copy(&path, dir.path().join(name)).unwrap();
        }
    }
    let migrator = Migrator::new(dir.path()).await.unwrap();
    (dir, migrator)
}

/// 2,000 rows over 15 months into the table of migration 0001–0006, as the consumer of
/// that schema wrote them: NULLs, both message versions, canaries, repeated emails.
const POPULATE: &str = r#"
INSERT INTO leads (id, campaign, name, email, country_code, phone_e164, privacy_consent,
    consented_at, received_at, stored_at, utm_source, utm_medium, utm_campaign, utm_term,
    utm_content, page_url, schema_version, consent_text_version, client_ip_hash)
SELECT
    md5('lead' || i)::uuid,
    CASE WHEN i % 50 = 0 THEN '_canary' ELSE 'campaign-' || (i % 4) END,
    '이름 ' || i,
    'Person' || (i % 700) || '@Example.com',
    '+82',
    '+8210' || (10000000 + i),
    i % 5 <> 0,
    CASE WHEN i % 5 <> 0 THEN now() - i * interval '5 hours' END,
    now() - i * interval '5 hours',
    now() - i * interval '5 hours' + interval '1 second',
    CASE WHEN i % 3 = 0 THEN 'newsletter' END,
    CASE WHEN i % 3 = 0 THEN 'email' END,
    NULL, NULL, NULL,
    'https://event.example.com/' || (i % 7),
    CASE WHEN i % 2 = 0 THEN 2 ELSE 1 END,
    CASE WHEN i % 2 = 0 THEN '2026-12' END,
    CASE WHEN i % 4 = 0 THEN md5('ip' || i) || md5('ip' || i) END
FROM generate_series(1, 2000) AS i
"#;

#[sqlx::test(migrations = false)]
async fn the_migration_partitions_a_populated_table_without_losing_or_changing_a_row(pool: PgPool) {
    let (_dir, before) = migrations_before_partitioning().await;
    before.run(&pool).await.unwrap();
    sqlx::query(POPULATE).execute(&pool).await.unwrap();
    let rows = snapshot(&pool, "leads", "id").await;
    let daily = snapshot(&pool, "lead_daily_counts", "campaign, day").await;
    let contacts = snapshot(&pool, "lead_contacts", "campaign, email").await;

    MIGRATOR.run(&pool).await.unwrap();

    assert_eq!(snapshot(&pool, "leads", "id").await, rows);
    assert_eq!(
        snapshot(&pool, "lead_daily_counts", "campaign, day").await,
        daily
    );
    assert_eq!(
        snapshot(&pool, "lead_contacts", "campaign, email").await,
        contacts
    );
    assert_eq!(
        scalar::<i64>(&pool, "SELECT count(*) FROM leads").await,
        2000
    );
    assert_eq!(
        scalar::<i64>(
            &pool,
            "SELECT count(*) FROM lead_ids JOIN leads USING (id, received_at)"
        )
        .await,
        2000
    );
    // Every row in its month: 15 months of rows plus the three months ahead.
    assert_eq!(partitions::default_rows(&pool).await.unwrap(), 0);
    let months = partitions::list(&pool).await.unwrap();
    assert!(months.len() >= 18, "{months:?}");
    assert!(months.last().unwrap().is_default());
    // The analysts keep their column grants on the new table.
    assert!(
        scalar::<bool>(
            &pool,
            "SELECT has_column_privilege('leadpipe_analyst', 'leads', 'email', 'SELECT') \
             AND NOT has_column_privilege('leadpipe_analyst', 'leads', 'client_ip_hash', 'SELECT')"
        )
        .await
    );

    // A converted row is a stored id: its redelivery stores nothing.
    let id: uuid::Uuid = scalar(&pool, "SELECT id FROM leads ORDER BY id LIMIT 1").await;
    let received_at: DateTime<Utc> =
        sqlx::query_scalar("SELECT received_at FROM leads WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
    let mut message = lead_message(1);
    message.id = leadpipe_domain::LeadId::from_uuid(id);
    message.received_at = received_at + Duration::days(40);
    message.consented_at = Some(message.received_at);
    let again = accepted(&message);
    let outcome = LeadStore::from_pool(pool.clone())
        .insert_batch(&[again])
        .await
        .unwrap();
    assert_eq!((outcome.inserted, outcome.duplicates), (0, 1));
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_resubmission_received_a_month_later_is_stored_once(pool: PgPool) {
    let store = LeadStore::from_pool(pool.clone());
    let first = Utc::now() - Duration::days(20);
    let outcome = store.insert_batch(&[lead_at(1, first)]).await.unwrap();
    assert_eq!(outcome.inserted, 1);

    // The same Idempotency-Key gives the same id; the gateway stamps a later time, which
    // falls in another partition. In the same batch as a new lead, and alone.
    let later = lead_at(1, first + Duration::days(35));
    let outcome = store
        .insert_batch(&[later.clone(), lead_at(2, Utc::now())])
        .await
        .unwrap();
    assert_eq!((outcome.inserted, outcome.duplicates), (1, 1));
    let outcome = store.insert_batch(&[later]).await.unwrap();
    assert_eq!((outcome.inserted, outcome.duplicates), (0, 1));

    let stored: Vec<DateTime<Utc>> =
        sqlx::query_scalar("SELECT received_at FROM leads WHERE id = $1")
            .bind(lead_at(1, first).id.as_uuid())
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].timestamp_micros(), first.timestamp_micros());
    assert_eq!(
        scalar::<i64>(&pool, "SELECT count(*) FROM lead_ids").await,
        2
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_lead_of_a_month_without_partition_waits_in_the_default_partition_until_its_month_is_created(
    pool: PgPool,
) {
    let store = LeadStore::from_pool(pool.clone());
    let far = Utc::now() + Duration::days(800);
    store.insert_batch(&[lead_at(1, far)]).await.unwrap();
    assert_eq!(partitions::default_rows(&pool).await.unwrap(), 1);

    let name = format!("leads_{:04}_{:02}", far.year(), far.month());
    let created: Vec<String> = sqlx::query_scalar("SELECT create_lead_partitions($1, $1)")
        .bind(far)
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(created, [name.as_str()]);
    assert_eq!(partitions::default_rows(&pool).await.unwrap(), 0);
    assert_eq!(
        scalar::<i64>(&pool, &format!("SELECT count(*) FROM {name}")).await,
        1
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_partitions_of_the_months_ahead_are_created_once(pool: PgPool) {
    // The migration created this month and the next three; a month is dropped to show
    // that the upkeep puts it back.
    let now = Utc::now();
    let next = (now.with_day(1).unwrap() + Duration::days(32))
        .with_day(1)
        .unwrap();
    let name = format!("leads_{:04}_{:02}", next.year(), next.month());
    sqlx::query(&format!("DROP TABLE {name}"))
        .execute(&pool)
        .await
        .unwrap();

    assert_eq!(partitions::create_ahead(&pool).await.unwrap(), [name]);
    assert!(partitions::create_ahead(&pool).await.unwrap().is_empty());
    let bounded = partitions::list(&pool)
        .await
        .unwrap()
        .into_iter()
        .filter(|p| p.from.is_some_and(|from| from <= now + Duration::days(92)))
        .filter(|p| p.to.is_some_and(|to| to > now))
        .count();
    assert_eq!(bounded, 1 + partitions::MONTHS_AHEAD as usize);
}

#[sqlx::test(migrations = "../../migrations")]
async fn retention_drops_old_months_whole_and_trims_the_month_that_straddles_the_cutoff(
    pool: PgPool,
) {
    let store = LeadStore::from_pool(pool.clone());
    let now = Utc::now();
    sqlx::query("SELECT create_lead_partitions($1, $2)")
        .bind(now - Duration::days(500))
        .bind(now)
        .execute(&pool)
        .await
        .unwrap();
    // One lead every 5 days from 495 days ago to now, one more in the default partition.
    let leads: Vec<AcceptedLead> = (0..100)
        .map(|n| lead_at(n, now - Duration::days(495 - 5 * i64::from(n))))
        .chain([lead_at(500, now - Duration::days(2000))])
        .collect();
    store.insert_batch(&leads).await.unwrap();
    let cutoff = now - Duration::days(400);
    let older = leads.iter().filter(|l| l.received_at < cutoff).count() as i64;
    let months_before = partitions::list(&pool).await.unwrap();

    let planned = retention::apply(&pool, cutoff, true).await.unwrap();
    assert_eq!((planned.rows(), planned.ids), (older, older));
    assert_eq!(partitions::list(&pool).await.unwrap(), months_before);
    assert_eq!(
        scalar::<i64>(&pool, "SELECT count(*) FROM leads").await,
        101
    );

    let removed = retention::apply(&pool, cutoff, false).await.unwrap();
    assert_eq!(removed.dropped, planned.dropped);
    assert_eq!(removed.trimmed, planned.trimmed);
    assert_eq!((removed.rows(), removed.ids), (older, older));
    // Whole months went by DROP, the month of the cutoff and the default by DELETE.
    assert!(removed.dropped.len() >= 2, "{removed}");
    assert!(
        removed
            .trimmed
            .iter()
            .any(|(name, _)| name == partitions::DEFAULT_PARTITION),
        "{removed}"
    );
    let left = partitions::list(&pool).await.unwrap();
    for (name, _) in &removed.dropped {
        assert!(left.iter().all(|p| &p.name != name), "{name} still there");
    }
    assert!(left.iter().all(|p| p.to.is_none_or(|to| to > cutoff)));
    let kept: i64 = sqlx::query_scalar("SELECT count(*) FROM leads WHERE received_at >= $1")
        .bind(cutoff)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(kept, 101 - older);
    assert_eq!(
        scalar::<i64>(&pool, "SELECT count(*) FROM leads").await,
        kept
    );
    assert_eq!(
        scalar::<i64>(&pool, "SELECT count(*) FROM lead_ids").await,
        kept
    );

    // Nothing left to remove the second time.
    let again = retention::apply(&pool, cutoff, false).await.unwrap();
    assert_eq!((again.rows(), again.ids), (0, 0));
}

#[tokio::test]
async fn the_retention_command_prints_what_it_removed_and_refuses_less_than_a_day() {
    let db = TestDatabase::create_on(&shared::database_server_url()).await;
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_leadpipe-consumer"))
            .arg("retention")
            .args(args)
            .env("LEADPIPE_DATABASE_URL", &db.url)
            .output()
            .unwrap()
    };
    let output = run(&["--older-than", "400d"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(stdout.contains("leads received before"), "{stdout}");
    assert!(stdout.contains("0 leads in all"), "{stdout}");

    let output = run(&["--older-than", "400s"]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("shorter than a day"));
    db.drop_database().await;
}
