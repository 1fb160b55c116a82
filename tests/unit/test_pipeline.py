"""Preparer: decode, route, render; what a record becomes and which key orders it."""

from __future__ import annotations

from typing import Any

import pytest

from stream_notifier.decode import CloudEventsJsonDecoder
from stream_notifier.errors import DecodeError, ErrorContext, RenderError, RoutingError
from stream_notifier.ordering import OrderingMode
from stream_notifier.pipeline import Prepared, Preparer
from stream_notifier.records import RawRecord
from stream_notifier.render.notification import Notification
from stream_notifier.routing import Router, RouteTable
from tests.unit._support import (
    cloudevent,
    example_event,
    example_table,
    record,
    route_doc,
    table,
)


def preparer(
    routes: RouteTable | None = None, *, ordering: OrderingMode = "key", strict: bool = False
) -> Preparer:
    return Preparer(
        CloudEventsJsonDecoder(),
        Router(routes or example_table()),
        ordering=ordering,
        strict_routes=strict,
    )


def example_record(name: str, **kwargs: Any) -> RawRecord:
    kwargs.setdefault("topic", "platform.events")
    return record(example_event(name), **kwargs)


class TestOutcomes:
    def test_routed_event_becomes_a_notification(self) -> None:
        prepared = preparer().prepare(example_record("invite-accepted", offset=8))
        assert not prepared.unrouted
        (notification,) = prepared.outcomes
        assert isinstance(notification, Notification)
        assert notification.route == "invite-accepted"
        assert notification.body["user_id"] == "555000111222333444"

    def test_unrouted_event_has_no_outcomes(self) -> None:
        raw = example_record("unknown-type")
        prepared = preparer().prepare(raw)
        assert prepared == Prepared(raw, (), ("partition", "platform.events", 0))
        assert prepared.unrouted

    def test_route_restricted_to_other_topics_leaves_it_unrouted(self) -> None:
        prepared = preparer().prepare(example_record("invite-accepted", topic="elsewhere"))
        assert prepared.unrouted

    def test_strict_routes_turns_unrouted_into_a_routing_error(self) -> None:
        raw = example_record("unknown-type", partition=2, offset=17)
        prepared = preparer(strict=True).prepare(raw)
        assert not prepared.unrouted
        (error,) = prepared.outcomes
        assert isinstance(error, RoutingError)
        assert error.stage == "route"
        assert error.message == "no route for event type 'user.profile_viewed'"
        assert error.context == ErrorContext("platform.events", 2, 17)

    @pytest.mark.parametrize("value", [b"{oops", None, b"[]"])
    def test_decode_error_carries_topic_partition_offset(self, value: bytes | None) -> None:
        prepared = preparer().prepare(record(value, topic="orders", partition=4, offset=99))
        (error,) = prepared.outcomes
        assert isinstance(error, DecodeError)
        assert error.context == ErrorContext("orders", 4, 99)
        assert str(error).endswith("(orders[4]@99)")

    def test_decode_error_is_an_outcome_even_without_strict_routes(self) -> None:
        prepared = preparer(strict=False).prepare(record(b"{oops"))
        assert not prepared.unrouted

    def test_render_error_carries_route_and_location(self) -> None:
        raw = example_record("missing-variable", partition=1, offset=5)
        (error,) = preparer().prepare(raw).outcomes
        assert isinstance(error, RenderError)
        assert error.context == ErrorContext("platform.events", 1, 5, "invite-accepted")
        assert "invitee_email" in str(error)

    def test_one_outcome_per_route_and_failures_do_not_hide_successes(self) -> None:
        routes = table(
            route_doc("to-user"),
            route_doc("to-org", scope={"organization_id": "{{ data.org }}"}),
        )
        raw = record(cloudevent({"user_id": "1", "n": 1}), offset=3)  # no data.org
        outcomes = preparer(routes).prepare(raw).outcomes
        assert isinstance(outcomes[0], Notification)
        assert outcomes[0].route == "to-user"
        assert isinstance(outcomes[1], RenderError)
        assert outcomes[1].context.route == "to-org"
        assert outcomes[1].context.offset == 3

    def test_templates_see_the_kafka_record(self) -> None:
        routes = table(
            route_doc(
                template={
                    "title": "{{ kafka.topic }}/{{ kafka.partition }}/{{ kafka.offset }}",
                    "body": "key={{ kafka.key }} h={{ kafka.headers.origin }}",
                }
            )
        )
        raw = record(
            cloudevent({"user_id": "1"}),
            topic="t",
            partition=2,
            offset=40,
            key=b"k1",
            headers=(("origin", b"eu"),),
        )
        (notification,) = preparer(routes).prepare(raw).outcomes
        assert isinstance(notification, Notification)
        assert notification.body["title"] == "t/2/40"
        assert notification.body["body"] == "key=k1 h=eu"


class TestOrderingKey:
    @pytest.mark.parametrize(
        ("mode", "key", "expected"),
        [
            ("key", b"acct-1", ("key", "platform.events", b"acct-1")),
            ("key", None, ("partition", "platform.events", 3)),  # null key: partition order
            ("partition", b"acct-1", ("partition", "platform.events", 3)),
            ("partition", None, ("partition", "platform.events", 3)),
            ("none", b"acct-1", None),
            ("none", None, None),
        ],
    )
    def test_per_mode(self, mode: OrderingMode, key: bytes | None, expected: Any) -> None:
        raw = example_record("invite-accepted", partition=3, key=key)
        assert preparer(ordering=mode).prepare(raw).ordering_key == expected

    def test_keys_are_per_topic(self) -> None:
        a = preparer().prepare(example_record("unknown-type", key=b"k"))
        b = preparer().prepare(example_record("unknown-type", topic="other", key=b"k"))
        assert a.ordering_key != b.ordering_key

    @pytest.mark.parametrize("key", [b"kafka-key", None])
    def test_route_ordering_key_wins_in_key_mode(self, key: bytes | None) -> None:
        routes = table(route_doc(ordering_key="user-{{ data.user_id }}"))
        raw = record(cloudevent({"user_id": "42", "n": 1}), partition=1, key=key)
        assert preparer(routes).prepare(raw).ordering_key == ("route-key", "user-42")

    def test_route_ordering_key_ignored_in_partition_and_none_modes(self) -> None:
        routes = table(route_doc(ordering_key="user-{{ data.user_id }}"))
        raw = record(cloudevent({"user_id": "42", "n": 1}), partition=1, key=b"k")
        assert preparer(routes, ordering="partition").prepare(raw).ordering_key == (
            "partition",
            "events",
            1,
        )
        assert preparer(routes, ordering="none").prepare(raw).ordering_key is None

    def test_failed_records_still_get_an_ordering_key(self) -> None:
        raw = record(b"{oops", topic="t", partition=5, key=b"k")
        assert preparer().prepare(raw).ordering_key == ("key", "t", b"k")
