//! Helpers shared by the consumer's integration tests: sample lead messages, a database
//! of a test's own on the shared server, the consumer binary as a child process, and
//! polling with a deadline instead of sleeping.
#![allow(dead_code)] // Each test file uses a different subset.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use leadpipe_domain::{LeadId, LeadMessage, SCHEMA_VERSION};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use uuid::Uuid;

/// A valid lead message, different for every `n`, with a deterministic id.
pub fn lead_message(n: u32) -> LeadMessage {
    let received_at: DateTime<Utc> =
        Utc.with_ymd_and_hms(2026, 3, 14, 9, 0, 0).unwrap() + chrono::Duration::seconds(n.into());
    LeadMessage {
        schema_version: SCHEMA_VERSION,
        id: LeadId::from_uuid(Uuid::from_u128(
            0x0193_6f0e_8f3a_7c1d_9e2b_0000_0000_0000 + u128::from(n),
        )),
        received_at,
        consented_at: Some(received_at),
        campaign: format!("campaign-{}", n % 3),
        name: format!("홍길동 {n}"),
        email: format!("lead{n}@example.com"),
        country_code: "+82".to_owned(),
        phone_e164: format!("+8210{:08}", 10_000_000 + n % 80_000_000),
        privacy_consent: true,
        utm_source: Some("newsletter".to_owned()),
        utm_medium: None,
        utm_campaign: Some("봄 세일".to_owned()),
        utm_term: None,
        utm_content: None,
        page_url: Some("https://event.example.com/spring".to_owned()),
    }
}

/// Where a produced record landed.
pub type Position = (i32, i64);

/// Produces records (key, payload) and waits for every acknowledgement.
pub async fn produce_all(
    brokers: &str,
    topic: &str,
    records: &[(String, Vec<u8>)],
) -> Vec<Position> {
    let producer: FutureProducer = leadpipe_testkit::kafka::producer(brokers).expect("producer");
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

/// Polls `check` every 100 ms until it returns `Some`, or panics with `what` after `timeout`.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A database of the test's own on a PostgreSQL server, migrated.
pub struct TestDatabase {
    pub name: String,
    pub url: String,
    server_url: String,
    pub pool: PgPool,
}

impl TestDatabase {
    /// On the shared server (`LEADPIPE_TEST_DATABASE_URL`).
    pub async fn create() -> Self {
        Self::create_on(&leadpipe_testkit::shared::database_server_url()).await
    }

    pub async fn create_on(server_url: &str) -> Self {
        let db = Self::create_empty_on(server_url).await;
        leadpipe_consumer::MIGRATOR
            .run(&db.pool)
            .await
            .expect("migrations apply");
        db
    }

    /// Without the schema (to test `leadpipe-consumer migrate`).
    pub async fn create_empty() -> Self {
        Self::create_empty_on(&leadpipe_testkit::shared::database_server_url()).await
    }

    async fn create_empty_on(server_url: &str) -> Self {
        let (name, url) = leadpipe_testkit::shared::create_database(server_url, "leadpipe_test")
            .await
            .unwrap_or_else(|e| panic!("create a test database: {e}"));
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .connect(&url)
            .await
            .expect("connect to test database");
        Self {
            name,
            url,
            server_url: server_url.to_owned(),
            pool,
        }
    }

    pub async fn count(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM leads")
            .fetch_one(&self.pool)
            .await
            .expect("count leads")
    }

    pub async fn ids(&self) -> Vec<Uuid> {
        sqlx::query_scalar("SELECT id FROM leads ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .expect("lead ids")
    }

    /// Drops the database (tests call it at the end; a failed test leaves it to inspect).
    pub async fn drop_database(self) {
        self.pool.close().await;
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect(&format!("{}/postgres", self.server_url))
            .await;
        if let Ok(admin) = admin {
            let _ = sqlx::query(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&admin)
            .await;
        }
    }
}

/// The group's committed offset per partition of `topic` (absent when none).
pub fn committed_offsets(
    brokers: &str,
    group: &str,
    topic: &str,
    partitions: i32,
) -> BTreeMap<i32, i64> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for partition in 0..partitions {
        tpl.add_partition(topic, partition);
    }
    let committed = consumer
        .committed_offsets(tpl, Duration::from_secs(10))
        .expect("committed offsets");
    committed
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(o) => Some((e.partition(), o)),
            _ => None,
        })
        .collect()
}

/// The high watermark (next offset) per partition of `topic`.
pub fn end_offsets(brokers: &str, topic: &str, partitions: i32) -> BTreeMap<i32, i64> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("consumer");
    (0..partitions)
        .map(|p| {
            (
                p,
                consumer
                    .fetch_watermarks(topic, p, Duration::from_secs(10))
                    .expect("watermarks")
                    .1,
            )
        })
        .collect()
}

/// One sample (`name` or `name{labels}`) from a Prometheus text page.
pub fn metric(text: &str, sample: &str) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        l.strip_prefix(sample)
            .and_then(|rest| rest.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
    })
}

/// `(partition, lag)` of every `leadpipe_consumer_lag` sample for `topic`.
pub fn lag_samples(text: &str, topic: &str) -> BTreeMap<i32, i64> {
    let prefix = "leadpipe_consumer_lag{partition=\"";
    text.lines()
        .filter_map(|l| l.strip_prefix(prefix))
        .filter_map(|rest| {
            let (partition, rest) = rest.split_once('"')?;
            let rest = rest.strip_prefix(&format!(",topic=\"{topic}\"}} "))?;
            Some((
                partition.parse().ok()?,
                rest.trim().parse::<f64>().ok()? as i64,
            ))
        })
        .collect()
}

pub async fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let response = reqwest::get(format!("http://127.0.0.1:{port}{path}"))
        .await
        .ok()?;
    let status = response.status().as_u16();
    Some((status, response.text().await.ok()?))
}

/// The `leadpipe-consumer` binary running as a child process, logging to a file.
pub struct ConsumerProcess {
    child: Child,
    pub port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl ConsumerProcess {
    /// Starts `leadpipe-consumer run` with `env` on top of test-friendly settings.
    pub fn start(env: &[(&str, String)]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("consumer.log");
        let file = std::fs::File::create(&log).expect("log file");
        let port = leadpipe_testkit::free_port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_leadpipe-consumer"));
        command
            .arg("run")
            .env("LEADPIPE_HTTP_ADDR", format!("127.0.0.1:{port}"))
            .env("LEADPIPE_LAG_INTERVAL_MS", "300")
            .env("LEADPIPE_KAFKA_SESSION_TIMEOUT_MS", "6000")
            .env("LEADPIPE_LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log file"))
            .stderr(file);
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command.spawn().expect("start leadpipe-consumer");
        Self {
            child,
            port,
            log,
            _dir: dir,
        }
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub async fn metrics(&self) -> Option<String> {
        get(self.port, "/metrics").await.map(|(_, body)| body)
    }

    pub async fn metric(&self, sample: &str) -> Option<f64> {
        self.metrics().await.and_then(|m| metric(&m, sample))
    }

    /// SIGKILL: no chance to finish anything.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }

    /// SIGTERM, then the exit code (panics if it takes longer than `timeout`).
    pub async fn terminate(&mut self, timeout: Duration) -> Option<i32> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(status.success());
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status.code();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no exit within {timeout:?} after SIGTERM:\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("wait").is_none()
    }
}

impl Drop for ConsumerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Environment for a consumer process reading `topic` into `database_url`.
pub fn consumer_env(
    brokers: &str,
    topic: &str,
    group: &str,
    database_url: &str,
) -> Vec<(&'static str, String)> {
    vec![
        ("LEADPIPE_KAFKA_BROKERS", brokers.to_owned()),
        ("LEADPIPE_TOPIC", topic.to_owned()),
        ("LEADPIPE_DLQ_TOPIC", format!("{topic}.dlq")),
        ("LEADPIPE_GROUP_ID", group.to_owned()),
        ("LEADPIPE_DATABASE_URL", database_url.to_owned()),
    ]
}
