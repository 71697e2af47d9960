"""Whether the local broker works, and what it still holds for the consumer.

    broker.py check BROKERS            metadata, then a produce and a consume in a consumer
                                       group with a commit (the paths a wedged broker fails)
    broker.py pending BROKERS GROUP TOPIC
                                       leads on TOPIC not yet committed by GROUP

`check` prints one line and exits 0 when every step worked, 1 naming the step that did
not. `pending` prints a number, or exits 1 saying why it could not count.
Uses confluent-kafka (librdkafka, the client library of leadpipe's own binaries).
"""

import sys
import time
import uuid

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

HEALTH_TOPIC = "leadpipe.health"
HEALTH_GROUP = "leadpipe-health"
TIMEOUT_S = 20.0
QUIET = {"log_level": 0}


def fail(step: str, why: object) -> None:
    print(f"broker does not work: {step}: {why}")
    sys.exit(1)


def check(brokers: str) -> None:
    started = time.monotonic()
    admin = AdminClient({"bootstrap.servers": brokers, **QUIET})
    try:
        topics = admin.list_topics(timeout=5).topics
    except KafkaException as error:
        fail("metadata", error)
    if HEALTH_TOPIC not in topics:
        created = admin.create_topics([NewTopic(HEALTH_TOPIC, 1, 1)], operation_timeout=10)
        try:
            created[HEALTH_TOPIC].result(timeout=10)
        except KafkaException as error:
            if "TOPIC_ALREADY_EXISTS" not in str(error):
                fail("create topic", error)

    token = uuid.uuid4().hex.encode()
    delivered = []
    producer = Producer({"bootstrap.servers": brokers, "message.timeout.ms": 10000, **QUIET})
    producer.produce(HEALTH_TOPIC, token, on_delivery=lambda err, msg: delivered.append(err))
    producer.flush(12)
    if not delivered or delivered[0] is not None:
        fail("produce", delivered[0] if delivered else "no acknowledgement within 12 s")

    consumer = Consumer(
        {
            "bootstrap.servers": brokers,
            "group.id": HEALTH_GROUP,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000,
            **QUIET,
        }
    )
    try:
        consumer.subscribe([HEALTH_TOPIC])
        while time.monotonic() - started < TIMEOUT_S:
            message = consumer.poll(0.5)
            if message is None:
                continue
            if message.error():
                fail("consume", message.error())
            if message.value() == token:
                consumer.commit(message=message, asynchronous=False)
                break
        else:
            fail("consume in a group", f"the record produced was not read within {TIMEOUT_S:.0f} s")
    except KafkaException as error:
        fail("consumer group", error)
    finally:
        consumer.close()
    took = time.monotonic() - started
    print(f"broker works: metadata, produce, group consume and commit in {took:.1f} s")


def pending(brokers: str, group: str, topic: str) -> None:
    consumer = Consumer({"bootstrap.servers": brokers, "group.id": group, **QUIET})
    try:
        metadata = consumer.list_topics(topic, timeout=5).topics.get(topic)
        if metadata is None or metadata.error is not None:
            fail("metadata", f"no topic {topic}")
        partitions = [TopicPartition(topic, p) for p in metadata.partitions]
        committed = consumer.committed(partitions, timeout=10)
        total = 0
        for partition in committed:
            low, high = consumer.get_watermark_offsets(partition, timeout=5)
            start = partition.offset if partition.offset >= 0 else low
            total += max(high - start, 0)
        print(total)
    except KafkaException as error:
        fail("offsets", error)
    finally:
        consumer.close()


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["check"] and len(args) == 2:
        check(args[1])
    elif args[:1] == ["pending"] and len(args) == 4:
        pending(*args[1:])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
