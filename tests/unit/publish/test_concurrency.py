from __future__ import annotations

import asyncio

import pytest

from stream_notifier.publish.concurrency import AdaptiveLimit, RequestSlots


def test_the_limit_grows_by_about_one_per_window_while_latency_stays_near_its_baseline() -> None:
    limit = AdaptiveLimit(minimum=4, maximum=64)
    now = 0.0
    for _ in range(4):  # one window of successes at the current limit
        now += 0.1
        limit.on_success(0.1, now)
    assert 4.9 < limit.limit < 5.1
    for _ in range(5000):
        now += 0.1
        limit.on_success(0.1, now)
    assert limit.allowed == 64


def test_slow_answers_and_overload_shrink_it_once_per_round_trip() -> None:
    limit = AdaptiveLimit(minimum=2, maximum=64, limit=40.0)
    limit.on_success(0.1, now=0.0)  # the baseline; grows the limit by 1/40
    limit.on_success(0.5, now=1.0)  # five times the baseline
    assert limit.limit == pytest.approx(40.025 * 0.7)
    limit.on_overload(now=1.05)  # within one round trip of the last decrease: ignored
    assert limit.limit == pytest.approx(40.025 * 0.7)
    limit.on_overload(now=2.0)
    assert limit.limit == pytest.approx(40.025 * 0.7 * 0.7)
    for step in range(20):
        limit.on_overload(now=3.0 + step)
    assert limit.allowed == 2


def test_a_slower_api_becomes_the_new_baseline() -> None:
    limit = AdaptiveLimit(minimum=1, maximum=8)
    limit.on_success(0.01, now=0.0)
    for step in range(1000):
        limit.on_success(0.015, now=step * 0.1)
    assert limit.baseline_s is not None and limit.baseline_s > 0.014


def test_slots_admit_only_as_many_holders_as_the_limit_allows() -> None:
    async def scenario() -> list[int]:
        slots = RequestSlots(2, AdaptiveLimit(minimum=2, maximum=2))
        seen: list[int] = []

        async def hold() -> None:
            await slots.acquire()
            seen.append(slots.holders)
            await asyncio.sleep(0.01)
            await slots.release()

        await asyncio.gather(*(hold() for _ in range(6)))
        return seen

    assert max(asyncio.run(scenario())) == 2


def test_fixed_slots_are_a_semaphore_and_ignore_feedback() -> None:
    async def scenario() -> int:
        slots = RequestSlots(3)
        slots.overloaded(now=0.0)
        peak = 0

        async def hold() -> None:
            nonlocal peak
            await slots.acquire()
            peak = max(peak, slots.holders)
            await asyncio.sleep(0.01)
            await slots.release()

        await asyncio.gather(*(hold() for _ in range(9)))
        return peak

    assert asyncio.run(scenario()) == 3
