//! The `website` field is hidden from people (off-screen, out of the tab order, hidden
//! from assistive technology); a bot fills it. The page sends it only then, and the
//! gateway (`LEADPIPE_HONEYPOT_FIELD=website`) answers like an accepted lead without
//! publishing it: the bot learns nothing, nothing is stored.

use std::time::Duration;

use leadpipe_browser_tests::Visitor;

use crate::support::Stage;

#[tokio::test]
async fn a_bot_that_fills_the_hidden_field_is_answered_as_accepted_and_nothing_is_stored() {
    let stage = Stage::start(vec![]).await;
    let page = stage.open("").await;
    page.fill(&Visitor::korean()).await;
    // What a form-filling script does: every input gets a value.
    stage
        .browser
        .client
        .execute(
            "document.querySelector('[name=website]').value = 'https://spam.example';",
            vec![],
        )
        .await
        .expect("filling the honeypot");

    page.submit().await;
    page.wait_for_state("done", Duration::from_secs(20)).await;
    assert!(page.reference().await.is_some(), "the bot sees a reference");

    // Had it been published, the consumer would have stored it once caught up.
    stage
        .pipeline
        .wait_until_consumed(Duration::from_secs(60))
        .await;
    assert_eq!(stage.pipeline.db.count().await, 0, "nothing is stored");
    stage.finish().await;
}
