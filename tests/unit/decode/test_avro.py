"""Avro decoding: both framings, fingerprints, schema evolution, the registry cache and its
outages, and the per-topic dispatcher."""

from __future__ import annotations

import io
import json
import re
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
import pytest
from confluent_kafka.schema_registry import Schema
from confluent_kafka.schema_registry.error import SchemaRegistryError
from fastavro import schemaless_writer
from fastavro.schema import parse_schema

from stream_notifier.decode import CloudEventsJsonDecoder
from stream_notifier.decode.avro import ConfluentAvroDecoder, SingleObjectDecoder
from stream_notifier.decode.dispatch import TopicDecoders
from stream_notifier.decode.envelope import event_from_record, record_from_event
from stream_notifier.decode.registry import RegistrySchemas, registry_client
from stream_notifier.decode.schemas import AvroSchema, fingerprint_of, from_definition, load_paths
from stream_notifier.decode.settings import DecodingSettings, TopicDecoding
from stream_notifier.decode.wire import (
    frame_confluent,
    frame_single_object,
    split_confluent,
    split_single_object,
)
from stream_notifier.decode.writer import AvroEventWriter, encode_body, latest_by_event_type
from stream_notifier.errors import DecodeError, EncodeError, SchemaUnavailableError
from stream_notifier.ordering import OrderingMode
from stream_notifier.pipeline import Preparer
from stream_notifier.records import Event, RawRecord
from stream_notifier.render.notification import Notification
from stream_notifier.routing import Router
from tests.unit._support import EXAMPLE_EVENTS, REPO, example_table

SCHEMAS = REPO / "schemas" / "events"
ALL = load_paths([SCHEMAS])
LATEST = latest_by_event_type(ALL)
V1 = next(s for s in ALL if s.origin.endswith("webhook.endpoint_disabled.v1.avsc"))
V2 = next(s for s in ALL if s.origin.endswith("webhook.endpoint_disabled.v2.avsc"))
EXAMPLES = ("api-key-revoked", "invite-accepted", "webhook-endpoint-disabled")


def example(name: str) -> dict[str, Any]:
    event: dict[str, Any] = orjson.loads((EXAMPLE_EVENTS / f"{name}.json").read_bytes())
    return event


def raw(value: bytes | None, topic: str = "avro.events") -> RawRecord:
    return RawRecord(topic, 0, 7, b"k", value)


def single_object(event: dict[str, Any], schema: AvroSchema | None = None) -> bytes:
    writer = schema or LATEST[event["type"]]
    return AvroEventWriter({event["type"]: writer}, "avro-single-object").encode(event, "t")


def decode_error(decoder: Any, value: bytes | None) -> DecodeError:
    with pytest.raises(DecodeError) as caught:
        decoder.decode(raw(value))
    assert caught.value.stage == "decode"
    return caught.value


# --- wire framing -------------------------------------------------------------------------


def test_confluent_framing_round_trips_and_is_big_endian() -> None:
    framed = frame_confluent(258, b"body")
    assert framed == b"\x00\x00\x00\x01\x02body"
    assert split_confluent(framed) == (258, b"body")


def test_single_object_framing_round_trips_and_is_little_endian() -> None:
    framed = frame_single_object(0x0102030405060708, b"body")
    assert framed == b"\xc3\x01\x08\x07\x06\x05\x04\x03\x02\x01body"
    assert split_single_object(framed) == (0x0102030405060708, b"body")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "empty"),
        (b"", "empty"),
        (b"{json", "not the Confluent magic byte"),
        (b"\x00\x00\x01", "too short"),
    ],
)
def test_confluent_framing_refuses(value: bytes | None, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        split_confluent(value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "empty"),
        (b"\x00\x00\x00\x00\x01x", "not the Avro single-object marker"),
        (b"\xc3\x01\x01\x02", "too short"),
    ],
)
def test_single_object_framing_refuses(value: bytes | None, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        split_single_object(value)


# --- fingerprints (test vectors from the Avro specification's schema-tests.txt) -----------


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ("null", 7195948357588979594),
        ("int", 8247732601305521295),
        ("long", -3434872931120570953),
        ({"type": "record", "name": "foo", "fields": []}, -4824392279771201922),
    ],
)
def test_crc64_avro_fingerprints_match_the_specification(schema: Any, expected: int) -> None:
    assert fingerprint_of(parse_schema(schema)) == expected % 2**64


def test_single_object_header_matches_the_reference_implementation() -> None:
    # Apache Avro's Ruby test suite: the header for the schema "int".
    header = frame_single_object(fingerprint_of(parse_schema("int")), b"")
    assert header == bytes.fromhex("c3018f5c393f1ad57572")


def test_fingerprints_ignore_docs_but_not_fields() -> None:
    plain = from_definition({"type": "record", "name": "r", "fields": []}, "a")
    documented = from_definition({"type": "record", "name": "r", "doc": "d", "fields": []}, "b")
    wider = from_definition(
        {"type": "record", "name": "r", "fields": [{"name": "x", "type": "int"}]}, "c"
    )
    assert plain.fingerprint == documented.fingerprint != wider.fingerprint


def test_the_two_webhook_versions_have_distinct_fingerprints_and_one_name() -> None:
    assert V1.name == V2.name == "platform.events.WebhookEndpointDisabled"
    assert V1.fingerprint != V2.fingerprint
    assert LATEST["webhook.endpoint_disabled"] is V2


# --- single-object decoding ------------------------------------------------------------------


@pytest.mark.parametrize("name", EXAMPLES)
def test_single_object_events_decode_to_the_same_cloudevent_as_json(name: str) -> None:
    event = example(name)
    from_avro = SingleObjectDecoder(ALL).decode(raw(single_object(event)))
    from_json = CloudEventsJsonDecoder().decode(raw(orjson.dumps(event)))
    assert (from_avro.id, from_avro.type, from_avro.source) == (
        from_json.id,
        from_json.type,
        from_json.source,
    )
    assert from_avro.specversion == "1.0"
    assert {k: v for k, v in from_avro.data.items() if v is not None} == from_json.data
    assert from_avro.attributes["time"] == from_json.attributes["time"].replace("Z", ".000Z")
    if "subject" in from_json.attributes:
        assert from_avro.attributes["subject"] == from_json.attributes["subject"]


@pytest.mark.parametrize("name", EXAMPLES)
def test_avro_and_json_events_render_identical_notifications(name: str) -> None:
    ordering: OrderingMode = "key"

    def notification(decoder: Any, value: bytes) -> Notification:
        preparer = Preparer(decoder, Router(example_table()), ordering=ordering, strict_routes=True)
        (outcome,) = preparer.prepare(raw(value, topic="platform.events")).outcomes
        assert isinstance(outcome, Notification), outcome
        return outcome

    event = example(name)
    avro = notification(SingleObjectDecoder(ALL), single_object(event))
    json_ = notification(CloudEventsJsonDecoder(), orjson.dumps(event))
    assert avro.body == json_.body
    assert avro.idempotency_key == json_.idempotency_key


def test_an_unknown_fingerprint_is_a_decode_error_naming_it() -> None:
    value = frame_single_object(0xDEADBEEF, b"\x02")
    error = decode_error(SingleObjectDecoder(ALL), value)
    assert "unknown Avro schema fingerprint 00000000deadbeef" in str(error)


def test_truncated_bytes_are_a_decode_error() -> None:
    value = single_object(example("api-key-revoked"))
    error = decode_error(SingleObjectDecoder(ALL), value[:-4])
    assert "does not decode with writer schema platform.events.ApiKeyRevoked" in str(error)


def test_trailing_bytes_are_a_decode_error() -> None:
    value = single_object(example("api-key-revoked")) + b"\x00\x00"
    assert "2 byte(s) left" in str(decode_error(SingleObjectDecoder(ALL), value))


def test_garbage_after_a_valid_header_is_a_decode_error() -> None:
    value = frame_single_object(V2.fingerprint, b"\xff" * 40)
    decode_error(SingleObjectDecoder(ALL), value)


# --- schema evolution ----------------------------------------------------------------------


def disabled(**data: Any) -> dict[str, Any]:
    event = example("webhook-endpoint-disabled")
    event["data"].update(data)
    return event


def test_an_older_writer_read_with_a_newer_reader_gets_the_default() -> None:
    decoder = SingleObjectDecoder(ALL, readers=[V2])
    event = decoder.decode(raw(single_object(disabled(), V1)))
    assert event.data["last_status_code"] is None
    assert event.data["failure_count"] == 25


def test_a_newer_writer_read_with_an_older_reader_drops_the_added_field() -> None:
    decoder = SingleObjectDecoder(ALL, readers=[V1])
    event = decoder.decode(raw(single_object(disabled(last_status_code=503), V2)))
    assert "last_status_code" not in event.data
    assert event.data["endpoint_id"] == "ep_987"


def test_without_a_reader_each_record_reads_as_written() -> None:
    decoder = SingleObjectDecoder(ALL)
    old = decoder.decode(raw(single_object(disabled(), V1)))
    new = decoder.decode(raw(single_object(disabled(last_status_code=503), V2)))
    assert "last_status_code" not in old.data
    assert new.data["last_status_code"] == 503


def test_a_reader_schema_alone_is_also_a_known_writer() -> None:
    decoder = SingleObjectDecoder([], readers=[V1])
    assert decoder.decode(raw(single_object(disabled(), V1))).type == "webhook.endpoint_disabled"


def test_an_incompatible_reader_is_a_decode_error_naming_both_schemas() -> None:
    required = json.loads(json.dumps(V2.parsed, default=str))
    data_fields = required["fields"][1]["type"]["fields"]
    data_fields.append({"name": "mandatory", "type": "string"})
    strict = from_definition(_without_bookkeeping(required), "strict.avsc")
    decoder = SingleObjectDecoder(ALL, readers=[strict])
    error = decode_error(decoder, single_object(disabled(), V1))
    assert "as reader schema strict.avsc" in str(error)


def _without_bookkeeping(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_bookkeeping(v) for k, v in value.items() if not k.startswith("__")}
    if isinstance(value, list):
        return [_without_bookkeeping(v) for v in value]
    return value


# --- envelope mapping ------------------------------------------------------------------------


def test_a_flat_record_is_read_as_its_own_envelope() -> None:
    event = event_from_record({"id": "1", "type": "t", "source": "s", "data": {"x": 1}})
    assert (event.id, event.type, event.source, event.data) == ("1", "t", "s", {"x": 1})
    assert event.attributes == {}


def test_null_optional_envelope_fields_are_not_attributes() -> None:
    record = record_from_event(example("invite-accepted"), default_time_ms=0)
    event = event_from_record(record)
    assert "subject" not in event.attributes
    assert event.attributes["workspace_id"] == "778899001122334455"


def test_an_envelope_without_an_id_is_a_decode_error() -> None:
    with pytest.raises(DecodeError, match="lacks id"):
        event_from_record({"envelope": {"type": "t", "source": "s"}, "data": {}})


def test_a_value_that_is_not_a_record_is_a_decode_error() -> None:
    with pytest.raises(DecodeError, match="not an event record"):
        event_from_record("just a string")


def test_logical_and_binary_types_become_json_friendly_values() -> None:
    schema = from_definition(
        {
            "type": "record",
            "name": "E",
            "fields": [
                {"name": "id", "type": "string"},
                {"name": "type", "type": "string"},
                {"name": "source", "type": "string"},
                {
                    "name": "data",
                    "type": {
                        "type": "record",
                        "name": "D",
                        "fields": [
                            {"name": "blob", "type": "bytes"},
                            {
                                "name": "price",
                                "type": {
                                    "type": "bytes",
                                    "logicalType": "decimal",
                                    "precision": 6,
                                    "scale": 2,
                                },
                            },
                            {"name": "day", "type": {"type": "int", "logicalType": "date"}},
                            {"name": "ref", "type": {"type": "string", "logicalType": "uuid"}},
                        ],
                    },
                },
            ],
        },
        "logical.avsc",
    )
    ref = UUID("12345678-1234-5678-1234-567812345678")
    body = encode_body(
        schema,
        {
            "id": "1",
            "type": "t",
            "source": "s",
            "data": {
                "blob": b"\x00\x01",
                "price": Decimal("12.50"),
                "day": date(2026, 1, 2),
                "ref": ref,
            },
        },
    )
    event = SingleObjectDecoder([schema]).decode(raw(frame_single_object(schema.fingerprint, body)))
    assert event.data == {"blob": "AAE=", "price": "12.50", "day": "2026-01-02", "ref": str(ref)}
    orjson.dumps(event.data)


# --- the producer side -----------------------------------------------------------------------


def test_writing_an_event_without_a_schema_for_its_type_fails_clearly() -> None:
    writer = AvroEventWriter(LATEST, "avro-single-object")
    with pytest.raises(
        EncodeError, match=re.escape("no Avro schema for event type 'user.profile_viewed'")
    ):
        writer.encode(example("unknown-type"), "t")


def test_writing_an_event_missing_a_required_field_fails_clearly() -> None:
    writer = AvroEventWriter(LATEST, "avro-single-object")
    with pytest.raises(
        EncodeError, match=re.escape("does not fit schema platform.events.InviteAccepted")
    ):
        writer.encode(example("missing-variable"), "t")


def test_latest_by_event_type_orders_versions_naturally() -> None:
    def version(n: int) -> AvroSchema:
        return AvroSchema(f"x.v{n}.avsc", "x", "x", "int", n)

    assert latest_by_event_type([version(10), version(2), version(9)])["x"].origin == "x.v10.avsc"


# --- Confluent wire format through confluent-kafka's mock:// registry -----------------------


class CountingClient:
    """A real (mock://) confluent client that counts the lookups reaching it."""

    def __init__(self) -> None:
        self.inner = registry_client("mock://unit")
        self.lookups: list[int] = []

    def get_schema(self, schema_id: int) -> Any:
        self.lookups.append(schema_id)
        return self.inner.get_schema(schema_id)

    def register_schema(self, subject_name: str, schema: Any) -> int:
        result: int = self.inner.register_schema(subject_name, schema)
        return result


def confluent(client: CountingClient, event: dict[str, Any], schema: AvroSchema) -> bytes:
    writer = AvroEventWriter({event["type"]: schema}, "avro-confluent", registry=client)
    return writer.encode(event, "avro.events")


def test_confluent_records_decode_and_the_registry_is_asked_once_per_schema_id() -> None:
    client = CountingClient()
    decoder = ConfluentAvroDecoder(RegistrySchemas(client, url="mock://unit"), readers=[V2])
    values = [confluent(client, example(n), LATEST[example(n)["type"]]) for n in EXAMPLES]
    values.append(confluent(client, disabled(), V1))
    for _ in range(3):
        events = [decoder.decode(raw(v)) for v in values]
    assert [e.type for e in events] == [example(n)["type"] for n in EXAMPLES] + [
        "webhook.endpoint_disabled"
    ]
    assert events[-1].data["last_status_code"] is None  # v1 writer, v2 reader
    ids = {split_confluent(v)[0] for v in values}
    assert sorted(client.lookups) == sorted(ids) and len(ids) == 4


def test_an_unknown_schema_id_is_a_decode_error_and_is_not_asked_again_at_once() -> None:
    client = CountingClient()
    decoder = ConfluentAvroDecoder(RegistrySchemas(client, url="mock://unit"))
    for _ in range(2):
        error = decode_error(decoder, frame_confluent(4242, b"\x02"))
        assert not error.retriable
        assert "schema id 4242 is unknown to the schema registry mock://unit" in str(error)
    assert client.lookups == [4242]


def test_a_truncated_confluent_record_is_a_decode_error() -> None:
    client = CountingClient()
    value = confluent(client, example("invite-accepted"), LATEST["invite_accepted"])
    decoder = ConfluentAvroDecoder(RegistrySchemas(client, url="mock://unit"))
    decode_error(decoder, value[:-6])


class FlakyClient:
    """Fails like a registry that is down until `up` is set; counts attempts."""

    def __init__(self, failure: Exception) -> None:
        self.failure = failure
        self.up = False
        self.calls = 0
        self.schema = Schema(V2.definition(), "AVRO")

    def get_schema(self, schema_id: int) -> Any:
        self.calls += 1
        if not self.up:
            raise self.failure
        return self.schema


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _connect_error() -> Exception:
    from confluent_kafka.schema_registry.common._httpx_compat import httpx

    return httpx.ConnectError("connection refused")


@pytest.mark.parametrize(
    "failure",
    [
        _connect_error(),
        SchemaRegistryError(503, 50003, "backend down"),
        SchemaRegistryError(401, 40101, "unauthorized"),
        TimeoutError("read timed out"),
    ],
    ids=["refused", "503", "401", "timeout"],
)
def test_a_registry_outage_is_retriable_and_fails_fast_during_the_cooldown(
    failure: Exception,
) -> None:
    client, clock = FlakyClient(failure), Clock()
    decoder = ConfluentAvroDecoder(RegistrySchemas(client, url="http://reg", clock=clock))
    value = frame_confluent(1, encode_body(V2, record_from_event(disabled(), default_time_ms=0)))
    with pytest.raises(SchemaUnavailableError) as first:
        decoder.decode(raw(value))
    assert first.value.retriable and first.value.stage == "decode"
    assert "schema registry http://reg unavailable" in str(first.value)
    with pytest.raises(SchemaUnavailableError):
        decoder.decode(raw(value))
    assert client.calls == 1  # inside the cooldown: not asked again
    client.up = True
    clock.now += 1.5
    assert decoder.decode(raw(value)).id == "evt_01HZX4T1Q8W2E6R5"
    assert decoder.decode(raw(value)).id == "evt_01HZX4T1Q8W2E6R5"
    assert client.calls == 2


def test_a_registry_schema_that_is_not_avro_is_a_decode_error() -> None:
    client = FlakyClient(RuntimeError())
    client.up = True
    client.schema = Schema('{"type": "object"}', "JSON")
    decoder = ConfluentAvroDecoder(RegistrySchemas(client, url="http://reg"))
    assert "is JSON, not AVRO" in str(decode_error(decoder, frame_confluent(3, b"")))


# --- per-topic dispatch ----------------------------------------------------------------------


def test_each_topic_gets_its_configured_decoder() -> None:
    settings = DecodingSettings(
        default=TopicDecoding(),
        schemas=ALL,
        topics=(
            ("exact.avro", TopicDecoding(format="avro-single-object")),
            ("^avro\\..*", TopicDecoding(format="avro-single-object", reader_schemas=(V1,))),
        ),
    )
    decoders = TopicDecoders(settings)
    avro_value = single_object(disabled(last_status_code=500), V2)
    assert "last_status_code" in decoders.decode(raw(avro_value, "exact.avro")).data
    assert "last_status_code" not in decoders.decode(raw(avro_value, "avro.more")).data
    json_event = decoders.decode(raw(orjson.dumps(example("invite-accepted")), "json.events"))
    assert isinstance(json_event, Event)
    with pytest.raises(DecodeError, match="not valid JSON"):
        decoders.decode(raw(avro_value, "json.events"))
    assert decoders.for_topic("avro.a") is decoders.for_topic("avro.b")


def test_topics_on_one_registry_url_share_its_schema_cache() -> None:
    client = CountingClient()
    entry = TopicDecoding(format="avro-confluent", registry_url="mock://shared")
    settings = DecodingSettings(topics=(("a", entry), ("b", replace_url(entry))))
    decoders = TopicDecoders(settings, registry_clients={"mock://shared": client})
    value = confluent(client, example("api-key-revoked"), LATEST["api_key_revoked"])
    decoders.decode(raw(value, "a"))
    decoders.decode(raw(value, "b"))
    assert len(client.lookups) == 1


def replace_url(entry: TopicDecoding) -> TopicDecoding:
    return replace(entry, registry_timeout_s=1.0)


def test_schemaless_writer_output_is_what_single_object_carries() -> None:
    record = record_from_event(example("api-key-revoked"), default_time_ms=0)
    buffer = io.BytesIO()
    schemaless_writer(buffer, LATEST["api_key_revoked"].parsed, record)
    value = single_object(example("api-key-revoked"))
    assert value[10:] == buffer.getvalue()
    assert Path(LATEST["api_key_revoked"].origin).name == "api_key_revoked.v1.avsc"
