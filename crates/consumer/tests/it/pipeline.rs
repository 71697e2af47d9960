//! The whole pipeline in-process against the shared broker (`LEADPIPE_KAFKA_BROKERS`) and
//! a database of the test's own: messages in, exactly the unique valid leads out, the bad
//! ones on the dead-letter topic, offsets committed.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use leadpipe_consumer::{Application, Settings};
use leadpipe_testkit::leads::{lead_message, lead_records, produce_all};
use leadpipe_testkit::{kafka, shared, unique_name, wait_for, Scrape, TestDatabase};

fn settings(brokers: &str, topic: &str, database_url: &str) -> Settings {
    let mut settings = Settings::defaults();
    settings.common.kafka.brokers = brokers.parse().unwrap();
    settings.common.topic = topic.to_owned();
    settings.dlq_topic = format!("{topic}.dlq");
    settings.group.group_id = unique_name("leadpipe-consumer-test");
    settings.database_url = database_url.to_owned();
    settings.http_addr = "127.0.0.1:0".parse().unwrap();
    settings.max_batch_rows = 40;
    settings.lag_interval_ms = 200;
    settings.group.session_timeout_ms = 6000;
    settings
}

#[tokio::test]
async fn unique_valid_leads_are_stored_bad_ones_dead_lettered_and_offsets_committed() {
    let brokers = shared::brokers();
    let topic = unique_name("leads");
    kafka::create_topic(&brokers, &topic, 3).await.unwrap();
    let db = TestDatabase::create().await;

    // 300 unique leads, 30 of them sent twice, and three messages that are not leads.
    let mut records = lead_records(0..300);
    records.extend(lead_records(100..130));
    let invalid = {
        let mut m = lead_message(1000);
        m.email = "not an email".into();
        (m.id.to_string(), m.to_json())
    };
    let newer = {
        let mut v: serde_json::Value =
            serde_json::from_slice(&lead_message(1001).to_json()).unwrap();
        v["schema_version"] = 3.into();
        (
            lead_message(1001).id.to_string(),
            serde_json::to_vec(&v).unwrap(),
        )
    };
    let garbage = (
        "garbage-key".to_owned(),
        b"{\"schema_version\": 1, \"id\": ".to_vec(),
    );
    let bad = [
        (invalid, "invalid"),
        (newer, "unsupported_version"),
        (garbage, "malformed"),
    ];
    let bad_records: Vec<_> = bad.iter().map(|(r, _)| r.clone()).collect();

    let positions = produce_all(&brokers, &topic, &records[..150]).await;
    let bad_positions = produce_all(&brokers, &topic, &bad_records).await;
    let positions = [
        positions,
        produce_all(&brokers, &topic, &records[150..]).await,
    ]
    .concat();
    assert_eq!(positions.len(), 330);

    let settings = settings(&brokers, &topic, &db.url);
    let kafka = settings.common.kafka.validate().unwrap();
    let app = Application::build(&settings, &kafka).await.unwrap();
    let port = app.port();
    let metrics = app.metrics();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));

    wait_for("300 leads stored", Duration::from_secs(45), || async {
        (db.count().await >= 300).then_some(())
    })
    .await;
    let expected: BTreeSet<uuid::Uuid> = (0..300).map(|n| lead_message(n).id.as_uuid()).collect();
    assert_eq!(
        db.ids().await.into_iter().collect::<BTreeSet<_>>(),
        expected
    );

    // The dead letters: original key and payload, why, and where from.
    let letters = kafka::read_records(&brokers, &settings.dlq_topic, 3, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(letters.len(), 3);
    for ((record, reason), (partition, offset)) in bad.iter().zip(&bad_positions) {
        let letter = letters
            .iter()
            .find(|l| l.key.as_deref() == Some(record.0.as_bytes()))
            .unwrap_or_else(|| panic!("no dead letter for {reason}"));
        assert_eq!(letter.payload.as_deref(), Some(record.1.as_slice()));
        let headers: BTreeMap<&str, &str> = letter
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(headers["leadpipe-dlq-reason"], *reason);
        assert!(!headers["leadpipe-dlq-error"].is_empty());
        assert!(
            !headers["leadpipe-dlq-error"].contains("not an email"),
            "the error never echoes a value"
        );
        assert_eq!(headers["leadpipe-source-topic"], topic);
        assert_eq!(headers["leadpipe-source-partition"], partition.to_string());
        assert_eq!(headers["leadpipe-source-offset"], offset.to_string());
    }

    // Every offset is committed, and the lag reported per partition falls to zero.
    let end = crate::support::end_offsets(&brokers, &topic, 3);
    assert_eq!(end.values().sum::<i64>(), 333);
    wait_for("all offsets committed", Duration::from_secs(20), || {
        let (brokers, topic, group, end) = (
            brokers.clone(),
            topic.clone(),
            settings.group.group_id.clone(),
            end.clone(),
        );
        async move {
            (crate::support::committed_offsets(&brokers, &group, &topic, 3) == end).then_some(())
        }
    })
    .await;
    let page = wait_for(
        "zero lag on every partition",
        Duration::from_secs(20),
        || async {
            let page = Scrape::fetch(&format!("http://127.0.0.1:{port}/metrics")).await?;
            let lags = page.per_partition("leadpipe_consumer_lag", &[("topic", &topic)]);
            (lags.len() == 3 && lags.values().all(|&l| l == 0)).then_some(page)
        },
    )
    .await;

    assert_eq!(metrics.rows_inserted.get(), 300);
    assert_eq!(metrics.duplicates_skipped.get(), 30);
    for reason in ["malformed", "unsupported_version", "invalid"] {
        assert_eq!(
            metrics.dlq_messages.with_label_values(&[reason]).get(),
            1,
            "{reason}"
        );
    }
    assert_eq!(
        page.value("leadpipe_consumer_rows_inserted_total", &[]),
        Some(300.0)
    );
    assert_eq!(page.value("leadpipe_consumer_ready", &[]), Some(1.0));
    for path in ["/readyz", "/healthz"] {
        let status = reqwest::get(format!("http://127.0.0.1:{port}{path}"))
            .await
            .map(|r| r.status().as_u16());
        assert_eq!(status.ok(), Some(200), "{path}");
    }

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(30), running)
        .await
        .expect("stops")
        .unwrap()
        .unwrap();
    assert_eq!(db.count().await, 300);
    db.drop_database().await;
}

/// A message written before version 2 (the committed version 1 golden file, byte for
/// byte) still on the topic when the consumers are upgraded: stored, with its version.
#[tokio::test]
async fn a_version_1_message_on_the_topic_is_stored_as_version_1() {
    let brokers = shared::brokers();
    let topic = unique_name("leads");
    kafka::create_topic(&brokers, &topic, 1).await.unwrap();
    let db = TestDatabase::create().await;
    let v1 = include_bytes!("../../../domain/tests/golden/lead_message_v1.json").to_vec();
    let id = "01936f0e-8f3a-7c1d-9e2b-3a4c5d6e7f80";
    produce_all(&brokers, &topic, &[(id.to_owned(), v1)]).await;

    let settings = settings(&brokers, &topic, &db.url);
    let kafka = settings.common.kafka.validate().unwrap();
    let app = Application::build(&settings, &kafka).await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    wait_for(
        "the version 1 lead stored",
        Duration::from_secs(45),
        || async { (db.count().await == 1).then_some(()) },
    )
    .await;
    let stored: Option<String> = db
        .scalar(&format!(
            "SELECT schema_version || ' ' || email || ' ' || coalesce(consent_text_version, '-') \
             FROM leads WHERE id = '{id}'"
        ))
        .await;
    assert_eq!(stored.as_deref(), Some("1 gildong@example.com -"));
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(30), running)
        .await
        .expect("stops")
        .unwrap()
        .unwrap();
    db.drop_database().await;
}
