//! Keyboard only: Tab reaches every control in order with a visible focus (the honeypot
//! never), Enter submits, the error summary takes the focus and its links lead to the
//! fields; corrected, the lead is registered without touching the mouse.

use std::time::Duration;

use fantoccini::key::Key;

use crate::support::Stage;

#[tokio::test]
async fn a_keyboard_user_tabs_through_submits_with_enter_and_lands_on_the_error_summary() {
    let stage = Stage::start(vec![]).await;
    let page = stage.open("").await;

    let mut order = Vec::new();
    for text in [
        None,
        Some("Hong Gildong"),
        Some("gildong at example.com"),
        None,
        Some("010-1234-5678"),
        None,
        None,
    ] {
        page.key(Key::Tab).await;
        let focus = page.focus().await;
        assert!(focus.visible, "{} shows where the focus is", focus.element);
        order.push(focus.element);
        if let Some(text) = text {
            page.type_text(text).await;
        }
    }
    assert_eq!(
        order,
        [
            "button#lang-toggle",
            "input#name",
            "input#email",
            "select#country_code",
            "input#phone_number",
            "input#privacy_consent",
            "button#submit",
        ],
        "the tab order follows the form, without the hidden honeypot"
    );

    page.key(Key::Enter).await;
    page.wait_for_state("invalid", Duration::from_secs(30))
        .await;
    let focus = page.focus().await;
    assert_eq!(
        focus.element, "div#error-summary",
        "the summary takes the focus"
    );
    assert!(focus.visible, "and shows it");
    assert_eq!(page.summary().await.len(), 2, "{:?}", page.summary().await);

    // The summary's first link leads to the email field.
    page.key(Key::Tab).await;
    assert_eq!(page.focus().await.element, "a");
    page.key(Key::Enter).await;
    assert_eq!(page.focus().await.element, "input#email");
    page.press(&[Key::Control.into(), 'a']).await;
    page.type_text("gildong@example.com").await;
    for _ in 0..3 {
        page.key(Key::Tab).await;
    }
    assert_eq!(page.focus().await.element, "input#privacy_consent");
    page.key(Key::Space).await;
    page.key(Key::Tab).await;
    assert_eq!(page.focus().await.element, "button#submit");
    page.key(Key::Enter).await;

    page.wait_for_state("done", Duration::from_secs(20)).await;
    assert_eq!(
        page.focus().await.element,
        "div#status",
        "the focus moves to the confirmation"
    );
    let reference = page.reference().await.expect("a reference");
    let ids = stage.stored_ids_once(&reference).await;
    assert_eq!(ids.len(), 1, "{ids:?}");
    let id = ids[0];
    assert_eq!(id.to_string(), reference);
    assert_eq!(
        stage.column(&id, "email").await.as_deref(),
        Some("gildong@example.com")
    );
    assert_eq!(
        stage.column(&id, "phone_e164").await.as_deref(),
        Some("+821012345678")
    );
    stage.finish().await;
}
