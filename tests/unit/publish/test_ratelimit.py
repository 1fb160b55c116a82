"""The token bucket: rate, burst, first come first served, and the API's announced stop."""

from __future__ import annotations

import asyncio

import pytest

from stream_notifier.publish.ratelimit import RateLimiter, TokenBucket


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class TestTokenBucket:
    @pytest.mark.parametrize(("rate", "burst"), [(0.0, 1), (-1.0, 5), (10.0, 0)])
    def test_refuses_nonsense(self, rate: float, burst: int) -> None:
        with pytest.raises(ValueError, match="rate must be positive and burst at least 1"):
            TokenBucket(rate, burst)

    def test_burst_then_one_per_interval(self) -> None:
        bucket = TokenBucket(rate=2.0, burst=3)
        waits = [bucket.reserve(100.0) for _ in range(6)]
        assert waits == pytest.approx([0.0, 0.0, 0.0, 0.5, 1.0, 1.5])

    def test_reservations_queue_fairly(self) -> None:
        # Each caller gets its own slot: nobody is told the same time as another.
        bucket = TokenBucket(rate=10.0, burst=1)
        starts = [100.0 + bucket.reserve(100.0) for _ in range(5)]
        assert starts == pytest.approx([100.0, 100.1, 100.2, 100.3, 100.4])
        # A later caller queues behind everyone who reserved before it.
        assert 100.05 + bucket.reserve(100.05) == pytest.approx(100.5)

    def test_refills_at_rate_and_caps_at_burst(self) -> None:
        bucket = TokenBucket(rate=1.0, burst=2)
        assert [bucket.reserve(0.0) for _ in range(3)] == pytest.approx([0.0, 0.0, 1.0])
        # By t=10 the bucket is full again, but holds only `burst` tokens.
        assert [bucket.reserve(10.0) for _ in range(3)] == pytest.approx([0.0, 0.0, 1.0])

    def test_average_rate_over_a_long_run(self) -> None:
        bucket = TokenBucket(rate=50.0, burst=10)
        last = max(bucket.reserve(0.0) for _ in range(1010))
        # 10 free, then 1000 at 50/s.
        assert last == pytest.approx(1000 / 50)

    def test_block_until_stops_everyone_then_no_burst(self) -> None:
        bucket = TokenBucket(rate=2.0, burst=5)
        bucket.block_until(107.0)
        waits = [bucket.reserve(100.0) for _ in range(3)]
        assert waits == pytest.approx([7.0, 7.5, 8.0])

    def test_block_until_in_the_past_changes_nothing(self) -> None:
        bucket = TokenBucket(rate=1.0, burst=3)
        bucket.block_until(50.0)
        assert [bucket.reserve(100.0) for _ in range(3)] == pytest.approx([0.0, 0.0, 0.0])

    def test_block_until_never_shortens_a_longer_wait(self) -> None:
        bucket = TokenBucket(rate=1.0, burst=1)
        bucket.block_until(120.0)
        bucket.block_until(105.0)
        assert bucket.reserve(100.0) == pytest.approx(20.0)

    def test_interval(self) -> None:
        assert TokenBucket(4.0, 1).interval == 0.25


class TestRateLimiter:
    def test_acquire_sleeps_only_when_needed(self) -> None:
        clock = FakeClock(0.0)
        limiter = RateLimiter(TokenBucket(rate=4.0, burst=2), clock, clock.sleep)

        async def go() -> None:
            for _ in range(4):
                await limiter.acquire()

        asyncio.run(go())
        assert clock.slept == pytest.approx([0.25, 0.25])
        assert clock.now == pytest.approx(0.5)

    def test_back_off_blocks_from_now(self) -> None:
        clock = FakeClock(500.0)
        limiter = RateLimiter(TokenBucket(rate=100.0, burst=10), clock, clock.sleep)
        limiter.back_off(7.0)

        async def go() -> None:
            await limiter.acquire()
            await limiter.acquire()

        asyncio.run(go())
        assert clock.slept == pytest.approx([7.0, 0.01])
