"""The changelog value format: one version byte, then the entry in Avro binary (fastavro).

Readers resolve older writer versions against the current schema, so the format can gain
fields with defaults without a migration.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import orjson
from fastavro import parse_schema, schemaless_reader, schemaless_writer

SCHEMA_FILE = (
    Path(__file__).resolve().parents[2] / "schemas" / "stream_notifier" / "changelog_entry.avsc"
)
FORMAT_VERSION = 1


def _load_schema() -> Any:
    return parse_schema(orjson.loads(SCHEMA_FILE.read_bytes()))


SCHEMA = _load_schema()
_WRITERS = {FORMAT_VERSION: SCHEMA}


def encode_entry(entry: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    buffer.write(bytes((FORMAT_VERSION,)))
    schemaless_writer(buffer, SCHEMA, entry)
    return buffer.getvalue()


def decode_entry(data: bytes) -> dict[str, Any]:
    writer = _WRITERS.get(data[0]) if data else None
    if writer is None:
        raise ValueError(f"unknown changelog entry format version {data[:1]!r}")
    buffer = io.BytesIO(data)
    buffer.seek(1)
    # Resolution only when an older writer wrote it: restores read a million of these.
    record = schemaless_reader(buffer, writer, None if writer is SCHEMA else SCHEMA)
    if not isinstance(record, dict):
        raise ValueError("changelog entry is not a record")
    return record
