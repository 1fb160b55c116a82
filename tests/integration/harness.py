"""Run the real service as a subprocess against the real broker and a dev sink on loopback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import orjson
import yaml
from confluent_kafka import Consumer, Producer, TopicPartition

from stream_notifier.devproduce import encode
from tests.kafka_helpers import unique_name

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"

FAST_RETRY = {"max_attempts": 3, "initial_backoff": "50ms", "max_backoff": "200ms"}


def example_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = orjson.loads((EXAMPLES / "events" / f"{name}.json").read_bytes())
    return event


def write_config(
    directory: Path,
    *,
    bootstrap: str,
    topics: list[str],
    sink_url: str,
    api_key: str = "dev-key",
    group_id: str | None = None,
    delivery: Mapping[str, Any] | None = None,
    state: Mapping[str, Any] | None = None,
    dedupe: Mapping[str, Any] | None = None,
) -> tuple[Path, str]:
    """The example routes minus their topic restriction, and a service config. Returns the
    config path and the consumer group id."""
    routes = yaml.safe_load((EXAMPLES / "routes.yaml").read_text())
    for route in routes["routes"]:
        route.pop("topics", None)
        if dedupe is not None and route["name"] == "endpoint-disabled":
            route["dedupe"] = dict(dedupe)
    (directory / "routes.yaml").write_text(yaml.safe_dump(routes, sort_keys=False))
    group = group_id or unique_name("group")
    config = {
        "kafka": {
            "bootstrap_servers": bootstrap,
            "group_id": group,
            "topics": topics,
            "commit_interval": "200ms",
            # A killed member leaves the group after this, not the 45 s default.
            "properties": {"session.timeout.ms": 6000},
        },
        "api": {"base_url": sink_url, "api_key": api_key},
        "delivery": {
            "retry": FAST_RETRY,
            "rate_limit": {"per_second": 2000, "burst": 200},
            "shutdown_timeout": "5s",
            **(delivery or {}),
        },
        "routes": "routes.yaml",
        **({"state": dict(state)} if state is not None else {}),
    }
    path = directory / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path, group


class ServiceProcess:
    """`stream-notifier run` in a child process, logs to a file the test can show."""

    def __init__(self, config: Path, *extra: str) -> None:
        self.log_path = config.parent / f"service-{time.monotonic_ns()}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "stream_notifier.cli", "run", "--config", str(config), *extra],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            env={**os.environ, "LOG_LEVEL": "INFO"},
        )

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def terminate(self, timeout: float = 30.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)

    def wait(self, timeout: float) -> int:
        try:
            code = self.process.wait(timeout)
        finally:
            self._log.close()
        return code

    def __enter__(self) -> ServiceProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.kill()
        self._log.close()


def produce_events(
    bootstrap: str,
    topic: str,
    events: Iterable[tuple[bytes | None, bytes | dict[str, Any]]],
    *,
    mode: str = "structured",
    partition: int | None = None,
) -> None:
    """Produce CloudEvents (dicts) or raw bytes, in order, and wait for the broker's acks."""
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for key, event in events:
        if isinstance(event, dict):
            value, headers = encode(event, mode)
        else:
            value, headers = event, []
        extra = {} if partition is None else {"partition": partition}
        producer.produce(topic, key=key, value=value, headers=headers, **extra)
    assert producer.flush(30) == 0, "the broker did not acknowledge every event"


def committed(bootstrap: str, group: str, topic: str, partitions: int = 1) -> list[int | None]:
    """The group's committed offset per partition (None where nothing is committed)."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False}
    )
    try:
        result = consumer.committed(
            [TopicPartition(topic, p) for p in range(partitions)], timeout=10
        )
        return [tp.offset if tp.offset >= 0 else None for tp in result]
    finally:
        consumer.close()


def event_ids(requests: list[dict[str, Any]]) -> list[str]:
    """The CloudEvent id behind each notification the sink received, in its order."""
    return [r["body"]["metadata"]["event_id"] for r in requests]


def wait_committed(
    bootstrap: str, group: str, topic: str, offsets: list[int | None], timeout: float = 60
) -> None:
    wait_until(
        lambda: committed(bootstrap, group, topic, len(offsets)) == offsets,
        timeout,
        f"offsets {offsets} committed",
    )


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def headers_of(message: Any) -> dict[str, str]:
    return {k: (v or b"").decode() for k, v in (message.headers() or [])}
