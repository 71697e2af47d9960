//! Fault: the gateway gets SIGTERM under load, as during a rolling deployment. It drains:
//! `/readyz` turns 503 at once (the load balancer stops sending), every answer meanwhile
//! closes its connection (clients on keep-alive connections reconnect instead of writing
//! to a connection about to close), then the listener closes, the requests in flight
//! finish, the producer flushes, and the process exits 0. No request is reset or left
//! without an answer, and every lead answered 202 is stored.

use std::time::{Duration, Instant};

use crate::support::{assert_reconciled, load_in_background, pipeline_on_own_broker, reconcile};
use leadpipe_loadtest::Class;
use leadpipe_testkit::Tuning;

/// A long linger (batches leave once a second) keeps many publishes in flight when the
/// listener closes; a 3 s drain and up to 10 s to finish them.
const GATEWAY: &[(&str, &str)] = &[
    ("LEADPIPE_KAFKA_LINGER_MS", "1000"),
    ("LEADPIPE_DRAIN_SECS", "3"),
    ("LEADPIPE_SHUTDOWN_TIMEOUT_SECS", "10"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_stopped_under_load_drains_answers_every_request_and_loses_nothing() {
    // The broker lives as long as `_broker`: to the end of the test.
    let (_broker, mut pipeline) = pipeline_on_own_broker(Tuning::default().gateway(GATEWAY)).await;
    // The load ends 1.5 s into the 3 s drain: the load balancer has taken the gateway out
    // by then. Until then requests keep arriving, on old and new connections.
    let load = load_in_background(&pipeline, 200.0, 6);

    tokio::time::sleep(Duration::from_millis(4500)).await;
    let signalled = Instant::now();
    pipeline.gateway.terminate();
    // When the first probe that got 503 was sent (its round trip under load says
    // nothing about how soon the gateway flipped). Probed for the whole drain (3 s).
    let mut unready_after = None;
    while unready_after.is_none() && signalled.elapsed() < Duration::from_secs(3) {
        let sent = signalled.elapsed();
        if pipeline.gateway.readiness().await == Some(503) {
            unready_after = Some(sent);
        }
    }
    let unready_after = unready_after.expect("/readyz answers 503 during the drain");
    // It flips at once (milliseconds); the bound is the first half of the drain, so
    // that a loaded machine does not break it while a gateway that flipped late would.
    assert!(
        unready_after < Duration::from_millis(1500),
        "still ready {unready_after:?} after SIGTERM"
    );
    let status = pipeline.gateway.wait_exit(Duration::from_secs(30)).await;
    let exited = signalled.elapsed();
    let run = load.await.unwrap();
    assert!(
        status.success(),
        "the gateway exits 0 after SIGTERM: {status}\n{}",
        pipeline.gateway.log_tail()
    );
    assert!(
        exited >= Duration::from_secs(3),
        "it served through the drain period; exited after {exited:?}"
    );
    let reconciliation = reconcile(&pipeline, &run).await;
    assert_reconciled(&reconciliation, &run, &pipeline);

    let term = run.offset_of(signalled);
    let during_drain: Vec<_> = run
        .measured
        .records
        .iter()
        .filter(|r| r.sent.is_some_and(|s| s > term))
        .collect();
    assert!(
        during_drain.len() >= 100,
        "requests kept arriving during the drain: {}",
        during_drain.len()
    );
    let broken: Vec<_> = run
        .measured
        .records
        .iter()
        .filter(|r| {
            matches!(
                r.outcome.class(),
                Class::Transport | Class::TimedOut | Class::ConnectFailed | Class::Dropped
            )
        })
        .collect();
    assert!(
        broken.is_empty(),
        "{} of {} requests got no answer (reset, refused or hung), e.g. {:?}\n{}",
        broken.len(),
        run.measured.records.len(),
        broken.first(),
        pipeline.gateway.log_tail()
    );
    let accepted_during_drain = during_drain
        .iter()
        .filter(|r| r.outcome.class() == Class::Accepted)
        .count();
    assert!(
        accepted_during_drain > 0,
        "leads arriving during the drain are accepted"
    );
    println!(
        "SIGTERM at {term:?}: not ready after {unready_after:?}, exit after {exited:?}; {} requests during the drain, {accepted_during_drain} accepted; none reset, refused or hung",
        during_drain.len()
    );
    pipeline.db.drop_database().await;
}
