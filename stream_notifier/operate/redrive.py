"""`stream-notifier redrive`: put dead letters back on the topic they came from.

Progress is a consumer group of its own (`<dead-letter topic>.redrive`, plus a suffix per
filter), committed after each batch is acknowledged, so running it twice does not redrive
twice. Filters pick which dead
letters go back (after the cause was fixed: a template corrected, an endpoint restored).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from collections.abc import Mapping

from confluent_kafka import Consumer, KafkaError, Message, Producer

from stream_notifier.deadletter import origin_topic, original_headers, reason
from stream_notifier.kafka.consumer import to_raw


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dead_letter_topic")
    parser.add_argument(
        "--bootstrap-servers", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    )
    parser.add_argument("--to", help="target topic (default: the topic each letter came from)")
    parser.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="only letters whose reason matches, e.g. stage=publish, "
        "http.status=503, route=invite-accepted (repeatable)",
    )
    parser.add_argument("--limit", type=int, default=0, help="stop after N redriven letters")
    parser.add_argument("--dry-run", action="store_true", help="list, do not produce or commit")
    parser.add_argument("--group", help="progress group (default: <dead-letter topic>.redrive)")


def progress_group(dead_letter_topic: str, where: Mapping[str, str]) -> str:
    """One progress group per filter: letters one filter skipped stay there for another."""
    if not where:
        return f"{dead_letter_topic}.redrive"
    suffix = ",".join(f"{k}={v}" for k, v in sorted(where.items()))
    return f"{dead_letter_topic}.redrive.{hashlib.sha256(suffix.encode()).hexdigest()[:12]}"


def matches(found: Mapping[str, str], where: Mapping[str, str]) -> bool:
    return all(found.get(k) == v for k, v in where.items())


def run(args: argparse.Namespace) -> int:
    where = dict(w.split("=", 1) for w in args.where)
    consumer = Consumer(
        {
            "bootstrap.servers": args.bootstrap_servers,
            "group.id": args.group or progress_group(args.dead_letter_topic, where),
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    producer = Producer(
        {"bootstrap.servers": args.bootstrap_servers, "enable.idempotence": True, "acks": "all"}
    )
    consumer.subscribe([args.dead_letter_topic])
    redriven = skipped = 0
    try:
        at_end: set[int] = set()
        idle = 0
        while idle < 30 and not (args.limit and redriven >= args.limit):
            assigned = {tp.partition for tp in consumer.assignment()}
            if assigned and assigned <= at_end:
                break  # every partition read to its end: nothing more to redrive now
            messages = consumer.consume(num_messages=500, timeout=1.0)
            if not messages:
                idle += 1
                continue
            idle = 0
            letters = []
            for message in messages:  # in order: an end marker may follow this batch's letters
                partition = message.partition() or 0
                if _at_end(message):
                    at_end.add(partition)
                else:
                    at_end.discard(partition)
                    letters.append(message)
            for message in letters:
                record = to_raw(message)
                target = args.to or origin_topic(record.headers)
                if target is None or not matches(reason(record.headers), where):
                    skipped += 1
                    continue
                redriven += 1
                print(
                    f"{record.topic}[{record.partition}]@{record.offset} -> {target}  "
                    f"{reason(record.headers).get('exception.message', '')[:120]}"
                )
                if not args.dry_run:
                    producer.produce(
                        target,
                        key=record.key,
                        value=record.value,
                        headers=list(original_headers(record.headers)),
                    )
            if letters and not args.dry_run:
                if producer.flush(30):
                    print("redrive: the broker did not acknowledge every record", file=sys.stderr)
                    return 1
                consumer.commit(asynchronous=False)
    finally:
        consumer.close()
    verb = "would redrive" if args.dry_run else "redrove"
    print(f"redrive: {verb} {redriven}, left {skipped} that did not match")
    return 0


def _at_end(message: Message) -> bool:
    error = message.error()
    if error is None:
        return False
    if error.code() == KafkaError._PARTITION_EOF:
        return True
    raise RuntimeError(f"reading dead letters failed: {error}")
