"""Which routes an event takes. Pure; built once from the route table."""

from __future__ import annotations

from collections import defaultdict

from stream_notifier.routing.model import Route, RouteTable


class Router:
    def __init__(self, table: RouteTable) -> None:
        by_event: dict[str, list[Route]] = defaultdict(list)
        for route in table.routes:
            by_event[route.event].append(route)
        self._by_event = {event: tuple(routes) for event, routes in by_event.items()}
        self._cache: dict[tuple[str, str], tuple[Route, ...]] = {}

    def match(self, event_type: str, topic: str) -> tuple[Route, ...]:
        """Every route for this event type and topic, in file order; empty if none."""
        key = (event_type, topic)
        routes = self._cache.get(key)
        if routes is None:
            candidates = self._by_event.get(event_type, ())
            routes = tuple(r for r in candidates if r.applies_to(event_type, topic))
            if len(self._cache) < 10_000:
                self._cache[key] = routes
        return routes
