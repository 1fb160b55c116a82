"""Ordering: which records may run at the same time. Pure bookkeeping, no I/O.

Records that share an ordering key run one at a time, in the order they were submitted;
records with different keys run concurrently. `None` as a key means "no constraint".
The ordering mode decides the key: the record's key (`key`), its partition (`partition`),
or nothing (`none`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable
from typing import Generic, Literal, TypeVar

T = TypeVar("T")
OrderingMode = Literal["key", "partition", "none"]
ORDERING_MODES: tuple[OrderingMode, ...] = ("key", "partition", "none")


class KeyedQueue(Generic[T]):
    def __init__(self) -> None:
        # A key is present while one of its items runs; the deque holds the ones waiting.
        self._waiting: dict[Hashable, deque[T]] = {}

    def submit(self, key: Hashable | None, item: T) -> bool:
        """Register `item`; True if it may start now, False if it waits behind its key."""
        if key is None:
            return True
        queue = self._waiting.get(key)
        if queue is None:
            self._waiting[key] = deque()
            return True
        queue.append(item)
        return False

    def release(self, key: Hashable | None) -> T | None:
        """The running item of `key` is done; return the next one to start, if any."""
        if key is None:
            return None
        queue = self._waiting.get(key)
        if queue is None:
            return None
        if queue:
            return queue.popleft()
        del self._waiting[key]
        return None

    def discard(self, belongs: Callable[[T], bool]) -> list[T]:
        """Remove waiting items that `belongs` picks (a revoked partition's), return them."""
        removed: list[T] = []
        for queue in self._waiting.values():
            kept = deque(item for item in queue if not belongs(item))
            if len(kept) != len(queue):
                removed.extend(item for item in queue if belongs(item))
                queue.clear()
                queue.extend(kept)
        return removed

    @property
    def waiting(self) -> int:
        return sum(len(q) for q in self._waiting.values())

    @property
    def active_keys(self) -> int:
        return len(self._waiting)
