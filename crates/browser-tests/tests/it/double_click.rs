//! A double click on submit sends one request: the second click lands while the first
//! submission is in flight and is ignored. One row is stored.

use std::time::Duration;

use leadpipe_browser_tests::Visitor;

use crate::support::Stage;

#[tokio::test]
async fn a_double_click_sends_one_request_and_stores_one_lead() {
    let stage = Stage::start(vec![]).await;
    let page = stage.open("").await;
    page.fill(&Visitor::korean()).await;

    page.double_click_submit().await;
    page.wait_for_state("done", Duration::from_secs(20)).await;
    let reference = page.reference().await.expect("a reference");

    let attempts = page
        .events()
        .await
        .iter()
        .filter(|e| e.kind == "attempt")
        .count();
    assert_eq!(attempts, 1, "one submission started");
    assert_eq!(
        page.lead_requests().await.len(),
        1,
        "the browser sent one request"
    );
    let ids = stage.stored_ids_once(&reference).await;
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(ids[0].to_string(), reference);
    stage.finish().await;
}
