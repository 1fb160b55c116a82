"""The pure half of processing one record: decode, route, render, validate.

Everything here is CPU only and synchronous; the service does the I/O (publish, dead
letters, offsets). A record becomes a `Prepared`: notifications to send, record errors to
dead-letter, or nothing at all (no route matched).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

from stream_notifier.decode import Decoder
from stream_notifier.errors import RecordError, RoutingError
from stream_notifier.ordering import OrderingMode
from stream_notifier.records import RawRecord
from stream_notifier.render.notification import Notification, render, template_context
from stream_notifier.routing import Router

Outcome = Notification | RecordError


@dataclass(frozen=True, slots=True)
class Prepared:
    record: RawRecord
    outcomes: tuple[Outcome, ...]
    ordering_key: Hashable | None

    @property
    def unrouted(self) -> bool:
        return not self.outcomes


class Preparer:
    def __init__(
        self, decoder: Decoder, router: Router, *, ordering: OrderingMode, strict_routes: bool
    ) -> None:
        self._decoder = decoder
        self._router = router
        self._ordering = ordering
        self._strict_routes = strict_routes

    def prepare(self, record: RawRecord) -> Prepared:
        outcomes = self._outcomes(record)
        return Prepared(record, outcomes, self._ordering_key(record, outcomes))

    def _outcomes(self, record: RawRecord) -> tuple[Outcome, ...]:
        where = {"topic": record.topic, "partition": record.partition, "offset": record.offset}
        try:
            event = self._decoder.decode(record)
        except RecordError as error:
            return (error.with_context(**where),)
        routes = self._router.match(event.type, record.topic)
        if not routes:
            if self._strict_routes:
                unrouted = RoutingError(f"no route for event type {event.type!r}")
                return (unrouted.with_context(**where),)
            return ()
        context = template_context(event, record.template_view())
        outcomes: list[Outcome] = []
        for route in routes:
            try:
                outcomes.append(render(route, event, context))
            except RecordError as error:
                outcomes.append(error.with_context(route=route.name, **where))
        return tuple(outcomes)

    def _ordering_key(self, record: RawRecord, outcomes: tuple[Outcome, ...]) -> Hashable | None:
        if self._ordering == "none":
            return None
        if self._ordering == "key":
            for outcome in outcomes:
                if isinstance(outcome, Notification) and outcome.ordering_key is not None:
                    return ("route-key", outcome.ordering_key)
            if record.key is not None:
                return ("key", record.topic, record.key)
        # No key to order by: keep the partition's order, the safe reading of "in order".
        return ("partition", record.topic, record.partition)
