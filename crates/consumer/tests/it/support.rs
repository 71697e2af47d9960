//! What the consumer's tests share besides the testkit: the group's offsets, and the
//! consumer binary started with test-friendly settings.

use std::collections::BTreeMap;
use std::time::Duration;

use leadpipe_platform::ClientRole;
use leadpipe_testkit::kafka::{self, Access};
use leadpipe_testkit::ServiceProcess;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

/// The group's committed offset per partition of `topic` (absent when none).
pub fn committed_offsets(
    brokers: &str,
    group: &str,
    topic: &str,
    partitions: i32,
) -> BTreeMap<i32, i64> {
    let consumer: BaseConsumer = kafka::client(
        &brokers.config(),
        ClientRole::GroupObserver { group_id: group },
    )
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
    let consumer: BaseConsumer = kafka::client(&brokers.config(), ClientRole::Admin)
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

/// `leadpipe-consumer run` with `env` on top of test-friendly settings (lag measured
/// every 300 ms, a 6 s session timeout).
pub fn start_consumer(env: &[(&'static str, String)]) -> ServiceProcess {
    let mut all = vec![
        ("LEADPIPE_LAG_INTERVAL_MS", "300".to_owned()),
        ("LEADPIPE_KAFKA_SESSION_TIMEOUT_MS", "6000".to_owned()),
    ];
    all.extend(env.iter().cloned());
    ServiceProcess::start("leadpipe-consumer", &["run"], all)
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
