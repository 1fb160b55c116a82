"""The dev sink: a local HTTP server that behaves like the reference notifications API.

It reproduces the reference's observable behaviour, including its traps (a CTA with ``url``
or a non-object ``metadata`` is written and *then* answered with a 500), records every request
it receives for tests to inspect, and injects faults on demand through a small control API
under ``/_sink/``. See ``/work/shared/reference/notifications-api.md`` for the contract.

Throughput matters more than elegance here: the sink must never be the bottleneck of a
benchmark, so the hot path avoids middlewares, logging and the stdlib json module.
"""

from __future__ import annotations

import asyncio
import bisect
import concurrent.futures
import contextlib
import hmac
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

import orjson
from aiohttp import web

from stream_notifier.devsink.faults import (
    FaultConfig,
    FaultConfigError,
    FaultDecision,
    FaultPolicy,
    rate_limit_message,
)

if TYPE_CHECKING:
    from stream_notifier.devsink.client import SinkClient

__all__ = [
    "DEFAULT_API_KEY",
    "MAX_BODY_BYTES",
    "DevSink",
    "Plan",
    "Rejection",
    "SinkHandle",
    "SinkOptions",
    "plan_notification",
    "run_sink_in_thread",
]

DEFAULT_API_KEY = "dev-key"
MAX_BODY_BYTES = 2 * 1024 * 1024
SEVERITIES = frozenset({"info", "success", "warning", "error"})
DEFAULT_EXPIRES_HOURS = 90 * 24
MAX_EXPIRES_HOURS = 10_000_000
INT64_MAX = 2**63 - 1
NO_RECIPIENT = (
    "At least one recipient must be specified via user_id, user_ids, organization_id, "
    "or workspace_id"
)
# The reference does not say why it failed; the reason goes to the record instead.
LATE_FAILURE_MESSAGE = "Internal server error"


# --------------------------------------------------------------------------------------------
# Options


@dataclass(frozen=True)
class SinkOptions:
    api_key: str = DEFAULT_API_KEY
    honor_idempotency: bool = False
    org_members: int = 1
    record_path: str | None = None
    max_body_bytes: int = MAX_BODY_BYTES
    # Long benchmarks would otherwise hold every request in memory; counters stay exact.
    max_records: int | None = None
    faults: FaultConfig = field(default_factory=FaultConfig)

    @classmethod
    def build(cls, base: SinkOptions | None = None, **overrides: Any) -> SinkOptions:
        """Options from keyword arguments; fault options (``latency_ms=...``) are accepted
        flat, next to sink options, so tests can write ``run_sink_in_thread(latency_ms=20)``."""
        base = base or cls()
        own = {f.name for f in fields(cls)}
        values = {f.name: getattr(base, f.name) for f in fields(cls)}
        fault_values = {k: v for k, v in overrides.items() if k not in own}
        values.update({k: v for k, v in overrides.items() if k in own})
        if fault_values:
            values["faults"] = values["faults"].merged(fault_values)
        if isinstance(values["faults"], Mapping):
            values["faults"] = FaultConfig.from_mapping(values["faults"])
        return cls(**values)


# --------------------------------------------------------------------------------------------
# Validation: what the reference would do with a body, decided before anything is stored


class Rejection(Exception):
    """The request is refused before anything is written."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Plan:
    """What to write for one accepted body."""

    user_ids: list[int]
    organization_id: str | None
    workspace_id: str | None
    title: str
    body: str
    severity: str
    ctas: Any
    metadata: Any
    expires_hours: int
    # Set when the reference would write the rows and then fail reading them back (a 500).
    late_failure: str | None = None


def plan_notification(body: Mapping[str, Any], org_members: int = 1) -> Plan:
    """Validate ``body`` like the reference does; raise :class:`Rejection` on a refusal."""
    title = _required_text(body, "title")
    text = _required_text(body, "body")
    user_id = _parse_id(body.get("user_id"), "user_id")
    user_ids = _parse_id_list(body.get("user_ids"))
    org_id = _parse_id(body.get("organization_id"), "organization_id")
    ws_id = _parse_id(body.get("workspace_id"), "workspace_id")
    severity = _severity(body.get("severity"))
    expires_hours = _expires_hours(body.get("expires_hours"))
    ctas, cta_failure = _ctas(body)
    metadata = body.get("metadata")
    meta_failure = None if metadata is None or isinstance(metadata, dict) else "metadata"
    recipients = _union(
        [user_id] if user_id is not None else [],
        user_ids,
        _members(org_id, org_members),
        _members(ws_id, org_members),
    )
    if not recipients:
        raise Rejection(400, NO_RECIPIENT)
    return Plan(
        user_ids=recipients,
        organization_id=None if org_id is None else str(org_id),
        workspace_id=None if ws_id is None else str(ws_id),
        title=title,
        body=text,
        severity=severity,
        ctas=ctas,
        metadata=metadata,
        expires_hours=expires_hours,
        late_failure=cta_failure or meta_failure,
    )


def _required_text(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None:
        raise Rejection(422, f"{name} is required")
    if not isinstance(value, str):
        raise Rejection(422, f"{name} must be a string")
    if not value.strip():
        raise Rejection(422, f"{name} must not be empty")
    return value


def _parse_id(value: object, name: str) -> int | None:
    if value is None:
        return None
    # bool is an int subclass; the reference's serde would never take true as an id.
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= INT64_MAX:
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        number = int(value)
        if number <= INT64_MAX:
            return number
    raise Rejection(422, f"{name} must be a 64-bit id given as a string of digits")


def _parse_id_list(value: object) -> list[int]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise Rejection(422, "user_ids must be a list of ids")
    ids = (_parse_id(item, f"user_ids[{i}]") for i, item in enumerate(value))
    return [i for i in ids if i is not None]


def _members(group_id: int | None, count: int) -> list[int]:
    # Deterministic membership, so tests can predict the fan-out without a directory.
    if group_id is None:
        return []
    return [group_id * 1000 + i for i in range(1, count + 1)]


def _union(*groups: list[int]) -> list[int]:
    return list(dict.fromkeys(uid for group in groups for uid in group))


def _severity(value: object) -> str:
    if value is None:
        return "info"
    if not isinstance(value, str):
        raise Rejection(422, "severity must be a string")
    return value if value in SEVERITIES else "info"


def _expires_hours(value: object) -> int:
    if value is None:
        return DEFAULT_EXPIRES_HOURS
    if isinstance(value, bool) or not isinstance(value, int):
        raise Rejection(422, "expires_hours must be an integer")
    # Beyond this, expires_at would leave the representable calendar (and crash the handler).
    if abs(value) > MAX_EXPIRES_HOURS:
        raise Rejection(422, "expires_hours is out of range")
    return value


def _ctas(body: Mapping[str, Any]) -> tuple[Any, str | None]:
    """The CTAs to store, and the late-failure reason when the reference would choke on them."""
    ctas = body.get("ctas")
    if ctas is not None:
        return ctas, None if _well_formed_ctas(ctas) else "ctas"
    action_url = body.get("action_url")
    if action_url is None:
        return [], None
    label = body.get("action_label")
    if not isinstance(action_url, str) or not (label is None or isinstance(label, str)):
        raise Rejection(422, "action_url and action_label must be strings")
    return [{"label": label or "View", "payload": action_url}], None


def _well_formed_ctas(ctas: object) -> bool:
    return isinstance(ctas, list) and all(
        isinstance(c, dict)
        and isinstance(c.get("label"), str)
        and isinstance(c.get("payload"), str)
        for c in ctas
    )


# --------------------------------------------------------------------------------------------
# Responses


def _json(status: int, payload: object, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status, body=orjson.dumps(payload), content_type="application/json", headers=headers
    )


def _error_body(status: int, message: str) -> bytes:
    return orjson.dumps({"errors": [{"message": message, "code": status}]})


def _error(status: int, message: str, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        body=_error_body(status, message),
        content_type="application/json",
        headers=headers,
    )


def _default_message(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _seq_of(record: Mapping[str, Any]) -> int:
    seq: int = record["seq"]
    return seq


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --------------------------------------------------------------------------------------------
# State


@dataclass
class _Stats:
    received: int = 0
    accepted: int = 0
    rows_stored: int = 0
    http_429: int = 0
    dropped: int = 0
    faulted: int = 0
    replayed: int = 0
    late_failures: int = 0
    in_flight: int = 0
    max_concurrency: int = 0
    by_status: dict[str, int] = field(default_factory=dict)

    def count_status(self, status: int) -> None:
        key = str(status)
        self.by_status[key] = self.by_status.get(key, 0) + 1
        if status == 429:
            self.http_429 += 1

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["by_status"] = dict(self.by_status)
        return out


@dataclass
class _Exchange:
    """One request to /notifications as it goes through the handler."""

    received_start_ns: int
    received_end_ns: int | None = None
    body: Any = None
    idempotency_key: str | None = None
    status: int | None = None
    outcome: str = "rejected"
    rows: list[dict[str, Any]] = field(default_factory=list)
    detail: str | None = None
    parse_error: str | None = None


class DevSink:
    """The sink: an aiohttp application plus in-memory records, on the caller's event loop."""

    def __init__(self, options: SinkOptions | None = None, **overrides: Any) -> None:
        self.options = SinkOptions.build(options, **overrides)
        self._policy = FaultPolicy(rng=random.Random())
        self._policy.configure(self.options.faults, now=time.monotonic())
        self._stats = _Stats()
        self._records: list[dict[str, Any]] = []
        self._rows: list[dict[str, Any]] = []
        self._idempotent: dict[str, tuple[int, bytes]] = {}
        self._next_seq = 1
        self._next_row_id = 1
        self._record_file: IO[bytes] | None = None
        self._runner: web.AppRunner | None = None
        self.base_url: str | None = None
        self.port: int | None = None
        self.app = self._build_app()

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on ``host:port`` (0 picks a free port) and return the base URL."""
        self._open_record_file()
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, host, port, reuse_address=True)
        await site.start()
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        url_host = f"[{host}]" if ":" in host else host
        self.base_url = f"http://{url_host}:{self.port}"
        return self.base_url

    def _open_record_file(self) -> None:
        # Blocking, but once at startup before any request: not worth a thread hop.
        if self.options.record_path:
            # Unbuffered: whoever tails the file sees each record as soon as it is answered.
            self._record_file = Path(self.options.record_path).open("ab", buffering=0)  # noqa: SIM115

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._record_file is not None:
            self._record_file.close()
            self._record_file = None

    # -- in-process inspection (call from the sink's own loop) -------------------------------

    def stats(self) -> dict[str, Any]:
        return self._stats.to_dict()

    def records(self, since: int = 0, include_all: bool = False) -> list[dict[str, Any]]:
        start = bisect.bisect_right(self._records, since, key=_seq_of)
        return [r for r in self._records[start:] if include_all or r["accepted"]]

    def rows(self) -> list[dict[str, Any]]:
        return list(self._rows)

    def reset(self) -> None:
        in_flight = self._stats.in_flight
        self._stats = _Stats(in_flight=in_flight, max_concurrency=in_flight)
        self._records.clear()
        self._rows.clear()
        self._idempotent.clear()

    def set_faults(self, config: FaultConfig) -> None:
        self._policy.configure(config, now=time.monotonic())

    def clear_faults(self) -> None:
        # Back to what the sink was started with: startup flags describe its steady state.
        self.set_faults(self.options.faults)

    # -- routing -----------------------------------------------------------------------------

    def _build_app(self) -> web.Application:
        app = web.Application(client_max_size=self.options.max_body_bytes)
        app.router.add_post("/notifications", self._notifications)
        app.router.add_get("/_sink/health", self._health)
        app.router.add_get("/_sink/requests", self._get_requests)
        app.router.add_delete("/_sink/requests", self._delete_requests)
        app.router.add_get("/_sink/rows", self._get_rows)
        app.router.add_get("/_sink/stats", self._get_stats)
        app.router.add_get("/_sink/faults", self._get_faults)
        app.router.add_post("/_sink/faults", self._post_faults)
        app.router.add_delete("/_sink/faults", self._delete_faults)
        # Anything else still answers in the API's error shape, never aiohttp's text pages.
        app.router.add_route("*", "/{tail:.*}", self._fallback)
        return app

    # -- the notifications endpoint ----------------------------------------------------------

    async def _notifications(self, request: web.Request) -> web.StreamResponse:
        exchange = _Exchange(received_start_ns=time.monotonic_ns())
        stats = self._stats
        stats.received += 1
        stats.in_flight += 1
        stats.max_concurrency = max(stats.max_concurrency, stats.in_flight)
        try:
            response = await self._exchange(request, exchange)
        finally:
            # reset() may have swapped the stats object meanwhile: decrement the live one.
            self._stats.in_flight -= 1
        self._record(exchange)
        return response

    async def _exchange(self, request: web.Request, exchange: _Exchange) -> web.StreamResponse:
        if not self._authorized(request):
            return self._reject(exchange, 401, "Unauthorized")
        wait_s = self._policy.check_rate_limit(time.monotonic())
        if wait_s is not None:
            exchange.outcome = "rate_limited"
            return self._reject(exchange, 429, rate_limit_message(wait_s), self._retry_hdr(wait_s))
        parsed = await self._read_body(request, exchange)
        if isinstance(parsed, web.Response):
            return parsed
        decision = self._policy.decide(parsed)
        if decision.latency_s > 0:
            await asyncio.sleep(decision.latency_s)
        if decision.action is not None:
            return self._inject(request, exchange, decision)
        if parsed is None:
            return self._reject(exchange, 400, exchange.parse_error or "Invalid request body")
        return self._accept(exchange, parsed)

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        expected = self._policy.expected_key(self.options.api_key)
        return scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode(), expected.encode()
        )

    def _retry_hdr(self, seconds: int) -> dict[str, str] | None:
        return {"Retry-After": str(seconds)} if self._policy.config.retry_after_header else None

    async def _read_body(
        self, request: web.Request, exchange: _Exchange
    ) -> dict[str, Any] | web.Response | None:
        """The parsed body (None when it is not a JSON object), or the response refusing it."""
        exchange.idempotency_key = request.headers.get("Idempotency-Key")
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            limit = self.options.max_body_bytes
            return self._reject(exchange, 413, f"Request body exceeds the {limit} byte limit")
        finally:
            exchange.received_end_ns = time.monotonic_ns()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            exchange.parse_error = "Invalid JSON in request body"
            return None
        exchange.body = body
        if not isinstance(body, dict):
            exchange.parse_error = "Request body must be a JSON object"
            return None
        return body

    def _inject(
        self, request: web.Request, exchange: _Exchange, decision: FaultDecision
    ) -> web.StreamResponse:
        self._stats.faulted += 1
        if decision.action == "drop":
            exchange.outcome = "dropped"
            self._stats.dropped += 1
            if request.transport is not None:
                request.transport.close()
            # aiohttp fails to write this to the closed transport and gives up quietly.
            return web.Response(status=500)
        status = decision.status or 500
        exchange.outcome = "faulted"
        if status == 429:
            seconds = decision.retry_after_s or 1
            message = decision.message or rate_limit_message(seconds)
        else:
            seconds = decision.retry_after_s or 0
            message = decision.message or _default_message(status)
        headers = {"Retry-After": str(seconds)} if decision.retry_after_header else None
        return self._respond(exchange, status, _error_body(status, message), headers)

    def _accept(self, exchange: _Exchange, body: dict[str, Any]) -> web.Response:
        try:
            plan = plan_notification(body, self.options.org_members)
        except Rejection as rejection:
            return self._reject(exchange, rejection.status, rejection.message)
        key = exchange.idempotency_key if self.options.honor_idempotency else None
        if key is not None and key in self._idempotent:
            exchange.outcome = "replayed"
            self._stats.replayed += 1
            status, payload = self._idempotent[key]
            return self._respond(exchange, status, payload)
        # From here to the return nothing awaits, so a concurrent duplicate key sees the cache.
        rows = self._store(plan)
        exchange.rows = rows
        if plan.late_failure is not None:
            exchange.outcome = "late_failure"
            exchange.detail = f"{plan.late_failure} unreadable after write"
            self._stats.late_failures += 1
            status, payload = 500, _error_body(500, LATE_FAILURE_MESSAGE)
        else:
            exchange.outcome = "accepted"
            self._stats.accepted += 1
            status, payload = 200, orjson.dumps({"data": rows})
        if key is not None:
            self._idempotent[key] = (status, payload)
        return self._respond(exchange, status, payload)

    def _store(self, plan: Plan) -> list[dict[str, Any]]:
        now = datetime.now(UTC)
        created_at = _iso(now)
        expires_at = _iso(now + timedelta(hours=plan.expires_hours))
        first_id = self._next_row_id
        self._next_row_id += len(plan.user_ids)
        rows = [
            {
                "id": str(first_id + offset),
                "user_id": str(uid),
                "organization_id": plan.organization_id,
                "workspace_id": plan.workspace_id,
                "title": plan.title,
                "body": plan.body,
                "ctas": plan.ctas,
                "severity": plan.severity,
                "metadata": plan.metadata,
                "created_at": created_at,
                "expires_at": expires_at,
            }
            for offset, uid in enumerate(plan.user_ids)
        ]
        self._rows.extend(rows)
        self._trim()
        self._stats.rows_stored += len(rows)
        return rows

    def _reject(
        self,
        exchange: _Exchange,
        status: int,
        message: str,
        headers: Mapping[str, str] | None = None,
    ) -> web.Response:
        exchange.detail = message
        return self._respond(exchange, status, _error_body(status, message), headers)

    def _respond(
        self,
        exchange: _Exchange,
        status: int,
        payload: bytes,
        headers: Mapping[str, str] | None = None,
    ) -> web.Response:
        exchange.status = status
        self._stats.count_status(status)
        return web.Response(
            status=status, body=payload, content_type="application/json", headers=headers
        )

    def _record(self, exchange: _Exchange) -> None:
        record = {
            "seq": self._next_seq,
            "status": exchange.status,
            "outcome": exchange.outcome,
            "accepted": exchange.outcome == "accepted",
            "body": exchange.body,
            "idempotency_key": exchange.idempotency_key,
            "received_start_ns": exchange.received_start_ns,
            "received_end_ns": exchange.received_end_ns,
            "responded_ns": time.monotonic_ns(),
            "rows": exchange.rows,
            "detail": exchange.detail,
        }
        # Numbered on completion, so a poller using ?since= never skips a slow request.
        self._next_seq += 1
        self._records.append(record)
        self._trim()
        if self._record_file is not None:
            self._record_file.write(orjson.dumps(record) + b"\n")

    def _trim(self) -> None:
        # Trim by halves so that the cost stays amortised O(1) per request.
        cap = self.options.max_records
        if cap is None:
            return
        if len(self._records) >= 2 * cap:
            del self._records[:-cap]
        if len(self._rows) >= 2 * cap:
            del self._rows[:-cap]

    # -- control API -------------------------------------------------------------------------

    async def _health(self, request: web.Request) -> web.Response:
        return _json(200, {"status": "ok"})

    async def _get_requests(self, request: web.Request) -> web.Response:
        try:
            since = int(request.query.get("since", "0"))
        except ValueError:
            return _error(400, "since must be an integer")
        include_all = request.query.get("all", "").lower() in {"1", "true", "yes"}
        return _json(200, {"requests": self.records(since, include_all)})

    async def _delete_requests(self, request: web.Request) -> web.Response:
        self.reset()
        return _json(200, {"reset": True})

    async def _get_rows(self, request: web.Request) -> web.Response:
        return _json(200, {"rows": self._rows})

    async def _get_stats(self, request: web.Request) -> web.Response:
        return _json(200, self.stats())

    async def _get_faults(self, request: web.Request) -> web.Response:
        return _json(200, {"faults": self._policy.snapshot()})

    async def _post_faults(self, request: web.Request) -> web.Response:
        try:
            raw = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return _error(400, "fault configuration must be JSON")
        if not isinstance(raw, dict):
            return _error(400, "fault configuration must be a JSON object")
        try:
            config = FaultConfig.from_mapping(raw)
        except (FaultConfigError, TypeError) as exc:
            return _error(400, str(exc))
        self.set_faults(config)
        return _json(200, {"faults": self._policy.snapshot()})

    async def _delete_faults(self, request: web.Request) -> web.Response:
        self.clear_faults()
        return _json(200, {"faults": self._policy.snapshot()})

    async def _fallback(self, request: web.Request) -> web.Response:
        if request.path == "/notifications":
            return _error(405, "Method Not Allowed", {"Allow": "POST"})
        return _error(404, "Not Found")


# --------------------------------------------------------------------------------------------
# Running the sink in a background thread, for synchronous tests and scripts


class SinkHandle:
    """A sink running on its own event loop in a daemon thread. Use as a context manager."""

    def __init__(
        self,
        sink: DevSink,
        loop: asyncio.AbstractEventLoop,
        stop_event: asyncio.Event,
        thread: threading.Thread,
    ) -> None:
        self.sink = sink
        self._loop = loop
        self._stop_event = stop_event
        self._thread = thread
        assert sink.base_url is not None and sink.port is not None
        self.base_url: str = sink.base_url
        self.port: int = sink.port

    @property
    def notifications_url(self) -> str:
        return f"{self.base_url}/notifications"

    @property
    def api_key(self) -> str:
        return self.sink.options.api_key

    def client(self) -> SinkClient:
        from stream_notifier.devsink.client import SinkClient

        return SinkClient(self.base_url)

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread.is_alive():
            with contextlib.suppress(RuntimeError):  # the loop already closed
                self._loop.call_soon_threadsafe(self._stop_event.set)
            self._thread.join(timeout)

    def __enter__(self) -> SinkHandle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def run_sink_in_thread(
    options: SinkOptions | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    startup_timeout: float = 10.0,
    **overrides: Any,
) -> SinkHandle:
    """Start a :class:`DevSink` in a daemon thread and return once it listens.

    ``overrides`` are :class:`SinkOptions` fields or fault options, e.g.
    ``run_sink_in_thread(api_key="k", org_members=3, latency_ms=20)``.
    """
    sink = DevSink(options, **overrides)
    started: concurrent.futures.Future[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = (
        concurrent.futures.Future()
    )

    async def main() -> None:
        stop_event = asyncio.Event()
        try:
            await sink.start(host, port)
        except BaseException as exc:
            started.set_exception(exc)
            return
        started.set_result((asyncio.get_running_loop(), stop_event))
        try:
            await stop_event.wait()
        finally:
            await sink.stop()

    thread = threading.Thread(target=asyncio.run, args=(main(),), name="dev-sink", daemon=True)
    thread.start()
    loop, stop_event = started.result(timeout=startup_timeout)
    return SinkHandle(sink, loop, stop_event, thread)
