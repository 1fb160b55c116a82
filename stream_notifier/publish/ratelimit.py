"""Client-side rate limit per API target: a token bucket kept as a theoretical arrival time.

Pure: callers pass the time in and get back how long to wait, so one limiter serves every
in-flight record fairly (first to reserve, first to go) and a 429 slows the whole target.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass
class TokenBucket:
    """`rate` requests per second on average, up to `burst` back to back."""

    rate: float
    burst: int
    _tat: float = 0.0  # when the bucket would be full again if nothing else were reserved

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError("rate must be positive and burst at least 1")

    @property
    def interval(self) -> float:
        return 1.0 / self.rate

    def reserve(self, now: float) -> float:
        """Take one token; return seconds to wait before using it (0 when available now)."""
        tolerance = (self.burst - 1) * self.interval
        start = max(now, self._tat - tolerance)
        self._tat = max(self._tat, now) + self.interval
        return start - now

    def block_until(self, when: float) -> None:
        """The API said stop until `when`: nobody starts earlier, and no burst right after."""
        tolerance = (self.burst - 1) * self.interval
        self._tat = max(self._tat, when + tolerance)


class RateLimiter:
    """The async face of a TokenBucket; clock and sleep are injected for tests."""

    def __init__(
        self,
        bucket: TokenBucket,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._bucket = bucket
        self._clock = clock
        self._sleep = sleep

    async def acquire(self) -> None:
        wait = self._bucket.reserve(self._clock())
        if wait > 0:
            await self._sleep(wait)

    def back_off(self, seconds: float) -> None:
        self._bucket.block_until(self._clock() + seconds)
