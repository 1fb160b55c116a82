"""The `decoding:` configuration section: typed, inherited per topic, every mistake named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stream_notifier.config import load_config
from stream_notifier.configfile import Section
from stream_notifier.decode.settings import DecodingSettings, parse_decoding
from stream_notifier.errors import ConfigError
from tests.unit._support import EXAMPLES, REPO

SCHEMAS = REPO / "schemas" / "events"
V1 = str(SCHEMAS / "webhook.endpoint_disabled.v1.avsc")
V2 = str(SCHEMAS / "webhook.endpoint_disabled.v2.avsc")


def parse(document: Any, subscribed: tuple[str, ...] = ()) -> DecodingSettings:
    section = Section(document, file="service.yaml", path="decoding")
    return parse_decoding(section, base_dir=REPO, subscribed=subscribed)


def config_error(document: Any, subscribed: tuple[str, ...] = ()) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse(document, subscribed)
    assert caught.value.file == "service.yaml"
    return caught.value


def test_without_a_section_every_topic_is_cloudevents_json() -> None:
    settings = parse(None)
    assert settings.for_topic("anything").format == "cloudevents-json"
    assert settings.schemas == () and settings.topics == ()


def test_topics_inherit_the_top_level_and_override_it() -> None:
    settings = parse(
        {
            "default": "avro-confluent",
            "registry_url": "http://127.0.0.1:8081",
            "registry_timeout": "2s",
            "schemas": ["schemas/events"],
            "reader_schemas": [V2],
            "topics": {
                "legacy": {"format": "cloudevents-json"},
                "older": {"format": "avro-single-object", "reader_schemas": [V1]},
                "^other\\..*": {"registry_url": "https://registry.example"},
            },
        },
        subscribed=("legacy", "older", "^other\\..*", "main"),
    )
    main = settings.for_topic("main")
    assert (main.format, main.registry_url, main.registry_timeout_s) == (
        "avro-confluent",
        "http://127.0.0.1:8081",
        2.0,
    )
    assert [s.origin for s in main.reader_schemas] == [V2]
    assert settings.for_topic("legacy").format == "cloudevents-json"
    older = settings.for_topic("older")
    assert older.format == "avro-single-object"
    assert [s.origin for s in older.reader_schemas] == [V1]
    other = settings.for_topic("other.x")
    assert other.registry_url == "https://registry.example" and other.format == "avro-confluent"
    assert len(settings.schemas) == 7


@pytest.mark.parametrize(
    ("document", "field", "message"),
    [
        ({"default": "avro"}, "decoding.default", "must be one of cloudevents-json"),
        ({"topics": {"t": {"format": "protobuf"}}}, "decoding.topics.t.format", "must be one of"),
        (
            {"topics": {"t": {"format": "avro-confluent"}}},
            "decoding.topics.t.registry_url",
            "is required for format avro-confluent",
        ),
        (
            {"registry_url": "ftp://x", "topics": {"t": {}}},
            "decoding.registry_url",
            "must be an http(s):// (or mock://) URL",
        ),
        ({"topics": {"t": {"format": "avro-single-object"}}}, "decoding.schemas", "no schemas"),
        ({"schemas": ["schemas/nope.avsc"]}, "decoding.schemas", "no such schema file"),
        (
            {"topics": {"t": {"reader_schemas": [V1, V2]}}},
            "decoding.topics.t.reader_schemas",
            "both define platform.events.WebhookEndpointDisabled",
        ),
        ({"topics": {"t": {"formats": "x"}}}, "decoding.topics.t.formats", "unknown key"),
        ({"topic": {}}, "decoding.topic", "unknown key"),
        ({"topics": {"^(": {}}}, "decoding.topics.^(", "not a valid regex"),
    ],
)
def test_mistakes_name_the_field(document: Any, field: str, message: str) -> None:
    error = config_error(document, subscribed=("t",))
    assert error.field == field
    assert message in error.message


def test_a_topic_the_service_does_not_read_is_refused() -> None:
    error = config_error({"topics": {"typo.events": {}}}, subscribed=("platform.events",))
    assert error.field == "decoding.topics.typo.events"
    assert "not among the subscribed topics" in error.message


def test_a_topic_matched_by_a_subscribed_pattern_is_accepted() -> None:
    parse({"topics": {"platform.avro": {}}}, subscribed=("^platform\\..*",))


def test_an_invalid_schema_file_names_it(tmp_path: Path) -> None:
    broken = tmp_path / "broken.avsc"
    broken.write_text('{"type": "record", "name": "x", "fields": [{"name": "a"}]}')
    error = config_error({"schemas": [str(broken)]})
    assert error.field == "decoding.schemas"
    assert str(broken) in error.message and "not a valid Avro schema" in error.message


def test_the_avro_example_configuration_loads() -> None:
    config = load_config(EXAMPLES / "avro-config.yaml", {"KAFKA_BOOTSTRAP_SERVERS": "x:1"})
    decoding = config.decoding.for_topic("platform.events")
    assert decoding.format == "avro-single-object"
    assert [Path(s.origin).name for s in decoding.reader_schemas] == [
        "webhook.endpoint_disabled.v2.avsc"
    ]


def test_the_json_example_configuration_reads_json() -> None:
    config = load_config(EXAMPLES / "config.yaml", {"KAFKA_BOOTSTRAP_SERVERS": "x:1"})
    assert config.decoding.for_topic("platform.events").format == "cloudevents-json"
