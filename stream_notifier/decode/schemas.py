"""Avro schemas as the decoders and `check` use them: parsed once, named, fingerprinted.

Schema files follow fastavro's convention: a named type referenced by another file lives in
`<full name>.avsc` beside it (the events' shared envelope). An event schema names the event
type it carries in a top-level `event_type` attribute, which Avro ignores and `check` reads.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastavro.schema import fingerprint, load_schema, parse_schema, to_parsing_canonical_form

from stream_notifier.errors import ConfigError

EVENT_TYPE_ATTRIBUTE = "event_type"


@dataclass(frozen=True, slots=True, eq=False)
class AvroSchema:
    """One top-level record schema, parsed, with what identifies it on the wire."""

    origin: str  # a file path, or "registry id N"
    name: str  # full name, e.g. platform.events.WebhookEndpointDisabled
    event_type: str | None
    parsed: Any  # fastavro's parsed form: named types inlined where first used
    fingerprint: int  # CRC-64-AVRO of the Parsing Canonical Form, as an unsigned integer

    def definition(self) -> str:
        """The whole schema as self-contained JSON, as a registry stores it."""
        return json.dumps(_public(self.parsed), separators=(",", ":"))


def from_definition(definition: Any, origin: str) -> AvroSchema:
    """Parse one self-contained schema (a JSON document already decoded). Pure."""
    try:
        parsed = parse_schema(definition)
    except Exception as exc:  # fastavro raises a variety of types for a bad schema
        raise ConfigError(f"not a valid Avro schema: {exc}", file=origin) from None
    return _describe(parsed, origin)


def load_file(path: Path) -> AvroSchema:
    """Load one .avsc file; names it references are loaded from `<full name>.avsc` beside it."""
    if not path.is_file():
        raise ConfigError("no such schema file", file=str(path))
    try:
        parsed = load_schema(str(path))
    except Exception as exc:  # unreadable file, bad JSON, bad schema, missing referenced name
        message = f"not a valid Avro schema: {type(exc).__name__}: {exc}"
        raise ConfigError(message, file=str(path)) from None
    return _describe(parsed, str(path))


def load_paths(paths: Iterable[Path]) -> tuple[AvroSchema, ...]:
    """Every schema in these files and folders (a folder's *.avsc, in name order)."""
    schemas: list[AvroSchema] = []
    for path in paths:
        if path.is_dir():
            schemas.extend(load_file(p) for p in sorted(path.glob("*.avsc")))
        else:
            schemas.append(load_file(path))
    return tuple(schemas)


def fingerprint_of(parsed: Any) -> int:
    digest = fingerprint(to_parsing_canonical_form(parsed), "CRC-64-AVRO")
    # fastavro writes the fingerprint's bytes in little-endian order, as single-object does.
    return int.from_bytes(bytes.fromhex(digest), "little")


def _describe(parsed: Any, origin: str) -> AvroSchema:
    if not isinstance(parsed, dict) or parsed.get("type") != "record":
        raise ConfigError("must be a record schema (an event or its envelope)", file=origin)
    event_type = parsed.get(EVENT_TYPE_ATTRIBUTE)
    if event_type is not None and not (isinstance(event_type, str) and event_type):
        raise ConfigError(f"'{EVENT_TYPE_ATTRIBUTE}' must be a non-empty string", file=origin)
    return AvroSchema(
        origin=origin,
        name=str(parsed["name"]),
        event_type=event_type,
        parsed=parsed,
        fingerprint=fingerprint_of(parsed),
    )


def _public(value: Any) -> Any:
    """Without fastavro's bookkeeping keys (`__fastavro_parsed`, `__named_schemas`)."""
    if isinstance(value, dict):
        return {k: _public(v) for k, v in value.items() if not k.startswith("__")}
    if isinstance(value, list):
        return [_public(v) for v in value]
    return value
