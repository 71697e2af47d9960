//! A gateway served over a real socket on a free port, with an in-memory sink or a real
//! Kafka sink, plus a few request helpers.

use std::sync::Arc;

use leadpipe_gateway::abuse::rate::RateSetting;
use leadpipe_gateway::{Application, KafkaSink, LeadSink, MemorySink, Metrics, Settings};
use serde_json::{json, Value};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub metrics: Arc<Metrics>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

/// Settings for a test instance: a free port, one worker, fast shutdown.
pub fn settings() -> Settings {
    let mut settings = Settings::defaults();
    settings.http_addr = "127.0.0.1:0".parse().expect("address");
    settings.http_workers = 1;
    settings.common.shutdown_timeout_secs = 10;
    settings.drain_secs = 0;
    // Tests post the same lead many times; the tests of the limits set their own.
    settings.abuse.rate_limit_email = RateSetting(None);
    settings.abuse.rate_limit_phone = RateSetting(None);
    settings
}

pub async fn spawn(settings: Settings, sink: Arc<dyn LeadSink>, metrics: Arc<Metrics>) -> TestApp {
    let app = Application::build(&settings, sink, metrics.clone()).expect("the app builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = rx.await;
    }));
    TestApp {
        base,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        metrics,
        shutdown: Some(tx),
        server: Some(server),
    }
}

/// A gateway with a memory sink; the sink is returned for assertions and fault modes.
pub async fn spawn_with_memory(settings: Settings) -> (TestApp, Arc<MemorySink>) {
    let sink = Arc::new(MemorySink::new());
    let app = spawn(settings, sink.clone(), Arc::new(Metrics::new())).await;
    (app, sink)
}

/// A gateway publishing to a real broker.
pub async fn spawn_with_kafka(mut settings: Settings, brokers: &str, topic: &str) -> TestApp {
    settings.common.kafka.brokers = brokers.parse().expect("host:port");
    settings.common.topic = topic.to_owned();
    let metrics = Arc::new(Metrics::new());
    let kafka = settings
        .common
        .kafka
        .validate()
        .expect("valid Kafka settings");
    let sink = Arc::new(KafkaSink::connect(&settings, &kafka, metrics.clone()).expect("producer"));
    spawn(settings, sink, metrics).await
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn post_lead(&self, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url("/v1/leads"))
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn post_lead_with_key(&self, body: &Value, key: &str) -> reqwest::Response {
        self.client
            .post(self.url("/v1/leads"))
            .header("Idempotency-Key", key)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    /// Signals shutdown (as SIGTERM would) and hands back the server task, which ends
    /// once the drain, the requests in flight and the flush are done.
    pub fn signal_shutdown(&mut self) -> JoinHandle<std::io::Result<()>> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.server.take().expect("server running")
    }

    /// Signals shutdown and waits for the server to finish (in-flight requests, flush).
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.server
            .take()
            .expect("server running")
            .await
            .expect("server task")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The README's example lead.
pub fn lead() -> Value {
    json!({
        "name": "홍길동",
        "email": "gildong@example.com",
        "country_code": "+82",
        "phone_number": "010-1234-5678",
        "privacy_consent": true,
        "campaign": "spring-2026",
        "utm_source": "newsletter",
        "page_url": "https://event.example.com/spring"
    })
}

/// Reads a problem+json answer, checking its content type and status member.
pub async fn problem(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status);
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap_or("").to_owned());
    assert_eq!(content_type.as_deref(), Some("application/problem+json"));
    let body: Value = response.json().await.expect("problem body is JSON");
    assert_eq!(body["status"], status);
    assert!(
        body["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("urn:leadpipe:problem:")),
        "{body}"
    );
    assert!(body["title"].is_string(), "{body}");
    body
}
