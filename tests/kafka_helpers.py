"""Helpers for integration tests against the real broker (dev/kafka.sh).

Plain functions, no fixtures: tests and fixtures call them with a bootstrap address.
"""

from __future__ import annotations

import re
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

# confluent_kafka.admin re-exports NewTopic without __all__, which mypy --strict rejects.
from confluent_kafka.cimpl import NewTopic

Key = str | bytes | None
Value = str | bytes | None
# The type of the `new_topic` fixture: new_topic(partitions=1, config=None) -> topic name.
NewTopicFactory = Callable[..., str]


def broker_reachable(bootstrap: str, timeout: float = 3.0) -> bool:
    """True when a Kafka broker at `bootstrap` answers a metadata request."""
    # A TCP probe first: librdkafka would log a connection error per retry to stderr.
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except (OSError, ValueError):
        return False
    try:
        metadata = admin_client(bootstrap).list_topics(timeout=timeout)
    except KafkaException:
        return False
    return bool(metadata.brokers)


def admin_client(bootstrap: str) -> AdminClient:
    return AdminClient({"bootstrap.servers": bootstrap})


def unique_name(prefix: str = "test") -> str:
    """A topic or group name no other test (or earlier run on a reused broker) has used."""
    safe = re.sub(r"[^a-zA-Z0-9._-]+", "-", prefix).strip("-")[:150] or "test"
    return f"{safe}-{uuid.uuid4().hex[:10]}"


def create_topic(
    admin: AdminClient,
    name: str,
    partitions: int = 1,
    config: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> str:
    """Create `name` and return once broker metadata shows every partition with a leader."""
    topic = NewTopic(
        name, num_partitions=partitions, replication_factor=1, config=dict(config or {})
    )
    futures = admin.create_topics([topic], operation_timeout=timeout)
    futures[name].result(timeout=timeout)
    wait_for_topic(admin, name, partitions, timeout)
    return name


def wait_for_topic(
    admin: AdminClient, name: str, partitions: int = 1, timeout: float = 30.0
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        topic = admin.list_topics(topic=name, timeout=timeout).topics.get(name)
        if (
            topic is not None
            and topic.error is None
            and len(topic.partitions) == partitions
            and all(p.leader >= 0 for p in topic.partitions.values())
        ):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"topic {name} not in broker metadata after {timeout}s")
        time.sleep(0.1)


def produce(
    bootstrap: str,
    topic: str,
    records: Iterable[tuple[Key, Value]],
    timeout: float = 30.0,
    config: Mapping[str, Any] | None = None,
) -> None:
    """Produce (key, value) pairs in order to `topic` and wait until all are acknowledged.

    A value of None is a tombstone.
    """
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", **(config or {})})
    errors: list[KafkaError] = []

    def on_delivery(err: KafkaError | None, _msg: Message) -> None:
        if err is not None:
            errors.append(err)

    for key, value in records:
        producer.produce(topic, key=key, value=value, on_delivery=on_delivery)
        producer.poll(0)
    left = producer.flush(timeout)
    if left or errors:
        raise KafkaException(errors[0] if errors else f"{left} records not delivered to {topic}")


def consume_all(bootstrap: str, topic: str, timeout: float = 30.0) -> list[Message]:
    """Every record now in `topic`, from the beginning of each partition to its end.

    No consumer group is joined and nothing is committed. Order is per partition.
    """
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": unique_name("consume-all"),
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    try:
        metadata = consumer.list_topics(topic, timeout=timeout).topics[topic]
        if metadata.error is not None:
            raise KafkaException(metadata.error)
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in metadata.partitions])
        pending = set(metadata.partitions)
        messages: list[Message] = []
        deadline = time.monotonic() + timeout
        while pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{topic}: partitions {sorted(pending)} not read to the end")
            msg = consumer.poll(min(remaining, 1.0))
            if msg is None:
                continue
            err = msg.error()
            if err is None:
                messages.append(msg)
            elif err.code() == KafkaError._PARTITION_EOF:
                pending.discard(msg.partition())
            else:
                raise KafkaException(err)
        return messages
    finally:
        consumer.close()


def consume_n(consumer: Consumer, n: int, timeout: float = 30.0) -> list[Message]:
    """Poll an already subscribed or assigned consumer until it has returned `n` records."""
    messages: list[Message] = []
    deadline = time.monotonic() + timeout
    while len(messages) < n:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"got {len(messages)} of {n} records in {timeout}s")
        msg = consumer.poll(min(remaining, 1.0))
        if msg is None:
            continue
        err = msg.error()
        if err is not None:
            if err.code() == KafkaError._PARTITION_EOF:
                continue
            raise KafkaException(err)
        messages.append(msg)
    return messages
