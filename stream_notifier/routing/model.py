"""A route, compiled: what the loader produces and the router and renderer consume."""

from __future__ import annotations

from dataclasses import dataclass

from stream_notifier.render.templates import CompiledField

SEVERITIES = ("info", "success", "warning", "error")
SCOPE_FIELDS = ("user_id", "user_ids", "organization_id", "workspace_id")
# Added to every notification's metadata so UIs and analytics can rely on them.
RESERVED_METADATA = ("event_id", "event_type", "route")


@dataclass(frozen=True, slots=True)
class CtaTemplate:
    label: CompiledField
    payload: CompiledField


@dataclass(frozen=True, slots=True)
class NotificationTemplate:
    title: CompiledField
    body: CompiledField
    severity: CompiledField
    ctas: tuple[CtaTemplate, ...]
    metadata: tuple[tuple[str, CompiledField], ...]
    expires_hours: int | None


@dataclass(frozen=True, slots=True)
class DedupeSpec:
    """Repeats of the same rendered key and scope inside `window_s` are suppressed.

    `fixed`: the window runs from the first delivered notification, however many repeats
    arrive. `sliding`: every suppressed repeat pushes the end of the window out again, so a
    flapping source stays quiet until it has been quiet for a whole window.
    """

    key: CompiledField
    window_s: float
    sliding: bool = False


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    event: str
    topics: frozenset[str] | None
    scope: tuple[tuple[str, CompiledField | tuple[CompiledField, ...]], ...]
    template: NotificationTemplate
    ordering_key: CompiledField | None = None
    dedupe: DedupeSpec | None = None

    def applies_to(self, event_type: str, topic: str) -> bool:
        return self.event == event_type and (self.topics is None or topic in self.topics)


@dataclass(frozen=True, slots=True)
class RouteTable:
    """All routes of one file, in file order, indexed by event type for the hot path."""

    source: str
    routes: tuple[Route, ...]

    def by_name(self, name: str) -> Route | None:
        return next((r for r in self.routes if r.name == name), None)
