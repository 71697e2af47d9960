//! The wire format of the `leads` topic is a contract between independently deployed
//! gateways and consumers. This test pins it: any change shows up as a diff of
//! `golden/lead_message_v1.json`. Regenerate deliberately with `UPDATE_GOLDEN=1`.

use chrono::{TimeZone, Utc};
use leadpipe_domain::{parse_submission, AcceptedLead, ConsentPolicy, LeadId, LeadMessage};
use serde_json::json;
use uuid::Uuid;

const GOLDEN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/golden/lead_message_v1.json"
);

fn sample() -> AcceptedLead {
    let body = json!({
        "name": "홍길동", "email": "gildong@example.com", "country_code": "+82",
        "phone_number": "010-1234-5678", "privacy_consent": true, "campaign": "spring-2026",
        "utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "봄 세일",
        "page_url": "https://event.example.com/spring"
    });
    let lead = parse_submission(body.to_string().as_bytes(), ConsentPolicy::default())
        .expect("sample is valid");
    let id =
        LeadId::from_uuid(Uuid::parse_str("01936f0e-8f3a-7c1d-9e2b-3a4c5d6e7f80").expect("uuid"));
    let received_at = Utc
        .with_ymd_and_hms(2026, 3, 14, 9, 26, 53)
        .single()
        .expect("time");
    AcceptedLead::stamp(lead, id, received_at)
}

#[test]
fn lead_message_v1_matches_the_golden_file() {
    // The pretty form of what the gateway writes (`AcceptedLead::to_message_json` writes
    // the same struct compactly): the same fields in the same order.
    let pretty = serde_json::to_string_pretty(&LeadMessage::from(&sample())).unwrap() + "\n";
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(GOLDEN, &pretty).unwrap();
    }
    let golden = std::fs::read_to_string(GOLDEN)
        .expect("golden file exists; run with UPDATE_GOLDEN=1 to create it");
    assert_eq!(
        pretty, golden,
        "the wire format changed: review the diff, bump schema_version if it is breaking"
    );
}

#[test]
fn the_golden_file_decodes_to_the_same_lead() {
    let golden = std::fs::read(GOLDEN).expect("golden file exists");
    let decoded = LeadMessage::decode(&golden, ConsentPolicy::default()).expect("golden decodes");
    assert_eq!(decoded, sample());
}
