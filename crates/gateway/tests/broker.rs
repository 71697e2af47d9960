//! Against a real Kafka-protocol broker (Tansu): what the gateway acknowledges is on the
//! topic, and while the broker is down the gateway answers 503, never 202.

mod common;

use std::time::Duration;

use common::{lead, problem, settings, spawn_with_kafka};
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
async fn with_the_broker_down_the_gateway_answers_503_and_recovers_when_it_returns() {
    let mut broker = Tansu::start().expect("a broker of this test's own");
    let topic = "leads";
    kafka::create_topic(&broker.brokers(), topic, 1)
        .await
        .unwrap();
    let mut settings = settings();
    settings.kafka_delivery_timeout_ms = 2000;
    // Tansu 0.6 rejects the epoch bump librdkafka's idempotent producer makes after
    // messages time out, wedging it for good; see LEADPIPE_KAFKA_IDEMPOTENCE.
    settings.kafka_idempotence = false;
    let app = spawn_with_kafka(settings, &broker.brokers(), topic).await;

    wait_for_readiness(&app, 200).await;
    assert_eq!(app.post_lead(&lead()).await.status(), 202);

    broker.kill();
    wait_for_readiness(&app, 503).await;
    for _ in 0..3 {
        let started = std::time::Instant::now();
        let response = app.post_lead(&lead()).await;
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "answered within the delivery timeout, took {:?}",
            started.elapsed()
        );
        assert!(response.headers().contains_key("retry-after"));
        assert_eq!(problem(response, 503).await["code"], "broker_unavailable");
    }

    broker.restart().unwrap();
    wait_for_readiness(&app, 200).await;
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

async fn wait_for_readiness(app: &common::TestApp, status: u16) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while app.get("/readyz").await.status() != status {
        assert!(
            tokio::time::Instant::now() < deadline,
            "/readyz never became {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
