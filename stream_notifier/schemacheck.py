"""Templates checked against Avro event schemas, before any event arrives. Pure.

For each route that can see a topic with an Avro format, every variable path its templates
read must exist in the schema of the route's event type: `data.*` is followed through the
`data` record (nested records, unions, arrays by index, maps by any key); top-level names
must be CloudEvents attributes the envelope provides, or `kafka`. A field's type does not
matter: `{{ data.failure_count }}` on an int or a string both render.

Which schemas: the topic's reader schemas for that event type when configured (the reader
decides what templates see); otherwise every known version of it, since a record may have
been written with any of them.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields, is_dataclass
from typing import Any, Literal

from stream_notifier.decode.envelope import DATA_FIELD, ENVELOPE_FIELD
from stream_notifier.decode.schemas import AvroSchema
from stream_notifier.decode.settings import DecodingSettings, TopicDecoding
from stream_notifier.render.templates import CompiledField
from stream_notifier.render.variables import Step, VariableUse, variable_uses
from stream_notifier.routing.model import Route, RouteTable

_ATTRIBUTES = frozenset({"id", "type", "source", "specversion", DATA_FIELD})
_KAFKA_VIEW = frozenset({"topic", "partition", "offset", "key", "timestamp", "headers"})


@dataclass(frozen=True, slots=True)
class Finding:
    level: Literal["error", "warning"]
    route: str
    field: str | None
    line: int | None
    message: str

    def describe(self, routes_file: str) -> str:
        where = f"{routes_file}: route '{self.route}'"
        if self.field is not None:
            where += f": {self.field}"
            if self.line is not None:
                where += f" (template line {self.line})"
        return f"{self.level}: {where}: {self.message}"


def check_routes(
    routes: RouteTable, decoding: DecodingSettings, subscribed: Iterable[str]
) -> list[Finding]:
    findings: list[Finding] = []
    seen: set[tuple[str, tuple[str, ...]]] = set()
    for label, topic_decoding in avro_topics(decoding, subscribed):
        for route in routes.routes:
            if not _sees(route, label):
                continue
            schemas = _schemas_for(route.event, topic_decoding, decoding)
            key = (route.name, tuple(s.origin for s in schemas))
            if key in seen:
                continue  # the same route against the same schemas, via another topic
            seen.add(key)
            findings.extend(check_route(route, schemas, topic=label))
    return findings


def avro_topics(
    decoding: DecodingSettings, subscribed: Iterable[str]
) -> list[tuple[str, TopicDecoding]]:
    """(topic or '^pattern', its decoding) for every consumed topic read as Avro."""
    topics: dict[str, TopicDecoding] = {}
    for topic in subscribed:
        if not topic.startswith("^"):
            topics[topic] = decoding.for_topic(topic)
        elif decoding.default.is_avro:
            topics[topic] = decoding.default
    for name, entry in decoding.topics:
        if name.startswith("^"):
            topics.setdefault(name, entry)
    return [(name, entry) for name, entry in topics.items() if entry.is_avro]


def check_route(route: Route, schemas: tuple[AvroSchema, ...], *, topic: str) -> list[Finding]:
    if not schemas:
        return [
            Finding(
                "warning",
                route.name,
                None,
                None,
                f"topic {topic} is Avro, but no schema declares event_type {route.event!r}: "
                "its templates are not checked",
            )
        ]
    findings = []
    for field_name, field in route_fields(route):
        for use in variable_uses(field):
            problems = [p for p in (missing(use, s) for s in schemas) if p is not None]
            if problems:
                also = f" (and in {len(problems) - 1} more version(s))" if len(problems) > 1 else ""
                findings.append(
                    Finding("error", route.name, field_name, use.line, problems[0] + also)
                )
    return findings


def route_fields(route: Route) -> Iterator[tuple[str, CompiledField]]:
    """Every template of a route with its name as the routes file spells it
    (`template.body`, `scope.user_ids[0]`, `template.metadata.endpoint_id`)."""
    yield from _walk(route, "")


def missing(use: VariableUse, schema: AvroSchema) -> str | None:
    """Why `use` is not in events of `schema`, or None when it is."""
    root, *rest = use.path
    envelope = _envelope_fields(schema)
    if root == "kafka":
        if rest and rest[0] not in _KAFKA_VIEW:
            return f"{use.dotted()}: kafka has no {rest[0]!r} (it has {_listing(_KAFKA_VIEW)})"
        return None
    if root != DATA_FIELD:
        known = _ATTRIBUTES | envelope
        if root not in known:
            return (
                f"{use.dotted()}: the event has no attribute {root!r}"
                f"{_suggest(str(root), known)}; schema {_about(schema)}"
            )
        return None
    data = _field_type(schema.parsed, DATA_FIELD)
    if data is None:
        return f"{use.dotted()}: the record has no '{DATA_FIELD}' field; schema {_about(schema)}"
    names = _named_types(schema.parsed)
    problem = _follow(data, rest, names, DATA_FIELD)
    return None if problem is None else f"{use.dotted()}: {problem}; schema {_about(schema)}"


def _schemas_for(
    event_type: str, topic: TopicDecoding, decoding: DecodingSettings
) -> tuple[AvroSchema, ...]:
    readers = tuple(s for s in topic.reader_schemas if s.event_type == event_type)
    if readers:
        return readers
    return tuple(s for s in decoding.schemas if s.event_type == event_type)


def _sees(route: Route, label: str) -> bool:
    if route.topics is None:
        return True
    if label.startswith("^"):
        return any(re.match(label, topic) for topic in route.topics)
    return label in route.topics


def _follow(schema: Any, steps: list[Step], names: dict[str, Any], where: str) -> str | None:
    if not steps:
        return None
    schema = _resolve(schema, names)
    step, rest = steps[0], steps[1:]
    if isinstance(schema, list):
        branches = [b for b in schema if _resolve(b, names) != "null"]
        problems = [_follow(b, steps, names, where) for b in branches]
        if any(p is None for p in problems) or not problems:
            return None
        return problems[0]
    kind = schema.get("type") if isinstance(schema, dict) else schema
    if kind == "record":
        if isinstance(step, int):
            return f"{where} is a record, not a list: [{step}] does not exist"
        field_type = _field_type(schema, step)
        if field_type is None:
            field_names = [f["name"] for f in schema["fields"]]
            return (
                f"{where} ({_short(schema['name'])}) has no field {step!r}"
                f"{_suggest(step, field_names)}"
            )
        return _follow(field_type, rest, names, f"{where}.{step}")
    if kind == "array":
        if not isinstance(step, int):
            return f"{where} is a list: .{step} does not exist (index it, e.g. [0])"
        return _follow(schema["items"], rest, names, f"{where}[{step}]")
    if kind == "map":
        return _follow(schema["values"], rest, names, f"{where}.{step}")
    return f"{where} is {_type_name(kind)}: it has no {step!r}"


def _resolve(schema: Any, names: dict[str, Any]) -> Any:
    while isinstance(schema, str) and schema in names:
        schema = names[schema]
    if isinstance(schema, dict) and isinstance(schema.get("type"), list | str):
        inner = schema["type"]
        if isinstance(inner, list) or (isinstance(inner, str) and inner in names):
            return _resolve(inner, names)
    return schema


def _named_types(schema: Any) -> dict[str, Any]:
    names: dict[str, Any] = {}

    def visit(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                visit(item)
        elif isinstance(node, dict):
            if node.get("type") in ("record", "enum", "fixed", "error") and "name" in node:
                names[node["name"]] = node
            for key, value in node.items():
                if not key.startswith("__"):
                    visit(value)

    visit(schema)
    return names


def _field_type(record: Any, name: Step) -> Any:
    for field in record.get("fields", ()):
        if field["name"] == name or name in field.get("aliases", ()):
            return field["type"]
    return None


def _envelope_fields(schema: AvroSchema) -> set[str]:
    record = schema.parsed
    envelope = _resolve(_field_type(record, ENVELOPE_FIELD), _named_types(record))
    source = envelope if isinstance(envelope, dict) and "fields" in envelope else record
    return {f["name"] for f in source["fields"]} - {ENVELOPE_FIELD, DATA_FIELD}


def _walk(value: Any, path: str) -> Iterator[tuple[str, CompiledField]]:
    if isinstance(value, CompiledField):
        yield path, value
    elif is_dataclass(value) and not isinstance(value, type):
        for item in fields(value):
            yield from _walk(getattr(value, item.name), _join(path, item.name))
    elif isinstance(value, tuple) and value and all(_is_pair(v) for v in value):
        for key, item in value:
            yield from _walk(item, _join(path, key))
    elif isinstance(value, tuple):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")


def _is_pair(value: Any) -> bool:
    return isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _about(schema: AvroSchema) -> str:
    return f"{schema.event_type or schema.name} ({schema.origin})"


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _type_name(kind: Any) -> str:
    if isinstance(kind, str):
        return f"a{'n' if kind[:1] in 'aeiou' else ''} {kind}"
    return "a value"


def _suggest(name: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _listing(names: Iterable[str]) -> str:
    return ", ".join(sorted(names))
