"""An Avro event record <-> a CloudEvent, both ways. Pure.

An event record has an `envelope` (id, type, source, time, optional subject and scope ids:
schemas/events/platform.events.Envelope.avsc) and a `data` record. The envelope becomes the
CloudEvent's attributes and `data` its data, so templates read `data.*` exactly as they do
for JSON events. A record without `envelope` is read as a flat envelope (its own id, type,
source, ... beside `data`), the other common layout.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from stream_notifier.errors import DecodeError
from stream_notifier.records import Event

SPECVERSION = "1.0"
ENVELOPE_FIELD = "envelope"
DATA_FIELD = "data"
_REQUIRED = ("id", "type", "source")
# What the envelope schema defines besides the required attributes; a producer fills the
# scope ids from the event's data when the CloudEvent does not carry them itself.
OPTIONAL_ATTRIBUTES = ("subject", "organization_id", "workspace_id", "user_id")


def event_from_record(record: Any) -> Event:
    if not isinstance(record, Mapping):
        raise DecodeError(f"Avro value is a {type(record).__name__}, not an event record")
    envelope = record.get(ENVELOPE_FIELD, record)
    if not isinstance(envelope, Mapping):
        raise DecodeError(f"'{ENVELOPE_FIELD}' is a {type(envelope).__name__}, not a record")
    attributes = {
        str(k): _plain(v)
        for k, v in envelope.items()
        if v is not None and k not in (DATA_FIELD, ENVELOPE_FIELD)
    }
    missing = [name for name in _REQUIRED if not attributes.get(name)]
    if missing:
        raise DecodeError(f"Avro event envelope lacks {', '.join(missing)}")
    return Event(
        id=str(attributes.pop("id")),
        type=str(attributes.pop("type")),
        source=str(attributes.pop("source")),
        specversion=str(attributes.pop("specversion", SPECVERSION)),
        data=_plain(record.get(DATA_FIELD)),
        attributes=attributes,
    )


def record_from_event(event: Mapping[str, Any], *, default_time_ms: int) -> dict[str, Any]:
    """The Avro record for a structured CloudEvent (as JSON decodes it): what producers write."""
    data = event.get("data")
    scope_source = data if isinstance(data, Mapping) else {}
    envelope: dict[str, Any] = {
        "id": event["id"],
        "type": event["type"],
        "source": event["source"],
        "time": _millis(event.get("time"), default_time_ms),
    }
    for name in OPTIONAL_ATTRIBUTES:
        value = event.get(name, scope_source.get(name))
        envelope[name] = None if value is None else str(value)
    return {ENVELOPE_FIELD: envelope, DATA_FIELD: data}


def _millis(value: Any, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    moment = datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _plain(value: Any) -> Any:
    """What Avro's logical and binary types decode to, as JSON-friendly values: templates
    print them, and single-expression fields must stay serialisable."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        moment = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value
