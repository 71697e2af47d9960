//! The broker is down when the visitor submits: the gateway answers 503 with
//! `Retry-After`, the page says it is retrying and retries with the same
//! `Idempotency-Key`; once the broker is back the lead is accepted, and stored once
//! however many of the attempts reached the broker.

use std::time::Duration;

use leadpipe_browser_tests::{EventPage, PageEvent, Visitor};
use leadpipe_testkit::Tansu;

use crate::support::Stage;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_the_broker_is_down_the_page_retries_with_one_key_until_the_lead_is_accepted() {
    let mut broker = Tansu::start().expect("a broker of the test's own");
    let stage = Stage::start_on(
        &broker.brokers(),
        vec![
            ("LEADPIPE_KAFKA_DELIVERY_TIMEOUT_MS", "1500".to_owned()),
            ("LEADPIPE_RETRY_AFTER_SECS", "1".to_owned()),
        ],
    )
    .await;
    let page = stage.open("").await;
    page.fill(&Visitor::korean()).await;

    broker.kill();
    page.submit().await;
    page.wait_for_state("retrying", Duration::from_secs(20))
        .await;
    let status = page.status_text().await;
    assert!(
        status.contains("다시 시도합니다"),
        "the visitor is told the page is retrying: {status:?}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let broker = tokio::task::spawn_blocking(move || {
        broker.restart().expect("the broker starts again");
        broker
    })
    .await
    .expect("restarting the broker");

    let state = page.wait_for_outcome(Duration::from_secs(90)).await;
    let events = page.events().await;
    assert_eq!(
        state,
        "done",
        "events: {events:?}\n{}",
        stage.pipeline.logs()
    );
    let statuses: Vec<u64> = events
        .iter()
        .filter(|e| e.kind == "response")
        .filter_map(|e| e.status)
        .collect();
    assert!(
        statuses.first() == Some(&503) && statuses.last() == Some(&202),
        "503 while the broker was down, then 202: {statuses:?}"
    );
    attempts_share_one_key(&events, 2);
    stored_once_as_named(&stage, &page).await;
    stage.finish().await;
    drop(broker);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_last_attempt_the_visitor_retries_by_hand_with_the_same_key() {
    let mut broker = Tansu::start().expect("a broker of the test's own");
    let stage = Stage::start_on(
        &broker.brokers(),
        vec![
            ("LEADPIPE_KAFKA_DELIVERY_TIMEOUT_MS", "1500".to_owned()),
            ("LEADPIPE_RETRY_AFTER_SECS", "1".to_owned()),
        ],
    )
    .await;
    let page = stage.open("?lang=en").await;
    page.configure("maxAttempts", "2").await;
    page.fill(&Visitor::korean()).await;

    broker.kill();
    page.submit().await;
    page.wait_for_state("failed", Duration::from_secs(30)).await;
    let status = page.status_text().await;
    assert!(
        status.contains("could not register you right now"),
        "the visitor is told: {status:?}"
    );
    assert!(page.offers_retry().await, "and offered a retry button");

    let broker = tokio::task::spawn_blocking(move || {
        broker.restart().expect("the broker starts again");
        broker
    })
    .await
    .expect("restarting the broker");
    page.configure("maxAttempts", "6").await;
    page.retry_by_hand().await;
    let state = page.wait_for_outcome(Duration::from_secs(90)).await;
    let events = page.events().await;
    assert_eq!(
        state,
        "done",
        "events: {events:?}\n{}",
        stage.pipeline.logs()
    );
    assert!(!page.offers_retry().await, "the retry button is gone");
    // Two automatic attempts, then the visitor's.
    attempts_share_one_key(&events, 3);
    stored_once_as_named(&stage, &page).await;
    stage.finish().await;
    drop(broker);
}

/// At least `at_least` attempts, every one with the submission's Idempotency-Key.
fn attempts_share_one_key(events: &[PageEvent], at_least: usize) {
    let keys: Vec<&str> = events
        .iter()
        .filter(|e| e.kind == "attempt")
        .filter_map(|e| e.key.as_deref())
        .collect();
    assert!(
        keys.len() >= at_least,
        "{at_least} attempts or more: {events:?}"
    );
    assert!(
        keys.iter().all(|k| *k == keys[0]),
        "every attempt carried the first one's Idempotency-Key: {keys:?}"
    );
}

/// One lead stored: the one whose reference the page shows.
async fn stored_once_as_named(stage: &Stage, page: &EventPage<'_>) {
    let reference = page.reference().await.expect("a reference");
    let ids = stage.stored_ids_once(&reference).await;
    assert_eq!(
        ids.iter().map(ToString::to_string).collect::<Vec<_>>(),
        vec![reference],
        "one lead stored, the one the page named"
    );
}
