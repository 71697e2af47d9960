//! A Korean visitor fills in the form and registers: the page shows the reference, and
//! PostgreSQL holds exactly that lead, its phone number in E.164, the campaign and UTM
//! values of the page's URL, and the proof of consent: the version of the consent text
//! the page showed and a keyed hash of the visitor's address (never the address).

use std::time::Duration;

use leadpipe_browser_tests::Visitor;

use crate::support::Stage;

#[tokio::test]
async fn a_korean_visitor_registers_and_sees_the_reference_of_the_one_stored_lead() {
    let stage = Stage::start(vec![
        (
            "LEADPIPE_CONSENT_TEXT_VERSIONS",
            "2026-11,2026-12".to_owned(),
        ),
        (
            "LEADPIPE_IP_HASH_KEY",
            "the key of the browser test, long".to_owned(),
        ),
    ])
    .await;
    let page = stage
        .open("?utm_source=newsletter&utm_medium=email&utm_campaign=%EB%B4%84%EB%A7%9E%EC%9D%B4")
        .await;
    assert_eq!(page.lang().await, "ko", "the page opens in Korean");
    let (consent, version) = page.consent_text().await;
    assert_eq!(version, "2026-12");
    assert!(
        consent.contains("개인정보 수집·이용에 동의합니다") && consent.contains("2026-12"),
        "the page shows the consent text and its version: {consent:?}"
    );

    page.fill(&Visitor::korean()).await;
    page.submit().await;
    page.wait_for_state("done", Duration::from_secs(20)).await;

    let reference = page.reference().await.expect("a reference is shown");
    let status = page.status_text().await;
    assert!(
        status.contains("등록이 완료되었습니다") && status.contains("접수 번호"),
        "the success is said in Korean: {status:?}"
    );
    assert!(status.contains(&reference), "{status:?}");
    page.screenshot("event-page-success").await;

    let ids = stage.stored_ids_once(&reference).await;
    assert_eq!(
        ids.iter().map(ToString::to_string).collect::<Vec<_>>(),
        vec![reference.clone()],
        "exactly the lead the page named is stored"
    );
    let id = ids[0];
    assert_eq!(
        stage.column(&id, "phone_e164").await.as_deref(),
        Some("+821012345678")
    );
    assert_eq!(stage.column(&id, "name").await.as_deref(), Some("홍길동"));
    assert_eq!(
        stage.column(&id, "campaign").await.as_deref(),
        Some("spring-2026")
    );
    assert_eq!(
        stage.column(&id, "utm_source").await.as_deref(),
        Some("newsletter")
    );
    assert_eq!(
        stage.column(&id, "utm_campaign").await.as_deref(),
        Some("봄맞이")
    );
    assert_eq!(
        stage.column(&id, "page_url").await.as_deref(),
        Some(format!("{}/", stage.site.origin()).as_str()),
        "the page's address without its query"
    );
    assert_eq!(
        stage.column(&id, "privacy_consent").await.as_deref(),
        Some("true")
    );
    assert_eq!(
        stage.column(&id, "consent_text_version").await.as_deref(),
        Some("2026-12")
    );
    let hash = stage
        .column(&id, "client_ip_hash")
        .await
        .unwrap_or_default();
    assert!(
        hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
        "{hash:?}"
    );
    // The page is served from 127.0.0.1 too: only its URL may hold that address.
    let row = stage.column(&id, "leads").await.unwrap_or_default();
    let page_url = format!("{}/", stage.site.origin());
    assert!(
        row.contains(&page_url) && !row.replace(&page_url, "").contains("127.0.0.1"),
        "no client address in the row: {row}"
    );
    stage.finish().await;
}
