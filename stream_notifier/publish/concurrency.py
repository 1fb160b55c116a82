"""How many requests may be in flight: a fixed limit, or one that adapts (AIMD).

The adaptive limit treats the API like TCP treats a network path: while answers come back
about as fast as the fastest seen recently, it grows by one request per window of successes;
when they slow down past `tolerance` times that, or fail transiently (5xx, timeouts, 429), it
shrinks multiplicatively, at most once per observed round trip so one bad moment is not
punished once per request in flight. Pure arithmetic; the clock is passed in.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass


@dataclass
class AdaptiveLimit:
    minimum: int
    maximum: int
    tolerance: float = 2.0
    backoff: float = 0.7
    limit: float = 0.0
    baseline_s: float | None = None
    _last_decrease: float = float("-inf")

    def __post_init__(self) -> None:
        if not 1 <= self.minimum <= self.maximum:
            raise ValueError("need 1 <= minimum <= maximum")
        if not self.limit:
            self.limit = float(self.minimum)

    def on_success(self, latency_s: float, now: float) -> None:
        if self.baseline_s is None or latency_s < self.baseline_s:
            self.baseline_s = latency_s
        else:
            # Drift up slowly, so a permanently slower API becomes the new normal.
            self.baseline_s += (latency_s - self.baseline_s) * 0.01
        if latency_s > self.tolerance * self.baseline_s:
            self._decrease(now)
        else:
            self.limit = min(float(self.maximum), self.limit + 1.0 / self.limit)

    def on_overload(self, now: float) -> None:
        self._decrease(now)

    def _decrease(self, now: float) -> None:
        if now - self._last_decrease <= (self.baseline_s or 0.0):
            return
        self._last_decrease = now
        self.limit = max(float(self.minimum), self.limit * self.backoff)

    @property
    def allowed(self) -> int:
        return int(self.limit)


class RequestSlots:
    """An asyncio gate for requests in flight. Fixed: a semaphore. Adaptive: at most
    `limit.allowed` holders, the limit fed by `succeeded` and `overloaded`."""

    def __init__(self, maximum: int, adaptive: AdaptiveLimit | None = None) -> None:
        self.adaptive = adaptive
        self._fixed = asyncio.Semaphore(maximum) if adaptive is None else None
        self._holders = 0
        self._changed = asyncio.Condition()

    async def acquire(self) -> None:
        if self._fixed is not None:
            await self._fixed.acquire()
        else:
            async with self._changed:
                await self._changed.wait_for(self._has_room)
        self._holders += 1

    async def release(self) -> None:
        self._holders -= 1
        if self._fixed is not None:
            self._fixed.release()
            return
        async with self._changed:
            self._changed.notify(self._room())

    def succeeded(self, latency_s: float, now: float) -> None:
        if self.adaptive is not None:
            self.adaptive.on_success(latency_s, now)

    def overloaded(self, now: float) -> None:
        if self.adaptive is not None:
            self.adaptive.on_overload(now)

    @property
    def holders(self) -> int:
        return self._holders

    def _has_room(self) -> bool:
        return self._room() > 0

    def _room(self) -> int:
        assert self.adaptive is not None
        return self.adaptive.allowed - self._holders
