"""Prometheus metrics, read from the service's own counters at scrape time.

A collector instead of instrumented call sites: the record path only bumps plain integers,
and a scrape costs nothing until it happens.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from typing import TYPE_CHECKING

from prometheus_client import start_http_server
from prometheus_client.core import REGISTRY, CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from stream_notifier.app.service import Service

_COUNTERS = {
    "consumed": "records read from Kafka",
    "delivered": "notifications the API accepted",
    "rows": "notification rows the API wrote (one per recipient)",
    "skipped": "records no route matched",
    "dead_lettered": "records or notifications written to a dead-letter topic",
    "suppressed": "repeats suppressed inside a dedupe window",
    "replayed": "re-read records whose notification the ledger says was delivered",
    "restored_entries": "state entries restored from changelogs",
    "pauses": "partitions paused for backpressure",
}


class ServiceCollector(Collector):
    def __init__(self, service: Service) -> None:
        self._service = service

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        service = self._service
        stats = asdict(service.stats)
        for name, help_text in _COUNTERS.items():
            yield CounterMetricFamily(f"stream_notifier_{name}", help_text, value=stats[name])
        publish = service.publish_stats
        yield CounterMetricFamily(
            "stream_notifier_http_requests", "requests sent to the API", value=publish.requests
        )
        yield CounterMetricFamily(
            "stream_notifier_http_retries", "requests that were retries", value=publish.retries
        )
        yield CounterMetricFamily(
            "stream_notifier_http_429", "rate-limited answers", value=publish.http_429
        )
        yield GaugeMetricFamily(
            "stream_notifier_in_flight", "records accepted, not finished", value=service.in_flight
        )
        yield GaugeMetricFamily(
            "stream_notifier_request_limit",
            "requests allowed in flight (moves when adaptive)",
            value=service.request_limit,
        )
        yield GaugeMetricFamily(
            "stream_notifier_finished_above_committed",
            "finished records above the committable offsets: what a crash would read again",
            value=service.repeat_on_crash,
        )


def serve_metrics(service: Service, port: int, host: str = "0.0.0.0") -> None:
    REGISTRY.register(ServiceCollector(service))
    start_http_server(port, addr=host)
