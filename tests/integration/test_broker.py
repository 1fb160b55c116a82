"""Proves the test broker is a real Kafka: log compaction and committed group offsets work.

librdkafka's mock cluster does neither, so these tests fail against a fake.
"""

from __future__ import annotations

import time

import pytest
from confluent_kafka import Consumer, TopicPartition

from tests.kafka_helpers import NewTopicFactory, consume_all, consume_n, produce, unique_name

pytestmark = pytest.mark.integration

COMPACT_FAST = {
    "cleanup.policy": "compact",
    "segment.ms": "100",
    "min.cleanable.dirty.ratio": "0.01",
    "delete.retention.ms": "100",
    "min.compaction.lag.ms": "0",
}
ROLL_KEY = b"roll"


def test_compaction_keeps_latest_value_per_key_and_drops_tombstones(
    kafka_bootstrap: str, new_topic: NewTopicFactory
) -> None:
    topic = new_topic(config=COMPACT_FAST)
    records: list[tuple[bytes, bytes | None]] = []
    for i in range(5):
        records += [(b"a", f"a{i}".encode()), (b"b", f"b{i}".encode()), (b"gone", f"g{i}".encode())]
    records.append((b"gone", None))
    produce(kafka_bootstrap, topic, records)
    expected = [(b"a", b"a4"), (b"b", b"b4")]

    # The cleaner never touches the active segment, and a segment only rolls when a record is
    # appended after segment.ms; tombstones go only in a later pass, after delete.retention.ms.
    # So keep appending a record under another key: each append rolls a segment, makes the
    # log dirty again and gives the cleaner another pass.
    deadline = time.monotonic() + 60
    seen: list[tuple[bytes | None, bytes | None]] = []
    while time.monotonic() < deadline:
        time.sleep(0.3)
        produce(kafka_bootstrap, topic, [(ROLL_KEY, b"x")])
        seen = [(m.key(), m.value()) for m in consume_all(kafka_bootstrap, topic)]
        if [(k, v) for k, v in seen if k != ROLL_KEY] == expected:
            break

    ours = [(k, v) for k, v in seen if k != ROLL_KEY]
    assert ours == expected, f"not compacted to the latest value per key within 60s: {ours}"
    assert b"gone" not in {k for k, _ in seen}


def test_new_group_member_resumes_at_committed_offset(
    kafka_bootstrap: str, new_topic: NewTopicFactory
) -> None:
    topic = new_topic()
    produce(kafka_bootstrap, topic, [(None, f"v{i}".encode()) for i in range(10)])
    group_config = {
        "bootstrap.servers": kafka_bootstrap,
        "group.id": unique_name("group"),
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    }

    first = Consumer(group_config)
    try:
        first.subscribe([topic])
        got = consume_n(first, 4)
        last = got[-1].offset()
        assert last is not None
        committed = last + 1
        first.commit(offsets=[TopicPartition(topic, 0, committed)], asynchronous=False)
    finally:
        first.close()
    assert [m.offset() for m in got] == [0, 1, 2, 3]

    second = Consumer(group_config)
    try:
        [tp] = second.committed([TopicPartition(topic, 0)], timeout=10)
        assert tp.offset == committed
        second.subscribe([topic])
        [resumed] = consume_n(second, 1)
    finally:
        second.close()
    assert resumed.offset() == committed
    assert resumed.value() == f"v{committed}".encode()
