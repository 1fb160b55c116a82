"""`stream-notifier replay`: move the service's consumer group to an earlier position.

Kafka only lets offsets of a group with no live members be changed: stop the service (scale
to zero), replay, start it again. Records replayed after their offsets were committed are
delivered again (that is the point); dedupe windows still suppress repeats inside them.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime
from pathlib import Path

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, KafkaException
from confluent_kafka import TopicPartition as KafkaTopicPartition
from confluent_kafka.admin import AdminClient

from stream_notifier.config import load_config
from stream_notifier.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="the service's YAML file")
    parser.add_argument("--topic", required=True)
    parser.add_argument(
        "--partition", type=int, action="append", help="only these partitions (default: all)"
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--to-offset", type=int)
    where.add_argument("--to-time", help="ISO 8601 time, e.g. 2026-12-04T09:00:00Z")
    where.add_argument("--to-beginning", action="store_true")
    parser.add_argument("--dry-run", action="store_true")


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(Path(args.config), os.environ)
    except ConfigError as error:
        print(f"stream-notifier: configuration error: {error}", file=sys.stderr)
        return 2
    kafka = config.kafka
    client: dict[str, str | int | float | bool] = {
        "bootstrap.servers": kafka.bootstrap_servers,
        **dict(kafka.properties),
    }
    consumer = Consumer({**client, "group.id": kafka.group_id, "enable.auto.commit": False})
    try:
        metadata = consumer.list_topics(args.topic, timeout=30).topics[args.topic]
        partitions = args.partition or sorted(metadata.partitions)
        targets = _targets(consumer, args, partitions)
    finally:
        consumer.close()
    for tp in targets:
        print(f"{kafka.group_id}: {tp.topic}[{tp.partition}] -> offset {tp.offset}")
    if args.dry_run:
        return 0
    admin = AdminClient(client)
    request = ConsumerGroupTopicPartitions(kafka.group_id, targets)
    try:
        admin.alter_consumer_group_offsets([request])[kafka.group_id].result()
    except KafkaException as exc:
        print(
            f"replay: Kafka refused ({exc}); is the service stopped? A group with live "
            "members cannot be moved",
            file=sys.stderr,
        )
        return 1
    print("replay: done; start the service to read from there")
    return 0


def _targets(
    consumer: Consumer, args: argparse.Namespace, partitions: list[int]
) -> list[KafkaTopicPartition]:
    if args.to_time is not None:
        stamp = datetime.fromisoformat(args.to_time.replace("Z", "+00:00"))
        wanted = [
            KafkaTopicPartition(args.topic, p, int(stamp.timestamp() * 1000)) for p in partitions
        ]
        found = consumer.offsets_for_times(wanted, timeout=30)
        return [_or_end(consumer, tp) for tp in found]
    targets = []
    for p in partitions:
        low, high = consumer.get_watermark_offsets(KafkaTopicPartition(args.topic, p), timeout=30)
        offset = low if args.to_beginning else min(max(args.to_offset, low), high)
        targets.append(KafkaTopicPartition(args.topic, p, offset))
    return targets


def _or_end(consumer: Consumer, tp: KafkaTopicPartition) -> KafkaTopicPartition:
    if tp.offset >= 0:
        return tp
    _, high = consumer.get_watermark_offsets(
        KafkaTopicPartition(tp.topic, tp.partition), timeout=30
    )
    return KafkaTopicPartition(tp.topic, tp.partition, high)
