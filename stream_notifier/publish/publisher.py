"""Deliver one notification: wait for the rate limiter, send, retry what is transient.

A record waiting out its backoff holds only its own task, not a request slot; the limiter
is shared by the target so a 429 slows everyone down once instead of each record
discovering it. A slot is held from the request until `on_delivered` has recorded the
success, so at most `max_concurrent` notifications are ever sent but not yet recorded.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from stream_notifier.errors import ErrorContext, PublishError, TransientPublishError
from stream_notifier.publish.concurrency import AdaptiveLimit, RequestSlots
from stream_notifier.publish.ratelimit import RateLimiter
from stream_notifier.publish.retry import RetryPolicy, retrying
from stream_notifier.render.notification import Notification


class Sender(Protocol):
    async def send(self, notification: Notification, context: ErrorContext) -> int: ...


@dataclass(frozen=True, slots=True)
class Delivered:
    rows: int
    attempts: int


class PublishFailed(Exception):
    """The final error, with how many attempts it took to reach it."""

    def __init__(self, error: PublishError, attempts: int) -> None:
        super().__init__(str(error))
        self.error = error
        self.attempts = attempts


@dataclass
class PublishStats:
    requests: int = 0
    retries: int = 0
    http_429: int = 0


class Publisher:
    def __init__(
        self,
        sender: Sender,
        limiter: RateLimiter,
        policy: RetryPolicy,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        default_429_wait_s: float = 1.0,
        max_concurrent: int = 64,
        adaptive: AdaptiveLimit | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.slots = RequestSlots(max_concurrent, adaptive)
        self._clock = clock
        self._sender = sender
        self._limiter = limiter
        self._policy = policy
        self._sleep = sleep
        self._default_429_wait_s = default_429_wait_s
        self.stats = PublishStats()

    async def publish(
        self,
        notification: Notification,
        context: ErrorContext,
        on_delivered: Callable[[int], Awaitable[None]] | None = None,
    ) -> Delivered:
        """`on_delivered(rows)` runs inside the request slot and must not raise."""
        try:
            # Most notifications go through at once: that path skips the retry machinery.
            rows = await self._send_once(notification, context, on_delivered)
            return Delivered(rows=rows, attempts=1)
        except PublishError as error:
            if not error.retriable or self._policy.max_attempts <= 1:
                raise PublishFailed(error, 1) from error
            first_failure: PublishError | None = error
        attempts = 1
        try:
            async for attempt in retrying(self._policy, self._sleep):
                with attempt:
                    if first_failure is not None:
                        # Attempt 1 already happened: hand its outcome to the policy, which
                        # then waits as it would have (the API's announced wait included).
                        failure, first_failure = first_failure, None
                        raise failure
                    attempts += 1
                    self.stats.retries += 1
                    rows = await self._send_once(notification, context, on_delivered)
        except PublishError as error:
            raise PublishFailed(error, attempts) from error
        return Delivered(rows=rows, attempts=attempts)

    async def _send_once(
        self,
        notification: Notification,
        context: ErrorContext,
        on_delivered: Callable[[int], Awaitable[None]] | None,
    ) -> int:
        await self._limiter.acquire()
        await self.slots.acquire()
        try:
            self.stats.requests += 1
            started = self._clock()
            try:
                rows = await self._sender.send(notification, context)
            except TransientPublishError as error:
                self.slots.overloaded(self._clock())
                if error.http_status == 429:
                    self.stats.http_429 += 1
                    self._limiter.back_off(error.retry_after_s or self._default_429_wait_s)
                raise
            now = self._clock()
            self.slots.succeeded(now - started, now)
            if on_delivered is not None:
                await on_delivered(rows)
            return rows
        finally:
            await self.slots.release()
