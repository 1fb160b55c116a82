"""What a system delivered, checked against what was produced. Pure: no I/O, no clock.

A fast wrong answer is not a result: the harness records a figure only when `Verdict.ok`.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Expected:
    """One produced event: its id (the sink sees it as metadata.event_id) and ordering key."""

    event_id: str
    key: Hashable


@dataclass(frozen=True, slots=True)
class Delivery:
    """One request the sink accepted, with when it started receiving it (monotonic ns)."""

    event_id: str
    started_ns: int


@dataclass(frozen=True, slots=True)
class Verdict:
    expected: int
    delivered: int  # distinct expected events that reached the sink
    duplicates: int  # accepted requests beyond the first per event
    lost: int
    unexpected: int  # accepted requests for events that were never produced
    ordering_violations: int | None  # None when the system does not promise order

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.unexpected == 0 and not self.ordering_violations

    def problems(self) -> list[str]:
        out = []
        if self.lost:
            out.append(f"{self.lost} lost")
        if self.unexpected:
            out.append(f"{self.unexpected} unexpected")
        if self.ordering_violations:
            out.append(f"{self.ordering_violations} ordering violations")
        return out


def verify(
    expected: Sequence[Expected], deliveries: Iterable[Delivery], *, ordered: bool
) -> Verdict:
    """Count, duplicates, lost and (when `ordered`) per-key order violations.

    Order is judged on each event's first delivery, by when the sink started receiving it:
    a redelivery after a restart is a duplicate, not a reordering. A violation is a first
    delivery of an event that was produced before another event of its key already
    delivered (counted once per late event, so one swap of two events counts one).
    """
    position = {e.event_id: (index, e.key) for index, e in enumerate(expected)}
    seen: dict[str, int] = {}
    unexpected = 0
    firsts: list[tuple[int, int, Hashable]] = []
    for delivery in sorted(deliveries, key=lambda d: d.started_ns):
        found = position.get(delivery.event_id)
        if found is None:
            unexpected += 1
            continue
        count = seen.get(delivery.event_id, 0)
        seen[delivery.event_id] = count + 1
        if count == 0:
            firsts.append((delivery.started_ns, found[0], found[1]))
    duplicates = sum(n - 1 for n in seen.values())
    violations: int | None = None
    if ordered:
        violations = 0
        highest: dict[Hashable, int] = {}
        for _, index, key in firsts:
            if index < highest.get(key, -1):
                violations += 1
            else:
                highest[key] = index
    return Verdict(
        expected=len(expected),
        delivered=len(seen),
        duplicates=duplicates,
        lost=len(expected) - len(seen),
        unexpected=unexpected,
        ordering_violations=violations,
    )


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of unsorted values; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def rate(count: int, first_ns: int, last_ns: int) -> float | None:
    """Events per second over [first, last]; None when the window is empty."""
    seconds = (last_ns - first_ns) / 1e9
    return count / seconds if seconds > 0 and count > 0 else None
