//! Fault: the gateway gets SIGTERM under load, as during a rolling deployment. It must
//! finish the requests it is working on — each gets a complete answer — flush the
//! producer, and exit 0; afterwards connections are refused (the client counts those as
//! refused, not as lost). Every lead it answered 202 must be stored.
//!
//! A request written to a keep-alive connection that the gateway has not read yet when
//! the signal comes (or writes later) is reset with the connection, without an answer:
//! the gateway treats the connection as idle. Such resets are counted and printed, not
//! failed; the lead was not processed (or shows up as "stored although not
//! acknowledged"), and the client was not told "accepted".

mod common;

use std::time::{Duration, Instant};

use common::{assert_reconciled, reconcile, steady_load, Pipeline, Tuning};
use leadpipe_loadtest::Class;
use leadpipe_testkit::{shared, Tansu};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_stopped_under_load_answers_every_request_in_flight_and_loses_nothing() {
    let broker = Tansu::start().unwrap();
    let mut pipeline = Pipeline::start(
        &broker.brokers(),
        &shared::database_server_url(),
        Tuning {
            // A long linger (batches leave once a second) keeps many publishes in flight
            // when the signal arrives.
            gateway_env: vec![
                ("LEADPIPE_KAFKA_LINGER_MS", "1000".to_owned()),
                ("LEADPIPE_SHUTDOWN_TIMEOUT_SECS", "10".to_owned()),
            ],
            ..Tuning::default()
        },
    )
    .await;
    let load = tokio::spawn({
        let config = steady_load(pipeline.target(), 200.0, 8);
        async move { leadpipe_loadtest::run(&config).await.unwrap() }
    });

    tokio::time::sleep(Duration::from_secs(4)).await;
    let signalled = Instant::now();
    pipeline.gateway.terminate();
    let status = pipeline.gateway.wait_exit(Duration::from_secs(20)).await;
    let exited = Instant::now();
    let run = load.await.unwrap();
    assert!(
        status.success(),
        "the gateway exits 0 after SIGTERM: {status}\n{}",
        pipeline.gateway.log_tail()
    );
    let reconciliation = reconcile(&pipeline, &run).await;
    assert_reconciled(&reconciliation, &run, &pipeline);

    let (term, exit) = (run.offset_of(signalled), run.offset_of(exited));
    // In flight: sent early enough to have been read by the gateway before the signal,
    // and not answered before it. The client's send instant is when it starts writing;
    // a busy gateway may read a request tens of milliseconds later, and a request still
    // unread on its connection when the signal comes is closed with the connection (see
    // the module comment). 200 ms is a safe margin; the one-second linger keeps many
    // requests sent before that waiting for the broker.
    let arrived_by = term.saturating_sub(Duration::from_millis(200));
    let in_flight: Vec<_> = run
        .records
        .iter()
        .filter(|r| r.sent.is_some_and(|s| s < arrived_by) && r.finished > term)
        .collect();
    assert!(
        in_flight.len() >= 10,
        "requests were in flight at SIGTERM: {}",
        in_flight.len()
    );
    let unanswered: Vec<_> = in_flight
        .iter()
        .filter(|r| r.outcome.status().is_none())
        .collect();
    assert!(
        unanswered.is_empty(),
        "{} of {} requests in flight at SIGTERM got no answer, e.g. {:?}\n{}",
        unanswered.len(),
        in_flight.len(),
        unanswered.first(),
        pipeline.gateway.log_tail()
    );
    let accepted_in_flight = in_flight
        .iter()
        .filter(|r| r.outcome.class() == Class::Accepted)
        .count();
    assert!(
        accepted_in_flight > 0,
        "in-flight leads were accepted, not dropped"
    );

    // Nothing sent before the signal broke off or hung, and nothing hung afterwards.
    // A request sent after the signal on an idle keep-alive connection may meet the
    // connection being closed (a reset, like a refusal: the gateway never answered it);
    // those are counted and printed, not failed.
    let broken_before: Vec<_> = run
        .records
        .iter()
        .filter(|r| r.sent.is_some_and(|s| s < arrived_by))
        .filter(|r| matches!(r.outcome.class(), Class::Transport | Class::TimedOut))
        .collect();
    assert!(
        broken_before.is_empty(),
        "{} requests sent before SIGTERM broke off or hung, e.g. {:?}",
        broken_before.len(),
        broken_before.first()
    );
    let hung = run
        .records
        .iter()
        .filter(|r| r.outcome.class() == Class::TimedOut)
        .count();
    assert_eq!(hung, 0, "no request hangs until the client times out");
    // When, relative to the signal, the reset requests were sent (milliseconds).
    let reset_near_signal: Vec<i128> = run
        .records
        .iter()
        .filter(|r| r.outcome.class() == Class::Transport)
        .filter_map(|r| r.sent)
        .map(|s| s.as_millis() as i128 - term.as_millis() as i128)
        .collect();
    let after_exit: Vec<_> = run
        .records
        .iter()
        .filter(|r| {
            r.sent
                .is_some_and(|s| s > exit + Duration::from_millis(100))
        })
        .collect();
    assert!(
        !after_exit.is_empty(),
        "the load went on after the gateway stopped"
    );
    assert!(
        after_exit
            .iter()
            .all(|r| r.outcome.class() == Class::ConnectFailed),
        "after exit every connection is refused: {:?}",
        after_exit
            .iter()
            .find(|r| r.outcome.class() != Class::ConnectFailed)
    );
    println!(
        "SIGTERM at {term:?}, exit at {exit:?}: {} in flight, {accepted_in_flight} of them accepted; {} reset with their connection (sent at {reset_near_signal:?} ms from the signal); {} refused after exit",
        in_flight.len(),
        reset_near_signal.len(),
        after_exit.len()
    );
    pipeline.db.drop_database().await;
}
