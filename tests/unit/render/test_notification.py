"""Rendering: exact request bodies, and what is refused before anything is sent."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from stream_notifier.decode import CloudEventsJsonDecoder
from stream_notifier.errors import RenderError, ValidationError
from stream_notifier.records import Event
from stream_notifier.render.notification import (
    MAX_BODY_BYTES,
    Notification,
    idempotency_key,
    render,
    template_context,
)
from stream_notifier.routing import Route
from tests.unit._support import (
    cloudevent,
    example_event,
    example_table,
    record,
    route_doc,
    table,
    with_template,
)

EXAMPLE_BODIES: dict[str, tuple[str, dict[str, Any]]] = {
    "webhook-endpoint-disabled": (
        "endpoint-disabled",
        {
            "title": "Webhook endpoint disabled",
            "body": "Endpoint https://example.com/hooks was auto-disabled after 25 failed "
            "deliveries. Events for it are queued until you re-enable it.",
            "severity": "warning",
            "organization_id": "1234567890123456789",
            "ctas": [
                {
                    "label": "Review endpoint",
                    "payload": "https://app.example.com/settings/webhooks/endpoints/ep_987",
                }
            ],
            "metadata": {
                "endpoint_id": "ep_987",
                "incident_id": "inc_456",
                "source": "webhook-delivery-worker",
                "event_id": "evt_01HZX4T1Q8W2E6R5",
                "event_type": "webhook.endpoint_disabled",
                "route": "endpoint-disabled",
            },
            "expires_hours": 24,
        },
    ),
    "api-key-revoked": (
        "api-key-revoked",
        {
            "title": "API key revoked",
            "body": 'The API key "ci-deployer" (sk_live_4f2a...) was revoked by '
            "alice@example.com. Requests signed with it now fail with 401.",
            "severity": "error",
            "workspace_id": "778899001122334455",
            "ctas": [
                {
                    "label": "Create a replacement key",
                    "payload": "https://app.example.com/workspaces/778899001122334455"
                    "/settings/api-keys",
                }
            ],
            "metadata": {
                "api_key_id": "key_42",
                "revoked_by": "alice@example.com",
                "event_id": "evt_01HZX4V7M3K9P2D1",
                "event_type": "api_key_revoked",
                "route": "api-key-revoked",
            },
            "expires_hours": 168,
        },
    ),
    "invite-accepted": (
        "invite-accepted",
        {
            "title": "Invitation accepted",
            "body": "bob@example.com accepted your invitation to Acme Production and can "
            "now sign in.",
            "severity": "success",
            "user_id": "555000111222333444",
            "ctas": [
                {"label": "View members", "payload": "/workspaces/778899001122334455/members"}
            ],
            "metadata": {
                "invite_id": "inv_313",
                "workspace_id": "778899001122334455",
                "event_id": "evt_01HZX4W2B6N8C4F7",
                "event_type": "invite_accepted",
                "route": "invite-accepted",
            },
            "expires_hours": 72,
        },
    ),
}


def route_of(doc: dict[str, Any]) -> Route:
    return table(doc).routes[0]


def event_of(data: Any, **attributes: Any) -> Event:
    return CloudEventsJsonDecoder().decode(record(cloudevent(data, **attributes)))


def render_one(doc: dict[str, Any], data: Any, **attributes: Any) -> Notification:
    event = event_of(data, **attributes)
    return render(route_of(doc), event, template_context(event, record(None).template_view()))


def wire(notification: Notification) -> Any:
    return orjson.loads(notification.payload)


class TestExampleEvents:
    @pytest.mark.parametrize("name", sorted(EXAMPLE_BODIES))
    def test_exact_body(self, name: str) -> None:
        route_name, expected = EXAMPLE_BODIES[name]
        routes = example_table()
        route = routes.by_name(route_name)
        assert route is not None
        raw = record(example_event(name), topic="platform.events", partition=2, offset=9)
        event = CloudEventsJsonDecoder().decode(raw)
        notification = render(route, event, template_context(event, raw.template_view()))
        assert wire(notification) == expected
        # The key order is the wire order: title, body, severity, scope, ctas, metadata, expiry.
        assert list(wire(notification)) == list(expected)
        assert notification.route == route_name
        assert notification.event_id == expected["metadata"]["event_id"]
        assert notification.ordering_key is None

    def test_missing_variable_names_the_field(self) -> None:
        route = example_table().by_name("invite-accepted")
        assert route is not None
        event = CloudEventsJsonDecoder().decode(record(example_event("missing-variable")))
        with pytest.raises(RenderError) as caught:
            render(route, event, template_context(event, {}))
        error = caught.value
        assert error.stage == "render"
        assert error.context.route == "invite-accepted"
        assert error.message.startswith("template.body: missing template variable")
        assert "invitee_email" in error.message

    def test_idempotency_key_is_stable_across_releases(self) -> None:
        # Changing the derivation would re-send every event replayed after an upgrade.
        key = idempotency_key(
            "invite-accepted", "evt_01HZX4W2B6N8C4F7", (("user_id", "555000111222333444"),)
        )
        assert key == "738626dc1c118a8882d09ce8f027730d"


class TestScope:
    @pytest.mark.parametrize(
        ("value", "rendered"),
        [("42", "42"), (42, "42"), (" 7 ", "7"), ("18446744073709551615", "18446744073709551615")],
    )
    def test_ids_become_digit_strings(self, value: Any, rendered: str) -> None:
        notification = render_one(route_doc(), {"user_id": value, "n": 1})
        assert notification.scope == (("user_id", rendered),)
        assert wire(notification)["user_id"] == rendered

    @pytest.mark.parametrize(
        "value", ["abc", "12a", "-5", "1.5", "", None, True, "٣", "123456789012345678901", [1]]
    )
    def test_invalid_id(self, value: Any) -> None:
        with pytest.raises(ValidationError) as caught:
            render_one(route_doc(), {"user_id": value, "n": 1})
        assert caught.value.stage == "validate"
        assert caught.value.context.route == "r1"
        assert caught.value.message.startswith("scope.user_id must be an id of digits")

    def test_user_ids_expression_yielding_a_list(self) -> None:
        doc = route_doc(scope={"user_ids": "{{ data.users }}"})
        notification = render_one(doc, {"users": ["1", 2, "3"], "n": 1})
        assert notification.scope == (("user_ids", ("1", "2", "3")),)
        assert wire(notification)["user_ids"] == ["1", "2", "3"]

    def test_deployment_failed_example_route_fans_out_to_a_list(self) -> None:
        route = example_table().by_name("deployment-failed")
        assert route is not None
        event = event_of(
            {
                "notify_user_ids": ["11", "22"],
                "deployment_id": "dep_1",
                "service": "api",
                "environment": "prod",
                "failed_step": "migrate",
            },
            type="deployment.failed",
        )
        body = wire(render(route, event, template_context(event, {})))
        assert body["user_ids"] == ["11", "22"]
        assert body["metadata"]["deployment_id"] == "dep_1"

    @pytest.mark.parametrize("users", [[], "12", None, {"a": "1"}])
    def test_user_ids_expression_not_a_non_empty_list(self, users: Any) -> None:
        doc = route_doc(scope={"user_ids": "{{ data.users }}"})
        with pytest.raises(ValidationError) as caught:
            render_one(doc, {"users": users, "n": 1})
        assert "scope.user_ids must render to a non-empty list of ids" in caught.value.message

    def test_user_ids_list_item_invalid_is_named_by_index(self) -> None:
        doc = route_doc(scope={"user_ids": "{{ data.users }}"})
        with pytest.raises(ValidationError) as caught:
            render_one(doc, {"users": ["1", "x"], "n": 1})
        assert caught.value.message.startswith("scope.user_ids[1] must be an id of digits")

    def test_user_ids_yaml_list(self) -> None:
        doc = route_doc(scope={"user_ids": ["{{ data.a }}", "99"]})
        notification = render_one(doc, {"a": 5, "n": 1})
        assert wire(notification)["user_ids"] == ["5", "99"]

    def test_several_scope_fields(self) -> None:
        doc = route_doc(scope={"organization_id": "{{ data.org }}", "user_id": "7"})
        body = wire(render_one(doc, {"org": "100", "n": 1}))
        # Scope order is the fixed SCOPE_FIELDS order, not the YAML order.
        assert [k for k in body if k.endswith("_id")] == ["user_id", "organization_id"]
        assert body["organization_id"] == "100"
        assert body["user_id"] == "7"


class TestMetadata:
    def test_native_types_are_kept(self) -> None:
        doc = with_template(
            route_doc(),
            metadata={
                "count": "{{ data.count }}",
                "ratio": "{{ data.ratio }}",
                "tags": "{{ data.tags }}",
                "flag": "{{ data.flag }}",
                "nothing": "{{ data.nothing }}",
                "text": "n={{ data.count }}",
                "literal": 5,
            },
        )
        data = {
            "user_id": "1",
            "n": 1,
            "count": 3,
            "ratio": 0.5,
            "tags": ["a", "b"],
            "flag": False,
            "nothing": None,
        }
        metadata = wire(render_one(doc, data))["metadata"]
        assert metadata["count"] == 3
        assert isinstance(metadata["count"], int)
        assert metadata["ratio"] == 0.5
        assert metadata["tags"] == ["a", "b"]
        assert metadata["flag"] is False
        assert metadata["nothing"] is None
        assert metadata["text"] == "n=3"
        assert metadata["literal"] == "5"  # a YAML scalar is a template source, so text

    def test_reserved_keys_are_added_last(self) -> None:
        doc = with_template(route_doc(), metadata={"a": "x"})
        metadata = wire(render_one(doc, {"user_id": "1", "n": 1}, id="evt-9"))["metadata"]
        assert metadata == {
            "a": "x",
            "event_id": "evt-9",
            "event_type": "thing.happened",
            "route": "r1",
        }

    def test_missing_variable_in_a_value_field(self) -> None:
        doc = with_template(route_doc(), metadata={"count": "{{ data.count }}"})
        with pytest.raises(RenderError) as caught:
            render_one(doc, {"user_id": "1", "n": 1})
        assert caught.value.message.startswith("template.metadata.count: missing template variable")
        assert "count" in caught.value.message


class TestTemplateFields:
    def test_templates_see_attributes_extensions_and_kafka(self) -> None:
        doc = with_template(
            route_doc(),
            title="{{ type }} from {{ source }}",
            body="{{ subject }} {{ traceparent }} {{ kafka.topic }}[{{ kafka.partition }}]",
        )
        event = event_of({"user_id": "1"}, subject="s/1", traceparent="00-abc")
        raw = record(None, topic="orders", partition=4)
        body = wire(render(route_of(doc), event, template_context(event, raw.template_view())))
        assert body["title"] == "thing.happened from unit-test"
        assert body["body"] == "s/1 00-abc orders[4]"

    @pytest.mark.parametrize("level", ["info", "success", "warning", "error", " error "])
    def test_templated_severity(self, level: str) -> None:
        doc = with_template(route_doc(), severity="{{ data.level }}")
        body = wire(render_one(doc, {"user_id": "1", "n": 1, "level": level}))
        assert body["severity"] == level.strip()

    @pytest.mark.parametrize("level", ["critical", "Error", ""])
    def test_severity_templated_to_an_invalid_value(self, level: str) -> None:
        doc = with_template(route_doc(), severity="{{ data.level }}")
        with pytest.raises(ValidationError) as caught:
            render_one(doc, {"user_id": "1", "n": 1, "level": level})
        assert caught.value.message == (
            f"template.severity rendered {level!r}; must be one of info, success, warning, error"
        )

    @pytest.mark.parametrize("field", ["title", "body"])
    def test_empty_after_render(self, field: str) -> None:
        doc = with_template(route_doc(), **{field: "{{ data.blank }}"})
        with pytest.raises(ValidationError) as caught:
            render_one(doc, {"user_id": "1", "n": 1, "blank": "  "})
        assert caught.value.message == (
            f"template.{field} rendered empty; the API requires a non-empty {field}"
        )
        assert caught.value.context.route == "r1"

    def test_empty_cta_after_render(self) -> None:
        doc = with_template(route_doc(), ctas=[{"label": "Go", "payload": "{{ data.link }}"}])
        with pytest.raises(ValidationError) as caught:
            render_one(doc, {"user_id": "1", "n": 1, "link": ""})
        assert caught.value.message == "template.ctas[0] rendered an empty label or payload"

    def test_no_ctas_and_no_expiry_are_left_out(self) -> None:
        body = wire(render_one(route_doc(), {"user_id": "1", "n": 1}))
        assert body == {
            "title": "Title 1",
            "body": "Body",
            "severity": "info",
            "user_id": "1",
            "metadata": {"event_id": "evt-1", "event_type": "thing.happened", "route": "r1"},
        }

    def test_body_over_two_megabytes(self) -> None:
        doc = with_template(route_doc(), body="{{ data.big }}")
        with pytest.raises(ValidationError) as caught:
            render_one(doc, {"user_id": "1", "n": 1, "big": "x" * MAX_BODY_BYTES})
        assert "the API accepts at most 2097152" in caught.value.message

    def test_template_error_other_than_missing(self) -> None:
        doc = with_template(route_doc(), title="{{ data.n / 0 }}")
        with pytest.raises(RenderError) as caught:
            render_one(doc, {"user_id": "1", "n": 1})
        assert caught.value.message.startswith("template.title: ZeroDivisionError")

    def test_sandbox_refuses_unsafe_attribute_access(self) -> None:
        doc = with_template(route_doc(), title="{{ data.__class__.__mro__ }}")
        with pytest.raises(RenderError) as caught:
            render_one(doc, {"user_id": "1", "n": 1})
        assert caught.value.message.startswith("template.title:")

    def test_ordering_key_rendered(self) -> None:
        doc = route_doc(ordering_key="acct-{{ data.account }}")
        notification = render_one(doc, {"user_id": "1", "n": 1, "account": 77})
        assert notification.ordering_key == "acct-77"


class TestIdempotencyKey:
    BASE = ("r1", "evt-1", (("user_id", "1"),))

    def test_deterministic(self) -> None:
        assert idempotency_key(*self.BASE) == idempotency_key(*self.BASE)
        assert len(idempotency_key(*self.BASE)) == 32
        int(idempotency_key(*self.BASE), 16)  # hex

    @pytest.mark.parametrize(
        "other",
        [
            ("r2", "evt-1", (("user_id", "1"),)),
            ("r1", "evt-2", (("user_id", "1"),)),
            ("r1", "evt-1", (("user_id", "2"),)),
            ("r1", "evt-1", (("organization_id", "1"),)),
            ("r1", "evt-1", (("user_ids", ("1",)),)),
        ],
    )
    def test_differs_by_route_event_and_scope(
        self, other: tuple[str, str, tuple[tuple[str, Any], ...]]
    ) -> None:
        assert idempotency_key(*other) != idempotency_key(*self.BASE)

    def test_not_confused_by_separators(self) -> None:
        # A naive "route:event" join would make these two equal.
        a = idempotency_key("a:b", "c", (("user_id", "1"),))
        b = idempotency_key("a", "b:c", (("user_id", "1"),))
        assert a != b

    def test_render_uses_rendered_scope(self) -> None:
        first = render_one(route_doc(), {"user_id": "1", "n": 1})
        again = render_one(route_doc(), {"user_id": 1, "n": 2})  # other text, same target
        other = render_one(route_doc(), {"user_id": "2", "n": 1})
        assert first.idempotency_key == again.idempotency_key
        assert first.idempotency_key != other.idempotency_key
        assert first.idempotency_key == idempotency_key("r1", "evt-1", (("user_id", "1"),))
