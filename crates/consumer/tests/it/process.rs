//! The `leadpipe-consumer` binary as operators run it: killed mid-stream, two instances
//! in one group, SIGTERM, the `migrate` subcommand and `--help`. Each test has its own
//! topic, group and database on the shared broker and server.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use crate::support::{consumer_env, start_consumer};
use leadpipe_testkit::leads::{lead_message, lead_records, produce_all};
use leadpipe_testkit::{kafka, shared, unique_name, wait_for, TestDatabase};

fn expected_ids(range: std::ops::Range<u32>) -> BTreeSet<uuid::Uuid> {
    range.map(|n| lead_message(n).id.as_uuid()).collect()
}

#[tokio::test]
async fn a_consumer_killed_mid_stream_and_restarted_stores_every_lead_exactly_once() {
    let brokers = shared::brokers();
    let topic = unique_name("leads");
    let group = unique_name("leadpipe-consumer-test");
    kafka::create_topic(&brokers, &topic, 3).await.unwrap();
    let db = TestDatabase::create().await;
    let mut env = consumer_env(&brokers, &topic, &group, &db.url);
    env.push(("LEADPIPE_MAX_BATCH_ROWS", "50".to_owned()));

    // A stream: 100 messages every 100 ms, 3000 in all, produced while the consumer runs.
    let stream = {
        let (brokers, topic) = (brokers.clone(), topic.clone());
        tokio::spawn(async move {
            for start in (0..3000).step_by(100) {
                produce_all(&brokers, &topic, &lead_records(start..start + 100)).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let mut first = start_consumer(&env);
    // Kill it once it has stored part of the stream, while more keeps arriving.
    let stored = wait_for(
        "the first consumer to store some leads",
        Duration::from_secs(30),
        || async {
            let n = db.count().await;
            (n >= 200).then_some(n)
        },
    )
    .await;
    first.kill();
    assert!(
        !stream.is_finished(),
        "the stream was still being produced at the kill"
    );
    let at_kill = db.count().await;
    assert!(
        at_kill >= stored && at_kill < 3000,
        "killed mid-stream: {at_kill} of 3000 stored"
    );

    // The rest arrives while no consumer runs; a new instance picks up from the
    // committed offsets.
    stream.await.unwrap();
    let mut second = start_consumer(&env);
    wait_for("all 3000 leads stored", Duration::from_secs(60), || async {
        (db.count().await >= 3000).then_some(())
    })
    .await;

    assert_eq!(
        db.ids().await.into_iter().collect::<BTreeSet<_>>(),
        expected_ids(0..3000)
    );
    let inserted = second
        .metric("leadpipe_consumer_rows_inserted_total", &[])
        .await
        .unwrap();
    assert_eq!(
        inserted as i64,
        3000 - at_kill,
        "the second instance inserted exactly what was missing"
    );
    assert_eq!(
        second.stop(Duration::from_secs(30)).await.code(),
        Some(0),
        "{}",
        second.log_tail()
    );
    assert_eq!(db.count().await, 3000);
    db.drop_database().await;
}

#[tokio::test]
async fn two_consumers_in_one_group_share_the_partitions_and_store_each_lead_once() {
    let brokers = shared::brokers();
    let topic = unique_name("leads");
    let group = unique_name("leadpipe-consumer-test");
    kafka::create_topic(&brokers, &topic, 4).await.unwrap();
    let db = TestDatabase::create().await;
    let env = consumer_env(&brokers, &topic, &group, &db.url);

    let a = start_consumer(&env);
    let b = start_consumer(&env);
    // Each reports lag only for the partitions it owns: wait for a split of all four.
    wait_for(
        "the group to split the four partitions",
        Duration::from_secs(45),
        || async {
            let owned_a = a
                .metrics()
                .await?
                .per_partition("leadpipe_consumer_lag", &[("topic", &topic)]);
            let owned_b = b
                .metrics()
                .await?
                .per_partition("leadpipe_consumer_lag", &[("topic", &topic)]);
            let all: BTreeSet<i32> = owned_a.keys().chain(owned_b.keys()).copied().collect();
            let disjoint = owned_a.keys().all(|p| !owned_b.contains_key(p));
            (!owned_a.is_empty() && !owned_b.is_empty() && disjoint && all.len() == 4).then_some(())
        },
    )
    .await;

    produce_all(&brokers, &topic, &lead_records(0..2000)).await;
    wait_for("all 2000 leads stored", Duration::from_secs(45), || async {
        (db.count().await >= 2000).then_some(())
    })
    .await;
    assert_eq!(
        db.ids().await.into_iter().collect::<BTreeSet<_>>(),
        expected_ids(0..2000)
    );

    let inserted_a = a
        .metric("leadpipe_consumer_rows_inserted_total", &[])
        .await
        .unwrap();
    let inserted_b = b
        .metric("leadpipe_consumer_rows_inserted_total", &[])
        .await
        .unwrap();
    assert!(
        inserted_a > 0.0 && inserted_b > 0.0,
        "both did work: {inserted_a} and {inserted_b}"
    );
    assert_eq!(inserted_a + inserted_b, 2000.0);
    let skipped_a = a
        .metric("leadpipe_consumer_duplicates_skipped_total", &[])
        .await
        .unwrap();
    let skipped_b = b
        .metric("leadpipe_consumer_duplicates_skipped_total", &[])
        .await
        .unwrap();
    assert_eq!(skipped_a + skipped_b, 0.0, "no message was handled by both");

    for mut consumer in [a, b] {
        assert_eq!(
            consumer.stop(Duration::from_secs(30)).await.code(),
            Some(0),
            "{}",
            consumer.log_tail()
        );
    }
    assert_eq!(
        crate::support::committed_offsets(&brokers, &group, &topic, 4),
        crate::support::end_offsets(&brokers, &topic, 4)
    );
    db.drop_database().await;
}

#[tokio::test]
async fn rebalancing_mid_stream_as_instances_join_and_leave_loses_no_lead() {
    let brokers = shared::brokers();
    let topic = unique_name("leads");
    let group = unique_name("leadpipe-consumer-test");
    kafka::create_topic(&brokers, &topic, 4).await.unwrap();
    let db = TestDatabase::create().await;
    let mut env = consumer_env(&brokers, &topic, &group, &db.url);
    env.push(("LEADPIPE_MAX_BATCH_ROWS", "50".to_owned()));

    // 100 messages every 50 ms, 4000 in all, while instances come and go.
    let stream = {
        let (brokers, topic) = (brokers.clone(), topic.clone());
        tokio::spawn(async move {
            for start in (0..4000).step_by(100) {
                produce_all(&brokers, &topic, &lead_records(start..start + 100)).await;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let mut a = start_consumer(&env);
    wait_for(
        "the first instance to store some leads",
        Duration::from_secs(30),
        || async { (db.count().await >= 300).then_some(()) },
    )
    .await;
    // A second instance joins: partitions are revoked from the first while it has
    // batches buffered and in flight.
    let mut b = start_consumer(&env);
    wait_for(
        "the second instance to store some leads",
        Duration::from_secs(45),
        || async {
            (b.metric("leadpipe_consumer_rows_inserted_total", &[])
                .await?
                > 0.0)
                .then_some(())
        },
    )
    .await;
    // The first leaves while the stream still runs: its partitions move to the second.
    assert!(!stream.is_finished(), "the stream was still being produced");
    assert_eq!(
        a.stop(Duration::from_secs(30)).await.code(),
        Some(0),
        "{}",
        a.log_tail()
    );
    stream.await.unwrap();

    wait_for("all 4000 leads stored", Duration::from_secs(60), || async {
        (db.count().await >= 4000).then_some(())
    })
    .await;
    assert_eq!(
        db.ids().await.into_iter().collect::<BTreeSet<_>>(),
        expected_ids(0..4000)
    );
    assert_eq!(
        b.stop(Duration::from_secs(30)).await.code(),
        Some(0),
        "{}",
        b.log_tail()
    );
    assert_eq!(
        crate::support::committed_offsets(&brokers, &group, &topic, 4),
        crate::support::end_offsets(&brokers, &topic, 4)
    );
    db.drop_database().await;
}

#[tokio::test]
async fn sigterm_stores_the_batch_being_collected_commits_and_exits_zero() {
    let brokers = shared::brokers();
    let topic = unique_name("leads");
    let group = unique_name("leadpipe-consumer-test");
    kafka::create_topic(&brokers, &topic, 2).await.unwrap();
    let db = TestDatabase::create().await;
    let mut env = consumer_env(&brokers, &topic, &group, &db.url);
    // A batch that would wait a minute to fill: only the shutdown writes it.
    env.push(("LEADPIPE_MAX_BATCH_WAIT_MS", "60000".to_owned()));

    let mut consumer = start_consumer(&env);
    produce_all(&brokers, &topic, &lead_records(0..25)).await;
    wait_for(
        "25 messages received and held",
        Duration::from_secs(30),
        || async {
            (consumer
                .metric("leadpipe_consumer_buffered_messages", &[])
                .await?
                == 25.0)
                .then_some(())
        },
    )
    .await;
    assert_eq!(
        db.count().await,
        0,
        "nothing is stored before the batch is cut"
    );

    assert_eq!(
        consumer.stop(Duration::from_secs(30)).await.code(),
        Some(0),
        "{}",
        consumer.log_tail()
    );
    assert_eq!(
        db.ids().await.into_iter().collect::<BTreeSet<_>>(),
        expected_ids(0..25)
    );
    assert_eq!(
        crate::support::committed_offsets(&brokers, &group, &topic, 2),
        crate::support::end_offsets(&brokers, &topic, 2)
    );
    db.drop_database().await;
}

#[tokio::test]
async fn migrate_applies_the_schema_once_and_can_run_again() {
    let db = TestDatabase::create_empty_on(&shared::database_server_url()).await;
    for _ in 0..2 {
        db.migrate(&db.url, &[]).unwrap();
    }
    let applied: i64 = db
        .scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .await
        .unwrap();
    assert_eq!(applied, leadpipe_consumer::MIGRATOR.iter().count() as i64);
    assert_eq!(db.count().await, 0);
    db.drop_database().await;
}

#[test]
fn help_lists_every_setting_with_its_environment_variable() {
    let output = Command::new(env!("CARGO_BIN_EXE_leadpipe-consumer"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for var in [
        "LEADPIPE_DATABASE_URL",
        "LEADPIPE_DB_POOL_SIZE",
        "LEADPIPE_KAFKA_BROKERS",
        "LEADPIPE_TOPIC",
        "LEADPIPE_DLQ_TOPIC",
        "LEADPIPE_GROUP_ID",
        "LEADPIPE_MAX_BATCH_ROWS",
        "LEADPIPE_MAX_BATCH_WAIT_MS",
        "LEADPIPE_REQUIRE_CONSENT",
        "LEADPIPE_HTTP_ADDR",
        "LEADPIPE_LOG_FORMAT",
    ] {
        assert!(
            help.contains(&format!("[env: {var}")),
            "{var} missing from --help:\n{help}"
        );
    }
    assert!(help.contains("migrate"), "{help}");
}

#[tokio::test]
async fn the_lag_exporter_shows_the_lag_of_every_partition_growing_with_no_consumer_alive() {
    let brokers = shared::brokers();
    let topic = unique_name("leads");
    let group = unique_name("leadpipe-consumer-test");
    kafka::create_topic(&brokers, &topic, 4).await.unwrap();
    let db = TestDatabase::create().await;
    let env = consumer_env(&brokers, &topic, &group, &db.url);
    let mut exporter = leadpipe_testkit::ServiceProcess::start(
        "leadpipe-consumer",
        &["lag-exporter"],
        env.iter()
            .cloned()
            .chain([("LEADPIPE_LAG_INTERVAL_MS", "300".to_owned())]),
    );
    exporter.wait_ready(Duration::from_secs(30)).await;
    let group_lag = || async {
        exporter
            .metrics()
            .await
            .map(|page| page.per_partition("leadpipe_consumer_group_lag", &[("topic", &topic)]))
    };
    for (produced, range) in [(100, 0..100), (250, 100..250)] {
        produce_all(&brokers, &topic, &lead_records(range)).await;
        wait_for(
            &format!("a group lag of {produced} over 4 partitions"),
            Duration::from_secs(20),
            || async {
                let lags = group_lag().await?;
                (lags.len() == 4 && lags.values().sum::<i64>() == produced).then_some(())
            },
        )
        .await;
    }
    // A consumer of the group drains it; the exporter sees the lag fall to zero.
    let mut consumer = start_consumer(&env);
    wait_for(
        "the exporter to see zero lag",
        Duration::from_secs(45),
        || async {
            let lags = group_lag().await?;
            (lags.len() == 4 && lags.values().all(|&l| l == 0)).then_some(())
        },
    )
    .await;
    assert_eq!(db.count().await, 250);
    assert_eq!(
        exporter
            .metric("leadpipe_consumer_rows_inserted_total", &[])
            .await,
        Some(0.0),
        "the exporter consumes nothing"
    );
    assert_eq!(
        consumer.stop(Duration::from_secs(30)).await.code(),
        Some(0),
        "{}",
        consumer.log_tail()
    );
    assert_eq!(exporter.stop(Duration::from_secs(30)).await.code(), Some(0));
    db.drop_database().await;
}
