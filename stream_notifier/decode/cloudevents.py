"""CloudEvents 1.0 Kafka protocol binding, structured and binary mode, JSON data (orjson)."""

from __future__ import annotations

from typing import Any

import orjson

from stream_notifier.errors import DecodeError
from stream_notifier.records import Event, RawRecord

STRUCTURED_CONTENT_TYPE = "application/cloudevents+json"
_REQUIRED = ("id", "type", "source", "specversion")
_SUPPORTED_SPECVERSIONS = frozenset({"1.0"})


class CloudEventsJsonDecoder:
    """Binary mode when a `ce_specversion` header is present, structured mode otherwise."""

    def decode(self, record: RawRecord) -> Event:
        if record.header("ce_specversion") is not None:
            return _binary(record)
        return _structured(record)


def _structured(record: RawRecord) -> Event:
    document = _json(record.value, "value")
    if not isinstance(document, dict):
        raise DecodeError(f"structured CloudEvent must be a JSON object, got {_kind(document)}")
    attributes = {k: v for k, v in document.items() if k not in ("data", "data_base64")}
    if "data_base64" in document:
        raise DecodeError("data_base64 is not supported: send JSON data")
    return _event(attributes, document.get("data"))


def _binary(record: RawRecord) -> Event:
    attributes: dict[str, Any] = {}
    for name, raw in record.headers:
        if name.startswith("ce_") and raw is not None:
            attributes[name[3:]] = raw.decode("utf-8", errors="replace")
    content_type = record.header("content-type")
    if content_type is not None:
        attributes["datacontenttype"] = content_type.decode("utf-8", errors="replace")
    media = str(attributes.get("datacontenttype", "application/json")).split(";")[0].strip()
    if record.value is None:
        data = None
    elif media == "application/json" or media.endswith("+json"):
        data = _json(record.value, "value")
    else:
        raise DecodeError(f"unsupported datacontenttype {media!r} in binary mode")
    return _event(attributes, data)


def _event(attributes: dict[str, Any], data: Any) -> Event:
    missing = [name for name in _REQUIRED if not attributes.get(name)]
    if missing:
        raise DecodeError(f"CloudEvent lacks required attribute(s): {', '.join(missing)}")
    specversion = str(attributes.pop("specversion"))
    if specversion not in _SUPPORTED_SPECVERSIONS:
        raise DecodeError(f"unsupported CloudEvents specversion {specversion!r}")
    return Event(
        id=str(attributes.pop("id")),
        type=str(attributes.pop("type")),
        source=str(attributes.pop("source")),
        specversion=specversion,
        data=data,
        attributes=attributes,
    )


def _json(raw: bytes | None, where: str) -> Any:
    if raw is None:
        raise DecodeError(f"record {where} is empty (null)")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"record {where} is not valid JSON: {exc}") from None


def _kind(value: Any) -> str:
    return type(value).__name__
