//! Property tests: no input makes the parsers panic, and normalisation is stable.

use leadpipe_domain::{
    parse_submission, AcceptedLead, ConsentPolicy, LeadId, LeadMessage, LeadRequest,
};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use serde_json::{Map, Value};

const KEYS: [&str; 13] = [
    "name",
    "email",
    "country_code",
    "phone_number",
    "privacy_consent",
    "campaign",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "page_url",
    "extra",
];

/// Values that are sometimes valid: real-looking fragments mixed with arbitrary text.
fn field_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Bool(true)),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
        any::<i64>().prop_map(Value::from),
        prop::sample::select(vec![
            "홍길동",
            "Jane Doe",
            " Zoë 🎉 ",
            "gildong@example.com",
            "a@b.co",
            "+82",
            "82",
            "1",
            "+44",
            "010-1234-5678",
            "(201) 555-0123",
            "07400 123456",
            "spring-2026",
            "https://event.example.com/x",
            "",
            " ",
            "\u{0}",
            "+",
            "()",
        ])
        .prop_map(Value::from),
        any::<String>().prop_map(Value::from),
        "[0-9 ().-]{0,20}".prop_map(Value::from),
        "[a-z.+]{1,10}@[a-z]{1,8}\\.[a-z]{2,3}".prop_map(Value::from),
    ]
}

fn submission() -> impl Strategy<Value = Value> {
    prop::collection::vec((prop::sample::select(KEYS.to_vec()), field_value()), 0..14).prop_map(
        |pairs| {
            let map: Map<String, Value> =
                pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            Value::Object(map)
        },
    )
}

/// A body that is valid apart from the fields proptest varies.
fn mostly_valid() -> impl Strategy<Value = Value> {
    let phones = vec![
        ("+82", "010-1234-5678"),
        ("+1", "(201) 555-0123"),
        ("+44", "07400 123456"),
        ("+49", "030 123456"),
    ];
    (field_value(), field_value(), prop::sample::select(phones)).prop_map(
        |(name, utm, (code, phone))| {
            serde_json::json!({"name": name, "email": "x@example.com", "country_code": code,
                           "phone_number": phone, "privacy_consent": true, "utm_source": utm})
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_submission(&bytes, ConsentPolicy::default());
        let _ = LeadMessage::decode(&bytes, ConsentPolicy::default());
    }

    #[test]
    fn a_parsed_lead_reserializes_to_a_body_that_parses_to_the_same_lead(
        body in prop_oneof![submission(), mostly_valid()],
        require_consent in any::<bool>(),
    ) {
        let policy = ConsentPolicy { require_consent };
        if let Ok(lead) = parse_submission(body.to_string().as_bytes(), policy) {
            let again = serde_json::to_vec(&LeadRequest::from(&lead)).unwrap();
            prop_assert_eq!(parse_submission(&again, policy), Ok(lead.clone()));

            let accepted = AcceptedLead::stamp(lead, LeadId::generate(), chrono::Utc::now());
            let wire = accepted.to_message_json();
            let message: LeadMessage<'_> = serde_json::from_slice(&wire).unwrap();
            prop_assert_eq!(&message, &LeadMessage::from(&accepted));
            prop_assert_eq!(LeadMessage::decode(&wire, policy), Ok(accepted));
        }
    }
}

#[test]
fn the_mostly_valid_strategy_does_produce_valid_leads() {
    // Guards the property above against silently testing only rejections.
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = mostly_valid();
    let valid = (0..500)
        .filter(|_| {
            let body = strategy.new_tree(&mut runner).unwrap().current();
            parse_submission(body.to_string().as_bytes(), ConsentPolicy::default()).is_ok()
        })
        .count();
    assert!(
        valid > 25,
        "only {valid} of 500 generated bodies were valid"
    );
}
