//! Benchmark: what a bare rdkafka producer achieves against the broker with exactly the
//! gateway's producer settings (`KafkaSink::tuning`: acks=all, linger, lz4, queue
//! sizes), keeping the same number of messages awaiting acknowledgement as the load tool
//! keeps requests open. The messages are the gateway's own (a parsed lead, stamped and
//! encoded per message). If the gateway reaches about this rate, the broker is the
//! limit, not the gateway.
//!
//!     cargo run --release -p leadpipe-gateway --example broker_ceiling -- \
//!         127.0.0.1:9092 leads 100000 64 [idempotence true|false] [rate]
//!
//! With a rate (messages per second), messages are sent on that schedule instead of as
//! fast as the in-flight bound allows: the floor of a producer at a low rate.
//!
//! The last line repeats the figures as one JSON object, for `bench/bench.py`.

use std::time::{Duration, Instant};

use chrono::Utc;
use futures::stream::{self, StreamExt};
use leadpipe_domain::{parse_submission, AcceptedLead, ConsentPolicy, LeadId};
use leadpipe_gateway::{KafkaSink, Settings};
use leadpipe_platform::{AckProducer, ClientRole};
use rdkafka::producer::BaseRecord;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let brokers = args.get(1).map_or("127.0.0.1:9092", String::as_str);
    let topic = args.get(2).map_or("leads", String::as_str);
    let total: usize = args.get(3).map_or(Ok(100_000), |s| s.parse())?;
    let in_flight: usize = args.get(4).map_or(Ok(64), |s| s.parse())?;
    let idempotence = args.get(5).map_or("true", String::as_str) == "true";
    let rate: f64 = args.get(6).map_or(Ok(0.0), |s| s.parse())?;

    let mut settings = Settings::defaults();
    settings.common.kafka.brokers = brokers.parse().map_err(anyhow::Error::msg)?;
    settings.common.kafka.idempotence = idempotence;
    let producer: AckProducer = settings
        .common
        .kafka
        .validate()?
        .client(ClientRole::Producer, "leadpipe-broker-ceiling")
        .tuning(KafkaSink::tuning(&settings))
        .create()?;
    let body = r#"{"name":"홍길동","email":"gildong@example.com","country_code":"+82","phone_number":"010-1234-5678","privacy_consent":true,"campaign":"spring-2026","utm_source":"newsletter","page_url":"https://event.example.com/spring"}"#;
    let lead = parse_submission(body.as_bytes(), ConsentPolicy::default())
        .map_err(|e| anyhow::anyhow!("{e}"))?;

    let started = Instant::now();
    let results: Vec<Result<Duration, ()>> = stream::iter(0..total)
        .then(|n| async move {
            if rate > 0.0 {
                let due = started + Duration::from_secs_f64(n as f64 / rate);
                tokio::time::sleep_until(due.into()).await;
            }
        })
        .map(|()| {
            let accepted = AcceptedLead::stamp(lead.clone(), LeadId::generate(), Utc::now());
            let producer = producer.clone();
            async move {
                let sent = Instant::now();
                let mut key = [0u8; uuid::fmt::Hyphenated::LENGTH];
                let key = accepted.id.as_uuid().hyphenated().encode_lower(&mut key);
                let payload = accepted.to_message_json();
                let ack = producer
                    .send(BaseRecord::to(topic).key(key.as_bytes()).payload(&payload))
                    .map_err(|_| ())?;
                ack.await.map(|_| sent.elapsed()).map_err(|_| ())
            }
        })
        .buffer_unordered(in_flight)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let mut latencies: Vec<Duration> = results.iter().filter_map(|r| r.ok()).collect();
    latencies.sort();
    let failed = results.len() - latencies.len();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    let per_s = latencies.len() as f64 / elapsed.as_secs_f64();
    println!(
        "produced {} of {total} in {:.2} s: {per_s:.0} msg/s acknowledged, {failed} failed; ack latency p50 {:?} p99 {:?} (in flight {in_flight}, idempotence {idempotence})",
        latencies.len(),
        elapsed.as_secs_f64(),
        pct(0.50),
        pct(0.99),
    );
    println!(
        "{}",
        serde_json::json!({
            "acknowledged": latencies.len(),
            "failed": failed,
            "seconds": elapsed.as_secs_f64(),
            "per_s": per_s.round(),
            "p50_ms": pct(0.50).as_secs_f64() * 1e3,
            "p99_ms": pct(0.99).as_secs_f64() * 1e3,
        })
    );
    Ok(())
}
