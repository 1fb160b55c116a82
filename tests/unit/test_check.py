"""`stream-notifier check`: template variables against Avro event schemas."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from stream_notifier.cli import main
from stream_notifier.decode.schemas import AvroSchema, from_definition, load_paths
from stream_notifier.decode.settings import DecodingSettings, TopicDecoding
from stream_notifier.render.templates import compile_field
from stream_notifier.render.variables import variable_uses
from stream_notifier.schemacheck import Finding, check_routes, missing, route_fields
from tests.unit._support import EXAMPLES, REPO, example_table, route_doc, table

SCHEMAS = load_paths([REPO / "schemas" / "events"])
V1 = next(s for s in SCHEMAS if s.origin.endswith("webhook.endpoint_disabled.v1.avsc"))
V2 = next(s for s in SCHEMAS if s.origin.endswith("webhook.endpoint_disabled.v2.avsc"))


def uses(source: str) -> list[tuple[str, int]]:
    return [(u.dotted(), u.line) for u in variable_uses(compile_field(source))]


def avro(readers: tuple[AvroSchema, ...] = ()) -> DecodingSettings:
    entry = TopicDecoding(format="avro-single-object", reader_schemas=readers)
    return DecodingSettings(schemas=SCHEMAS, topics=(("avro", entry),))


def disabled_route(**template: str) -> dict[str, Any]:
    route = route_doc(
        "disabled",
        event="webhook.endpoint_disabled",
        scope={"organization_id": "{{ data.organization_id }}"},
    )
    route["template"].update({"title": "Endpoint disabled", **template})
    return route


def errors(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.level == "error"]


# --- which variables a template reads ------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ data.a.b | upper }} {{ source }}", [("data.a.b", 1), ("source", 1)]),
        ("line one\n{{ data['x'].y }}", [("data.x.y", 2)]),
        ("{{ data.items[0].id }}", [("data.items[0].id", 1)]),
        ("{{ data.tags.items() }}", [("data.tags", 1)]),
        ("{{ data[kafka.key].z }}", [("kafka.key", 1), ("data", 1)]),
        ("{% for u in data.users %}{{ u.name }} {{ loop.index }}{% endfor %}", [("data.users", 1)]),
        ("{% set d = data.x %}{{ d.q }}", [("data.x", 1)]),
        ("{{ range(3) | join(',') }}", []),
        ("{{ data.n if data.flag else 'none' }}", [("data.flag", 1), ("data.n", 1)]),
        ("plain text", []),
    ],
)
def test_variable_uses(source: str, expected: list[tuple[str, int]]) -> None:
    assert uses(source) == expected


def test_route_fields_name_every_template_as_the_routes_file_does() -> None:
    route = example_table().by_name("endpoint-disabled")
    assert route is not None
    names = [name for name, _ in route_fields(route)]
    assert names[:2] == ["scope.organization_id", "template.title"]
    assert "template.body" in names
    assert "template.ctas[0].payload" in names
    assert "template.metadata.incident_id" in names


# --- paths against schemas -----------------------------------------------------------------


def path_problem(source: str, schema: AvroSchema) -> str | None:
    (use,) = variable_uses(compile_field(source))
    return missing(use, schema)


NESTED = from_definition(
    {
        "type": "record",
        "name": "n.Event",
        "event_type": "nested.thing",
        "fields": [
            {"name": "id", "type": "string"},
            {"name": "type", "type": "string"},
            {"name": "source", "type": "string"},
            {
                "name": "data",
                "type": {
                    "type": "record",
                    "name": "n.Data",
                    "fields": [
                        {
                            "name": "owner",
                            "type": [
                                "null",
                                {
                                    "type": "record",
                                    "name": "n.Owner",
                                    "fields": [{"name": "email", "type": "string"}],
                                },
                            ],
                        },
                        {"name": "previous_owner", "type": ["null", "n.Owner"]},
                        {"name": "members", "type": {"type": "array", "items": "n.Owner"}},
                        {"name": "labels", "type": {"type": "map", "values": "string"}},
                        {"name": "count", "type": "int"},
                    ],
                },
            },
        ],
    },
    "nested.avsc",
)


@pytest.mark.parametrize(
    "source",
    [
        "{{ data.count }}",
        "{{ data.owner.email }}",
        "{{ data.previous_owner.email }}",
        "{{ data.members[0].email }}",
        "{{ data.members }}",
        "{{ data.labels.anything }}",
        "{{ id }}",
        "{{ kafka.topic }}",
    ],
)
def test_paths_that_exist(source: str) -> None:
    assert path_problem(source, NESTED) is None


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ data.cuont }}", "data (Data) has no field 'cuont' (did you mean 'count'?)"),
        ("{{ data.owner.mail }}", "data.owner (Owner) has no field 'mail'"),
        ("{{ data.previous_owner.name }}", "data.previous_owner (Owner) has no field 'name'"),
        ("{{ data.members.email }}", "data.members is a list"),
        ("{{ data.members[0].id }}", "data.members[0] (Owner) has no field 'id'"),
        ("{{ data.count.value }}", "data.count is an int: it has no 'value'"),
        ("{{ time }}", "the event has no attribute 'time'"),
        ("{{ kafka.partiton }}", "kafka has no 'partiton'"),
    ],
)
def test_paths_that_do_not_exist(source: str, message: str) -> None:
    problem = path_problem(source, NESTED)
    assert problem is not None and message in problem
    if not source.startswith("{{ kafka"):
        assert "nested.thing (nested.avsc)" in problem


def test_envelope_fields_are_top_level_attributes() -> None:
    assert path_problem("{{ time }}", V1) is None
    assert path_problem("{{ subject }}", V1) is None
    assert path_problem("{{ organization_id }}", V1) is None


# --- routes against the configured schemas -------------------------------------------------


def test_the_example_routes_pass_against_the_example_schemas() -> None:
    assert check_routes(example_table(), avro(), ["avro"]) == []


def test_a_misspelt_field_names_route_field_and_line() -> None:
    routes = table(disabled_route(body="Endpoint\n{{ data.endpoint_urll }} is off"))
    (finding,) = check_routes(routes, avro(), ["avro"])
    assert (finding.level, finding.route, finding.field, finding.line) == (
        "error",
        "disabled",
        "template.body",
        2,
    )
    text = finding.describe("routes.yaml")
    assert text.startswith("error: routes.yaml: route 'disabled': template.body (template line 2)")
    assert "did you mean 'endpoint_url'?" in text


def test_a_field_only_the_newer_version_has_fails_unless_the_reader_is_the_newer() -> None:
    routes = table(disabled_route(body="status {{ data.last_status_code }}"))
    (finding,) = check_routes(routes, avro(), ["avro"])
    assert "webhook.endpoint_disabled.v1.avsc" in finding.message
    assert check_routes(routes, avro(readers=(V2,)), ["avro"]) == []
    (with_v1,) = check_routes(routes, avro(readers=(V1,)), ["avro"])
    assert with_v1.field == "template.body"


def test_the_type_of_a_field_does_not_matter() -> None:
    routes = table(disabled_route(title="{{ data.failure_count }} failures"))
    assert check_routes(routes, avro(), ["avro"]) == []


def test_an_event_type_without_a_schema_is_a_warning_not_an_error() -> None:
    (finding,) = check_routes(table(route_doc("other")), avro(), ["avro"])
    assert finding.level == "warning"
    assert "no schema declares event_type 'thing.happened'" in finding.message


def test_json_topics_and_routes_for_other_topics_are_not_checked() -> None:
    bad = disabled_route(body="{{ data.nope }}")
    assert check_routes(table(bad), DecodingSettings(schemas=SCHEMAS), ["json"]) == []
    elsewhere = {**bad, "topics": ["json"]}
    assert check_routes(table(elsewhere), avro(), ["avro", "json"]) == []


def test_a_pattern_entry_is_checked_for_the_routes_that_name_matching_topics() -> None:
    entry = TopicDecoding(format="avro-single-object")
    settings = DecodingSettings(schemas=SCHEMAS, topics=(("^avro\\..*", entry),))
    bad = {**disabled_route(body="{{ data.nope }}"), "topics": ["avro.events"]}
    assert len(errors(check_routes(table(bad), settings, ["^avro\\..*"]))) == 1


# --- the command ---------------------------------------------------------------------------


def test_check_passes_the_examples(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--config", str(EXAMPLES / "avro-config.yaml")]) == 0
    out = capsys.readouterr().out
    assert "Avro topic(s) platform.events: 0 error(s), 0 warning(s)" in out
    assert main(["check", "--config", str(EXAMPLES / "config.yaml")]) == 0


def test_check_fails_on_a_misspelt_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    routes = yaml.safe_load((EXAMPLES / "routes.yaml").read_text())
    invite = next(r for r in routes["routes"] if r["name"] == "invite-accepted")
    invite["template"]["body"] = "{{ data.invitee_emial }} accepted"
    (tmp_path / "routes.yaml").write_text(yaml.safe_dump(routes))
    config = yaml.safe_load((EXAMPLES / "avro-config.yaml").read_text())
    config["decoding"]["schemas"] = [str(REPO / "schemas" / "events")]
    config["decoding"]["topics"]["platform.events"]["reader_schemas"] = [V2.origin]
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    assert main(["check", "--config", str(tmp_path / "config.yaml")]) == 1
    out = capsys.readouterr().out
    assert "route 'invite-accepted': template.body (template line 1)" in out
    assert "data.invitee_emial" in out and "did you mean 'invitee_email'?" in out
    assert "1 error(s)" in out


def test_check_reports_an_invalid_configuration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "config.yaml").write_text("kafka: {topics: [t]}\nroutes: missing.yaml\n")
    assert main(["check", "--config", str(tmp_path / "config.yaml")]) == 2
    assert "configuration error" in capsys.readouterr().err
