//! Decoding a record from the topic: what a consumer dead-letters and why.

use leadpipe_domain::{ConsentPolicy, DecodeError, LeadMessage};
use serde_json::{json, Value};

fn golden() -> Value {
    serde_json::from_str(include_str!("golden/lead_message_v2.json")).unwrap()
}

fn decode(value: &Value) -> Result<leadpipe_domain::AcceptedLead, DecodeError> {
    LeadMessage::decode(value.to_string().as_bytes(), ConsentPolicy::default())
}

#[test]
fn non_json_and_non_messages_are_malformed() {
    for payload in [
        &b"not json"[..],
        b"",
        b"[]",
        b"{\"schema_version\": \"1\"}",
        b"{\"id\": 1}",
    ] {
        let err = LeadMessage::decode(payload, ConsentPolicy::default()).unwrap_err();
        assert_eq!(err.reason(), "malformed", "{payload:?}");
    }
}

#[test]
fn a_message_missing_a_required_field_is_malformed() {
    let mut message = golden();
    message.as_object_mut().unwrap().remove("email");
    assert_eq!(decode(&message).unwrap_err().reason(), "malformed");
}

#[test]
fn unknown_versions_are_unsupported() {
    for version in [0, 3] {
        let mut message = golden();
        message["schema_version"] = json!(version);
        assert_eq!(
            decode(&message).unwrap_err(),
            DecodeError::UnsupportedVersion(version)
        );
    }
}

#[test]
fn a_client_ip_hash_that_is_not_64_hex_characters_is_invalid() {
    let mut message = golden();
    message["client_ip_hash"] = json!("203.0.113.7");
    let err = decode(&message).unwrap_err();
    assert_eq!(err.reason(), "invalid");
    assert!(
        err.to_string().contains("client_ip_hash invalid_format"),
        "{err}"
    );
    assert!(!err.to_string().contains("203.0.113.7"), "{err}");
}

#[test]
fn a_message_that_no_longer_validates_is_invalid_and_names_the_fields_not_the_values() {
    let mut message = golden();
    message["email"] = json!("gildong-at-example.com");
    message["phone_e164"] = json!("+8201012345678");
    let err = decode(&message).unwrap_err();
    assert_eq!(err.reason(), "invalid");
    let text = err.to_string();
    assert!(text.contains("email invalid_format"), "{text}");
    assert!(text.contains("phone_number invalid_format"), "{text}");
    assert!(!text.contains("gildong"), "{text}");
}

#[test]
fn consent_rules_apply_to_messages_too() {
    let mut message = golden();
    message["privacy_consent"] = json!(false);
    message.as_object_mut().unwrap().remove("consented_at");
    assert_eq!(decode(&message).unwrap_err().reason(), "invalid");
    let lenient = ConsentPolicy {
        require_consent: false,
    };
    assert!(LeadMessage::decode(message.to_string().as_bytes(), lenient).is_ok());

    let mut message = golden();
    message.as_object_mut().unwrap().remove("consented_at");
    assert_eq!(decode(&message).unwrap_err().reason(), "invalid");
}

#[test]
fn unknown_additive_fields_are_ignored() {
    let mut message = golden();
    message["referrer"] = json!("https://example.com/");
    assert!(decode(&message).is_ok());
}
