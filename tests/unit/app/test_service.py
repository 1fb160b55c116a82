"""The service's bookkeeping without Kafka: records handed in, partitions taken away."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson

from stream_notifier.app.service import Service
from stream_notifier.config import parse_config
from stream_notifier.errors import ErrorContext
from stream_notifier.records import RawRecord, TopicPartition
from stream_notifier.render.notification import Notification

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


class NeverAnswers:
    async def send(self, notification: Notification, context: ErrorContext) -> int:
        await asyncio.Event().wait()
        return 0


def _service() -> Service:
    document = {
        "kafka": {"bootstrap_servers": "unused:9092", "topics": ["platform.events"]},
        "api": {"base_url": "http://unused", "api_key": "k"},
        "state": {"enabled": False},
        "routes": "routes.yaml",
    }
    config = parse_config(document, file="svc.yaml", base_dir=EXAMPLES, env={})
    return Service(config, sender=NeverAnswers())


def _record(offset: int, key: bytes) -> RawRecord:
    value = (EXAMPLES / "events" / "invite-accepted.json").read_bytes()
    event = orjson.loads(value)
    event["id"] = f"evt-{offset}"
    return RawRecord("platform.events", 0, offset, key, orjson.dumps(event))


def test_records_of_a_partition_lost_in_the_same_loop_turn_release_their_keys() -> None:
    async def scenario() -> tuple[int, bool, int]:
        service = _service()
        tp = TopicPartition("platform.events", 0)
        service._assigned.add(tp)
        # Two records of one key: the first starts, the second waits behind it.
        service.on_records([_record(0, b"k"), _record(1, b"k")])
        service.on_lost([tp])  # before either task ran a single step
        await asyncio.sleep(0.01)
        return service.in_flight, service.idle, service._queue.active_keys

    in_flight, idle, active_keys = asyncio.run(scenario())
    assert (in_flight, idle, active_keys) == (0, True, 0)
