//! Secured Kafka end to end, with real processes: SASL/SCRAM against Tansu started with
//! `--authentication`, and SASL over TLS through a TLS terminator in front of it (Tansu
//! has no TLS listener; the broker advertises the terminator's port). The gateway and
//! the consumer each log in as a user of their own, with the password from a file. A
//! wrong password or an untrusted broker certificate is a `503`, never a `202`, and the
//! log says why without the password.

use std::path::{Path, PathBuf};
use std::time::Duration;

use leadpipe_testkit::{
    free_port, shared, unique_name, wait_for, ServiceProcess, Tansu, TestCa, TestStack, TlsProxy,
    Tuning,
};
use serde_json::{json, Value};

const GATEWAY_PASSWORD: &str = "gateway-pw-7f3a";
const CONSUMER_PASSWORD: &str = "consumer-pw-91bc";

/// A broker with a user for each tier and the topics made before authentication is on.
fn broker(topic: &str, advertise: Option<u16>) -> Tansu {
    let mut builder = Tansu::builder()
        .user("leadpipe-gateway", GATEWAY_PASSWORD)
        .user("leadpipe-consumer", CONSUMER_PASSWORD)
        .topic(topic, 12)
        .topic(&format!("{topic}.dlq"), 1);
    if let Some(port) = advertise {
        builder = builder.advertise(port);
    }
    builder.start().expect("a broker of this test's own")
}

fn password_file(dir: &Path, name: &str, password: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("{password}\n")).unwrap();
    path
}

/// The settings of one tier logging in as `user` with the password in `file`.
fn sasl_env(
    protocol: &str,
    user: &str,
    file: &Path,
    ca: Option<&Path>,
) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("LEADPIPE_KAFKA_SECURITY_PROTOCOL", protocol.to_owned()),
        ("LEADPIPE_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512".to_owned()),
        ("LEADPIPE_KAFKA_SASL_USERNAME", user.to_owned()),
        (
            "LEADPIPE_KAFKA_SASL_PASSWORD_FILE",
            file.display().to_string(),
        ),
        // Tansu 0.6 wedges idempotent producers after an outage; see the README.
        ("LEADPIPE_KAFKA_IDEMPOTENCE", "false".to_owned()),
    ];
    if let Some(ca) = ca {
        env.push(("LEADPIPE_KAFKA_SSL_CA_LOCATION", ca.display().to_string()));
    }
    env
}

fn lead(key: &str) -> Value {
    json!({
        "name": "홍길동", "email": format!("{key}@example.com"), "country_code": "+82",
        "phone_number": "010-1234-5678", "privacy_consent": true, "campaign": "secured"
    })
}

async fn post(gateway: &str, key: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{gateway}/v1/leads"))
        .header("Idempotency-Key", key)
        .json(&lead(key))
        .timeout(Duration::from_secs(15))
        .send()
        .await
        .expect("an answer")
}

/// Posts a lead (retrying the 503s of a producer still logging in) and waits until it
/// is stored, exactly once.
async fn post_and_find_stored(pipeline: &TestStack) {
    let key = unique_name("secured");
    let id = wait_for("the lead accepted", Duration::from_secs(30), || async {
        let response = post(&pipeline.target(), &key).await;
        if response.status() != 202 {
            return None;
        }
        Some(
            response.json::<Value>().await.ok()?["id"]
                .as_str()?
                .to_owned(),
        )
    })
    .await;
    wait_for("the lead stored", Duration::from_secs(30), || async {
        let stored: i64 = pipeline
            .db
            .scalar(&format!("SELECT count(*) FROM leads WHERE id = '{id}'"))
            .await?;
        (stored == 1).then_some(())
    })
    .await;
}

#[tokio::test]
async fn with_scram_credentials_the_gateway_publishes_and_a_consumer_with_its_own_user_stores() {
    let topic = unique_name("leads");
    let broker = broker(&topic, None);
    let dir = tempfile::tempdir().unwrap();
    let gateway_pw = password_file(dir.path(), "gateway", GATEWAY_PASSWORD);
    let consumer_pw = password_file(dir.path(), "consumer", CONSUMER_PASSWORD);
    let pipeline = TestStack::start(
        &broker.brokers(),
        &shared::database_server_url(),
        Tuning {
            topic: Some(topic),
            gateway_env: sasl_env("sasl_plaintext", "leadpipe-gateway", &gateway_pw, None),
            consumer_env: sasl_env("sasl_plaintext", "leadpipe-consumer", &consumer_pw, None),
        },
    )
    .await;
    post_and_find_stored(&pipeline).await;
    let logs = pipeline.logs();
    for secret in [GATEWAY_PASSWORD, CONSUMER_PASSWORD] {
        assert!(!logs.contains(secret), "a password in the logs:\n{logs}");
    }
    assert!(
        pipeline
            .gateway
            .logs()
            .contains("sasl_plaintext (SCRAM-SHA-512 as leadpipe-gateway)"),
        "the start-up line says how it connects:\n{}",
        pipeline.gateway.log_tail()
    );
    pipeline.db.drop_database().await;
}

#[tokio::test]
async fn a_gateway_with_a_wrong_password_answers_503_never_202_and_logs_why_without_it() {
    let topic = unique_name("leads");
    let broker = broker(&topic, None);
    let dir = tempfile::tempdir().unwrap();
    let wrong = password_file(dir.path(), "wrong", "not-the-gateway-password");
    let mut env = sasl_env("sasl_plaintext", "leadpipe-gateway", &wrong, None);
    env.push(("LEADPIPE_KAFKA_BROKERS", broker.brokers()));
    env.push(("LEADPIPE_TOPIC", topic.clone()));
    env.push(("LEADPIPE_KAFKA_DELIVERY_TIMEOUT_MS", "3000".to_owned()));
    let mut gateway = ServiceProcess::start("leadpipe-gateway", &[], env);
    gateway.wait_ready(Duration::from_secs(30)).await;
    for n in 0..3 {
        let started = std::time::Instant::now();
        let response = post(&gateway.url(""), &format!("wrong-{n}")).await;
        assert_eq!(response.status(), 503, "{}", gateway.log_tail());
        // Bounded by the delivery timeout (3 s); the limit is 5× that.
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "answered after {:?}, over 5× the delivery timeout",
            started.elapsed()
        );
        assert!(response.headers().contains_key("retry-after"));
    }
    let logs = gateway.logs();
    assert!(
        logs.to_lowercase().contains("authentication"),
        "the log says the broker refused the credentials:\n{}",
        gateway.log_tail()
    );
    assert!(!logs.contains("not-the-gateway-password"), "{logs}");
    assert_eq!(
        gateway.metric("leadpipe_broker_up", &[]).await,
        Some(0.0),
        "the broker counts as down"
    );
}

#[tokio::test]
async fn over_sasl_ssl_the_pipeline_stores_and_an_untrusted_certificate_fails_clearly() {
    let ca = TestCa::new("leadpipe test broker CA").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let proxy_port = free_port();
    let topic = unique_name("leads");
    let broker = broker(&topic, Some(proxy_port));
    let certificate = ca
        .issue(&["127.0.0.1", "localhost"], dir.path(), "broker")
        .unwrap();
    let proxy = TlsProxy::start(proxy_port, &certificate, broker.port()).unwrap();
    let brokers = format!("127.0.0.1:{}", proxy.port());
    let gateway_pw = password_file(dir.path(), "gateway", GATEWAY_PASSWORD);
    let consumer_pw = password_file(dir.path(), "consumer", CONSUMER_PASSWORD);
    let ca_file = ca.cert_path();
    let pipeline = TestStack::start(
        &brokers,
        &shared::database_server_url(),
        Tuning {
            topic: Some(topic.clone()),
            gateway_env: sasl_env("sasl_ssl", "leadpipe-gateway", &gateway_pw, Some(&ca_file)),
            consumer_env: sasl_env(
                "sasl_ssl",
                "leadpipe-consumer",
                &consumer_pw,
                Some(&ca_file),
            ),
        },
    )
    .await;
    post_and_find_stored(&pipeline).await;

    // The same gateway settings with a CA that did not sign the broker's certificate.
    let stranger = TestCa::new("some other CA").unwrap();
    let mut env = sasl_env(
        "sasl_ssl",
        "leadpipe-gateway",
        &gateway_pw,
        Some(&stranger.cert_path()),
    );
    env.push(("LEADPIPE_KAFKA_BROKERS", brokers.clone()));
    env.push(("LEADPIPE_TOPIC", topic));
    env.push(("LEADPIPE_KAFKA_DELIVERY_TIMEOUT_MS", "3000".to_owned()));
    let mut untrusting = ServiceProcess::start("leadpipe-gateway", &[], env);
    untrusting.wait_ready(Duration::from_secs(30)).await;
    let response = post(&untrusting.url(""), "untrusted").await;
    assert_eq!(response.status(), 503, "{}", untrusting.log_tail());
    wait_for(
        "the log to name the certificate problem",
        Duration::from_secs(20),
        || async {
            untrusting
                .logs()
                .contains("certificate verify failed")
                .then_some(())
        },
    )
    .await;
    pipeline.db.drop_database().await;
}
