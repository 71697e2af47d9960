//! Any bytes as a `POST /v1/leads` body: the parser never panics, and every lead it
//! accepts goes through the Kafka message and the consumer's re-validation unchanged —
//! no lead the gateway answers 202 is one the consumer would dead-letter.
#![no_main]

use chrono::TimeZone;
use leadpipe_domain::{parse_submission, AcceptedLead, ConsentPolicy, LeadId, LeadMessage};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    for require_consent in [true, false] {
        let policy = ConsentPolicy { require_consent };
        let Ok(lead) = parse_submission(body, policy) else {
            continue;
        };
        let received_at = chrono::Utc.with_ymd_and_hms(2026, 12, 7, 9, 0, 0).unwrap();
        let accepted = AcceptedLead::stamp(lead, LeadId::generate(), received_at);
        let decoded = LeadMessage::decode(&accepted.to_message_json(), policy);
        assert_eq!(decoded.as_ref(), Ok(&accepted), "accepted by the gateway, refused by the consumer");
    }
});
