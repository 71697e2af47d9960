//! Against a real Kafka-protocol broker (Tansu): what the gateway acknowledges is on the
//! topic, and while the broker is down the gateway answers 503, never 202, yet stays
//! ready (a broker outage must not take every gateway out of the load balancer).

use std::time::Duration;

use crate::support::{lead, problem, settings, spawn_with_kafka};
use leadpipe_domain::{ConsentPolicy, LeadMessage};
use leadpipe_testkit::{kafka, shared, unique_name, Tansu};
use serde_json::Value;

#[tokio::test]
async fn a_posted_lead_is_on_the_topic_with_exactly_the_fields_sent() {
    let brokers = shared::brokers();
    let topic = unique_name("leads");
    kafka::create_topic(&brokers, &topic, 3)
        .await
        .expect("the shared broker (make test starts it) is reachable");
    let app = spawn_with_kafka(settings(), &brokers, &topic).await;

    let response = app.post_lead_with_key(&lead(), "roundtrip-1").await;
    assert_eq!(response.status(), 202);
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let records = kafka::read_records(&brokers, &topic, 1, Duration::from_secs(20))
        .await
        .unwrap();
    let record = &records[0];
    assert_eq!(record.key.as_deref(), Some(id.as_bytes()));
    assert!(
        record.headers.is_empty(),
        "the version travels in the payload"
    );
    let accepted =
        LeadMessage::decode(record.payload.as_deref().unwrap(), ConsentPolicy::default()).unwrap();
    assert_eq!(accepted.id.to_string(), id);
    let sent =
        leadpipe_domain::parse_submission(lead().to_string().as_bytes(), ConsentPolicy::default())
            .unwrap();
    assert_eq!(accepted.lead, sent, "normalised fields survive the trip");
    assert_eq!(accepted.lead.phone.e164(), "+821012345678");
    assert_eq!(app.metrics.leads_accepted.get(), 1);
}

#[tokio::test]
async fn with_the_broker_down_the_gateway_stays_ready_answers_503_fast_and_recovers() {
    let mut broker = Tansu::start().expect("a broker of this test's own");
    let topic = "leads";
    kafka::create_topic(&broker.brokers(), topic, 1)
        .await
        .unwrap();
    let mut settings = settings();
    settings.producer.delivery_timeout_ms = 2000;
    // Tansu 0.6 rejects the epoch bump librdkafka's idempotent producer makes after
    // messages time out, wedging it for good; see LEADPIPE_KAFKA_IDEMPOTENCE.
    settings.common.kafka.idempotence = false;
    let app = spawn_with_kafka(settings, &broker.brokers(), topic).await;

    wait_for_broker_up(&app, 1).await;
    assert_eq!(app.get("/readyz").await.status(), 200);
    assert_eq!(app.post_lead(&lead()).await.status(), 202);

    broker.kill();
    wait_for_broker_up(&app, 0).await;
    // For 30 s of outage the gateway stays in the load balancer: readiness is about this
    // process, not the broker. Every lead meanwhile is a fast 503 with Retry-After.
    let outage = std::time::Instant::now();
    let mut answered = 0;
    while outage.elapsed() < Duration::from_secs(30) {
        assert_eq!(
            app.get("/readyz").await.status(),
            200,
            "not ready {:?} into the outage",
            outage.elapsed()
        );
        // Bounded by the delivery timeout (2 s), not held until the broker is back;
        // the limit is 5× that, so a busy machine does not break it.
        let started = std::time::Instant::now();
        let response = app.post_lead(&lead()).await;
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "answered within 5× the delivery timeout (2 s), took {:?}",
            started.elapsed()
        );
        assert_eq!(response.headers().get("retry-after").unwrap(), "2");
        assert_eq!(problem(response, 503).await["code"], "broker_unavailable");
        answered += 1;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(answered >= 8, "{answered} leads posted during the outage");

    broker.restart().unwrap();
    wait_for_broker_up(&app, 1).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let response = app.post_lead(&lead()).await;
        if response.status() == 202 {
            break;
        }
        let problem = problem(response, 503).await;
        assert!(
            tokio::time::Instant::now() < deadline,
            "the gateway never recovered: {problem}"
        );
    }
    let text = app.get("/metrics").await.text().await.unwrap();
    assert!(
        text.contains("leadpipe_broker_errors_total{kind=\"timeout\"}"),
        "{text}"
    );
}

/// Waits until `leadpipe_broker_up` reports `value` (the probe asks every second).
async fn wait_for_broker_up(app: &crate::support::TestApp, value: i64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while app.metrics.broker_up.get() != value {
        assert!(
            tokio::time::Instant::now() < deadline,
            "leadpipe_broker_up never became {value}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
