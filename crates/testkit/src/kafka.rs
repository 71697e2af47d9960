//! Topic administration and small Kafka clients for tests, built like every leadpipe
//! client from a validated [`KafkaConfig`]. Each helper takes the cluster as [`Access`]:
//! a `host:port` string for a plaintext broker, or [`KafkaSettings`] for a secured one.

use std::time::Duration;

use leadpipe_platform::{ClientBuilder, ClientRole, KafkaConfig, KafkaSettings};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::Message;

/// How a test reaches a cluster.
pub trait Access {
    fn settings(&self) -> KafkaSettings;

    /// The validated configuration.
    ///
    /// # Panics
    /// When the settings do not validate.
    fn config(&self) -> KafkaConfig {
        self.settings()
            .validate()
            .expect("the test's Kafka settings validate")
    }
}

impl Access for str {
    fn settings(&self) -> KafkaSettings {
        KafkaSettings::plaintext(self)
    }
}

impl Access for String {
    fn settings(&self) -> KafkaSettings {
        KafkaSettings::plaintext(self)
    }
}

impl Access for KafkaSettings {
    fn settings(&self) -> KafkaSettings {
        self.clone()
    }
}

/// A client of a test, for `role`.
pub fn client<'a>(config: &'a KafkaConfig, role: ClientRole<'a>) -> ClientBuilder<'a> {
    config.client(role, "leadpipe-test")
}

/// Creates `topic` with `partitions` partitions; an existing topic is fine.
pub async fn create_topic(
    cluster: &(impl Access + ?Sized),
    topic: &str,
    partitions: i32,
) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> =
        client(&cluster.config(), ClientRole::Admin).create()?;
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let results = admin
        .create_topics(
            [&NewTopic::new(
                topic,
                partitions,
                TopicReplication::Fixed(1),
            )],
            &options,
        )
        .await?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => anyhow::bail!("creating topic {name}: {code}"),
        }
    }
    Ok(())
}

/// A producer with the gateway's durability settings (`acks=all`, idempotent).
pub fn producer(cluster: &(impl Access + ?Sized)) -> anyhow::Result<FutureProducer> {
    Ok(client(&cluster.config(), ClientRole::Producer)
        .tuning([("linger.ms", "5".to_owned())])
        .create()?)
}

/// Produces one record and waits for the broker's acknowledgement.
pub async fn produce(
    producer: &FutureProducer,
    topic: &str,
    key: &str,
    payload: &[u8],
) -> anyhow::Result<()> {
    producer
        .send(
            FutureRecord::to(topic).key(key).payload(payload),
            Duration::from_secs(10),
        )
        .await
        .map_err(|(e, _)| anyhow::anyhow!("produce to {topic}: {e}"))?;
    Ok(())
}

/// A record read back from a topic, with its headers as text.
#[derive(Debug, Clone)]
pub struct Record {
    pub key: Option<Vec<u8>>,
    pub payload: Option<Vec<u8>>,
    pub headers: Vec<(String, String)>,
    pub partition: i32,
    pub offset: i64,
}

/// Reads `count` records from the start of `topic` with a fresh group, or fails after
/// `timeout` with what it has.
pub async fn read_records(
    cluster: &(impl Access + ?Sized),
    topic: &str,
    count: usize,
    timeout: Duration,
) -> anyhow::Result<Vec<Record>> {
    use rdkafka::message::Headers;
    let group = crate::unique_name("leadpipe-test-reader");
    let consumer: StreamConsumer = client(
        &cluster.config(),
        ClientRole::GroupMember { group_id: &group },
    )
    .create()?;
    consumer.subscribe(&[topic])?;
    let mut records = Vec::new();
    let deadline = tokio::time::Instant::now() + timeout;
    while records.len() < count {
        let message = tokio::time::timeout_at(deadline, consumer.recv())
            .await
            .map_err(|_| {
                anyhow::anyhow!(
                    "read {} of {count} records from {topic} before the timeout",
                    records.len()
                )
            })??;
        let headers = message
            .headers()
            .map(|h| {
                h.iter()
                    .map(|header| {
                        (
                            header.key.to_owned(),
                            String::from_utf8_lossy(header.value.unwrap_or_default()).into_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        records.push(Record {
            key: message.key().map(<[u8]>::to_vec),
            payload: message.payload().map(<[u8]>::to_vec),
            headers,
            partition: message.partition(),
            offset: message.offset(),
        });
    }
    Ok(records)
}

/// Every record of `topic` whose key is one of `keys`, read from the start of each
/// partition up to its high watermark at the time of the call.
pub fn find_by_key(
    cluster: &(impl Access + ?Sized),
    topic: &str,
    keys: &[String],
) -> anyhow::Result<Vec<Record>> {
    use rdkafka::consumer::BaseConsumer;
    use rdkafka::{Offset, TopicPartitionList};
    let group = crate::unique_name("leadpipe-test-scan");
    let reader: BaseConsumer = client(
        &cluster.config(),
        ClientRole::GroupObserver { group_id: &group },
    )
    .create()?;
    let timeout = Duration::from_secs(10);
    let metadata = reader.fetch_metadata(Some(topic), timeout)?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    let mut ends = std::collections::HashMap::new();
    let mut assignment = TopicPartitionList::new();
    for &partition in &partitions {
        let (low, high) = reader.fetch_watermarks(topic, partition, timeout)?;
        if high > low {
            ends.insert(partition, high);
            assignment.add_partition_offset(topic, partition, Offset::Offset(low))?;
        }
    }
    reader.assign(&assignment)?;
    let mut found = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while !ends.is_empty() {
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "scanning {topic} took more than 2 minutes"
        );
        let Some(message) = reader.poll(Duration::from_millis(500)) else {
            continue;
        };
        let message = message?;
        let (partition, offset) = (message.partition(), message.offset());
        if let Some(key) = message.key() {
            if keys.iter().any(|k| k.as_bytes() == key) {
                found.push(Record {
                    key: Some(key.to_vec()),
                    payload: message.payload().map(<[u8]>::to_vec),
                    headers: Vec::new(),
                    partition,
                    offset,
                });
            }
        }
        if ends.get(&partition).is_some_and(|end| offset + 1 >= *end) {
            ends.remove(&partition);
        }
    }
    Ok(found)
}

/// Whether `group` has committed every record of `topic`: in each partition its committed
/// offset is at the high watermark (or the partition is empty). Asked as an observer:
/// the group's members are not disturbed.
pub fn group_caught_up(
    cluster: &(impl Access + ?Sized),
    topic: &str,
    group: &str,
) -> anyhow::Result<bool> {
    use rdkafka::consumer::BaseConsumer;
    use rdkafka::{Offset, TopicPartitionList};
    let observer: BaseConsumer = client(
        &cluster.config(),
        ClientRole::GroupObserver { group_id: group },
    )
    .create()?;
    let timeout = Duration::from_secs(10);
    let metadata = observer.fetch_metadata(Some(topic), timeout)?;
    let mut partitions = TopicPartitionList::new();
    for partition in metadata.topics().iter().flat_map(|t| t.partitions()) {
        partitions.add_partition(topic, partition.id());
    }
    let committed = observer.committed_offsets(partitions, timeout)?;
    for element in committed.elements() {
        let (low, high) = observer.fetch_watermarks(topic, element.partition(), timeout)?;
        let caught_up = match element.offset() {
            Offset::Offset(offset) => offset >= high,
            _ => high == low,
        };
        if !caught_up {
            return Ok(false);
        }
    }
    Ok(true)
}
