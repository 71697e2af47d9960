//! Fault: the broker is killed (SIGKILL) under load and restarted five seconds later.
//! While it is down the gateway cannot get an acknowledgement, so it must answer 503 —
//! never 202 — and every lead it did answer 202, before or after, must be stored.
//!
//! Tansu 0.6 wedges an idempotent producer after such an outage (see the gateway's
//! `LEADPIPE_KAFKA_IDEMPOTENCE`), so the gateway runs with idempotence off; lead ids are
//! deterministic and stored once, so a retried duplicate on the topic is harmless.

use std::time::{Duration, Instant};

use crate::support::{assert_reconciled, load_in_background, pipeline_on_own_broker, reconcile};
use leadpipe_loadtest::{Class, Outcome};
use leadpipe_testkit::Tuning;

/// Idempotence off (above), and publishes that give up after 2 s, so the outage is
/// answered 503 soon after it starts.
const GATEWAY: &[(&str, &str)] = &[
    ("LEADPIPE_KAFKA_IDEMPOTENCE", "false"),
    ("LEADPIPE_KAFKA_DELIVERY_TIMEOUT_MS", "2000"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_answers_503_while_the_broker_is_down_and_loses_no_accepted_lead() {
    let (mut broker, pipeline) = pipeline_on_own_broker(Tuning::default().gateway(GATEWAY)).await;
    let load = load_in_background(&pipeline, 200.0, 18);

    tokio::time::sleep(Duration::from_secs(4)).await;
    let killed = Instant::now();
    broker.kill();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let broker = tokio::task::spawn_blocking(move || {
        broker.restart().unwrap();
        broker
    })
    .await
    .unwrap();
    let restarted = Instant::now();
    let run = load.await.unwrap();
    let reconciliation = reconcile(&pipeline, &run).await;

    // The promise: no 202 for a lead that is then lost.
    assert_reconciled(&reconciliation, &run, &pipeline);

    let (down_from, down_until) = (run.offset_of(killed), run.offset_of(restarted));
    let during_outage: Vec<_> = run
        .measured
        .records
        .iter()
        .filter(|r| r.kind.is_valid())
        .filter(|r| r.sent.is_some_and(|s| s > down_from) && r.finished < down_until)
        .collect();
    let accepted_during: Vec<_> = during_outage
        .iter()
        .filter(|r| r.outcome.class() == Class::Accepted)
        .collect();
    assert!(
        accepted_during.is_empty(),
        "{} leads sent and answered while the broker was down got 202: {:?}",
        accepted_during.len(),
        accepted_during.first()
    );
    let unavailable_during = during_outage
        .iter()
        .filter(|r| {
            matches!(
                r.outcome,
                Outcome::Unavailable {
                    code: "broker_unavailable"
                }
            )
        })
        .count();
    assert!(
        unavailable_during > 100,
        "the outage was answered with 503 broker_unavailable ({unavailable_during} of {} valid leads in the window): {:?}",
        during_outage.len(),
        run.measured.outcomes
    );
    assert!(
        during_outage
            .iter()
            .all(|r| matches!(r.outcome, Outcome::Unavailable { .. })),
        "every valid lead sent and answered during the outage got a 503: {:?}",
        during_outage
            .iter()
            .find(|r| !matches!(r.outcome, Outcome::Unavailable { .. }))
    );
    // …and it recovers: leads sent after the restart are accepted again.
    let accepted_after = run
        .measured
        .records
        .iter()
        .filter(|r| {
            r.sent
                .is_some_and(|s| s > down_until + Duration::from_secs(3))
        })
        .filter(|r| r.outcome.class() == Class::Accepted)
        .count();
    assert!(
        accepted_after > 200,
        "only {accepted_after} leads accepted after the broker came back: {:?}\n{}",
        run.measured.outcomes,
        pipeline.logs()
    );
    let first_accepted_after = run
        .measured
        .records
        .iter()
        .filter(|r| r.outcome.class() == Class::Accepted && r.finished > down_until)
        .filter_map(|r| r.sent)
        .filter(|&s| s > down_until)
        .min();
    let outcomes: Vec<String> = run
        .measured
        .outcomes
        .values()
        .map(|o| format!("{} ×{}", o.label, o.count))
        .collect();
    println!(
        "broker down from {down_from:?} to {down_until:?}: {unavailable_during} answered 503; first lead sent after the restart and accepted was sent at {first_accepted_after:?}; {} accepted leads all stored; {} stored although answered 503\noutcomes: {}",
        reconciliation.findings.accepted,
        reconciliation.findings.stored_unacknowledged,
        outcomes.join(", ")
    );
    pipeline.db.drop_database().await;
    drop(broker);
}
