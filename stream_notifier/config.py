"""The service configuration: typed, frozen, validated once at startup.

Environment variables fill in what the file leaves out (the file wins):
KAFKA_BOOTSTRAP_SERVERS, WACHT_BACKEND_API_URL, WACHT_BACKEND_API_KEY.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from stream_notifier.configfile import Section, load_yaml
from stream_notifier.decode.settings import DecodingSettings, parse_decoding
from stream_notifier.errors import ConfigError
from stream_notifier.ordering import ORDERING_MODES, OrderingMode
from stream_notifier.publish.client import ApiTarget, Transport
from stream_notifier.publish.retry import RetryPolicy
from stream_notifier.routing import RouteTable, load_routes
from stream_notifier.state.manager import StateSettings

DEFAULT_API_URL = "https://api.wacht.dev"
# The reference API allows 1000 requests per minute per key.
DEFAULT_RATE_PER_S = 1000 / 60


# librdkafka settings the delivery guarantees rest on; a pass-through value would break them.
_OWNED_PROPERTIES = {
    "enable.auto.offset.store": "offsets are stored only for finished records",
    "enable.auto.commit": "stored offsets are committed on kafka.commit_interval",
    "auto.commit.interval.ms": "use kafka.commit_interval",
    "partition.assignment.strategy": "cooperative-sticky: rebalances move only what they must",
    "group.id": "use kafka.group_id",
    "bootstrap.servers": "use kafka.bootstrap_servers",
}


@dataclass(frozen=True, slots=True)
class KafkaSettings:
    bootstrap_servers: str
    group_id: str
    topics: tuple[str, ...]
    properties: tuple[tuple[str, str], ...] = ()
    commit_interval_s: float = 1.0

    def consumer_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap_servers,
            "group.id": self.group_id,
            "partition.assignment.strategy": "cooperative-sticky",
            "auto.offset.reset": "earliest",
            # Offsets are stored only for finished records; librdkafka commits what is stored.
            "enable.auto.commit": True,
            "enable.auto.offset.store": False,
            "auto.commit.interval.ms": int(self.commit_interval_s * 1000),
            "enable.partition.eof": False,
        }
        config.update(self.properties)
        return config

    def producer_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"bootstrap.servers": self.bootstrap_servers}
        consumer_only = {
            "group.id",
            "auto.offset.reset",
            "partition.assignment.strategy",
            "enable.auto.commit",
            "enable.auto.offset.store",
            "session.timeout.ms",
            "max.poll.interval.ms",
            "group.instance.id",
            "fetch.min.bytes",
        }
        config.update((k, v) for k, v in self.properties if k not in consumer_only)
        return config


@dataclass(frozen=True, slots=True)
class RateLimit:
    per_second: float = DEFAULT_RATE_PER_S
    burst: int = 20


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    ordering: OrderingMode = "key"
    max_in_flight: int = 1000
    max_in_flight_per_partition: int = 500
    max_concurrent_requests: int = 64
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    rate_limit: RateLimit = field(default_factory=RateLimit)
    strict_routes: bool = False
    # Adaptive concurrency (opt-in): in-flight requests float between this minimum and
    # max_concurrent_requests, shrinking when the API slows down or fails transiently.
    adaptive_min_requests: int | None = None
    shutdown_timeout_s: float = 15.0
    rebalance_timeout_s: float = 20.0


@dataclass(frozen=True, slots=True)
class AppConfig:
    source: str
    kafka: KafkaSettings
    api: ApiTarget
    delivery: DeliverySettings
    dead_letter_topic: str
    routes: RouteTable
    state: StateSettings = field(default_factory=StateSettings)
    decoding: DecodingSettings = field(default_factory=DecodingSettings)


def load_config(path: Path, env: Mapping[str, str]) -> AppConfig:
    return parse_config(load_yaml(path), file=str(path), base_dir=path.parent, env=env)


def parse_config(document: Any, *, file: str, base_dir: Path, env: Mapping[str, str]) -> AppConfig:
    top = Section(document, file=file)
    kafka = _kafka(top.section("kafka"), env)
    api = _api(top.section("api"), env)
    delivery = _delivery(top.section("delivery"))
    dead_letter = top.section("dead_letter")
    dlq_topic = dead_letter.text("topic", "{topic}.dlq") or "{topic}.dlq"
    dead_letter.close()
    state = _state(top.section("state"))
    decoding = parse_decoding(top.section("decoding"), base_dir=base_dir, subscribed=kafka.topics)
    routes_file = top.required_str("routes")
    top.close()
    routes = load_routes(base_dir / routes_file)
    _check_topics(routes, kafka.topics)
    return AppConfig(file, kafka, api, delivery, dlq_topic, routes, state, decoding)


def _kafka(section: Section, env: Mapping[str, str]) -> KafkaSettings:
    bootstrap = section.text("bootstrap_servers") or env.get("KAFKA_BOOTSTRAP_SERVERS")
    if not bootstrap:
        section.fail("is required (or set KAFKA_BOOTSTRAP_SERVERS)", "bootstrap_servers")
    topics = section.str_list("topics")
    if not topics:
        section.fail(
            "must list at least one topic (a '^regex' entry subscribes by pattern)", "topics"
        )
    for topic in topics:
        if topic.startswith("^"):
            try:
                re.compile(topic)
            except re.error as exc:
                section.fail(f"topic pattern {topic!r} is not a valid regex: {exc}", "topics")
    properties = section.section("properties")
    pairs = tuple((str(k), _property(properties, str(k))) for k in properties.data)
    for key, _ in pairs:
        if key in _OWNED_PROPERTIES:
            properties.fail(f"is set by stream_notifier: {_OWNED_PROPERTIES[key]}", key)
    properties.close()
    settings = KafkaSettings(
        bootstrap_servers=bootstrap,
        group_id=section.text("group_id", "stream-notifier") or "stream-notifier",
        topics=topics,
        properties=pairs,
        commit_interval_s=section.positive_duration("commit_interval", 1.0),
    )
    section.close()
    return settings


def _property(section: Section, key: str) -> str:
    value = section.raw(key)
    if isinstance(value, bool):
        return "true" if value else "false"
    if not isinstance(value, str | int | float):
        section.fail("librdkafka properties are scalars", key)
    return str(value)


def _api(section: Section, env: Mapping[str, str]) -> ApiTarget:
    base_url = section.text("base_url") or env.get("WACHT_BACKEND_API_URL") or DEFAULT_API_URL
    api_key = section.text("api_key") or env.get("WACHT_BACKEND_API_KEY")
    if not api_key:
        section.fail("is required (or set WACHT_BACKEND_API_KEY)", "api_key")
    if not base_url.startswith(("http://", "https://")):
        section.fail(f"must be an http(s) URL, got {base_url!r}", "base_url")
    target = ApiTarget(
        base_url=base_url,
        api_key=api_key,
        connect_timeout_s=section.positive_duration("connect_timeout", 3.0),
        request_timeout_s=section.positive_duration("request_timeout", 10.0),
        max_connections=section.integer("max_connections", 100, minimum=1),
        transport=cast(Transport, section.choice("transport", ("aiohttp", "httpx"), "aiohttp")),
    )
    section.close()
    return target


def _delivery(section: Section) -> DeliverySettings:
    retry = section.section("retry")
    policy = RetryPolicy(
        max_attempts=retry.integer("max_attempts", 6, minimum=1),
        max_elapsed_s=retry.positive_duration("max_elapsed", 120.0),
        initial_backoff_s=retry.positive_duration("initial_backoff", 0.5),
        max_backoff_s=retry.positive_duration("max_backoff", 30.0),
    )
    retry.close()
    limit = section.section("rate_limit")
    rate = RateLimit(
        per_second=limit.number("per_second", DEFAULT_RATE_PER_S, minimum=0.001),
        burst=limit.integer("burst", 20, minimum=1),
    )
    limit.close()
    settings = DeliverySettings(
        ordering=cast(OrderingMode, section.choice("ordering", ORDERING_MODES, "key")),
        max_in_flight=section.integer("max_in_flight", 1000, minimum=1),
        max_in_flight_per_partition=section.integer("max_in_flight_per_partition", 500, minimum=1),
        max_concurrent_requests=section.integer("max_concurrent_requests", 64, minimum=1),
        retry=policy,
        rate_limit=rate,
        strict_routes=section.flag("strict_routes", False),
        adaptive_min_requests=_adaptive(section.section("adaptive_concurrency")),
        shutdown_timeout_s=section.positive_duration("shutdown_timeout", 15.0),
        rebalance_timeout_s=section.positive_duration("rebalance_timeout", 20.0),
    )
    section.close()
    return settings


DEFAULT_STATE = StateSettings()


def _state(section: Section) -> StateSettings:
    topic_config = section.section("topic_config")
    pairs = tuple((str(k), _property(topic_config, str(k))) for k in topic_config.data)
    topic_config.close()
    changelog = section.text("changelog_topic", DEFAULT_STATE.changelog_topic)
    assert changelog is not None
    if "{topic}" not in changelog:
        section.fail(
            "must contain {topic}: each input topic has its own changelog", "changelog_topic"
        )
    settings = StateSettings(
        enabled=section.flag("enabled", True),
        changelog_topic=changelog,
        max_entries_per_partition=section.integer(
            "max_entries_per_partition", DEFAULT_STATE.max_entries_per_partition, minimum=1
        ),
        ledger_ttl_s=section.positive_duration("ledger_ttl", DEFAULT_STATE.ledger_ttl_s),
        expiry_sweep_s=section.positive_duration("expiry_sweep", DEFAULT_STATE.expiry_sweep_s),
        topic_config=pairs,
    )
    section.close()
    return settings


def _adaptive(section: Section) -> int | None:
    enabled = section.flag("enabled", False)
    minimum = section.integer("min_requests", 4, minimum=1)
    section.close()
    return minimum if enabled else None


def _check_topics(routes: RouteTable, subscribed: tuple[str, ...]) -> None:
    """A route restricted to topics this service never reads can never match."""
    patterns = [re.compile(t) for t in subscribed if t.startswith("^")]
    plain = {t for t in subscribed if not t.startswith("^")}
    for route in routes.routes:
        if route.topics is None:
            continue
        readable = [t for t in route.topics if t in plain or any(p.match(t) for p in patterns)]
        if not readable:
            raise ConfigError(
                f"none of {sorted(route.topics)} is among the subscribed topics "
                f"{list(subscribed)}: this route can never match",
                file=routes.source,
                route=route.name,
                field="topics",
            )
