from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from prometheus_client import CollectorRegistry, generate_latest

from stream_notifier.app.metrics import ServiceCollector
from stream_notifier.app.stats import Stats
from stream_notifier.publish.publisher import PublishStats


def test_the_collector_exposes_the_service_counters_and_gauges() -> None:
    stats = Stats(consumed=7, delivered=5, suppressed=2)
    service = SimpleNamespace(
        stats=stats, publish_stats=PublishStats(requests=6, retries=1, http_429=1),
        in_flight=3, repeat_on_crash=4, request_limit=64,
    )
    registry = CollectorRegistry()
    registry.register(ServiceCollector(cast(Any, service)))
    text = generate_latest(registry).decode()
    assert "stream_notifier_consumed_total 7.0" in text
    assert "stream_notifier_suppressed_total 2.0" in text
    assert "stream_notifier_http_429_total 1.0" in text
    assert "stream_notifier_finished_above_committed 4.0" in text
    stats.delivered = 9
    assert "stream_notifier_delivered_total 9.0" in generate_latest(registry).decode()
