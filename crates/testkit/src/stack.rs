//! A test stack: the whole pipeline as real processes, for tests that load it or break
//! it — a topic (and its dead-letter topic) on a broker, a database of the test's own
//! migrated by `leadpipe-consumer migrate`, and the `leadpipe-gateway` and
//! `leadpipe-consumer` binaries on free ports.

use std::time::Duration;

use crate::kafka::{self, Access};
use crate::{unique_name, ServiceProcess, TestDatabase};

/// What one test changes in its pipeline.
#[derive(Default)]
pub struct Tuning {
    /// An existing topic (with `<topic>.dlq`) to use instead of creating one (needed
    /// when the broker requires authentication).
    pub topic: Option<String>,
    pub gateway_env: Vec<(&'static str, String)>,
    pub consumer_env: Vec<(&'static str, String)>,
}

impl Tuning {
    /// These settings, with `env` added to the gateway's.
    pub fn gateway(mut self, env: &[(&'static str, &str)]) -> Self {
        self.gateway_env
            .extend(env.iter().map(|&(k, v)| (k, v.to_owned())));
        self
    }

    /// These settings, with `env` added to the consumer's.
    pub fn consumer(mut self, env: &[(&'static str, &str)]) -> Self {
        self.consumer_env
            .extend(env.iter().map(|&(k, v)| (k, v.to_owned())));
        self
    }
}

/// Broker, topic, database, gateway and consumer of one test.
pub struct TestStack {
    pub brokers: String,
    pub topic: String,
    pub group: String,
    pub db: TestDatabase,
    pub gateway: ServiceProcess,
    pub consumer: ServiceProcess,
}

impl TestStack {
    /// Creates the topic (12 partitions, as in production) and its dead-letter topic on
    /// `brokers` unless `tuning` names one, a database on `pg_server`, and starts gateway
    /// and consumer; returns once both are ready.
    pub async fn start(brokers: &str, pg_server: &str, tuning: Tuning) -> Self {
        let topic = match tuning.topic {
            Some(topic) => topic,
            None => {
                let topic = unique_name("leads");
                create_topics(brokers, &topic, 12).await;
                topic
            }
        };
        let group = unique_name("leadpipe-test");
        let db = TestDatabase::create_on(pg_server).await;
        let mut gateway_env = vec![
            ("LEADPIPE_KAFKA_BROKERS", brokers.to_owned()),
            ("LEADPIPE_TOPIC", topic.clone()),
            ("LEADPIPE_HTTP_WORKERS", "2".to_owned()),
            ("LEADPIPE_DRAIN_SECS", "0".to_owned()),
        ];
        gateway_env.extend(tuning.gateway_env);
        let mut consumer_env = vec![
            ("LEADPIPE_KAFKA_BROKERS", brokers.to_owned()),
            ("LEADPIPE_TOPIC", topic.clone()),
            ("LEADPIPE_DLQ_TOPIC", format!("{topic}.dlq")),
            ("LEADPIPE_GROUP_ID", group.clone()),
            ("LEADPIPE_DATABASE_URL", db.url.clone()),
            ("LEADPIPE_LAG_INTERVAL_MS", "300".to_owned()),
            ("LEADPIPE_KAFKA_SESSION_TIMEOUT_MS", "6000".to_owned()),
        ];
        consumer_env.extend(tuning.consumer_env);
        let gateway = ServiceProcess::start("leadpipe-gateway", &[], gateway_env);
        let consumer = ServiceProcess::start("leadpipe-consumer", &["run"], consumer_env);
        let mut pipeline = Self {
            brokers: brokers.to_owned(),
            topic,
            group,
            db,
            gateway,
            consumer,
        };
        pipeline.gateway.wait_ready(Duration::from_secs(60)).await;
        pipeline.consumer.wait_ready(Duration::from_secs(60)).await;
        pipeline
    }

    /// The gateway's base URL.
    pub fn target(&self) -> String {
        self.gateway.url("")
    }

    pub fn consumer_metrics(&self) -> String {
        self.consumer.url("/metrics")
    }

    /// Waits until the consumer has committed every record on the topic: whatever the
    /// gateway had published (answered 202) when this is called is then stored or
    /// dead-lettered. A condition to poll for instead of a guessed settle time.
    pub async fn wait_until_consumed(&self, timeout: Duration) {
        crate::wait_for(
            &format!(
                "group {} to commit everything on {}",
                self.group, self.topic
            ),
            timeout,
            || {
                let (brokers, topic, group) =
                    (self.brokers.clone(), self.topic.clone(), self.group.clone());
                async move {
                    let caught_up = tokio::task::spawn_blocking(move || {
                        kafka::group_caught_up(brokers.as_str(), &topic, &group)
                    })
                    .await;
                    matches!(caught_up, Ok(Ok(true))).then_some(())
                }
            },
        )
        .await;
    }

    /// Both services' last log lines, for assertion messages.
    pub fn logs(&self) -> String {
        format!("{}\n{}", self.gateway.log_tail(), self.consumer.log_tail())
    }
}

/// `topic` with `partitions` partitions and its dead-letter topic `<topic>.dlq` with one.
pub async fn create_topics(cluster: &(impl Access + ?Sized), topic: &str, partitions: i32) {
    kafka::create_topic(cluster, topic, partitions)
        .await
        .unwrap_or_else(|e| panic!("creating {topic}: {e}"));
    kafka::create_topic(cluster, &format!("{topic}.dlq"), 1)
        .await
        .unwrap_or_else(|e| panic!("creating {topic}.dlq: {e}"));
}
