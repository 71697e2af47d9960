//! A gateway that limits each client address (`LEADPIPE_RATE_LIMIT_IP=1/2s`) answers a
//! second lead within two seconds with 429 and `Retry-After`: the page says it is
//! retrying, waits at least that long, and then the lead is accepted.

use std::time::Duration;

use leadpipe_browser_tests::Visitor;
use uuid::Uuid;

use crate::support::Stage;

#[tokio::test]
async fn a_429_is_waited_out_for_its_retry_after_before_the_page_retries() {
    let stage = Stage::start(vec![("LEADPIPE_RATE_LIMIT_IP", "1/2s".to_owned())]).await;
    let page = stage.open("").await;
    page.fill(&Visitor::korean()).await;

    // Someone else at the same address registered a moment ago.
    let earlier = reqwest::Client::new()
        .post(format!("{}/v1/leads", stage.pipeline.target()))
        .header("Idempotency-Key", Uuid::new_v4().to_string())
        .json(&serde_json::json!({
            "name": "김철수", "email": "chulsoo@example.com", "country_code": "+82",
            "phone_number": "010-9876-5432", "privacy_consent": true
        }))
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(earlier.status().as_u16(), 202, "the first lead is accepted");
    let earlier: serde_json::Value = earlier.json().await.expect("a JSON answer");
    let earlier_id = earlier["id"].as_str().expect("an id").to_owned();

    page.submit().await;
    let state = page.wait_for_outcome(Duration::from_secs(30)).await;
    let events = page.events().await;
    let responses: Vec<_> = events.iter().filter(|e| e.kind == "response").collect();
    let first = responses.first().expect("the page got an answer");
    assert_eq!(
        first.status,
        Some(429),
        "the rate-limited gateway answers the second lead within 2 s with 429 \
         (is LEADPIPE_RATE_LIMIT_IP implemented in the gateway?): {events:?}"
    );
    let retry_after = first
        .retry_after
        .expect("the 429 carries Retry-After (exposed to the page by CORS)");
    assert!(
        events.iter().any(|e| e.kind == "retry"),
        "the page said it is retrying: {events:?}"
    );
    let next_attempt = events
        .iter()
        .find(|e| e.kind == "attempt" && e.attempt == Some(2))
        .expect("a second attempt");
    let waited_ms = next_attempt.at_ms - first.at_ms;
    assert!(
        waited_ms >= 1500.0 && waited_ms >= retry_after as f64 * 1000.0 - 50.0,
        "the page waited {waited_ms:.0} ms after a 429 with Retry-After: {retry_after}"
    );
    assert_eq!(state, "done", "{events:?}");
    println!("429 with Retry-After: {retry_after}; the page retried after {waited_ms:.0} ms");

    let reference = page.reference().await.expect("a reference");
    let mut ids: Vec<String> = stage
        .stored_ids_once(&reference)
        .await
        .iter()
        .map(ToString::to_string)
        .collect();
    ids.sort();
    let mut expected = vec![earlier_id, reference];
    expected.sort();
    assert_eq!(ids, expected, "both leads stored, once each");
    stage.finish().await;
}
