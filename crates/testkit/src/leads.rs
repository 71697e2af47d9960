//! Sample leads for tests and benchmarks: valid lead messages with deterministic ids,
//! and producing them to a topic.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use leadpipe_domain::{AcceptedLead, ConsentPolicy, LeadId, LeadMessage, SCHEMA_VERSION};
use rdkafka::producer::{FutureProducer, FutureRecord};
use uuid::Uuid;

/// A valid lead message, different for every `n`, with a deterministic id.
pub fn lead_message(n: u32) -> LeadMessage<'static> {
    let received_at: DateTime<Utc> =
        Utc.with_ymd_and_hms(2026, 3, 14, 9, 0, 0).unwrap() + chrono::Duration::seconds(n.into());
    LeadMessage {
        schema_version: SCHEMA_VERSION,
        id: LeadId::from_uuid(Uuid::from_u128(
            0x0193_6f0e_8f3a_7c1d_9e2b_0000_0000_0000 + u128::from(n),
        )),
        received_at,
        consented_at: Some(received_at),
        campaign: format!("campaign-{}", n % 3).into(),
        name: format!("홍길동 {n}").into(),
        email: format!("lead{n}@example.com").into(),
        country_code: "+82".into(),
        phone_e164: format!("+8210{:08}", 10_000_000 + n % 80_000_000).into(),
        privacy_consent: true,
        consent_text_version: Some("2026-12".into()),
        client_ip_hash: Some(format!("{:064x}", u128::from(n) * 0x9e37_79b9_7f4a_7c15)),
        utm_source: Some("newsletter".into()),
        utm_medium: None,
        utm_campaign: Some("봄 세일".into()),
        utm_term: None,
        utm_content: None,
        page_url: Some("https://event.example.com/spring".into()),
    }
}

/// A sample message as the consumer decodes it (default consent policy), ready for
/// `LeadStore::insert_batch`.
pub fn accepted(message: &LeadMessage) -> AcceptedLead {
    LeadMessage::decode(&message.to_json(), ConsentPolicy::default())
        .expect("sample messages are valid")
}

/// Where a produced record landed.
pub type Position = (i32, i64);

/// Produces records (key, payload) and waits for every acknowledgement.
pub async fn produce_all(
    cluster: &(impl crate::kafka::Access + ?Sized),
    topic: &str,
    records: &[(String, Vec<u8>)],
) -> Vec<Position> {
    let producer: FutureProducer = crate::kafka::producer(cluster).expect("producer");
    let sends = records.iter().map(|(key, payload)| {
        let producer = &producer;
        async move {
            producer
                .send(
                    FutureRecord::to(topic)
                        .key(key.as_str())
                        .payload(payload.as_slice()),
                    Duration::from_secs(30),
                )
                .await
                .map(|d| (d.partition, d.offset))
                .map_err(|(e, _)| e)
                .expect("record acknowledged")
        }
    });
    futures::future::join_all(sends).await
}

/// `(key, payload)` of valid lead messages `range`.
pub fn lead_records(range: std::ops::Range<u32>) -> Vec<(String, Vec<u8>)> {
    range
        .map(|n| {
            let m = lead_message(n);
            (m.id.to_string(), m.to_json())
        })
        .collect()
}
