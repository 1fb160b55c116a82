"""Load and validate a routes file once, at startup; compile every template in it.

Every problem is a ConfigError naming the file, the route and the field.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from stream_notifier.configfile import Section, load_yaml
from stream_notifier.errors import ConfigError
from stream_notifier.render.templates import CompiledField, TemplateCompileError, compile_field
from stream_notifier.routing.model import (
    RESERVED_METADATA,
    SCOPE_FIELDS,
    SEVERITIES,
    CtaTemplate,
    DedupeSpec,
    NotificationTemplate,
    Route,
    RouteTable,
)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
SUPPORTED_VERSIONS = (1,)


def load_routes(path: Path) -> RouteTable:
    return parse_routes(load_yaml(path), file=str(path))


def parse_routes(document: Any, *, file: str) -> RouteTable:
    top = Section(document, file=file)
    version = top.integer("version", 1)
    if version not in SUPPORTED_VERSIONS:
        top.fail(f"unsupported version {version}; this build reads {SUPPORTED_VERSIONS}", "version")
    defaults = top.section("defaults")
    default_expiry = _expires_hours(defaults, None)
    defaults.close()
    entries = top.raw("routes")
    if not isinstance(entries, list) or not entries:
        top.fail("must be a non-empty list of routes", "routes")
    top.close()

    routes: list[Route] = []
    for index, entry in enumerate(entries):
        route = _route(entry, file=file, index=index, default_expiry=default_expiry)
        _refuse_clash(route, routes, file)
        routes.append(route)
    return RouteTable(source=file, routes=tuple(routes))


def _route(entry: Any, *, file: str, index: int, default_expiry: int | None) -> Route:
    name = entry.get("name") if isinstance(entry, dict) else None
    label = name if isinstance(name, str) and name else f"#{index + 1}"
    section = Section(entry, file=file, route=label)
    name = section.required_str("name")
    if not _NAME.match(name):
        section.fail("must be letters, digits, '-', '_' or '.'", "name")
    event = section.required_str("event")
    topics = section.str_list("topics")
    scope = _scope(section.section("scope"))
    template = _template(section.section("template"), default_expiry)
    ordering_key = section.text("ordering_key")
    dedupe = _dedupe(section.section("dedupe")) if section.has("dedupe") else None
    route = Route(
        name=name,
        event=event,
        topics=frozenset(topics) if topics else None,
        scope=scope,
        template=template,
        ordering_key=_compile(section, "ordering_key", ordering_key) if ordering_key else None,
        dedupe=dedupe,
    )
    section.close()
    return route


def _dedupe(section: Section) -> DedupeSpec:
    key = _compile(section, "key", section.required_str("key"))
    window = section.duration("window")
    if window is None or window <= 0:
        section.fail("must be a positive duration like 10m", "window")
    mode = section.choice("mode", ("fixed", "sliding"), "fixed")
    section.close()
    return DedupeSpec(key=key, window_s=window, sliding=mode == "sliding")


def _scope(section: Section) -> tuple[tuple[str, CompiledField | tuple[CompiledField, ...]], ...]:
    fields: list[tuple[str, CompiledField | tuple[CompiledField, ...]]] = []
    for key in SCOPE_FIELDS:
        if not section.has(key):
            continue
        value = section.raw(key)
        if key == "user_ids" and isinstance(value, list):
            if not value:
                section.fail("must not be an empty list", key)
            items = tuple(
                _compile(section, f"{key}[{i}]", _scalar(section, f"{key}[{i}]", v))
                for i, v in enumerate(value)
            )
            fields.append((key, items))
        else:
            fields.append((key, _compile(section, key, _scalar(section, key, value))))
    section.close()
    if not fields:
        section.fail(f"must name at least one of {', '.join(SCOPE_FIELDS)}")
    return tuple(fields)


def _template(section: Section, default_expiry: int | None) -> NotificationTemplate:
    title = _compile(section, "title", section.required_str("title"))
    body = _compile(section, "body", section.required_str("body"))
    severity_source = section.text("severity", "info")
    assert severity_source is not None
    if "{" not in severity_source and severity_source not in SEVERITIES:
        section.fail(
            f"must be one of {', '.join(SEVERITIES)} (the API stores anything else as info); "
            f"got {severity_source!r}",
            "severity",
        )
    severity = _compile(section, "severity", severity_source)
    ctas = _ctas(section)
    metadata = _metadata(section.section("metadata"))
    expires = _expires_hours(section, default_expiry)
    section.close()
    return NotificationTemplate(title, body, severity, ctas, metadata, expires)


def _ctas(section: Section) -> tuple[CtaTemplate, ...]:
    entries = section.raw("ctas", [])
    if not isinstance(entries, list):
        section.fail("must be a list of {label, payload}", "ctas")
    ctas = []
    for i, entry in enumerate(entries):
        cta = Section(
            entry, file=section.file, route=section.route, path=section.field_path(f"ctas[{i}]")
        )
        if cta.has("url"):
            cta.fail(
                "CTAs take 'payload', not 'url': the notifications API stores a 'url' CTA and then "
                "fails reading it back (HTTP 500), so a retry writes it twice. "
                "Rename it to 'payload'",
                "url",
            )
        label = _compile(cta, "label", cta.required_str("label"))
        payload = _compile(cta, "payload", cta.required_str("payload"))
        cta.close()
        ctas.append(CtaTemplate(label, payload))
    return tuple(ctas)


def _metadata(section: Section) -> tuple[tuple[str, CompiledField], ...]:
    fields = []
    for key in section.data:
        if key in RESERVED_METADATA:
            section.fail(f"'{key}' is set by stream_notifier on every notification", str(key))
        fields.append(
            (str(key), _compile(section, str(key), _scalar(section, str(key), section.raw(key))))
        )
    section.close()
    return tuple(fields)


def _expires_hours(section: Section, default: int | None) -> int | None:
    if not section.has("expires_hours"):
        return default
    value = section.integer("expires_hours", 0, minimum=1)
    return value


def _scalar(section: Section, key: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        section.fail(f"must be a string template, got {type(value).__name__}", key)
    return str(value)


def _compile(section: Section, key: str, source: str) -> CompiledField:
    try:
        return compile_field(source)
    except TemplateCompileError as exc:
        line = f" (template line {exc.line})" if exc.line else ""
        section.fail(f"template does not compile: {exc}{line}", key)


def _refuse_clash(route: Route, earlier: list[Route], file: str) -> None:
    for other in earlier:
        if other.name == route.name:
            raise _clash(file, route, f"duplicate route name '{route.name}'", "name")
        same_topics = other.topics is None or route.topics is None or other.topics & route.topics
        same_scope = _scope_sources(other) == _scope_sources(route)
        if other.event == route.event and same_topics and same_scope:
            raise _clash(
                file,
                route,
                f"matches the same events as route '{other.name}' and notifies the same scope: "
                "every such event would be notified twice",
                "event",
            )


def _scope_sources(route: Route) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple(
        (key, tuple(f.source for f in value) if isinstance(value, tuple) else (value.source,))
        for key, value in route.scope
    )


def _clash(file: str, route: Route, message: str, field: str) -> ConfigError:
    return ConfigError(message, file=file, route=route.name, field=field)
