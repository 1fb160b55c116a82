"""The schemas in schemas/: documented, loadable, and matching the events the project makes."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from stream_notifier.decode.avro import SingleObjectDecoder
from stream_notifier.decode.schemas import load_file, load_paths
from stream_notifier.decode.writer import AvroEventWriter, latest_by_event_type
from stream_notifier.devproduce import FACTORIES, cloud_event
from stream_notifier.records import RawRecord
from tests.unit._support import EXAMPLE_EVENTS, REPO

SCHEMA_FILES = sorted((REPO / "schemas").rglob("*.avsc"))
EVENTS = REPO / "schemas" / "events"


def undocumented(node: Any, where: str) -> Iterator[str]:
    """Every record and field without a non-empty `doc`, by path."""
    if isinstance(node, list):
        for item in node:
            yield from undocumented(item, where)
    elif isinstance(node, dict):
        if node.get("type") in ("record", "enum") and not node.get("doc"):
            yield f"{where} ({node['type']} {node.get('name')})"
        for field in node.get("fields", ()):
            path = f"{where}.{field['name']}"
            if not str(field.get("doc", "")).strip():
                yield path
            yield from undocumented(field["type"], path)
        for key in ("items", "values"):
            if key in node:
                yield from undocumented(node[key], where)


def test_there_are_schemas_for_events_and_for_the_changelog() -> None:
    names = {p.relative_to(REPO / "schemas").as_posix() for p in SCHEMA_FILES}
    assert {
        "events/platform.events.Envelope.avsc",
        "events/api_key_revoked.v1.avsc",
        "events/invite_accepted.v1.avsc",
        "events/webhook.endpoint_disabled.v1.avsc",
        "events/webhook.endpoint_disabled.v2.avsc",
        "stream_notifier/changelog_entry.avsc",
    } <= names


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_every_field_is_documented(path: Path) -> None:
    document = orjson.loads(path.read_bytes())
    assert document.get("doc"), f"{path.name}: the top-level record has no doc"
    assert list(undocumented(document, path.name)) == []


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_every_schema_loads(path: Path) -> None:
    schema = load_file(path)
    assert schema.name.split(".")[-1] == orjson.loads(path.read_bytes())["name"]


def test_each_event_schema_names_its_event_type_and_uses_the_shared_envelope() -> None:
    events = [s for s in load_paths([EVENTS]) if s.event_type is not None]
    assert {s.event_type for s in events} >= {
        "api_key_revoked",
        "invite_accepted",
        "webhook.endpoint_disabled",
    }
    for schema in events:
        document = orjson.loads(Path(schema.origin).read_bytes())
        assert document["fields"][0] == {
            "name": "envelope",
            "type": "platform.events.Envelope",
            "doc": document["fields"][0]["doc"],
        }
        assert document["fields"][1]["name"] == "data"


def test_webhook_v2_adds_exactly_one_optional_field_to_v1() -> None:
    def data_fields(version: int) -> list[dict[str, Any]]:
        document = orjson.loads(
            (EVENTS / f"webhook.endpoint_disabled.v{version}.avsc").read_bytes()
        )
        fields: list[dict[str, Any]] = document["fields"][1]["type"]["fields"]
        return fields

    old, new = data_fields(1), data_fields(2)
    assert new[: len(old)] == old
    (added,) = new[len(old) :]
    assert added["type"][0] == "null" and added["default"] is None


@pytest.mark.parametrize("factory", FACTORIES, ids=lambda f: f.__name__)
def test_every_event_dev_produce_makes_fits_its_schema(factory: Any) -> None:
    schemas = load_paths([EVENTS])
    writer = AvroEventWriter(latest_by_event_type(schemas), "avro-single-object")
    rng = random.Random(7)
    for entity in range(20):
        event_type, data = factory(rng, entity)
        event = cloud_event(event_type, data, "unit-test", f"evt-{entity}")
        decoded = SingleObjectDecoder(schemas).decode(
            RawRecord("t", 0, 0, None, writer.encode(event, "t"))
        )
        assert {k: v for k, v in decoded.data.items() if v is not None} == data


@pytest.mark.parametrize(
    "name", ["api-key-revoked", "invite-accepted", "webhook-endpoint-disabled"]
)
def test_the_example_events_fit_their_schemas(name: str) -> None:
    schemas = load_paths([EVENTS])
    writer = AvroEventWriter(latest_by_event_type(schemas), "avro-single-object")
    event = orjson.loads((EXAMPLE_EVENTS / f"{name}.json").read_bytes())
    writer.encode(event, "t")
