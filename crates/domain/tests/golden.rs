//! The wire format of the `leads` topic is a contract between independently deployed
//! gateways and consumers. These tests pin it: any change shows up as a diff of
//! `golden/lead_message_v2.json`. Regenerate deliberately with `UPDATE_GOLDEN=1`. The
//! version 1 file is kept as written by the gateways before version 2: a consumer must
//! still store what it holds.

use chrono::{TimeZone, Utc};
use leadpipe_domain::{
    parse_submission, AcceptedLead, ClientIpHash, ConsentPolicy, LeadId, LeadMessage,
};
use serde_json::json;
use uuid::Uuid;

const GOLDEN_V2: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/golden/lead_message_v2.json"
);
const GOLDEN_V1: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/golden/lead_message_v1.json"
);

/// The lead of both files; version 2 adds the consent text version and the address hash.
fn sample(version: u16) -> AcceptedLead {
    let mut body = json!({
        "name": "홍길동", "email": "gildong@example.com", "country_code": "+82",
        "phone_number": "010-1234-5678", "privacy_consent": true, "campaign": "spring-2026",
        "utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "봄 세일",
        "page_url": "https://event.example.com/spring"
    });
    if version >= 2 {
        body["consent_text_version"] = json!("2026-12");
    }
    let lead = parse_submission(body.to_string().as_bytes(), ConsentPolicy::default())
        .expect("sample is valid");
    let id =
        LeadId::from_uuid(Uuid::parse_str("01936f0e-8f3a-7c1d-9e2b-3a4c5d6e7f80").expect("uuid"));
    let received_at = Utc
        .with_ymd_and_hms(2026, 3, 14, 9, 26, 53)
        .single()
        .expect("time");
    let mut accepted = AcceptedLead::stamp(lead, id, received_at);
    accepted.schema_version = version;
    if version >= 2 {
        accepted = accepted.with_client_ip_hash(Some(ClientIpHash::from_bytes(
            std::array::from_fn(|i| i as u8 * 8),
        )));
    }
    accepted
}

#[test]
fn lead_message_v2_matches_the_golden_file() {
    // The pretty form of what the gateway writes (`AcceptedLead::to_message_json` writes
    // the same struct compactly): the same fields in the same order.
    let pretty = serde_json::to_string_pretty(&LeadMessage::from(&sample(2))).unwrap() + "\n";
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(GOLDEN_V2, &pretty).unwrap();
    }
    let golden = std::fs::read_to_string(GOLDEN_V2)
        .expect("golden file exists; run with UPDATE_GOLDEN=1 to create it");
    assert_eq!(
        pretty, golden,
        "the wire format changed: review the diff, bump schema_version if it is breaking"
    );
}

#[test]
fn the_golden_files_decode_to_the_same_lead() {
    let v2 = std::fs::read(GOLDEN_V2).expect("golden file exists");
    let decoded = LeadMessage::decode(&v2, ConsentPolicy::default()).expect("v2 decodes");
    assert_eq!(decoded, sample(2));
}

#[test]
fn a_version_1_message_is_still_read_and_keeps_its_version() {
    let v1 = std::fs::read(GOLDEN_V1).expect("golden file exists");
    let decoded = LeadMessage::decode(&v1, ConsentPolicy::default()).expect("v1 decodes");
    assert_eq!(decoded, sample(1));
    assert_eq!(decoded.schema_version, 1);
    assert_eq!(decoded.client_ip_hash, None);
    // Written again (a replay from the dead-letter topic), it is the same version 1
    // message, byte for byte in content.
    let again: serde_json::Value = serde_json::from_slice(&decoded.to_message_json()).unwrap();
    let original: serde_json::Value = serde_json::from_slice(&v1).unwrap();
    assert_eq!(again, original);
}
