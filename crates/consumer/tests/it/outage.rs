//! Outages: the database stops while leads keep arriving, or the broker dies. The
//! consumer keeps running, reports not-ready, holds at most two batches in memory, and
//! stores everything exactly once when the service is back.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::support::{consumer_env, start_consumer};
use leadpipe_testkit::leads::{lead_message, lead_records, produce_all};
use leadpipe_testkit::{kafka, shared, unique_name, wait_for, PgCluster, Tansu, TestDatabase};

const BATCH: usize = 50;

#[tokio::test]
async fn leads_arriving_while_the_database_is_down_are_stored_once_it_is_back() {
    let brokers = shared::brokers();
    let topic = unique_name("leads");
    let group = unique_name("leadpipe-consumer-test");
    kafka::create_topic(&brokers, &topic, 2).await.unwrap();
    let mut cluster = PgCluster::start().unwrap();
    let db =
        TestDatabase::create_on(&format!("postgres://postgres@127.0.0.1:{}", cluster.port())).await;
    let mut env = consumer_env(&brokers, &topic, &group, &db.url);
    env.push(("LEADPIPE_MAX_BATCH_ROWS", BATCH.to_string()));
    let mut consumer = start_consumer(&env);

    produce_all(&brokers, &topic, &lead_records(0..200)).await;
    wait_for(
        "the first 200 leads stored",
        Duration::from_secs(30),
        || async { (db.count().await >= 200).then_some(()) },
    )
    .await;

    cluster.halt().unwrap();
    produce_all(&brokers, &topic, &lead_records(200..1200)).await;
    wait_for(
        "not ready, with database errors counted",
        Duration::from_secs(30),
        || async {
            let readyz = consumer.readiness().await?;
            let errors = consumer
                .metric("leadpipe_consumer_db_errors_total", &[])
                .await?;
            (readyz == 503 && errors > 0.0).then_some(())
        },
    )
    .await;
    // Fetching pauses: what the consumer holds stays within two batches while the
    // rest waits on the broker, visible as lag.
    let page = wait_for(
        "the lag of the waiting leads reported",
        Duration::from_secs(30),
        || async {
            let page = consumer.metrics().await?;
            let lag: i64 = page
                .per_partition("leadpipe_consumer_lag", &[("topic", &topic)])
                .values()
                .sum();
            (lag >= 900).then_some(page)
        },
    )
    .await;
    let held = page
        .value("leadpipe_consumer_buffered_messages", &[])
        .unwrap();
    assert!(
        held <= (2 * BATCH) as f64,
        "{held} messages in memory; the bound is {}",
        2 * BATCH
    );
    assert!(consumer.is_running(), "{}", consumer.logs());

    cluster.resume().unwrap();
    wait_for("all 1200 leads stored", Duration::from_secs(60), || async {
        (db.count().await >= 1200).then_some(())
    })
    .await;
    let expected: BTreeSet<uuid::Uuid> = (0..1200).map(|n| lead_message(n).id.as_uuid()).collect();
    assert_eq!(
        db.ids().await.into_iter().collect::<BTreeSet<_>>(),
        expected
    );
    wait_for("ready again", Duration::from_secs(30), || async {
        (consumer.readiness().await? == 200).then_some(())
    })
    .await;
    assert_eq!(
        consumer
            .metric("leadpipe_consumer_rows_inserted_total", &[])
            .await,
        Some(1200.0)
    );
    assert_eq!(
        consumer.stop(Duration::from_secs(30)).await.code(),
        Some(0),
        "{}",
        consumer.log_tail()
    );
}

#[tokio::test]
async fn a_broker_outage_makes_the_consumer_not_ready_until_it_reconnects() {
    let mut broker = Tansu::start().unwrap();
    let brokers = broker.brokers();
    let topic = unique_name("leads");
    kafka::create_topic(&brokers, &topic, 1).await.unwrap();
    let db = TestDatabase::create().await;
    let env = consumer_env(
        &brokers,
        &topic,
        &unique_name("leadpipe-consumer-test"),
        &db.url,
    );
    let mut consumer = start_consumer(&env);

    produce_all(&brokers, &topic, &lead_records(0..100)).await;
    wait_for("100 leads stored", Duration::from_secs(30), || async {
        (db.count().await >= 100).then_some(())
    })
    .await;
    wait_for("ready", Duration::from_secs(30), || async {
        (consumer.readiness().await? == 200).then_some(())
    })
    .await;

    broker.kill();
    wait_for(
        "not ready while the broker is down",
        Duration::from_secs(30),
        || async { (consumer.readiness().await? == 503).then_some(()) },
    )
    .await;
    assert!(consumer.is_running(), "{}", consumer.logs());

    broker.restart().unwrap();
    produce_all(&brokers, &topic, &lead_records(100..200)).await;
    wait_for(
        "200 leads stored after the broker came back",
        Duration::from_secs(60),
        || async { (db.count().await >= 200).then_some(()) },
    )
    .await;
    wait_for("ready again", Duration::from_secs(30), || async {
        (consumer.readiness().await? == 200).then_some(())
    })
    .await;
    let expected: BTreeSet<uuid::Uuid> = (0..200).map(|n| lead_message(n).id.as_uuid()).collect();
    assert_eq!(
        db.ids().await.into_iter().collect::<BTreeSet<_>>(),
        expected
    );
    assert_eq!(
        consumer.stop(Duration::from_secs(30)).await.code(),
        Some(0),
        "{}",
        consumer.log_tail()
    );
    db.drop_database().await;
}
