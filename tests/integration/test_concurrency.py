"""Concurrency with order: key-ordered delivery, contiguous commits across SIGKILL,
rebalances while a backlog drains, and the client-side rate limit. Real broker, real sink."""

from __future__ import annotations

from collections import defaultdict
from itertools import pairwise
from pathlib import Path
from typing import Any

import orjson
import pytest

from stream_notifier.devproduce import generate
from stream_notifier.devsink.server import run_sink_in_thread
from tests.conftest import NewTopicFactory
from tests.integration.harness import (
    ServiceProcess,
    committed,
    produce_events,
    wait_until,
    write_config,
)
from tests.kafka_helpers import consume_all

pytestmark = pytest.mark.integration

Position = tuple[int, int]  # (partition, offset)


def _produce_backlog(bootstrap: str, topic: str, count: int, keys: int, seed: int = 7) -> None:
    events = generate(seed, keys)
    produce_events(bootstrap, topic, [next(events) for _ in range(count)])


def _positions(bootstrap: str, topic: str) -> tuple[dict[str, Position], dict[str, bytes]]:
    """Where each event id sits in the topic, and its Kafka key."""
    where: dict[str, Position] = {}
    keys: dict[str, bytes] = {}
    for message in consume_all(bootstrap, topic):
        event_id = orjson.loads(message.value() or b"{}")["id"]
        partition, offset = message.partition(), message.offset()
        assert partition is not None and offset is not None
        where[event_id] = (partition, offset)
        keys[event_id] = message.key() or b""
    return where, keys


def _by_key(
    requests: list[dict[str, Any]], keys: dict[str, bytes]
) -> dict[bytes, list[dict[str, Any]]]:
    grouped: dict[bytes, list[dict[str, Any]]] = defaultdict(list)
    for request in sorted(requests, key=lambda r: r["received_start_ns"]):
        grouped[keys[request["body"]["metadata"]["event_id"]]].append(request)
    return grouped


def _first_delivery_order_violations(
    requests: list[dict[str, Any]], where: dict[str, Position], keys: dict[str, bytes]
) -> int:
    """Per key, first deliveries must follow offset order (repeats after a crash may not)."""
    violations = 0
    for key_requests in _by_key(requests, keys).values():
        seen: set[str] = set()
        last = (-1, -1)
        for request in key_requests:
            event_id = request["body"]["metadata"]["event_id"]
            if event_id in seen:
                continue
            seen.add(event_id)
            if where[event_id] < last:
                violations += 1
            last = where[event_id]
    return violations


def test_key_mode_keeps_per_key_order_while_different_keys_overlap(
    kafka_bootstrap: str, new_topic: NewTopicFactory, tmp_path: Path
) -> None:
    topic = new_topic(partitions=4)
    _produce_backlog(kafka_bootstrap, topic, count=400, keys=20)
    with run_sink_in_thread(latency_ms=2, latency_jitter_ms=20) as sink:
        config, _ = write_config(
            tmp_path,
            bootstrap=kafka_bootstrap,
            topics=[topic],
            sink_url=sink.base_url,
            delivery={"ordering": "key", "max_concurrent_requests": 32},
        )
        with ServiceProcess(config) as service:
            requests = sink.client().wait_for(400, timeout=120)
            assert service.terminate() == 0, service.logs()
        stats = sink.client().stats()
    where, keys = _positions(kafka_bootstrap, topic)
    assert len({r["body"]["metadata"]["event_id"] for r in requests}) == 400
    for key_requests in _by_key(requests, keys).values():
        offsets = [where[r["body"]["metadata"]["event_id"]] for r in key_requests]
        assert offsets == sorted(offsets)
        for earlier, later in pairwise(key_requests):
            assert later["received_start_ns"] >= earlier["responded_ns"], "same key overlapped"
    assert stats["max_concurrency"] > 4, "different keys should overlap beyond one per partition"


def test_partition_mode_has_at_most_one_request_per_partition(
    kafka_bootstrap: str, new_topic: NewTopicFactory, tmp_path: Path
) -> None:
    topic = new_topic(partitions=2)
    _produce_backlog(kafka_bootstrap, topic, count=100, keys=20)
    with run_sink_in_thread(latency_ms=5, latency_jitter_ms=5) as sink:
        config, _ = write_config(
            tmp_path,
            bootstrap=kafka_bootstrap,
            topics=[topic],
            sink_url=sink.base_url,
            delivery={"ordering": "partition"},
        )
        with ServiceProcess(config) as service:
            requests = sink.client().wait_for(100, timeout=120)
            assert service.terminate() == 0, service.logs()
        stats = sink.client().stats()
    where, _ = _positions(kafka_bootstrap, topic)
    per_partition: dict[int, list[int]] = defaultdict(list)
    for request in sorted(requests, key=lambda r: r["received_start_ns"]):
        partition, offset = where[request["body"]["metadata"]["event_id"]]
        per_partition[partition].append(offset)
    assert all(offsets == sorted(offsets) for offsets in per_partition.values())
    assert stats["max_concurrency"] <= 2


def test_sigkill_repeats_only_work_finished_above_the_committed_offsets(
    kafka_bootstrap: str, new_topic: NewTopicFactory, tmp_path: Path
) -> None:
    topic = new_topic(partitions=3)
    _produce_backlog(kafka_bootstrap, topic, count=600, keys=60)
    with run_sink_in_thread(latency_ms=3, latency_jitter_ms=10) as sink:
        client = sink.client()
        # Some records fail for a while: completions go out of order above the commit point.
        client.set_faults(status=503, times=40)
        config, group = write_config(
            tmp_path,
            bootstrap=kafka_bootstrap,
            topics=[topic],
            sink_url=sink.base_url,
            delivery={
                "ordering": "key",
                "max_concurrent_requests": 16,
                "retry": {
                    "max_attempts": 50,
                    "initial_backoff": "100ms",
                    "max_backoff": "300ms",
                    "max_elapsed": "5m",
                },
            },
        )
        with ServiceProcess(config) as first:
            client.wait_for(200, timeout=120)
            first.kill()
        before_kill = client.requests()
        at_kill = committed(kafka_bootstrap, group, topic, partitions=3)
        with ServiceProcess(config) as second:
            wait_until(
                lambda: len({r["body"]["metadata"]["event_id"] for r in client.requests()}) >= 600,
                120,
                "every event delivered at least once",
            )
            assert second.terminate() == 0, second.logs()
        everything = client.requests()
    where, keys = _positions(kafka_bootstrap, topic)
    delivered_ids = [r["body"]["metadata"]["event_id"] for r in everything]
    assert set(delivered_ids) == set(where), "an event was lost"
    repeats = len(delivered_ids) - len(set(delivered_ids))
    # What the first process finished at or above the committed offset is all a restart redoes.
    redo_bound = sum(
        1
        for r in before_kill
        if where[r["body"]["metadata"]["event_id"]][1]
        >= (at_kill[where[r["body"]["metadata"]["event_id"]][0]] or 0)
    )
    assert repeats <= redo_bound
    assert _first_delivery_order_violations(everything, where, keys) == 0


def test_members_joining_and_leaving_while_a_backlog_drains_lose_nothing_and_keep_order(
    kafka_bootstrap: str, new_topic: NewTopicFactory, tmp_path: Path
) -> None:
    topic = new_topic(partitions=6)
    total = 3000
    _produce_backlog(kafka_bootstrap, topic, count=total, keys=100)
    with run_sink_in_thread(latency_ms=3, latency_jitter_ms=6) as sink:
        client = sink.client()
        config, _ = write_config(
            tmp_path,
            bootstrap=kafka_bootstrap,
            topics=[topic],
            sink_url=sink.base_url,
            delivery={
                "ordering": "key",
                "max_concurrent_requests": 8,
                "rate_limit": {"per_second": 400, "burst": 20},
            },
        )
        with ServiceProcess(config) as first:
            client.wait_for(300, timeout=120)
            with ServiceProcess(config) as second, ServiceProcess(config) as third:
                client.wait_for(1200, timeout=120)
                assert second.terminate() == 0, second.logs()
                assert third.terminate() == 0, third.logs()
            wait_until(
                lambda: (
                    len({r["body"]["metadata"]["event_id"] for r in client.requests()}) >= total
                ),
                180,
                "the backlog drained",
            )
            assert first.terminate() == 0, first.logs()
        everything = client.requests()
    where, keys = _positions(kafka_bootstrap, topic)
    assert {r["body"]["metadata"]["event_id"] for r in everything} == set(where)
    assert _first_delivery_order_violations(everything, where, keys) == 0


def test_rate_limit_keeps_429s_rare_and_uses_the_allowance(
    kafka_bootstrap: str, new_topic: NewTopicFactory, tmp_path: Path
) -> None:
    topic = new_topic(partitions=3)
    limit = 50
    _produce_backlog(kafka_bootstrap, topic, count=300, keys=50)
    with run_sink_in_thread(rate_limit_per_s=limit, burst=10) as sink:
        client = sink.client()
        config, _ = write_config(
            tmp_path,
            bootstrap=kafka_bootstrap,
            topics=[topic],
            sink_url=sink.base_url,
            delivery={
                "rate_limit": {"per_second": limit, "burst": 10},
                "retry": {"max_attempts": 10, "initial_backoff": "100ms", "max_backoff": "2s"},
            },
        )
        with ServiceProcess(config) as service:
            requests = client.wait_for(300, timeout=120)
            assert service.terminate() == 0, service.logs()
        stats = client.stats()
    assert stats["http_429"] <= 5
    starts = sorted(r["received_start_ns"] for r in requests)
    # Past the initial burst, the sustained rate: requests per second between first and last.
    steady = starts[10:]
    rate = (len(steady) - 1) / ((steady[-1] - steady[0]) / 1e9)
    assert 0.95 * limit <= rate <= 1.05 * limit, f"sustained {rate:.1f}/s against {limit}/s"
