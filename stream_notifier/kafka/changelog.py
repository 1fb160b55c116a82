"""The changelog topic at the Kafka edge: make sure it exists as a compacted, co-partitioned
topic, and read one partition back from the beginning to the end seen at assignment."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException
from confluent_kafka import TopicPartition as KafkaTopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._config import ConfigResource
from confluent_kafka.cimpl import NewTopic

from stream_notifier.errors import ConfigError

DEFAULT_TOPIC_CONFIG = {
    "cleanup.policy": "compact",
    "min.cleanable.dirty.ratio": "0.1",
    "segment.ms": "3600000",
}


def ensure_changelog(
    client_config: Mapping[str, Any],
    topic: str,
    partitions: int,
    topic_config: Mapping[str, str],
) -> None:
    """Create the changelog with the input's partition count, or check the existing one."""
    admin = AdminClient(dict(client_config))
    metadata = admin.list_topics(timeout=30).topics.get(topic)
    if metadata is None or metadata.error is not None:
        config = {**DEFAULT_TOPIC_CONFIG, **topic_config}
        future = admin.create_topics([NewTopic(topic, num_partitions=partitions, config=config)])[
            topic
        ]
        try:
            future.result()
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
        _wait_for_metadata(admin, topic)
        return
    if len(metadata.partitions) != partitions:
        raise ConfigError(
            f"changelog {topic} has {len(metadata.partitions)} partitions but its input has "
            f"{partitions}: state for input partition p must live in changelog partition p",
            field="state.changelog_topic",
        )
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    described = admin.describe_configs([resource])[resource].result()
    policy = described["cleanup.policy"].value or ""
    if "compact" not in policy:
        raise ConfigError(
            f"changelog {topic} has cleanup.policy={policy}; it must be compact",
            field="state.changelog_topic",
        )


def partition_count(client_config: Mapping[str, Any], topic: str) -> int:
    admin = AdminClient(dict(client_config))
    metadata = admin.list_topics(topic, timeout=30).topics[topic]
    if metadata.error is not None:
        raise KafkaException(metadata.error)
    return len(metadata.partitions)


_TRANSIENT = frozenset(
    {
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError._TRANSPORT,
        KafkaError._TIMED_OUT,
        KafkaError.REQUEST_TIMED_OUT,
    }
)


Batch = list[tuple[bytes, bytes | None]]


def read_partition(
    client_config: Mapping[str, Any],
    topic: str,
    partition: int,
    on_batch: Callable[[Batch], None],
    attempts: int = 10,
) -> int:
    """Hand every record from the beginning to the end offset observed now, in order and in
    batches, to `on_batch`; return how many there were. Batches are handed over as they
    arrive, so the caller's work overlaps librdkafka's fetching of the next ones.

    A leader election (a new changelog, a broker restart) is waited out, not fatal; after
    one, reading starts over, announced to `on_batch` by an empty batch."""
    for attempt in range(1, attempts):
        try:
            return _read_partition(client_config, topic, partition, on_batch)
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            if not isinstance(error, KafkaError) or error.code() not in _TRANSIENT:
                raise
            time.sleep(min(0.2 * 2**attempt, 5.0))
            on_batch([])  # an empty batch: start over
    return _read_partition(client_config, topic, partition, on_batch)  # the last try


def _read_partition(
    client_config: Mapping[str, Any],
    topic: str,
    partition: int,
    on_batch: Callable[[Batch], None],
) -> int:
    consumer = Consumer(
        {
            **client_config,
            "group.id": "stream-notifier-restore",  # never joins: assign() only, no commits
            "enable.auto.commit": False,
            "enable.partition.eof": False,
            "fetch.max.bytes": 52428800,
            "max.partition.fetch.bytes": 10485760,
        }
    )
    try:
        low, high = consumer.get_watermark_offsets(
            KafkaTopicPartition(topic, partition), timeout=30
        )
        if high <= low:
            return 0
        consumer.assign([KafkaTopicPartition(topic, partition, low)])
        count = 0
        position = low
        while position < high:
            batch: Batch = []
            for message in consumer.consume(num_messages=10000, timeout=1.0):
                error = message.error()
                if error is not None:
                    raise KafkaException(error)
                offset = message.offset()
                key = message.key()
                assert offset is not None
                position = offset + 1
                if offset < high and isinstance(key, bytes):
                    value = message.value()
                    batch.append((key, value if isinstance(value, bytes) else None))
            if batch:
                count += len(batch)
                on_batch(batch)
        return count
    finally:
        consumer.close()


def _wait_for_metadata(admin: AdminClient, topic: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        metadata = admin.list_topics(topic, timeout=5).topics.get(topic)
        if (
            metadata is not None
            and metadata.error is None
            and metadata.partitions
            and all(p.leader >= 0 for p in metadata.partitions.values())
        ):
            return
        time.sleep(0.1)
    raise TimeoutError(f"changelog {topic} did not appear in metadata")
