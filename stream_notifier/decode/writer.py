"""The producer side of the Avro formats, for `dev-produce` and tests: a CloudEvent (in its
structured JSON form) becomes an Avro event record, framed for single-object encoding or
for the Confluent wire format.

Confluent framing registers the writer schema under the subject `<topic>-<record name>`
(TopicRecordNameStrategy), since one topic carries several event types.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterable, Mapping
from typing import Any, Literal, Protocol

from fastavro import schemaless_writer

from stream_notifier.decode.envelope import record_from_event
from stream_notifier.decode.schemas import AvroSchema
from stream_notifier.decode.wire import frame_confluent, frame_single_object
from stream_notifier.errors import EncodeError

Framing = Literal["avro-single-object", "avro-confluent"]


class SchemaRegistrar(Protocol):
    """What we use of confluent_kafka.schema_registry.SchemaRegistryClient to write."""

    def register_schema(self, subject_name: str, schema: Any) -> int: ...


def latest_by_event_type(schemas: Iterable[AvroSchema]) -> dict[str, AvroSchema]:
    """The writer schema per event type: of several versions, the last in natural file order
    (so `x.v10.avsc` comes after `x.v2.avsc`)."""
    chosen: dict[str, AvroSchema] = {}
    for schema in sorted(schemas, key=lambda s: _natural(s.origin)):
        if schema.event_type is not None:
            chosen[schema.event_type] = schema
    return chosen


def encode_body(schema: AvroSchema, record: Mapping[str, Any]) -> bytes:
    buffer = io.BytesIO()
    try:
        schemaless_writer(buffer, schema.parsed, dict(record))
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise EncodeError(
            f"event does not fit schema {schema.name} ({schema.origin}): {exc}"
        ) from None
    return buffer.getvalue()


class AvroEventWriter:
    def __init__(
        self,
        writers: Mapping[str, AvroSchema],
        framing: Framing,
        *,
        registry: SchemaRegistrar | None = None,
    ) -> None:
        if framing == "avro-confluent" and registry is None:
            raise ValueError("the Confluent wire format needs a schema registry client")
        self._writers = dict(writers)
        self._framing = framing
        self._registry = registry
        self._ids: dict[tuple[str, str], int] = {}

    def encode(self, event: Mapping[str, Any], topic: str) -> bytes:
        schema = self._writers.get(str(event.get("type")))
        if schema is None:
            raise EncodeError(f"no Avro schema for event type {event.get('type')!r}")
        record = record_from_event(event, default_time_ms=int(time.time() * 1000))
        body = encode_body(schema, record)
        if self._framing == "avro-single-object":
            return frame_single_object(schema.fingerprint, body)
        return frame_confluent(self._schema_id(topic, schema), body)

    def _schema_id(self, topic: str, schema: AvroSchema) -> int:
        from confluent_kafka.schema_registry import Schema

        subject = f"{topic}-{schema.name}"
        key = (subject, schema.origin)
        if key not in self._ids:
            assert self._registry is not None
            self._ids[key] = self._registry.register_schema(
                subject, Schema(schema.definition(), "AVRO")
            )
        return self._ids[key]


def _natural(text: str) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]
