//! The proof of consent the gateway stamps on a lead: the consent text version (checked
//! when versions are configured) and a keyed hash of the client address — never the
//! address itself.

use leadpipe_gateway::consent::ConsentProof;
use leadpipe_platform::Secret;
use serde_json::json;

use crate::support::{lead, problem, settings, spawn_with_memory};

const KEY: &str = "a key of the test, 32 bytes long";

#[tokio::test]
async fn with_versions_configured_a_lead_names_an_accepted_version() {
    let mut settings = settings();
    settings.consent.consent_text_versions = "2026-11,2026-12".parse().unwrap();
    let (app, sink) = spawn_with_memory(settings).await;

    let missing = problem(app.post_lead(&lead()).await, 422).await;
    assert_eq!(missing["code"], "validation_failed");
    assert_eq!(missing["errors"][0]["field"], "consent_text_version");
    assert_eq!(missing["errors"][0]["code"], "required");

    let mut body = lead();
    body["consent_text_version"] = json!("2025-01");
    let unknown = problem(app.post_lead(&body).await, 422).await;
    assert_eq!(unknown["code"], "consent_version_unknown");
    assert_eq!(unknown["errors"][0]["field"], "consent_text_version");
    assert!(!unknown.to_string().contains("2025-01"), "{unknown}");

    body["consent_text_version"] = json!("2026-12");
    assert_eq!(app.post_lead(&body).await.status(), 202);
    let published = sink.published();
    assert_eq!(published.len(), 1);
    assert_eq!(
        published[0].consent_text_version.as_deref(),
        Some("2026-12")
    );
}

#[tokio::test]
async fn without_versions_configured_the_version_is_optional_and_kept_as_sent() {
    let (app, sink) = spawn_with_memory(settings()).await;
    assert_eq!(app.post_lead(&lead()).await.status(), 202);
    let mut body = lead();
    body["consent_text_version"] = json!("v7 (en)");
    assert_eq!(app.post_lead(&body).await.status(), 202);
    let versions: Vec<Option<String>> = sink
        .published()
        .iter()
        .map(|m| m.consent_text_version.as_deref().map(str::to_owned))
        .collect();
    assert_eq!(versions, vec![None, Some("v7 (en)".to_owned())]);
}

#[tokio::test]
async fn the_client_address_travels_only_as_its_keyed_hash() {
    let mut settings = settings();
    settings.consent.ip_hash_key = Some(Secret::new(KEY));
    let expected = ConsentProof::from_settings(&settings.consent)
        .unwrap()
        .hash("127.0.0.1".parse().unwrap())
        .unwrap()
        .to_hex();
    let (app, sink) = spawn_with_memory(settings).await;
    assert_eq!(app.post_lead(&lead()).await.status(), 202);
    let record = sink.records().pop().expect("published");
    let bytes = String::from_utf8(record.payload).unwrap();
    assert!(
        bytes.contains(&format!(r#""client_ip_hash":"{expected}""#)),
        "{bytes}"
    );
    assert!(!bytes.contains("127.0.0.1"), "{bytes}");
}

#[tokio::test]
async fn without_a_key_no_hash_is_sent() {
    let (app, sink) = spawn_with_memory(settings()).await;
    assert_eq!(app.post_lead(&lead()).await.status(), 202);
    let bytes = String::from_utf8(sink.records().pop().unwrap().payload).unwrap();
    assert!(!bytes.contains("client_ip_hash"), "{bytes}");
    assert!(!bytes.contains("127.0.0.1"), "{bytes}");
}
