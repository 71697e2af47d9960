//! Any bytes as a record on the `leads` topic: the decoder never panics, and a message it
//! accepts is written back (a dead letter replayed) as a message that decodes to the same
//! lead.
#![no_main]

use leadpipe_domain::{ConsentPolicy, LeadMessage};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|payload: &[u8]| {
    for require_consent in [true, false] {
        let policy = ConsentPolicy { require_consent };
        if let Ok(lead) = LeadMessage::decode(payload, policy) {
            let again = LeadMessage::decode(&lead.to_message_json(), policy);
            assert_eq!(again.as_ref(), Ok(&lead), "a decoded lead does not survive its own encoding");
        }
    }
});
