//! What operators do besides running it: replay the dead-letter topic once the rules
//! accept what it holds (`dlq list`, `dlq replay`), and watch canary leads cross the
//! whole pipeline.

use std::process::Command;
use std::time::Duration;

use chrono::Utc;
use leadpipe_testkit::leads::{lead_message, produce_all};
use leadpipe_testkit::{
    create_topics, shared, unique_name, wait_for, TestDatabase, TestStack, Tuning,
};

use crate::support::{consumer_env, end_offsets, start_consumer};

fn dlq(args: &[&str], env: &[(&'static str, String)]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_leadpipe-consumer"))
        .arg("dlq")
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "dlq {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test]
async fn dlq_replay_republishes_what_todays_rules_accept_and_twice_stores_nothing_twice() {
    let brokers = shared::brokers();
    let topic = unique_name("leads");
    create_topics(&brokers, &topic, 2).await;
    let db = TestDatabase::create().await;
    let strict = consumer_env(&brokers, &topic, &unique_name("leadpipe-dlq"), &db.url);

    // Five leads, three without consent (dead-lettered while consent is required), and
    // one record that is not a lead at all.
    let mut records: Vec<(String, Vec<u8>)> = (0..8)
        .map(|n| {
            let mut message = lead_message(n);
            if n >= 5 {
                message.privacy_consent = false;
                message.consented_at = None;
            }
            (message.id.to_string(), message.to_json())
        })
        .collect();
    records.push(("not-a-lead".to_owned(), b"{\"schema_version\": 1".to_vec()));
    produce_all(&brokers, &topic, &records).await;
    let mut consumer = start_consumer(&strict);
    wait_for(
        "5 stored, 4 dead-lettered",
        Duration::from_secs(30),
        || async {
            let dead: f64 = consumer
                .metrics()
                .await?
                .by_label("leadpipe_consumer_dlq_messages_total", "reason")
                .values()
                .sum();
            (db.count().await == 5 && dead == 4.0).then_some(())
        },
    )
    .await;
    assert_eq!(consumer.stop(Duration::from_secs(30)).await.code(), Some(0));

    let listed = dlq(&["list"], &strict);
    assert!(listed.starts_with("4 dead letter(s)"), "{listed}");
    assert_eq!(listed.matches("\tinvalid\t").count(), 3, "{listed}");
    assert_eq!(listed.matches("\tmalformed\t").count(), 1, "{listed}");
    assert!(listed.contains(&lead_message(5).id.to_string()), "{listed}");
    for personal in ["홍길동", "lead5@example.com", "+8210"] {
        assert!(!listed.contains(personal), "{personal} in {listed}");
    }

    // Today's rules: consent no longer required.
    let mut lenient = strict.clone();
    lenient.push(("LEADPIPE_REQUIRE_CONSENT", "false".to_owned()));
    let before = end_offsets(&brokers, &topic, 2);
    let dry = dlq(&["replay", "--dry-run"], &lenient);
    assert!(
        dry.contains(
            "read 4 dead letter(s): 3 valid by today's rules, 0 of erased people (never republished), 1 still rejected (malformed 1)"
        ) && dry.contains("would republish 3"),
        "{dry}"
    );
    assert_eq!(
        end_offsets(&brokers, &topic, 2),
        before,
        "a dry run publishes nothing"
    );

    let mut consumer = start_consumer(&lenient);
    for round in 1..=2 {
        let replayed = dlq(&["replay"], &lenient);
        assert!(
            replayed.contains("republished 3"),
            "round {round}: {replayed}"
        );
        wait_for(
            "the replayed leads stored",
            Duration::from_secs(30),
            || async { (db.count().await == 8).then_some(()) },
        )
        .await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(db.count().await, 8, "replaying twice stores nothing twice");
    assert_eq!(consumer.stop(Duration::from_secs(30)).await.code(), Some(0));
    db.drop_database().await;
}

#[tokio::test]
async fn canaries_cross_the_pipeline_are_timed_stay_out_of_analyst_views_and_expire() {
    let mut pipeline = TestStack::start(
        &shared::brokers(),
        &shared::database_server_url(),
        Tuning::default().gateway(&[("LEADPIPE_CANARY_INTERVAL_SECS", "1")]),
    )
    .await;
    let db = leadpipe_testkit::TestDatabase::attach(&pipeline.db.url);
    let db = &db;
    wait_for("three canaries stored", Duration::from_secs(30), || async {
        let page = pipeline.consumer.metrics().await?;
        let stored = page.value("leadpipe_canary_stored_total", &[])?;
        (stored >= 3.0).then_some(())
    })
    .await;
    let published = pipeline
        .gateway
        .metric("leadpipe_canary_published_total", &[])
        .await
        .unwrap();
    assert!(published >= 3.0, "{published}");
    let timed = pipeline
        .consumer
        .metrics()
        .await
        .unwrap()
        .value("leadpipe_canary_end_to_end_seconds_count", &[])
        .unwrap();
    assert!(timed >= 3.0, "every stored canary is timed: {timed}");
    let canaries: i64 = db
        .scalar("SELECT count(*) FROM leads WHERE campaign = '_canary'")
        .await
        .unwrap();
    assert!(canaries >= 3);
    let in_views: i64 = db
        .scalar(
            "SELECT (SELECT count(*) FROM lead_daily_counts WHERE campaign = '_canary') \
             + (SELECT count(*) FROM lead_contacts WHERE campaign = '_canary')",
        )
        .await
        .unwrap();
    assert_eq!(in_views, 0, "analysts never see canaries");

    // A canary from two days ago is deleted by the next consumer's first check.
    let pool = db.pool().await.unwrap();
    let old = uuid::Uuid::now_v7();
    sqlx::query(
        "INSERT INTO leads (id, campaign, name, email, country_code, phone_e164, privacy_consent, \
         consented_at, received_at, schema_version) \
         VALUES ($1, '_canary', 'leadpipe canary', 'canary@leadpipe.invalid', '+82', '+821000000000', \
         true, $2, $2, 1)",
    )
    .bind(old)
    .bind(Utc::now() - chrono::Duration::days(2))
    .execute(&pool)
    .await
    .unwrap();
    pipeline.consumer.restart();
    wait_for(
        "the old canary deleted",
        Duration::from_secs(30),
        || async {
            let left: i64 = db
                .scalar(&format!("SELECT count(*) FROM leads WHERE id = '{old}'"))
                .await?;
            (left == 0).then_some(())
        },
    )
    .await;
    let recent: i64 = db
        .scalar("SELECT count(*) FROM leads WHERE campaign = '_canary'")
        .await
        .unwrap();
    assert!(recent >= 3, "recent canaries stay: {recent}");
    pipeline.db.drop_database().await;
}
