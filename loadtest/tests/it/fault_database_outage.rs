//! Fault: PostgreSQL stops (immediate shutdown, like a crash) under load and starts
//! again six seconds later. The gateway never talks to the database, so visitors see no
//! difference; the consumer holds its offsets until it can write, then catches up.
//! The database is a throwaway cluster of the test's own (`initdb` + `pg_ctl`).

use std::time::Duration;

use crate::support::{assert_reconciled, load_in_background, reconcile};
use leadpipe_testkit::{PgCluster, Tansu, TestStack, Tuning};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leads_accepted_while_the_database_is_down_are_stored_once_it_is_back() {
    let broker = Tansu::start().unwrap();
    let mut cluster = tokio::task::spawn_blocking(PgCluster::start)
        .await
        .unwrap()
        .unwrap();
    let server = format!("postgres://postgres@127.0.0.1:{}", cluster.port());
    let pipeline = TestStack::start(&broker.brokers(), &server, Tuning::default()).await;
    let load = load_in_background(&pipeline, 200.0, 16);

    tokio::time::sleep(Duration::from_secs(3)).await;
    let stored_before = pipeline.db.count().await;
    let mut cluster = tokio::task::spawn_blocking(move || {
        cluster.halt().unwrap();
        cluster
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(
        pipeline
            .db
            .scalar::<i64>("SELECT count(*) FROM leads")
            .await,
        None,
        "the database is down during the outage"
    );
    cluster = tokio::task::spawn_blocking(move || {
        cluster.resume().unwrap();
        cluster
    })
    .await
    .unwrap();
    let run = load.await.unwrap();
    let reconciliation = reconcile(&pipeline, &run).await;

    assert_reconciled(&reconciliation, &run, &pipeline);
    assert!(stored_before > 0, "leads were flowing before the outage");
    // Visitors did not notice: the gateway answered as usual throughout.
    assert_eq!(
        run.measured.totals.unavailable
            + run.measured.totals.errors()
            + run.measured.totals.dropped,
        0,
        "{:?}",
        run.measured.outcomes
    );
    // A third of the run was accepted while the database was down, and is stored now.
    assert!(reconciliation.findings.accepted > 2000);
    pipeline.db.drop_database().await;
    drop(cluster);
}
