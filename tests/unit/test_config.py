"""Service configuration: env fallbacks, validation, and a key that never reaches a log."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from stream_notifier.config import (
    DEFAULT_API_URL,
    DEFAULT_RATE_PER_S,
    AppConfig,
    load_config,
    parse_config,
)
from stream_notifier.errors import ConfigError
from stream_notifier.publish.client import ApiTarget
from stream_notifier.publish.retry import RetryPolicy
from tests.unit._support import EXAMPLES, route_doc, routes_doc

FILE = "config.yaml"
ENV = {
    "KAFKA_BOOTSTRAP_SERVERS": "env-broker:9092",
    "WACHT_BACKEND_API_URL": "https://env.example.com",
    "WACHT_BACKEND_API_KEY": "env-secret-key",
}


def minimal(**top: Any) -> dict[str, Any]:
    document: dict[str, Any] = {"kafka": {"topics": ["platform.events"]}, "routes": "routes.yaml"}
    document.update(top)
    return document


def parse(document: Any, env: dict[str, str] | None = None) -> AppConfig:
    return parse_config(document, file=FILE, base_dir=EXAMPLES, env=ENV if env is None else env)


def config_error(document: Any, env: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse(document, env)
    return caught.value


class TestExample:
    def test_example_config_loads(self) -> None:
        config = load_config(EXAMPLES / "config.yaml", ENV)
        assert config.source == str(EXAMPLES / "config.yaml")
        assert config.kafka.bootstrap_servers == "env-broker:9092"  # not in the file
        assert config.kafka.group_id == "stream-notifier-example"
        assert config.kafka.topics == ("platform.events",)
        assert config.api.base_url == "http://127.0.0.1:8085"  # the file wins over env
        assert config.api.api_key == "dev-key"
        assert config.delivery.ordering == "key"
        assert config.delivery.rate_limit.per_second == 200.0
        assert config.delivery.rate_limit.burst == 50
        assert config.dead_letter_topic == "{topic}.dlq"
        assert len(config.routes.routes) == 5
        assert config.routes.source == str(EXAMPLES / "routes.yaml")


class TestEnvironment:
    def test_env_fills_what_the_file_leaves_out(self) -> None:
        config = parse(minimal())
        assert config.kafka.bootstrap_servers == "env-broker:9092"
        assert config.api.base_url == "https://env.example.com"
        assert config.api.api_key == "env-secret-key"

    def test_file_values_win(self) -> None:
        config = parse(
            minimal(
                kafka={"topics": ["platform.events"], "bootstrap_servers": "file:9092"},
                api={"base_url": "http://file.local", "api_key": "file-key"},
            )
        )
        assert config.kafka.bootstrap_servers == "file:9092"
        assert config.api.base_url == "http://file.local"
        assert config.api.api_key == "file-key"

    def test_default_api_url(self) -> None:
        env = {"KAFKA_BOOTSTRAP_SERVERS": "b:9092", "WACHT_BACKEND_API_KEY": "k"}
        config = parse(minimal(), env)
        assert config.api.base_url == DEFAULT_API_URL == "https://api.wacht.dev"

    def test_bootstrap_required(self) -> None:
        error = config_error(minimal(), {"WACHT_BACKEND_API_KEY": "k"})
        assert error.field == "kafka.bootstrap_servers"
        assert str(error) == (
            "config.yaml: field 'kafka.bootstrap_servers': "
            "is required (or set KAFKA_BOOTSTRAP_SERVERS)"
        )

    def test_api_key_required(self) -> None:
        error = config_error(minimal(), {"KAFKA_BOOTSTRAP_SERVERS": "b:9092"})
        assert error.field == "api.api_key"
        assert "is required (or set WACHT_BACKEND_API_KEY)" in str(error)

    @pytest.mark.parametrize("url", ["ftp://x", "api.wacht.dev", "localhost:8085"])
    def test_base_url_must_be_http(self, url: str) -> None:
        error = config_error(minimal(api={"base_url": url}))
        assert error.field == "api.base_url"
        assert f"must be an http(s) URL, got {url!r}" in str(error)


class TestDefaults:
    def test_delivery_defaults(self) -> None:
        delivery = parse(minimal()).delivery
        assert delivery.ordering == "key"
        assert delivery.retry == RetryPolicy(6, 120.0, 0.5, 30.0)
        assert delivery.rate_limit.per_second == DEFAULT_RATE_PER_S == pytest.approx(1000 / 60)
        assert delivery.rate_limit.burst == 20
        assert delivery.strict_routes is False

    def test_kafka_defaults_and_consumer_config(self) -> None:
        kafka = parse(minimal()).kafka
        assert kafka.group_id == "stream-notifier"
        consumer = kafka.consumer_config()
        assert consumer["bootstrap.servers"] == "env-broker:9092"
        assert consumer["group.id"] == "stream-notifier"
        assert consumer["enable.auto.offset.store"] is False
        assert consumer["auto.commit.interval.ms"] == 1000

    def test_durations_and_retry(self) -> None:
        config = parse(
            minimal(
                kafka={"topics": ["platform.events"], "commit_interval": "500ms"},
                api={"request_timeout": "2s", "connect_timeout": 1},
                delivery={
                    "ordering": "partition",
                    "strict_routes": True,
                    "retry": {"max_attempts": 3, "max_elapsed": "2m", "max_backoff": "10s"},
                    "shutdown_timeout": "1m",
                },
                dead_letter={"topic": "dlq.{topic}"},
            )
        )
        assert config.kafka.commit_interval_s == 0.5
        assert config.kafka.consumer_config()["auto.commit.interval.ms"] == 500
        assert config.api.request_timeout_s == 2.0
        assert config.api.connect_timeout_s == 1.0
        assert config.delivery.ordering == "partition"
        assert config.delivery.strict_routes is True
        assert config.delivery.retry == RetryPolicy(3, 120.0, 0.5, 10.0)
        assert config.delivery.shutdown_timeout_s == 60.0
        assert config.dead_letter_topic == "dlq.{topic}"

    def test_properties_are_strings_and_producer_drops_consumer_only(self) -> None:
        kafka = parse(
            minimal(
                kafka={
                    "topics": ["platform.events"],
                    "properties": {
                        "security.protocol": "SASL_SSL",
                        "session.timeout.ms": 45000,
                        "enable.ssl.certificate.verification": False,
                    },
                }
            )
        ).kafka
        consumer = kafka.consumer_config()
        assert consumer["security.protocol"] == "SASL_SSL"
        assert consumer["session.timeout.ms"] == "45000"
        assert consumer["enable.ssl.certificate.verification"] == "false"
        producer = kafka.producer_config()
        assert producer == {
            "bootstrap.servers": "env-broker:9092",
            "security.protocol": "SASL_SSL",
            "enable.ssl.certificate.verification": "false",
        }


class TestErrors:
    @pytest.mark.parametrize(
        ("document", "field"),
        [
            (minimal(extra=1), "extra"),
            (minimal(kafka={"topics": ["platform.events"], "group": "g"}), "kafka.group"),
            (minimal(api={"apikey": "k"}), "api.apikey"),
            (minimal(delivery={"retries": 3}), "delivery.retries"),
            (minimal(delivery={"retry": {"attempts": 3}}), "delivery.retry.attempts"),
            (minimal(delivery={"rate_limit": {"rate": 3}}), "delivery.rate_limit.rate"),
            (minimal(dead_letter={"topics": "x"}), "dead_letter.topics"),
        ],
    )
    def test_unknown_keys_rejected(self, document: dict[str, Any], field: str) -> None:
        error = config_error(document)
        assert error.file == FILE
        assert error.field == field
        assert f"unknown key(s): {field.rsplit('.', 1)[-1]}" in str(error)

    def test_route_on_topics_not_subscribed(self) -> None:
        error = config_error(minimal(kafka={"topics": ["other.events"]}))
        assert error.file == str(EXAMPLES / "routes.yaml")
        assert error.route == "endpoint-disabled"
        assert error.field == "topics"
        assert "route 'endpoint-disabled'" in str(error)
        assert "field 'topics'" in str(error)
        assert "this route can never match" in str(error)

    def test_pattern_subscription_covers_route_topics(self) -> None:
        config = parse(minimal(kafka={"topics": ["^platform\\..*"]}))
        assert config.kafka.topics == ("^platform\\..*",)

    def test_pattern_that_does_not_cover_route_topics(self) -> None:
        error = config_error(minimal(kafka={"topics": ["^billing\\..*"]}))
        assert (error.route, error.field) == ("endpoint-disabled", "topics")

    def test_invalid_topic_pattern(self) -> None:
        error = config_error(minimal(kafka={"topics": ["^([unclosed"]}))
        assert error.field == "kafka.topics"
        assert "is not a valid regex" in str(error)

    @pytest.mark.parametrize("topics", [None, []])
    def test_topics_required(self, topics: Any) -> None:
        error = config_error(minimal(kafka={"topics": topics}))
        assert error.field == "kafka.topics"
        assert "must list at least one topic" in str(error)

    @pytest.mark.parametrize(
        ("delivery", "field", "message"),
        [
            ({"ordering": "random"}, "delivery.ordering", "must be one of key, partition, none"),
            ({"max_in_flight": 0}, "delivery.max_in_flight", "must be at least 1, got 0"),
            ({"strict_routes": "yes"}, "delivery.strict_routes", "must be true or false"),
            ({"retry": {"max_attempts": 0}}, "delivery.retry.max_attempts", "at least 1"),
            ({"retry": {"max_elapsed": "soon"}}, "delivery.retry.max_elapsed", "duration"),
            ({"rate_limit": {"per_second": 0}}, "delivery.rate_limit.per_second", "at least"),
            ({"rate_limit": {"burst": "many"}}, "delivery.rate_limit.burst", "an integer"),
        ],
    )
    def test_invalid_delivery_values(
        self, delivery: dict[str, Any], field: str, message: str
    ) -> None:
        error = config_error(minimal(delivery=delivery))
        assert error.field == field
        assert message in str(error)

    def test_routes_required(self) -> None:
        document = minimal()
        del document["routes"]
        error = config_error(document)
        assert error.field == "routes"
        assert "is required" in str(error)

    def test_missing_routes_file(self) -> None:
        error = config_error(minimal(routes="nope.yaml"))
        assert error.file == str(EXAMPLES / "nope.yaml")
        assert "cannot read" in str(error)

    def test_routes_path_is_relative_to_the_config_file(self, tmp_path: Path) -> None:
        (tmp_path / "conf").mkdir()
        (tmp_path / "conf" / "my-routes.yaml").write_text(
            yaml.safe_dump(routes_doc(route_doc("only", topics=["a"]))), encoding="utf-8"
        )
        config_path = tmp_path / "conf" / "service.yaml"
        config_path.write_text(
            yaml.safe_dump({"kafka": {"topics": ["a"]}, "routes": "my-routes.yaml"}),
            encoding="utf-8",
        )
        config = load_config(config_path, ENV)
        assert [r.name for r in config.routes.routes] == ["only"]


class TestApiTargetRepr:
    def test_repr_hides_the_key(self) -> None:
        target = ApiTarget(base_url="https://api.wacht.dev", api_key="sk_live_SECRET")
        assert "sk_live_SECRET" not in repr(target)
        assert "SECRET" not in str(target)
        assert repr(target) == (
            "ApiTarget(base_url='https://api.wacht.dev', api_key='***', transport='aiohttp')"
        )

    def test_config_repr_hides_the_key(self) -> None:
        config = parse(minimal())
        assert "env-secret-key" not in repr(config)
        assert "env-secret-key" not in repr(config.api)
        assert config.api.api_key == "env-secret-key"


@pytest.mark.parametrize(
    "key", ["enable.auto.offset.store", "partition.assignment.strategy", "group.id"]
)
def test_properties_the_guarantees_rest_on_cannot_be_passed_through(
    tmp_path: Path, key: str
) -> None:
    (tmp_path / "routes.yaml").write_text(
        "version: 1\nroutes:\n  - name: r\n    event: e\n    scope: {user_id: '1'}\n"
        "    template: {title: t, body: b}\n"
    )
    document = {
        "kafka": {"bootstrap_servers": "b:9092", "topics": ["t"], "properties": {key: "x"}},
        "api": {"base_url": "http://api", "api_key": "k"},
        "routes": "routes.yaml",
    }
    with pytest.raises(ConfigError) as caught:
        parse_config(document, file="svc.yaml", base_dir=tmp_path, env={})
    assert f"field 'kafka.properties.{key}'" in str(caught.value)
