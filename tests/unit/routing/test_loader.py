"""Routes files: every mistake is a ConfigError naming the file, the route and the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stream_notifier.errors import ConfigError
from stream_notifier.routing import load_routes, parse_routes
from stream_notifier.routing.model import RESERVED_METADATA
from tests.unit._support import (
    EXAMPLE_ROUTES,
    ROUTES_FILE,
    example_table,
    route_doc,
    routes_doc,
    table,
    with_template,
)


def config_error(document: Any) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse_routes(document, file=ROUTES_FILE)
    return caught.value


def assert_names(error: ConfigError, *, route: str | None, field: str | None) -> None:
    assert error.file == ROUTES_FILE
    assert error.route == route
    assert error.field == field
    text = str(error)
    assert text.startswith(f"{ROUTES_FILE}: ")
    if route is not None:
        assert f"route '{route}'" in text
    if field is not None:
        assert f"field '{field}'" in text


class TestExampleRoutes:
    def test_all_example_routes_load_in_file_order(self) -> None:
        routes = example_table()
        assert routes.source == str(EXAMPLE_ROUTES)
        assert [r.name for r in routes.routes] == [
            "endpoint-disabled",
            "api-key-revoked",
            "invite-accepted",
            "payment-failed",
            "deployment-failed",
        ]

    def test_topics_scope_and_expiry_are_read(self) -> None:
        routes = example_table()
        endpoint = routes.by_name("endpoint-disabled")
        assert endpoint is not None
        assert endpoint.event == "webhook.endpoint_disabled"
        assert endpoint.topics == frozenset({"platform.events"})
        assert [key for key, _ in endpoint.scope] == ["organization_id"]
        assert endpoint.template.expires_hours == 24
        assert [key for key, _ in endpoint.template.metadata] == [
            "endpoint_id",
            "incident_id",
            "source",
        ]
        assert len(endpoint.template.ctas) == 1
        assert endpoint.template.ctas[0].payload.source.endswith("{{ data.endpoint_id }}")

    def test_defaults_expiry_applies_when_route_sets_none(self) -> None:
        revoked = example_table().by_name("api-key-revoked")
        assert revoked is not None
        assert revoked.template.expires_hours == 168

    def test_route_without_topics_matches_any_topic(self) -> None:
        payment = example_table().by_name("payment-failed")
        assert payment is not None
        assert payment.topics is None
        assert payment.applies_to("billing.payment_failed", "anything")
        assert not payment.applies_to("billing.payment_succeeded", "anything")

    def test_by_name_unknown_is_none(self) -> None:
        assert example_table().by_name("nope") is None


class TestMinimalRoute:
    def test_severity_defaults_to_info_and_no_expiry(self) -> None:
        route = table(route_doc()).routes[0]
        assert route.template.severity.source == "info"
        assert route.template.expires_hours is None
        assert route.template.ctas == ()
        assert route.template.metadata == ()
        assert route.ordering_key is None

    def test_single_topic_string_becomes_a_set(self) -> None:
        route = table(route_doc(topics="a.events")).routes[0]
        assert route.topics == frozenset({"a.events"})

    def test_user_ids_list_compiles_each_item(self) -> None:
        route = table(route_doc(scope={"user_ids": ["{{ data.a }}", 42]})).routes[0]
        ((key, fields),) = route.scope
        assert key == "user_ids"
        assert isinstance(fields, tuple)
        assert [f.source for f in fields] == ["{{ data.a }}", "42"]

    def test_ordering_key_compiles(self) -> None:
        route = table(route_doc(ordering_key="{{ data.user_id }}")).routes[0]
        assert route.ordering_key is not None
        assert route.ordering_key.source == "{{ data.user_id }}"

    def test_templated_severity_is_accepted_at_load(self) -> None:
        route = table(with_template(route_doc(), severity="{{ data.level }}")).routes[0]
        assert route.template.severity.source == "{{ data.level }}"

    def test_route_expiry_overrides_default(self) -> None:
        routes = table(with_template(route_doc(), expires_hours=3), defaults={"expires_hours": 48})
        assert routes.routes[0].template.expires_hours == 3


class TestUnknownKeys:
    def test_top_level(self) -> None:
        error = config_error(routes_doc(route_doc(), rotues=[]))
        assert_names(error, route=None, field="rotues")
        assert "unknown key(s): rotues" in str(error)

    def test_in_route(self) -> None:
        error = config_error(routes_doc(route_doc("r1", topic="x")))
        assert_names(error, route="r1", field="topic")
        assert "unknown key(s): topic" in str(error)

    def test_in_template(self) -> None:
        error = config_error(routes_doc(with_template(route_doc("r1"), sevrity="error")))
        assert_names(error, route="r1", field="template.sevrity")

    def test_in_cta(self) -> None:
        cta = {"label": "Go", "payload": "/x", "style": "primary"}
        error = config_error(routes_doc(with_template(route_doc("r1"), ctas=[cta])))
        assert_names(error, route="r1", field="template.ctas[0].style")

    def test_in_defaults(self) -> None:
        error = config_error(routes_doc(route_doc(), defaults={"severity": "info"}))
        assert_names(error, route=None, field="defaults.severity")

    def test_in_scope(self) -> None:
        error = config_error(routes_doc(route_doc("r1", scope={"user_id": "1", "team_id": "2"})))
        assert_names(error, route="r1", field="scope.team_id")
        assert "unknown key(s): team_id" in str(error)


class TestRouteErrors:
    @pytest.mark.parametrize("severity", ["critical", "INFO", "warn", "Error "])
    def test_bad_severity(self, severity: str) -> None:
        error = config_error(routes_doc(with_template(route_doc("r1"), severity=severity)))
        assert_names(error, route="r1", field="template.severity")
        assert "must be one of info, success, warning, error" in str(error)

    def test_cta_with_url_says_the_api_needs_payload(self) -> None:
        cta = {"label": "Open", "url": "https://example.com"}
        error = config_error(routes_doc(with_template(route_doc("r1"), ctas=[cta])))
        assert_names(error, route="r1", field="template.ctas[0].url")
        assert "CTAs take 'payload', not 'url'" in str(error)
        assert "Rename it to 'payload'" in str(error)

    def test_second_cta_is_named_by_index(self) -> None:
        ctas = [{"label": "A", "payload": "/a"}, {"label": "B"}]
        error = config_error(routes_doc(with_template(route_doc("r1"), ctas=ctas)))
        assert_names(error, route="r1", field="template.ctas[1].payload")
        assert "is required" in str(error)

    def test_ctas_not_a_list(self) -> None:
        error = config_error(routes_doc(with_template(route_doc("r1"), ctas={"label": "A"})))
        assert_names(error, route="r1", field="template.ctas")

    @pytest.mark.parametrize("scope", [{}, None])
    def test_empty_scope(self, scope: dict[str, Any] | None) -> None:
        doc = route_doc("r1")
        doc["scope"] = scope
        error = config_error(routes_doc(doc))
        assert_names(error, route="r1", field="scope")
        assert "must name at least one of user_id, user_ids, organization_id, workspace_id" in (
            str(error)
        )

    def test_missing_scope(self) -> None:
        error = config_error(routes_doc(route_doc("r1", scope=None)))
        assert_names(error, route="r1", field="scope")

    def test_empty_user_ids_list(self) -> None:
        error = config_error(routes_doc(route_doc("r1", scope={"user_ids": []})))
        assert_names(error, route="r1", field="scope.user_ids")
        assert "must not be an empty list" in str(error)

    def test_scope_value_not_scalar(self) -> None:
        error = config_error(routes_doc(route_doc("r1", scope={"user_id": {"a": 1}})))
        assert_names(error, route="r1", field="scope.user_id")
        assert "must be a string template, got dict" in str(error)

    def test_template_that_does_not_compile_names_the_line(self) -> None:
        body = "First line\nsecond {{ data.x "
        error = config_error(routes_doc(with_template(route_doc("r1"), body=body)))
        assert_names(error, route="r1", field="template.body")
        assert "template does not compile" in str(error)
        assert "(template line 2)" in str(error)

    @pytest.mark.parametrize(
        ("where", "expected_field"),
        [
            ("title", "template.title"),
            ("metadata", "template.metadata.k"),
            ("scope", "scope.user_id"),
            ("ordering_key", "ordering_key"),
            ("cta", "template.ctas[0].label"),
        ],
    )
    def test_compile_errors_name_their_field(self, where: str, expected_field: str) -> None:
        bad = "{{ 1 + }}"
        doc = route_doc("r1")
        if where == "title":
            doc = with_template(doc, title=bad)
        elif where == "metadata":
            doc = with_template(doc, metadata={"k": bad})
        elif where == "scope":
            doc["scope"] = {"user_id": bad}
        elif where == "ordering_key":
            doc["ordering_key"] = bad
        else:
            doc = with_template(doc, ctas=[{"label": bad, "payload": "/x"}])
        error = config_error(routes_doc(doc))
        assert_names(error, route="r1", field=expected_field)
        assert "(template line 1)" in str(error)

    def test_duplicate_route_name(self) -> None:
        first = route_doc("same", event="a")
        second = route_doc("same", event="b")
        error = config_error(routes_doc(first, second))
        assert_names(error, route="same", field="name")
        assert "duplicate route name 'same'" in str(error)

    @pytest.mark.parametrize(
        ("topics_a", "topics_b"),
        [
            (["t1", "t2"], ["t2", "t3"]),
            (None, ["t1"]),
            (["t1"], None),
            (None, None),
        ],
    )
    def test_same_event_overlapping_topics_same_scope(
        self, topics_a: list[str] | None, topics_b: list[str] | None
    ) -> None:
        first = route_doc("first", topics=topics_a)
        second = route_doc("second", topics=topics_b)
        error = config_error(routes_doc(first, second))
        assert_names(error, route="second", field="event")
        assert "matches the same events as route 'first'" in str(error)
        assert "notified twice" in str(error)

    @pytest.mark.parametrize(
        "second",
        [
            route_doc("second", topics=["t2"]),  # disjoint topics
            route_doc("second", topics=["t1"], event="other.event"),
            route_doc("second", topics=["t1"], scope={"organization_id": "{{ data.org }}"}),
        ],
    )
    def test_routes_that_do_not_clash(self, second: dict[str, Any]) -> None:
        routes = table(route_doc("first", topics=["t1"]), second)
        assert [r.name for r in routes.routes] == ["first", "second"]

    @pytest.mark.parametrize("key", RESERVED_METADATA)
    def test_reserved_metadata_key(self, key: str) -> None:
        doc = with_template(route_doc("r1"), metadata={"ok": "1", key: "x"})
        error = config_error(routes_doc(doc))
        assert_names(error, route="r1", field=f"template.metadata.{key}")
        assert f"'{key}' is set by stream_notifier" in str(error)

    @pytest.mark.parametrize("hours", [0, -1])
    def test_expires_hours_below_one(self, hours: int) -> None:
        error = config_error(routes_doc(with_template(route_doc("r1"), expires_hours=hours)))
        assert_names(error, route="r1", field="template.expires_hours")
        assert f"must be at least 1, got {hours}" in str(error)

    def test_default_expires_hours_below_one(self) -> None:
        error = config_error(routes_doc(route_doc(), defaults={"expires_hours": 0}))
        assert_names(error, route=None, field="defaults.expires_hours")

    @pytest.mark.parametrize("value", ["24", 1.5, True])
    def test_expires_hours_not_an_integer(self, value: Any) -> None:
        error = config_error(routes_doc(with_template(route_doc("r1"), expires_hours=value)))
        assert_names(error, route="r1", field="template.expires_hours")
        assert "must be an integer" in str(error)

    @pytest.mark.parametrize("field", ["title", "body"])
    def test_missing_title_or_body(self, field: str) -> None:
        error = config_error(routes_doc(with_template(route_doc("r1"), **{field: None})))
        assert_names(error, route="r1", field=f"template.{field}")
        assert "is required" in str(error)

    def test_blank_title(self) -> None:
        error = config_error(routes_doc(with_template(route_doc("r1"), title="   ")))
        assert_names(error, route="r1", field="template.title")
        assert "must not be empty" in str(error)

    @pytest.mark.parametrize("name", ["has space", "-leading", "a/b"])
    def test_bad_route_name(self, name: str) -> None:
        error = config_error(routes_doc(route_doc(name)))
        assert_names(error, route=name, field="name")

    def test_route_without_name_is_named_by_position(self) -> None:
        error = config_error(routes_doc(route_doc("ok"), route_doc(name=None)))
        assert_names(error, route="#2", field="name")

    def test_missing_event(self) -> None:
        error = config_error(routes_doc(route_doc("r1", event=None)))
        assert_names(error, route="r1", field="event")


class TestDocumentErrors:
    @pytest.mark.parametrize("routes", [[], None, "r1", {"name": "r1"}])
    def test_routes_must_be_a_non_empty_list(self, routes: Any) -> None:
        error = config_error({"version": 1, "routes": routes})
        assert_names(error, route=None, field="routes")
        assert "must be a non-empty list of routes" in str(error)

    def test_unsupported_version(self) -> None:
        error = config_error(routes_doc(route_doc(), version=2))
        assert_names(error, route=None, field="version")
        assert "unsupported version 2" in str(error)

    def test_document_not_a_mapping(self) -> None:
        error = config_error(["a"])
        assert_names(error, route=None, field=None)
        assert "must be a mapping, got list" in str(error)

    def test_route_not_a_mapping(self) -> None:
        error = config_error(routes_doc("just a string"))  # type: ignore[arg-type]
        assert_names(error, route="#1", field=None)

    def test_load_routes_missing_file_names_it(self, tmp_path: Path) -> None:
        path = tmp_path / "absent.yaml"
        with pytest.raises(ConfigError) as caught:
            load_routes(path)
        assert caught.value.file == str(path)
        assert "cannot read" in str(caught.value)

    def test_load_routes_invalid_yaml_names_it(self, tmp_path: Path) -> None:
        path = tmp_path / "broken.yaml"
        path.write_text("routes: [unclosed\n", encoding="utf-8")
        with pytest.raises(ConfigError) as caught:
            load_routes(path)
        assert str(caught.value).startswith(f"{path}: not valid YAML")
