"""Avro events end to end: real broker, real service process, dev sink on loopback.

Single-object encoding resolves writer schemas from schemas/events. The Confluent wire
format goes through confluent-kafka's registry client over real HTTP to tests'
RegistryStub (no real registry installs here: see schemas/README.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import orjson
import pytest
import yaml
from confluent_kafka.admin import AdminClient

from stream_notifier.cli import main
from stream_notifier.decode.dispatch import TopicDecoders
from stream_notifier.decode.registry import registry_client
from stream_notifier.decode.schemas import AvroSchema, load_paths
from stream_notifier.decode.settings import DecodingSettings, Format, TopicDecoding
from stream_notifier.decode.wire import frame_confluent, frame_single_object
from stream_notifier.decode.writer import AvroEventWriter, Framing, latest_by_event_type
from stream_notifier.devsink.server import run_sink_in_thread
from stream_notifier.records import RawRecord
from tests.conftest import NewTopicFactory
from tests.integration.harness import (
    REPO,
    ServiceProcess,
    committed,
    example_event,
    headers_of,
    produce_events,
    wait_until,
    write_config,
)
from tests.integration.registry_stub import RegistryStub
from tests.kafka_helpers import consume_all

pytestmark = pytest.mark.integration
SCHEMAS = REPO / "schemas" / "events"
EXPECTED = REPO / "tests" / "data" / "expected"
ALL = load_paths([SCHEMAS])
LATEST = latest_by_event_type(ALL)
V1 = next(s for s in ALL if s.origin.endswith("webhook.endpoint_disabled.v1.avsc"))
V2 = next(s for s in ALL if s.origin.endswith("webhook.endpoint_disabled.v2.avsc"))
NEWER_EVENT_ID = "evt_written_with_v2"


@pytest.fixture
def registry() -> Iterator[RegistryStub]:
    with RegistryStub() as stub:
        yield stub


def with_decoding(config: Path, decoding: dict[str, Any]) -> Path:
    document = yaml.safe_load(config.read_text())
    document["decoding"] = decoding
    config.write_text(yaml.safe_dump(document, sort_keys=False))
    return config


def avro_decoding(topic: str, format: str, **extra: Any) -> dict[str, Any]:
    return {"schemas": [str(SCHEMAS)], "topics": {topic: {"format": format, **extra}}}


def writer(framing: Framing, schema_for_webhook: AvroSchema, registry_url: str | None = None):
    writers = {**LATEST, "webhook.endpoint_disabled": schema_for_webhook}
    client = registry_client(registry_url) if registry_url else None
    return AvroEventWriter(writers, framing, registry=client)  # type: ignore[arg-type]


def newer_webhook_event() -> dict[str, Any]:
    event = example_event("webhook-endpoint-disabled")
    event["id"] = NEWER_EVENT_ID
    event["data"]["last_status_code"] = 503
    return event


def example_records(framing: Framing, topic: str, registry_url: str | None = None):
    """The three examples (webhook written with v1) and a webhook event written with v2."""
    old = writer(framing, V1, registry_url)
    new = writer(framing, V2, registry_url)
    records = [
        (b"a", old.encode(example_event("api-key-revoked"), topic)),
        (b"b", old.encode(example_event("invite-accepted"), topic)),
        (b"c", old.encode(example_event("webhook-endpoint-disabled"), topic)),
        (b"d", new.encode(newer_webhook_event(), topic)),
    ]
    return records


def expected_bodies() -> dict[str, dict[str, Any]]:
    bodies = {}
    for path in EXPECTED.glob("*.json"):
        body = orjson.loads(path.read_bytes())
        bodies[body["metadata"]["event_id"]] = body
    newer = orjson.loads((EXPECTED / "webhook-endpoint-disabled.json").read_bytes())
    newer["metadata"]["event_id"] = NEWER_EVENT_ID
    bodies[NEWER_EVENT_ID] = newer
    return bodies


def deliver(
    bootstrap: str, topic: str, tmp_path: Path, decoding: dict[str, Any], records: list[Any]
) -> tuple[list[dict[str, Any]], str]:
    """Produce `records`, run the service until all of them are committed; return what the
    sink received and the service's logs."""
    with run_sink_in_thread() as sink:
        config, group = write_config(
            tmp_path, bootstrap=bootstrap, topics=[topic], sink_url=sink.base_url
        )
        with_decoding(config, decoding)
        produce_events(bootstrap, topic, records)
        with ServiceProcess(config) as service:
            wait_until(
                lambda: committed(bootstrap, group, topic) == [len(records)],
                60,
                f"all {len(records)} records settled and committed",
            )
            received = sink.client().requests()
            assert service.terminate() == 0, service.logs()
            return received, service.logs()


@pytest.mark.parametrize("reader", ["v1", "v2"])
def test_single_object_events_from_older_and_newer_writers_arrive_with_the_expected_bodies(
    kafka_bootstrap: str, new_topic: NewTopicFactory, tmp_path: Path, reader: str
) -> None:
    topic = new_topic(partitions=1)
    reader_schema = V1 if reader == "v1" else V2
    decoding = avro_decoding(topic, "avro-single-object", reader_schemas=[reader_schema.origin])
    received, logs = deliver(
        kafka_bootstrap, topic, tmp_path, decoding, example_records("avro-single-object", topic)
    )
    bodies = {r["body"]["metadata"]["event_id"]: r["body"] for r in received}
    assert bodies == expected_bodies(), logs
    assert "dead-lettering" not in logs


def test_confluent_framed_events_resolve_through_the_registry_once_per_schema_id(
    kafka_bootstrap: str, new_topic: NewTopicFactory, tmp_path: Path, registry: RegistryStub
) -> None:
    topic = new_topic(partitions=1)
    records = example_records("avro-confluent", topic, registry.url)
    records = records + records[:2]  # the same schema ids again
    decoding = avro_decoding(
        topic, "avro-confluent", registry_url=registry.url, reader_schemas=[V2.origin]
    )
    received, logs = deliver(kafka_bootstrap, topic, tmp_path, decoding, records)
    assert {r["body"]["metadata"]["event_id"] for r in received} == set(expected_bodies())
    for request in received:
        body = request["body"]
        assert body == expected_bodies()[body["metadata"]["event_id"]]
    # api_key_revoked, invite_accepted, webhook v1, webhook v2: four ids, each fetched once.
    assert sorted(registry.subjects) == sorted(
        f"{topic}-platform.events.{name}"
        for name in ("ApiKeyRevoked", "InviteAccepted", "WebhookEndpointDisabled")
    )
    assert dict(registry.lookups) == {1: 1, 2: 1, 3: 1, 4: 1}, logs


def dead_letters(bootstrap: str, topic: str) -> dict[int, tuple[dict[str, str], Any]]:
    letters = {}
    for letter in consume_all(bootstrap, f"{topic}.dlq"):
        headers = headers_of(letter)
        letters[int(headers["__connect.errors.offset"])] = (headers, letter)
    return letters


def test_undecodable_single_object_records_are_dead_lettered_and_later_records_flow(
    kafka_bootstrap: str, new_topic: NewTopicFactory, tmp_path: Path
) -> None:
    topic = new_topic(partitions=1)
    valid = writer("avro-single-object", V2).encode(example_event("invite-accepted"), topic)
    unknown = frame_single_object(0x0123456789ABCDEF, valid[10:])
    records = [
        (b"k0", b'{"not": "avro"}'),
        (b"k1", unknown),
        (b"k2", valid[:-7]),
        (b"k3", valid + b"\x00"),
        (b"k4", valid),
    ]
    decoding = avro_decoding(topic, "avro-single-object")
    received, _ = deliver(kafka_bootstrap, topic, tmp_path, decoding, records)
    assert [r["body"]["metadata"]["event_id"] for r in received] == ["evt_01HZX4W2B6N8C4F7"]
    letters = dead_letters(kafka_bootstrap, topic)
    assert sorted(letters) == [0, 1, 2, 3]
    reasons = {
        0: "not the Avro single-object marker",
        1: "unknown Avro schema fingerprint 0123456789abcdef",
        2: "does not decode with writer schema platform.events.InviteAccepted",
        3: "1 byte(s) left after the Avro record",
    }
    for offset, reason in reasons.items():
        headers, letter = letters[offset]
        assert headers["__connect.errors.stage"] == "decode"
        assert headers["__connect.errors.class.name"] == "DecodeError"
        assert reason in headers["__connect.errors.exception.message"]
        assert letter.value() == records[offset][1]
        assert letter.key() == records[offset][0]


def test_undecodable_confluent_records_are_dead_lettered_and_later_records_flow(
    kafka_bootstrap: str, new_topic: NewTopicFactory, tmp_path: Path, registry: RegistryStub
) -> None:
    topic = new_topic(partitions=1)
    valid = writer("avro-confluent", V2, registry.url).encode(
        example_event("api-key-revoked"), topic
    )
    records = [
        (b"k0", frame_confluent(999, valid[5:])),
        (b"k1", valid[:-5]),
        (b"k2", orjson.dumps(example_event("api-key-revoked"))),
        (b"k3", valid),
    ]
    decoding = avro_decoding(topic, "avro-confluent", registry_url=registry.url)
    received, _ = deliver(kafka_bootstrap, topic, tmp_path, decoding, records)
    assert [r["body"]["metadata"]["event_id"] for r in received] == ["evt_01HZX4V7M3K9P2D1"]
    letters = dead_letters(kafka_bootstrap, topic)
    assert sorted(letters) == [0, 1, 2]
    reasons = {
        0: f"schema id 999 is unknown to the schema registry {registry.url}",
        1: "does not decode with writer schema platform.events.ApiKeyRevoked",
        2: "not the Confluent magic byte",
    }
    for offset, reason in reasons.items():
        headers, _letter = letters[offset]
        assert headers["__connect.errors.class.name"] == "DecodeError"
        assert headers["stream_notifier.errors.retriable"] == "false"
        assert reason in headers["__connect.errors.exception.message"]


def test_a_registry_outage_holds_records_without_dead_lettering_them(
    kafka_bootstrap: str,
    kafka_admin: AdminClient,
    new_topic: NewTopicFactory,
    tmp_path: Path,
    registry: RegistryStub,
) -> None:
    topic = new_topic(partitions=1)
    encode = writer("avro-confluent", V2, registry.url).encode
    records = [
        (b"k", encode(example_event("invite-accepted"), topic)),
        (b"k", encode(example_event("api-key-revoked"), topic)),
    ]
    registry.stop()  # down, with its schemas kept for when it comes back on the same port
    with run_sink_in_thread() as sink:
        config, group = write_config(
            tmp_path, bootstrap=kafka_bootstrap, topics=[topic], sink_url=sink.base_url
        )
        decoding = avro_decoding(topic, "avro-confluent", registry_url=registry.url)
        with_decoding(config, decoding)
        produce_events(kafka_bootstrap, topic, records)
        with ServiceProcess(config) as service:
            wait_until(
                lambda: service.logs().count("unavailable") >= 3, 60, "several failed lookups"
            )
            assert sink.client().requests() == []
            assert committed(kafka_bootstrap, group, topic) == [None]
            registry.start()
            delivered = sink.client().wait_for(2, timeout=60)
            wait_until(
                lambda: committed(kafka_bootstrap, group, topic) == [2], 30, "both committed"
            )
            assert service.terminate() == 0, service.logs()
            logs = service.logs()
    # In order: the second record waited behind the first (same key) through the outage.
    assert [r["body"]["metadata"]["event_id"] for r in delivered] == [
        "evt_01HZX4W2B6N8C4F7",
        "evt_01HZX4V7M3K9P2D1",
    ]
    assert "dead-lettering" not in logs
    assert f"{topic}.dlq" not in kafka_admin.list_topics(timeout=10).topics


@pytest.mark.parametrize("framing", ["avro-single-object", "avro-confluent"])
def test_dev_produce_writes_avro_the_decoders_read(
    kafka_bootstrap: str, new_topic: NewTopicFactory, registry: RegistryStub, framing: str
) -> None:
    topic = new_topic(partitions=1)
    args = ["--bootstrap-servers", kafka_bootstrap, "--topic", topic, "--count", "25"]
    args += ["--format", framing, "--registry-url", registry.url]
    assert main(["dev-produce", *args]) == 0
    entry = TopicDecoding(
        format=cast(Format, framing), registry_url=registry.url, reader_schemas=(V2,)
    )
    decoders = TopicDecoders(DecodingSettings(schemas=ALL, topics=((topic, entry),)))
    messages = consume_all(kafka_bootstrap, topic)
    assert len(messages) == 25
    types = set()
    for message in messages:
        event = decoders.decode(
            RawRecord(topic, message.partition(), message.offset(), message.key(), message.value())
        )
        assert event.source == "dev-produce"
        types.add(event.type)
    assert len(types) >= 4
