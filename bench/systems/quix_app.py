"""quixstreams: a Quix Streams application doing stream_notifier's job, written as its
documentation suggests and then made as fast as a careful user would make it.

Quix decodes the JSON value; an `apply` step routes by CloudEvent type and renders the same
templates through stream_notifier's renderer (byte-identical bodies); a streaming sink
(`BaseSink`: send on `add`, confirm on `flush`) posts with aiohttp from a background event
loop at the benchmark's concurrency, one request at a time per Kafka key so that each key
stays in order. Quix commits a checkpoint only after `flush` returned, which makes it at
least once. Quix has no client-side rate limiter: a 429 is retried after its announced wait.

Runs in its own virtualenv (Quix Streams pins an older confluent-kafka than ours).
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import Hashable
from pathlib import Path
from typing import Any

from bench.systems.common import (
    MAX_ATTEMPTS,
    headers,
    load_spec,
    notifications,
    retry_delay,
)
from stream_notifier.records import Event
from stream_notifier.render.notification import render, template_context
from stream_notifier.routing import Router, load_routes

# What a sink may hold unconfirmed before `add` blocks: bounds memory like
# stream_notifier's max_in_flight does.
MAX_PENDING = 1000
_REQUIRED = ("id", "type", "source", "specversion")

Request = tuple[str, bytes]


def to_event(document: Any) -> Event | None:
    """A structured-mode CloudEvent from Quix's decoded JSON; None when it is not one."""
    if not isinstance(document, dict) or any(not document.get(k) for k in _REQUIRED):
        return None
    attributes = {k: v for k, v in document.items() if k not in ("data", "data_base64")}
    return Event(
        id=str(attributes.pop("id")),
        type=str(attributes.pop("type")),
        source=str(attributes.pop("source")),
        specversion=str(attributes.pop("specversion")),
        data=document.get("data"),
        attributes=attributes,
    )


def dedupe(window_ms: int) -> Any:
    """Quix's way to drop repeats: its state store (RocksDB, with a changelog topic), which
    is scoped to the message's Kafka key. Unlike stream_notifier, it marks an event seen
    when it is processed, not once it was delivered."""

    def drop_repeats(value: Any, key: Any, timestamp: int, headers: Any, state: Any) -> Any:
        event_id = value.get("id") if isinstance(value, dict) else None
        if not event_id:
            return value
        now = int(time.time() * 1000)
        seen = state.get(event_id)
        if seen is not None and now - seen < window_ms:
            return None
        state.set(event_id, now)
        return value

    return drop_repeats


def _make_sink_class() -> type:
    # Imported here so that the module (and its helpers) import without quixstreams.
    import aiohttp
    from quixstreams.sinks import BaseSink

    class NotificationsSink(BaseSink):  # type: ignore[misc]
        def __init__(self, url: str, api_key: str, concurrency: int) -> None:
            super().__init__()
            self._url = url
            self._api_key = api_key
            self._concurrency = concurrency
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
            self._cond = threading.Condition()
            self._pending = 0
            self._failures: list[str] = []
            # Loop-side state: the last task per key, so the next one waits for it.
            self._tails: dict[Hashable, asyncio.Task[None]] = {}
            self._session: aiohttp.ClientSession | None = None
            self._slots: asyncio.Semaphore | None = None

        def setup(self) -> None:
            self._thread.start()
            asyncio.run_coroutine_threadsafe(self._open(), self._loop).result()

        async def _open(self) -> None:
            connector = aiohttp.TCPConnector(limit=self._concurrency)
            self._session = aiohttp.ClientSession(connector=connector)
            self._slots = asyncio.Semaphore(self._concurrency)

        def add(
            self,
            value: Any,
            key: Any,
            timestamp: int,
            headers: Any,
            topic: str,
            partition: int,
            offset: int,
        ) -> None:
            with self._cond:
                while self._pending >= MAX_PENDING:
                    self._cond.wait()
                self._pending += len(value)
            self._loop.call_soon_threadsafe(self._schedule, (topic, key), value)

        def flush(self) -> None:
            with self._cond:
                while self._pending:
                    self._cond.wait()
                failures, self._failures = self._failures, []
            if failures:
                # Aborts the checkpoint: nothing is committed past an undelivered record.
                raise RuntimeError(f"{len(failures)} notifications failed: {failures[0]}")

        def _schedule(self, key: Hashable, requests: list[Request]) -> None:
            for request in requests:
                previous = self._tails.get(key)
                task = self._loop.create_task(self._deliver(previous, request))
                self._tails[key] = task
                task.add_done_callback(functools.partial(self._done, key))

        async def _deliver(self, previous: asyncio.Task[None] | None, request: Request) -> None:
            if previous is not None:
                await asyncio.wait([previous])
            assert self._session is not None and self._slots is not None
            idempotency_key, body = request
            request_headers = headers(self._api_key, idempotency_key)
            for _ in range(MAX_ATTEMPTS):
                async with (
                    self._slots,
                    self._session.post(self._url, data=body, headers=request_headers) as r,
                ):
                    content = await r.read()
                if r.status == 200:
                    return
                delay = retry_delay(r.status, r.headers, content)
                if delay is None:
                    break
                await asyncio.sleep(delay)
            raise RuntimeError(f"HTTP {r.status}: {content[:200]!r}")

        def _done(self, key: Hashable, task: asyncio.Task[None]) -> None:
            if self._tails.get(key) is task:
                del self._tails[key]
            error = None if task.cancelled() else task.exception()
            with self._cond:
                if error is not None:
                    self._failures.append(str(error))
                self._pending -= 1
                self._cond.notify_all()

    return NotificationsSink


def main() -> int:
    from quixstreams import Application, message_context

    spec = load_spec()
    router = Router(load_routes(Path(spec["routes"])))
    topic_name = spec["topic"]

    def prepare(value: Any, key: Any, timestamp: int, headers: Any) -> list[Request] | None:
        event = to_event(value)
        if event is None:
            return None
        routes = router.match(event.type, topic_name)
        if not routes:
            return None
        ctx = message_context()
        kafka = {
            "topic": topic_name,
            "partition": ctx.partition,
            "offset": ctx.offset,
            "key": key.decode("utf-8", "replace") if isinstance(key, bytes) else key,
            "timestamp": timestamp,
            "headers": {k: v.decode("utf-8", "replace") if v else v for k, v in headers or ()},
        }
        context = template_context(event, kafka)
        rendered = notifications(tuple(render(route, event, context) for route in routes))
        return [(n.idempotency_key, n.payload) for n in rendered]

    window_s = spec.get("dedupe_window_s")
    app = Application(
        broker_address=spec["bootstrap"],
        consumer_group=spec["group_id"],
        auto_offset_reset="earliest",
        # The default 5 s checkpoint delays every notification by up to 5 s; a notifier
        # built on Quix would shorten it, so this one does.
        commit_interval=1.0,
        state_dir=spec["state_dir"],
        loglevel="WARNING",
        # Durable state only where there is state: the dedupe scenario.
        use_changelog_topics=window_s is not None,
    )
    topic = app.topic(topic_name, value_deserializer="json", key_deserializer="bytes")
    sdf = app.dataframe(topic)
    if window_s is not None:
        sdf = sdf.apply(dedupe(int(window_s * 1000)), stateful=True, metadata=True)
        sdf = sdf.filter(lambda value: value is not None)
    sdf = sdf.apply(prepare, metadata=True)
    sdf = sdf.filter(lambda requests: bool(requests))
    sink_class = _make_sink_class()
    sdf.sink(sink_class(spec["sink_url"] + "/notifications", spec["api_key"], spec["concurrency"]))
    app.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
