"""What the benchmark's own systems share: their spec file, rendering, and HTTP outcomes.

Rendering goes through stream_notifier's decoder, router and renderer so that every system
sends byte-identical bodies; what differs between systems is how they move records, not
how they template them.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from stream_notifier.decode import CloudEventsJsonDecoder
from stream_notifier.pipeline import Preparer
from stream_notifier.publish.outcome import retry_after_seconds
from stream_notifier.records import RawRecord
from stream_notifier.render.notification import Notification
from stream_notifier.routing import Router, load_routes

# One attempt per second for a minute covers a rate-limited sink; beyond that the
# benchmark should fail loudly (as lost events) rather than hang.
MAX_ATTEMPTS = 60


def load_spec(argv: list[str] | None = None) -> dict[str, Any]:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        raise SystemExit("usage: python -m bench.systems.NAME SPEC.json")
    spec: dict[str, Any] = orjson.loads(Path(args[0]).read_bytes())
    return spec


def write_result(path: str, result: Mapping[str, Any]) -> None:
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_bytes(orjson.dumps(dict(result)))
    tmp.replace(target)


def headers(api_key: str, idempotency_key: str | None = None) -> dict[str, str]:
    out = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
    if idempotency_key is not None:
        out["Idempotency-Key"] = idempotency_key
    return out


def preparer(routes_path: str) -> Preparer:
    return Preparer(
        CloudEventsJsonDecoder(),
        Router(load_routes(Path(routes_path))),
        ordering="key",
        strict_routes=False,
    )


def notifications(prepared_outcomes: tuple[object, ...]) -> list[Notification]:
    """The notifications to send; the benchmark's data renders cleanly, so anything else
    is a broken benchmark, not a record to dead-letter."""
    out = []
    for outcome in prepared_outcomes:
        if not isinstance(outcome, Notification):
            raise RuntimeError(f"benchmark event failed to render: {outcome}")
        out.append(outcome)
    return out


def render_record(prep: Preparer, record: RawRecord) -> list[Notification]:
    return notifications(prep.prepare(record).outcomes)


def retry_delay(status: int, response_headers: Mapping[str, str], content: bytes) -> float | None:
    """Seconds to wait before trying again, or None when the answer is final.

    What a careful hand-written client does: honour a 429's announced wait, back off
    briefly on 5xx and 408, give up on other 4xx.
    """
    if status == 429:
        return retry_after_seconds(response_headers, content) or 1.0
    if status >= 500 or status == 408:
        return 0.2
    return None


def now_ns() -> int:
    return time.monotonic_ns()
