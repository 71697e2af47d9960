//! The repository against a real PostgreSQL: each test gets a fresh database with the
//! migrations applied (`#[sqlx::test]`, which reads `DATABASE_URL`).

use chrono::{DateTime, Utc};
use leadpipe_consumer::LeadStore;
use leadpipe_domain::{AcceptedLead, ConsentPolicy, LeadMessage};
use leadpipe_testkit::leads::accepted;
use sqlx::{PgPool, Row};
use uuid::Uuid;

fn leads(range: std::ops::Range<u32>) -> Vec<AcceptedLead> {
    range
        .map(|n| accepted(&leadpipe_testkit::leads::lead_message(n)))
        .collect()
}

async fn count(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM leads")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_batch_is_inserted_with_every_column(pool: PgPool) {
    let store = LeadStore::from_pool(pool.clone());
    let batch = leads(0..3);
    let outcome = store.insert_batch(&batch).await.unwrap();
    assert_eq!((outcome.inserted, outcome.duplicates), (3, 0));
    assert_eq!(count(&pool).await, 3);

    let row = sqlx::query("SELECT * FROM leads WHERE id = $1")
        .bind(batch[1].id.as_uuid())
        .fetch_one(&pool)
        .await
        .unwrap();
    let lead = &batch[1].lead;
    assert_eq!(row.get::<String, _>("campaign"), lead.campaign.as_str());
    assert_eq!(row.get::<String, _>("name"), lead.name.as_str());
    assert_eq!(row.get::<String, _>("email"), lead.email.as_str());
    assert_eq!(row.get::<String, _>("country_code"), "+82");
    assert_eq!(row.get::<String, _>("phone_e164"), lead.phone.e164());
    assert!(row.get::<bool, _>("privacy_consent"));
    assert_eq!(
        row.get::<Option<DateTime<Utc>>, _>("consented_at"),
        batch[1].consented_at
    );
    assert_eq!(
        row.get::<DateTime<Utc>, _>("received_at"),
        batch[1].received_at
    );
    assert_eq!(
        row.get::<Option<String>, _>("utm_source").as_deref(),
        Some("newsletter")
    );
    assert_eq!(row.get::<Option<String>, _>("utm_medium"), None);
    assert_eq!(
        row.get::<Option<String>, _>("utm_campaign").as_deref(),
        Some("봄 세일")
    );
    assert_eq!(
        row.get::<Option<String>, _>("page_url").as_deref(),
        Some("https://event.example.com/spring")
    );
    assert_eq!(
        row.get::<i16, _>("schema_version"),
        i16::try_from(leadpipe_domain::SCHEMA_VERSION).unwrap()
    );
    assert_eq!(
        row.get::<Option<String>, _>("consent_text_version")
            .as_deref(),
        Some("2026-12")
    );
    assert_eq!(
        row.get::<Option<String>, _>("client_ip_hash"),
        batch[1].client_ip_hash.map(|h| h.to_hex())
    );
    let stored_at: DateTime<Utc> = row.get("stored_at");
    assert!(
        (Utc::now() - stored_at).num_seconds().abs() < 60,
        "stored_at defaults to now()"
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn inserting_the_same_batch_again_changes_nothing(pool: PgPool) {
    let store = LeadStore::from_pool(pool.clone());
    let batch = leads(0..50);
    store.insert_batch(&batch).await.unwrap();
    let before: Vec<(Uuid, DateTime<Utc>)> =
        sqlx::query_as("SELECT id, stored_at FROM leads ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();

    let outcome = store.insert_batch(&batch).await.unwrap();
    assert_eq!((outcome.inserted, outcome.duplicates), (0, 50));
    let after: Vec<(Uuid, DateTime<Utc>)> =
        sqlx::query_as("SELECT id, stored_at FROM leads ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(before, after);

    // A batch overlapping the stored one inserts only the new leads.
    let outcome = store.insert_batch(&leads(40..60)).await.unwrap();
    assert_eq!((outcome.inserted, outcome.duplicates), (10, 10));
    assert_eq!(count(&pool).await, 60);
}

#[sqlx::test(migrations = "../../migrations")]
async fn duplicates_within_a_batch_are_inserted_once_keeping_the_first(pool: PgPool) {
    let store = LeadStore::from_pool(pool.clone());
    let first = leadpipe_testkit::leads::lead_message(7);
    let mut replay = first.clone();
    replay.name = "A later copy".into();
    let batch = vec![
        accepted(&first),
        accepted(&leadpipe_testkit::leads::lead_message(8)),
        accepted(&replay),
        accepted(&first),
    ];

    let outcome = store.insert_batch(&batch).await.unwrap();
    assert_eq!((outcome.inserted, outcome.duplicates), (2, 2));
    let name: String = sqlx::query_scalar("SELECT name FROM leads WHERE id = $1")
        .bind(first.id.as_uuid())
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(name, first.name);
}

#[sqlx::test(migrations = "../../migrations")]
async fn unicode_and_quote_laden_values_are_stored_verbatim(pool: PgPool) {
    let store = LeadStore::from_pool(pool.clone());
    let mut message = leadpipe_testkit::leads::lead_message(1);
    message.name = r#"Zoë "Ziggy" O'Brien-홍길동 \ 🎉"#.into();
    message.email = "o'brien+events@예시.한국".into();
    message.campaign = "봄'; DROP TABLE leads; --".into();
    message.utm_source = Some(r#"{"json": ["array", "in", "a", "label"]}"#.into());
    message.utm_term = Some("$1 $$ E'\\x00' %s {}".into());
    message.utm_content = Some("مرحبا — 山田 — Алексей".into());
    let lead = accepted(&message);

    store
        .insert_batch(std::slice::from_ref(&lead))
        .await
        .unwrap();
    let row = sqlx::query(
        "SELECT name, email, campaign, utm_source, utm_term, utm_content FROM leads WHERE id = $1",
    )
    .bind(lead.id.as_uuid())
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        row.get::<String, _>("name"),
        r#"Zoë "Ziggy" O'Brien-홍길동 \ 🎉"#
    );
    assert_eq!(row.get::<String, _>("email"), "o'brien+events@예시.한국");
    assert_eq!(
        row.get::<String, _>("campaign"),
        "봄'; DROP TABLE leads; --"
    );
    assert_eq!(
        row.get::<Option<String>, _>("utm_source").as_deref(),
        Some(r#"{"json": ["array", "in", "a", "label"]}"#)
    );
    assert_eq!(
        row.get::<Option<String>, _>("utm_term").as_deref(),
        Some("$1 $$ E'\\x00' %s {}")
    );
    assert_eq!(
        row.get::<Option<String>, _>("utm_content").as_deref(),
        Some("مرحبا — 山田 — Алексей")
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn an_empty_batch_does_nothing(pool: PgPool) {
    let outcome = LeadStore::from_pool(pool.clone())
        .insert_batch(&[])
        .await
        .unwrap();
    assert_eq!((outcome.inserted, outcome.duplicates), (0, 0));
    assert_eq!(count(&pool).await, 0);
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_views_count_per_day_and_keep_the_latest_lead_per_contact(pool: PgPool) {
    let store = LeadStore::from_pool(pool.clone());
    let mut a = leadpipe_testkit::leads::lead_message(1);
    a.campaign = "spring".into();
    a.email = "Jane@Example.com".into();
    a.received_at = "2026-03-14T10:00:00Z".parse().unwrap();
    a.consented_at = Some(a.received_at);
    let mut b = leadpipe_testkit::leads::lead_message(2);
    b.campaign = "spring".into();
    b.email = "jane@example.com".into();
    b.name = "Jane Newer".into();
    b.received_at = "2026-03-14T23:59:59Z".parse().unwrap();
    b.consented_at = Some(b.received_at);
    let mut c = leadpipe_testkit::leads::lead_message(3);
    c.campaign = "spring".into();
    c.received_at = "2026-03-15T00:00:00Z".parse().unwrap();
    c.consented_at = Some(c.received_at);
    store
        .insert_batch(&[accepted(&a), accepted(&b), accepted(&c)])
        .await
        .unwrap();

    let days: Vec<(String, chrono::NaiveDate, i64, i64)> = sqlx::query_as(
        "SELECT campaign, day, leads, distinct_emails FROM lead_daily_counts ORDER BY day",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        days,
        vec![
            ("spring".to_owned(), "2026-03-14".parse().unwrap(), 2, 1),
            ("spring".to_owned(), "2026-03-15".parse().unwrap(), 1, 1),
        ]
    );

    let contacts: Vec<(String, Uuid, String)> = sqlx::query_as(
        "SELECT email, lead_id, name FROM lead_contacts WHERE campaign = 'spring' ORDER BY email",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(contacts.len(), 2);
    assert_eq!(
        contacts[0],
        (
            "jane@example.com".to_owned(),
            b.id.as_uuid(),
            "Jane Newer".to_owned()
        )
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_version_1_message_is_stored_as_one(pool: PgPool) {
    let v1 = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../domain/tests/golden/lead_message_v1.json"
    ))
    .unwrap();
    let lead = LeadMessage::decode(&v1, ConsentPolicy::default()).unwrap();
    LeadStore::from_pool(pool.clone())
        .insert_batch(std::slice::from_ref(&lead))
        .await
        .unwrap();
    let row = sqlx::query(
        "SELECT schema_version, consent_text_version, client_ip_hash, email FROM leads WHERE id = $1",
    )
    .bind(lead.id.as_uuid())
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(row.get::<i16, _>("schema_version"), 1);
    assert_eq!(row.get::<Option<String>, _>("consent_text_version"), None);
    assert_eq!(row.get::<Option<String>, _>("client_ip_hash"), None);
    assert_eq!(row.get::<String, _>("email"), "gildong@example.com");
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_analyst_reads_the_consent_version_but_not_the_address_hash(pool: PgPool) {
    LeadStore::from_pool(pool.clone())
        .insert_batch(&leads(0..2))
        .await
        .unwrap();
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("SET LOCAL ROLE leadpipe_analyst")
        .execute(&mut *tx)
        .await
        .unwrap();
    let versions: Vec<Option<String>> =
        sqlx::query_scalar("SELECT consent_text_version FROM lead_contacts")
            .fetch_all(&mut *tx)
            .await
            .unwrap();
    assert_eq!(versions, vec![Some("2026-12".to_owned()); 2]);
    sqlx::query_scalar::<_, String>("SELECT email FROM leads LIMIT 1")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    let error = sqlx::query("SELECT client_ip_hash FROM leads")
        .fetch_all(&mut *tx)
        .await
        .unwrap_err();
    assert_eq!(
        error.as_database_error().and_then(|e| e.code()).as_deref(),
        Some("42501"),
        "{error}"
    );
    tx.rollback().await.unwrap();
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_analyst_role_can_read_but_not_write(pool: PgPool) {
    LeadStore::from_pool(pool.clone())
        .insert_batch(&leads(0..2))
        .await
        .unwrap();
    let can_login: bool =
        sqlx::query_scalar("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'leadpipe_analyst'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(!can_login);

    let mut tx = pool.begin().await.unwrap();
    sqlx::query("SET LOCAL ROLE leadpipe_analyst")
        .execute(&mut *tx)
        .await
        .unwrap();
    for relation in ["leads", "lead_daily_counts", "lead_contacts"] {
        sqlx::query(&format!("SELECT count(*) FROM {relation}"))
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    }
    sqlx::query("SAVEPOINT attempt")
        .execute(&mut *tx)
        .await
        .unwrap();
    let error = sqlx::query("DELETE FROM leads")
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert_eq!(
        error.as_database_error().and_then(|e| e.code()).as_deref(),
        Some("42501"),
        "{error}"
    );
    sqlx::query("ROLLBACK TO SAVEPOINT attempt")
        .execute(&mut *tx)
        .await
        .unwrap();
    let error = sqlx::query("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(&mut *tx)
        .await
        .unwrap_err();
    assert_eq!(
        error.as_database_error().and_then(|e| e.code()).as_deref(),
        Some("42501"),
        "{error}"
    );
    tx.rollback().await.unwrap();
    assert_eq!(count(&pool).await, 2);
}
