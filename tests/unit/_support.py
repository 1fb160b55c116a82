"""Builders shared by the unit tests: route documents, CloudEvents, raw records."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson

from stream_notifier.records import Headers, RawRecord
from stream_notifier.routing import RouteTable, load_routes, parse_routes

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
EXAMPLE_ROUTES = EXAMPLES / "routes.yaml"
EXAMPLE_EVENTS = EXAMPLES / "events"
ROUTES_FILE = "routes.yaml"


def route_doc(name: str | None = "r1", **overrides: Any) -> dict[str, Any]:
    """A minimal valid route; keyword arguments replace top-level keys (None removes one)."""
    route: dict[str, Any] = {
        "name": name,
        "event": "thing.happened",
        "scope": {"user_id": "{{ data.user_id }}"},
        "template": {"title": "Title {{ data.n }}", "body": "Body"},
    }
    for key, value in {"name": name, **overrides}.items():
        if value is None:
            route.pop(key, None)
        else:
            route[key] = value
    return route


def with_template(route: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A copy of `route` whose template has `fields` set (None removes one)."""
    route = copy.deepcopy(route)
    for key, value in fields.items():
        if value is None:
            route["template"].pop(key, None)
        else:
            route["template"][key] = value
    return route


def routes_doc(*routes: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"version": 1, "routes": list(routes) or [route_doc()], **top}


def table(*routes: dict[str, Any], **top: Any) -> RouteTable:
    return parse_routes(routes_doc(*routes, **top), file=ROUTES_FILE)


def example_table() -> RouteTable:
    return load_routes(EXAMPLE_ROUTES)


def example_event(name: str) -> bytes:
    return (EXAMPLE_EVENTS / f"{name}.json").read_bytes()


def cloudevent(
    data: Any = None, *, type: str = "thing.happened", id: str = "evt-1", **attributes: Any
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": id,
        "type": type,
        "source": "unit-test",
        **attributes,
    }
    if data is not None:
        event["data"] = data
    return event


def record(
    value: bytes | dict[str, Any] | None,
    *,
    topic: str = "events",
    partition: int = 0,
    offset: int = 0,
    key: bytes | None = None,
    headers: Headers = (),
    timestamp_ms: int | None = None,
) -> RawRecord:
    raw = orjson.dumps(value) if isinstance(value, dict) else value
    return RawRecord(topic, partition, offset, key, raw, headers, timestamp_ms)
