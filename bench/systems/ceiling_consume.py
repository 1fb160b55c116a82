"""ceiling-consume: a bare confluent-kafka consumer reading (and JSON-decoding) a topic.

No group coordination (partitions are assigned directly), no HTTP, no commits: the most
this machine's Kafka client can hand to Python, which bounds every Kafka-fed system. For
the restore scenario it reads one changelog partition without decoding, timed from the
assignment as the service's restore is.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from bench.systems.common import load_spec, write_result

# The fetch sizes stream_notifier's restore uses: a ceiling must not be a worse-tuned reader.
LARGE_FETCH = {"fetch.max.bytes": 52428800, "max.partition.fetch.bytes": 10485760}


def main() -> int:
    spec = load_spec()
    expected = int(spec["expected"])
    topic = spec["topic"]
    decode = bool(spec.get("decode", True))
    config: dict[str, Any] = {
        "bootstrap.servers": spec["bootstrap"],
        "group.id": spec["group_id"],
        "enable.auto.commit": False,
        "enable.partition.eof": False,
        **LARGE_FETCH,
    }
    consumer = Consumer(config)
    if spec.get("partition") is None:
        partitions = list(consumer.list_topics(topic, timeout=30).topics[topic].partitions)
    else:
        partitions = [int(spec["partition"])]
    from_assign = bool(spec.get("from_assign"))
    first_ns, cpu0 = (time.monotonic_ns(), time.process_time()) if from_assign else (0, 0.0)
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    count = 0
    last_ns = 0
    # Timed from the first batch, that batch arrives already read: it is not counted.
    first_batch = 0
    deadline = time.monotonic() + float(spec.get("timeout_s", 300))
    while count < expected and time.monotonic() < deadline:
        messages = consumer.consume(num_messages=10000, timeout=0.5)
        if not messages:
            continue
        if not first_ns:
            first_ns, cpu0 = time.monotonic_ns(), time.process_time()
            first_batch = len(messages)
        for message in messages:
            if message.error() is None:
                if decode:
                    orjson.loads(message.value())  # type: ignore[arg-type]
                count += 1
        last_ns = time.monotonic_ns()
    cpu = time.process_time() - cpu0
    consumer.close()
    write_result(
        spec["result"],
        {
            "count": count,
            "timed": count - first_batch,
            "first_ns": first_ns,
            "last_ns": last_ns,
            "cpu_s": cpu,
        },
    )
    return 0 if count >= expected else 1


if __name__ == "__main__":
    raise SystemExit(main())
