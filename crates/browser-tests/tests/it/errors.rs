//! Mistakes are shown next to their fields, listed in a summary that takes the focus,
//! and nothing is stored: obvious ones are caught in the page before anything is sent,
//! the rest by the gateway (its 422 is mapped onto the same fields).

use std::time::Duration;

use leadpipe_browser_tests::{EventPage, Visitor};

use crate::support::Stage;

#[tokio::test]
async fn an_invalid_email_and_a_missing_consent_are_shown_by_their_fields_and_nothing_is_stored() {
    let stage = Stage::start(vec![]).await;
    let page = stage.open("?lang=en").await;
    assert_eq!(page.lang().await, "en");

    // Caught in the page: no request is made.
    page.fill(&Visitor {
        email: "gildong.example.com",
        consent: false,
        ..Visitor::korean()
    })
    .await;
    page.submit().await;
    page.wait_for_state("invalid", Duration::from_secs(30))
        .await;
    email_and_consent_errors_are_shown(&page).await;
    assert_eq!(page.field_error("name").await, "");
    assert_eq!(page.summary().await.len(), 2, "{:?}", page.summary().await);
    assert_eq!(
        page.focus().await.element,
        "div#error-summary",
        "the error summary has the focus"
    );
    assert!(
        page.lead_requests().await.is_empty(),
        "nothing was sent for obvious mistakes"
    );
    page.screenshot("event-page-errors").await;

    // The language can change with errors shown: they follow.
    page.toggle_language().await;
    assert_eq!(page.lang().await, "ko");
    let consent_error = page.field_error("privacy_consent").await;
    assert!(consent_error.contains("동의해야"), "{consent_error:?}");
    page.toggle_language().await;

    // Caught by the gateway: an address only a full check rejects, consent missing.
    // The page's own checks are switched off, as an embedding site may do.
    page.configure("clientChecks", "off").await;
    page.fill(&Visitor {
        email: "gildong@example..com",
        consent: false,
        ..Visitor::korean()
    })
    .await;
    page.submit().await;
    page.wait_for_state("invalid", Duration::from_secs(20))
        .await;
    let statuses: Vec<Option<u64>> = page
        .events()
        .await
        .iter()
        .filter(|e| e.kind == "response")
        .map(|e| e.status)
        .collect();
    assert_eq!(statuses, vec![Some(422)], "the gateway answered 422 once");
    email_and_consent_errors_are_shown(&page).await;
    assert_eq!(page.field_error("phone_number").await, "");
    assert_eq!(page.focus().await.element, "div#error-summary");

    stage
        .pipeline
        .wait_until_consumed(Duration::from_secs(60))
        .await;
    assert_eq!(stage.pipeline.db.count().await, 0, "nothing is stored");
    stage.finish().await;
}

/// The email's and the consent's errors, each by its field and announced.
async fn email_and_consent_errors_are_shown(page: &EventPage<'_>) {
    let email_error = page.field_error("email").await;
    let consent_error = page.field_error("privacy_consent").await;
    assert!(email_error.contains("email address"), "{email_error:?}");
    assert!(
        consent_error.contains("You must agree"),
        "{consent_error:?}"
    );
    assert!(page.announces_error("email").await);
    assert!(page.announces_error("privacy_consent").await);
}
