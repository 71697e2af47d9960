//! The whole pipeline as real processes for the load and fault tests: a broker (the
//! shared one, or a Tansu of the test's own), a topic and a database of the test's own,
//! migrated by `leadpipe-consumer migrate`, and the `leadpipe-gateway` and
//! `leadpipe-consumer` binaries (see `leadpipe_testkit::binary`) on free ports, logging
//! to files that a failing assertion prints.
#![allow(dead_code)] // Each test file uses a different subset.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use leadpipe_loadtest::{LoadConfig, LoadRun, Reconciliation};
use leadpipe_testkit::{binary, free_port, kafka, unique_name};
use sqlx::postgres::PgPoolOptions;
use url::Url;

/// A binary running as a child process, restartable with the same settings.
pub struct Service {
    name: &'static str,
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    log: PathBuf,
    pub port: u16,
    child: Option<Child>,
}

impl Service {
    pub fn start(
        name: &'static str,
        args: &[&str],
        env: Vec<(String, String)>,
        port: u16,
        dir: &Path,
    ) -> Self {
        let mut service = Self {
            name,
            program: binary(name).unwrap(),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            env,
            log: dir.join(format!("{name}.log")),
            port,
            child: None,
        };
        service.spawn();
        service
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(&self.program)
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("LEADPIPE_LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", self.program.display()));
        self.child = Some(child);
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last lines of the log, for assertion messages.
    pub fn log_tail(&self) -> String {
        let logs = self.logs();
        let lines: Vec<&str> = logs.lines().collect();
        let start = lines.len().saturating_sub(40);
        format!(
            "--- last lines of {} ---\n{}",
            self.name,
            lines[start..].join("\n")
        )
    }

    /// SIGKILL, as a crash or an OOM kill would end it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// SIGTERM, as an orchestrator stops it.
    pub fn terminate(&self) {
        let child = self.child.as_ref().expect("running");
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -TERM {}", child.id());
    }

    /// Waits for the process to exit on its own and returns how it ended.
    pub async fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let child = self.child.as_mut().expect("running");
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} did not exit within {timeout:?}\n{}",
                self.name,
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until `GET /readyz` answers 200; fails if the process exits or the time is up.
    pub async fn wait_ready(&mut self, timeout: Duration) {
        let client = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().unwrap()) {
                panic!(
                    "{} exited ({status}) before it was ready\n{}",
                    self.name,
                    self.log_tail()
                );
            }
            let ready = client
                .get(self.url("/readyz"))
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} not ready within {timeout:?}\n{}",
                self.name,
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A database of the test's own on a PostgreSQL server, migrated by the consumer binary.
pub struct Database {
    pub name: String,
    pub url: String,
    server_url: String,
}

impl Database {
    /// Creates it on `server_url` (`postgres://user@host:port`) and runs
    /// `leadpipe-consumer migrate` against it.
    pub async fn create(server_url: &str) -> Self {
        let (name, url) =
            leadpipe_testkit::shared::create_database(server_url, "leadpipe_loadtest")
                .await
                .unwrap_or_else(|e| panic!("create a test database: {e}"));
        let output = Command::new(binary("leadpipe-consumer").unwrap())
            .arg("migrate")
            .env("LEADPIPE_DATABASE_URL", &url)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "leadpipe-consumer migrate failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        Self {
            name,
            url,
            server_url: server_url.to_owned(),
        }
    }

    /// Rows in `leads` now (`None` while the server is unreachable).
    pub async fn count(&self) -> Option<i64> {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(3))
            .connect(&self.url)
            .await
            .ok()?;
        let count = sqlx::query_scalar("SELECT count(*) FROM leads")
            .fetch_one(&pool)
            .await
            .ok();
        pool.close().await;
        count
    }

    /// Drops it (tests call this at the end; a failed test leaves it to inspect).
    pub async fn drop_database(self) {
        if let Ok(admin) = PgPoolOptions::new()
            .max_connections(1)
            .connect(&format!("{}/postgres", self.server_url))
            .await
        {
            let _ = sqlx::query(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&admin)
            .await;
            admin.close().await;
        }
    }
}

/// Extra settings for one test's pipeline.
#[derive(Default)]
pub struct Tuning {
    pub gateway_env: Vec<(&'static str, String)>,
    pub consumer_env: Vec<(&'static str, String)>,
}

/// Broker, topic, database, gateway and consumer of one test.
pub struct Pipeline {
    pub brokers: String,
    pub topic: String,
    pub db: Database,
    pub gateway: Service,
    pub consumer: Service,
    pub dir: tempfile::TempDir,
}

impl Pipeline {
    /// Creates the topic (12 partitions, as in production) and its dead-letter topic on
    /// `brokers`, a database on `pg_server`, and starts gateway and consumer; returns
    /// once both are ready.
    pub async fn start(brokers: &str, pg_server: &str, tuning: Tuning) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("leadpipe-loadtest-")
            .tempdir()
            .unwrap();
        let topic = unique_name("leads");
        kafka::create_topic(brokers, &topic, 12).await.unwrap();
        kafka::create_topic(brokers, &format!("{topic}.dlq"), 1)
            .await
            .unwrap();
        let db = Database::create(pg_server).await;

        let gateway_port = free_port();
        let mut gateway_env = vec![
            ("LEADPIPE_HTTP_ADDR", format!("127.0.0.1:{gateway_port}")),
            ("LEADPIPE_KAFKA_BROKERS", brokers.to_owned()),
            ("LEADPIPE_TOPIC", topic.clone()),
            ("LEADPIPE_HTTP_WORKERS", "2".to_owned()),
        ];
        gateway_env.extend(tuning.gateway_env);
        let gateway = Service::start(
            "leadpipe-gateway",
            &[],
            owned(gateway_env),
            gateway_port,
            dir.path(),
        );

        let consumer_port = free_port();
        let mut consumer_env = vec![
            ("LEADPIPE_HTTP_ADDR", format!("127.0.0.1:{consumer_port}")),
            ("LEADPIPE_KAFKA_BROKERS", brokers.to_owned()),
            ("LEADPIPE_TOPIC", topic.clone()),
            ("LEADPIPE_DLQ_TOPIC", format!("{topic}.dlq")),
            ("LEADPIPE_GROUP_ID", unique_name("leadpipe-loadtest")),
            ("LEADPIPE_DATABASE_URL", db.url.clone()),
            ("LEADPIPE_LAG_INTERVAL_MS", "300".to_owned()),
            ("LEADPIPE_KAFKA_SESSION_TIMEOUT_MS", "6000".to_owned()),
        ];
        consumer_env.extend(tuning.consumer_env);
        let consumer = Service::start(
            "leadpipe-consumer",
            &["run"],
            owned(consumer_env),
            consumer_port,
            dir.path(),
        );

        let mut pipeline = Self {
            brokers: brokers.to_owned(),
            topic,
            db,
            gateway,
            consumer,
            dir,
        };
        pipeline.gateway.wait_ready(Duration::from_secs(60)).await;
        pipeline.consumer.wait_ready(Duration::from_secs(60)).await;
        pipeline
    }

    pub fn target(&self) -> Url {
        Url::parse(&self.gateway.url("")).unwrap()
    }

    pub fn consumer_metrics(&self) -> Url {
        Url::parse(&self.consumer.url("/metrics")).unwrap()
    }

    /// Both services' last log lines, for assertion messages.
    pub fn logs(&self) -> String {
        format!("{}\n{}", self.gateway.log_tail(), self.consumer.log_tail())
    }
}

fn owned(env: Vec<(&'static str, String)>) -> Vec<(String, String)> {
    env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// A steady, modest load for fault tests: `rate` per second for `seconds`, with the
/// default mix of invalid leads and resubmissions, every request recorded.
pub fn steady_load(target: Url, rate: f64, seconds: u64) -> LoadConfig {
    let mut config = LoadConfig::new(target);
    config.rate = rate;
    config.duration = Duration::from_secs(seconds);
    config.connections = 256;
    config.request_timeout = Duration::from_secs(15);
    config.keep_records = true;
    config
}

/// Reconciles `run` against the pipeline's database, waiting for the consumer's lag.
pub async fn reconcile(pipeline: &Pipeline, run: &LoadRun) -> Reconciliation {
    let options = leadpipe_loadtest::DrainOptions {
        consumer_metrics: Some(pipeline.consumer_metrics()),
        timeout: Duration::from_secs(90),
        settle: Duration::from_secs(15),
        ..Default::default()
    };
    leadpipe_loadtest::reconcile(&pipeline.db.url, run, &options)
        .await
        .unwrap()
}

/// Asserts a reconciliation found no gap, printing everything useful if it did.
pub fn assert_reconciled(reconciliation: &Reconciliation, run: &LoadRun, pipeline: &Pipeline) {
    let summary = leadpipe_loadtest::report::text::reconciliation_summary(reconciliation);
    assert!(
        reconciliation.is_clean(),
        "reconciliation found gaps:\n{summary}\noutcomes: {:?}\n{}",
        run.outcomes,
        pipeline.logs()
    );
    assert!(
        reconciliation.findings.accepted > 0,
        "nothing was accepted: {:?}\n{}",
        run.outcomes,
        pipeline.logs()
    );
    println!("{summary}");
}
