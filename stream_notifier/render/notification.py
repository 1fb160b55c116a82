"""Render a route's template for one event and check the result before it is sent.

The checks cover what the notifications API would accept silently or fail on late
(see docs in the README): ids as digit strings, severity vocabulary, CTA shape,
metadata as an object, non-empty title and body.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from stream_notifier.errors import RenderError, ValidationError
from stream_notifier.records import Event
from stream_notifier.render.templates import CompiledField, TemplateFieldError, render_context
from stream_notifier.routing.model import SEVERITIES, Route

MAX_BODY_BYTES = 2 * 1024 * 1024
Scope = tuple[tuple[str, str | tuple[str, ...]], ...]


@dataclass(frozen=True, slots=True)
class DedupeWindow:
    """The identity repeats share (route, rendered key, scope) and how long they are quiet."""

    identity: str
    window_s: float
    sliding: bool


@dataclass(frozen=True, slots=True)
class Notification:
    """One rendered, validated request body and what identifies it."""

    route: str
    event_id: str
    scope: Scope
    body: Mapping[str, Any]
    payload: bytes  # the body as sent, serialised once when it was validated
    idempotency_key: str
    ordering_key: str | None
    dedupe: DedupeWindow | None = None


def template_context(event: Event, kafka: Mapping[str, Any]) -> dict[str, Any]:
    view = event.template_view()
    view["kafka"] = kafka
    return render_context(view)


def render(route: Route, event: Event, context: dict[str, Any]) -> Notification:
    scope = _render_scope(route, context)
    template = route.template
    title = _text(route, "template.title", template.title, context)
    body_text = _text(route, "template.body", template.body, context)
    severity = _text(route, "template.severity", template.severity, context).strip()
    ctas = [
        {
            "label": _text(route, f"template.ctas[{i}].label", cta.label, context),
            "payload": _text(route, f"template.ctas[{i}].payload", cta.payload, context),
        }
        for i, cta in enumerate(template.ctas)
    ]
    metadata: dict[str, Any] = {
        key: _value(route, f"template.metadata.{key}", field, context)
        for key, field in template.metadata
    }
    metadata.update(event_id=event.id, event_type=event.type, route=route.name)

    body: dict[str, Any] = {"title": title, "body": body_text, "severity": severity}
    body.update(scope)
    if ctas:
        body["ctas"] = ctas
    body["metadata"] = metadata
    if template.expires_hours is not None:
        body["expires_hours"] = template.expires_hours
    payload = _validate(route, body)

    ordering = (
        _text(route, "ordering_key", route.ordering_key, context)
        if route.ordering_key is not None
        else None
    )
    dedupe = None
    if route.dedupe is not None:
        key = _text(route, "dedupe.key", route.dedupe.key, context)
        dedupe = DedupeWindow(
            identity=_digest(["dedupe", route.name, key, scope]),
            window_s=route.dedupe.window_s,
            sliding=route.dedupe.sliding,
        )
    return Notification(
        route=route.name,
        event_id=event.id,
        scope=scope,
        body=body,
        idempotency_key=idempotency_key(route.name, event.id, scope),
        ordering_key=ordering,
        dedupe=dedupe,
        payload=payload,
    )


def idempotency_key(route: str, event_id: str, scope: Scope) -> str:
    """Deterministic across processes and restarts: the same event, route and scope."""
    return _digest([route, event_id, scope])


def _digest(parts: list[Any]) -> str:
    material = orjson.dumps(parts)
    return hashlib.sha256(material).hexdigest()[:32]


def _render_scope(route: Route, context: dict[str, Any]) -> Scope:
    rendered: list[tuple[str, str | tuple[str, ...]]] = []
    for key, field in route.scope:
        where = f"scope.{key}"
        if isinstance(field, tuple):
            ids = tuple(
                _id(route, f"{where}[{i}]", _value(route, where, f, context))
                for i, f in enumerate(field)
            )
        elif key == "user_ids":
            value = _value(route, where, field, context)
            if not isinstance(value, list | tuple) or not value:
                raise ValidationError(
                    f"{where} must render to a non-empty list of ids, got {value!r}"
                ).with_context(route=route.name)
            ids = tuple(_id(route, f"{where}[{i}]", v) for i, v in enumerate(value))
        else:
            rendered.append((key, _id(route, where, _value(route, where, field, context))))
            continue
        rendered.append((key, ids))
    return tuple(rendered)


def _id(route: Route, where: str, value: Any) -> str:
    text = (
        str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else None
    )
    if not text or not text.isascii() or not text.isdigit() or len(text) > 20:
        raise ValidationError(
            f"{where} must be an id of digits (64-bit integer), got {value!r}"
        ).with_context(route=route.name)
    return text


def _text(route: Route, where: str, field: CompiledField, context: dict[str, Any]) -> str:
    try:
        return field.text(context)
    except TemplateFieldError as exc:
        raise RenderError(f"{where}: {exc}").with_context(route=route.name) from None


def _value(route: Route, where: str, field: CompiledField, context: dict[str, Any]) -> Any:
    try:
        value = field.value(context)
    except TemplateFieldError as exc:
        raise RenderError(f"{where}: {exc}").with_context(route=route.name) from None
    try:
        orjson.dumps(value)
    except TypeError:
        raise RenderError(
            f"{where}: rendered a value that is not JSON: {type(value).__name__}"
        ).with_context(route=route.name) from None
    return value


def _validate(route: Route, body: Mapping[str, Any]) -> bytes:
    """The body as sent, once it passed every check."""

    def fail(message: str) -> ValidationError:
        return ValidationError(message).with_context(route=route.name)

    for key in ("title", "body"):
        if not body[key].strip():
            raise fail(f"template.{key} rendered empty; the API requires a non-empty {key}")
    if body["severity"] not in SEVERITIES:
        raise fail(
            f"template.severity rendered {body['severity']!r}; "
            f"must be one of {', '.join(SEVERITIES)}"
        )
    for i, cta in enumerate(body.get("ctas", ())):
        if not cta["label"].strip() or not cta["payload"].strip():
            raise fail(f"template.ctas[{i}] rendered an empty label or payload")
    if not isinstance(body["metadata"], dict):
        raise fail("metadata must be an object")
    payload = orjson.dumps(body)
    if len(payload) > MAX_BODY_BYTES:
        raise fail(
            f"request body is {len(payload)} bytes; the API accepts at most {MAX_BODY_BYTES}"
        )
    return payload
