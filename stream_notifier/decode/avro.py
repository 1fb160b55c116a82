"""Avro decoders: Confluent wire format (schema registry) and single-object encoding.

Both read the body with the writer schema the record names and, when the topic configures a
reader schema of the same full name, resolve it to that reader (Avro schema resolution), so
fields added or removed with defaults on either side do not break routing or templates.
"""

from __future__ import annotations

import io
from collections.abc import Iterable

from fastavro import schemaless_reader

from stream_notifier.decode.envelope import event_from_record
from stream_notifier.decode.registry import RegistrySchemas
from stream_notifier.decode.schemas import AvroSchema
from stream_notifier.decode.wire import split_confluent, split_single_object
from stream_notifier.errors import DecodeError
from stream_notifier.records import Event, RawRecord


class AvroBodyReader:
    """Reads an Avro body written with a given schema, as the configured reader schema."""

    def __init__(self, readers: Iterable[AvroSchema] = ()) -> None:
        self._readers = {schema.name: schema for schema in readers}

    def read(self, body: bytes, writer: AvroSchema) -> Event:
        reader = self._readers.get(writer.name)
        if reader is not None and reader.fingerprint == writer.fingerprint:
            reader = None  # the same schema: no resolution needed
        stream = io.BytesIO(body)
        try:
            record = schemaless_reader(
                stream, writer.parsed, reader.parsed if reader is not None else None
            )
        # Corrupt or truncated bytes surface from fastavro as EOFError, ValueError,
        # UnicodeDecodeError, IndexError and others; an incompatible reader as
        # SchemaResolutionError. All of them mean this record cannot be read.
        except Exception as exc:
            raise DecodeError(
                f"Avro body does not decode with writer schema {writer.name} "
                f"({writer.origin}){_as_reader(reader)}: {type(exc).__name__}: {exc}"
            ) from None
        left = len(body) - stream.tell()
        if left:
            raise DecodeError(
                f"{left} byte(s) left after the Avro record (writer schema {writer.name}, "
                f"{writer.origin}): corrupt, or not written with this schema"
            )
        return event_from_record(record)


class SingleObjectDecoder:
    """`C3 01` + CRC-64-AVRO fingerprint + body; writer schemas come from `schemas/`."""

    def __init__(self, known: Iterable[AvroSchema], readers: Iterable[AvroSchema] = ()) -> None:
        readers = tuple(readers)
        self._by_fingerprint = {s.fingerprint: s for s in (*known, *readers)}
        self._body = AvroBodyReader(readers)

    def decode(self, record: RawRecord) -> Event:
        fingerprint, body = split_single_object(record.value)
        writer = self._by_fingerprint.get(fingerprint)
        if writer is None:
            raise DecodeError(
                f"unknown Avro schema fingerprint {fingerprint:016x}: none of the "
                f"{len(self._by_fingerprint)} known schemas has it (add the writer's .avsc)"
            )
        return self._body.read(body, writer)


class ConfluentAvroDecoder:
    """Magic byte 0 + 4-byte schema id + body; writer schemas come from a schema registry."""

    def __init__(self, schemas: RegistrySchemas, readers: Iterable[AvroSchema] = ()) -> None:
        self._schemas = schemas
        self._body = AvroBodyReader(readers)

    def decode(self, record: RawRecord) -> Event:
        schema_id, body = split_confluent(record.value)
        return self._body.read(body, self._schemas.get(schema_id))


def _as_reader(reader: AvroSchema | None) -> str:
    return "" if reader is None else f" as reader schema {reader.origin}"
