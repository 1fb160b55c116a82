"""`make demo`: the main job end to end on the local defaults.

Starts the dev sink, (re)creates `platform.events` on the local broker, produces the example
events, runs the notifier until every event is settled, prints what the sink received and a
one-line summary, and stops what it started.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import orjson
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from stream_notifier.app.command import configure_logging
from stream_notifier.app.service import Service
from stream_notifier.app.stats import Stats
from stream_notifier.config import load_config
from stream_notifier.devproduce import encode
from stream_notifier.devsink.server import run_sink_in_thread

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TOPIC = "platform.events"
DEMO_TIMEOUT_S = 60.0
DEMO_GROUP_PREFIX = "stream-notifier-demo-"


def main() -> int:
    configure_logging(os.environ.get("LOG_LEVEL", "WARNING"))
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    with run_sink_in_thread(api_key="dev-key") as sink:
        config = load_config(
            EXAMPLES / "config.yaml", {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap}
        )
        config = replace(
            config,
            kafka=replace(
                config.kafka,
                group_id=f"{DEMO_GROUP_PREFIX}{int(time.time())}",
            ),
            api=replace(config.api, base_url=sink.base_url, api_key=sink.api_key),
        )
        _recreate_topics(bootstrap, [TOPIC, f"{TOPIC}.dlq"])
        produced = _produce_examples(bootstrap)
        print(f"produced {produced} example events to {TOPIC} at {bootstrap}")
        service = Service(config)
        stats = asyncio.run(_run_until_settled(service, produced))
        print("\nnotifications received by the dev sink:")
        for request in sink.client().requests():
            print(orjson.dumps(request["body"], option=orjson.OPT_INDENT_2).decode())
    print(
        f"\nsummary: events={stats.consumed} delivered={stats.delivered} "
        f"skipped={stats.skipped} dead-lettered={stats.dead_lettered} "
        f"(dead letters in {TOPIC}.dlq)"
    )
    return 0 if stats.consumed == produced else 1


async def _run_until_settled(service: Service, expected: int) -> Stats:
    runner = asyncio.create_task(service.run())
    deadline = time.monotonic() + DEMO_TIMEOUT_S
    while time.monotonic() < deadline and not runner.done():
        settled = service.stats.delivered + service.stats.skipped + service.stats.dead_lettered
        if service.stats.consumed >= expected and settled >= expected and service.idle:
            break
        await asyncio.sleep(0.1)
    service.request_stop()
    await runner
    return service.stats


def _recreate_topics(bootstrap: str, topics: list[str]) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    existing = set(admin.list_topics(timeout=10).topics)
    # Earlier demos' changelogs too: each run is a fresh group with a fresh state.
    doomed = [t for t in existing if t in topics or t.startswith(DEMO_GROUP_PREFIX)]
    if doomed:
        for future in admin.delete_topics(doomed).values():
            future.result()
        _wait(lambda: not set(doomed) & set(admin.list_topics(timeout=10).topics))
    for future in admin.create_topics([NewTopic(t, num_partitions=3) for t in topics]).values():
        future.result()
    _wait(lambda: set(topics) <= set(admin.list_topics(timeout=10).topics))


def _produce_examples(bootstrap: str) -> int:
    producer = Producer({"bootstrap.servers": bootstrap})
    files = sorted((EXAMPLES / "events").glob("*.json"))
    for index, path in enumerate(files):
        event = orjson.loads(path.read_bytes())
        # Alternate the CloudEvents modes so both decoders run.
        value, headers = encode(event, "structured" if index % 2 == 0 else "binary")
        producer.produce(
            TOPIC, key=str(event.get("subject", event["id"])).encode(), value=value, headers=headers
        )
    producer.produce(TOPIC, key=b"broken", value=b"{not json")
    if producer.flush(30):
        raise RuntimeError("the broker did not acknowledge the example events")
    return len(files) + 1


def _wait(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise TimeoutError("the broker did not apply the topic change in time")


if __name__ == "__main__":
    sys.exit(main())
