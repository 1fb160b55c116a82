"""The router: event type and topic to routes, in file order."""

from __future__ import annotations

import pytest

from stream_notifier.routing import Router
from tests.unit._support import example_table, route_doc, table


@pytest.mark.parametrize(
    ("event_type", "topic", "expected"),
    [
        ("invite_accepted", "platform.events", ["invite-accepted"]),
        ("invite_accepted", "other.events", []),  # restricted to platform.events
        ("billing.payment_failed", "any.topic", ["payment-failed"]),  # no topics: any topic
        ("user.profile_viewed", "platform.events", []),
    ],
)
def test_example_routes(event_type: str, topic: str, expected: list[str]) -> None:
    router = Router(example_table())
    assert [r.name for r in router.match(event_type, topic)] == expected


def test_several_routes_for_one_event_in_file_order() -> None:
    routes = table(
        route_doc("to-user"),
        route_doc("to-org", scope={"organization_id": "{{ data.org }}"}),
        route_doc("elsewhere", topics=["audit"], scope={"workspace_id": "1"}),
    )
    router = Router(routes)
    assert [r.name for r in router.match("thing.happened", "events")] == ["to-user", "to-org"]
    assert [r.name for r in router.match("thing.happened", "audit")] == [
        "to-user",
        "to-org",
        "elsewhere",
    ]
    # The cached answer is the same as the first one.
    assert [r.name for r in router.match("thing.happened", "events")] == ["to-user", "to-org"]
