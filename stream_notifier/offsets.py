"""Offset tracking: records finish out of order, offsets are committed contiguously.

Pure bookkeeping. Kafka hands a partition's records over in offset order; each is `started`
then `finished` (delivered, skipped or dead-lettered) in any order. The committable offset is
the one after the longest finished prefix, so a crash never skips an unfinished record.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from stream_notifier.records import TopicPartition


@dataclass
class PartitionOffsets:
    started: deque[int] = field(default_factory=deque)
    finished: set[int] = field(default_factory=set)
    committable: int | None = None  # next offset to consume; only ever moves forward

    def start(self, offset: int) -> bool:
        """Register a record; False if it is not beyond the last one (a re-delivery)."""
        if self.started and offset <= self.started[-1]:
            return False
        if self.committable is not None and offset < self.committable:
            return False
        self.started.append(offset)
        return True

    def finish(self, offset: int) -> None:
        self.finished.add(offset)
        while self.started and self.started[0] in self.finished:
            done = self.started.popleft()
            self.finished.discard(done)
            if self.committable is None or done + 1 > self.committable:
                self.committable = done + 1

    @property
    def in_progress(self) -> int:
        return len(self.started) - len(self.finished)

    @property
    def finished_above_committable(self) -> int:
        """Finished records a crash now would process again."""
        return len(self.finished)


class OffsetTracker:
    def __init__(self) -> None:
        self._partitions: dict[TopicPartition, PartitionOffsets] = {}
        self._stored: dict[TopicPartition, int] = {}

    def partition(self, tp: TopicPartition) -> PartitionOffsets:
        state = self._partitions.get(tp)
        if state is None:
            state = self._partitions[tp] = PartitionOffsets()
        return state

    def start(self, tp: TopicPartition, offset: int) -> bool:
        return self.partition(tp).start(offset)

    def finish(self, tp: TopicPartition, offset: int) -> None:
        self.partition(tp).finish(offset)

    def to_store(self) -> dict[TopicPartition, int]:
        """Offsets that moved forward since the last call: store these, then commit."""
        changed = {}
        for tp, state in self._partitions.items():
            offset = state.committable
            if offset is not None and offset > self._stored.get(tp, -1):
                changed[tp] = offset
                self._stored[tp] = offset
        return changed

    def committable(self, tp: TopicPartition) -> int | None:
        state = self._partitions.get(tp)
        return state.committable if state else None

    def drop(self, tp: TopicPartition) -> None:
        self._partitions.pop(tp, None)
        self._stored.pop(tp, None)

    def in_progress(self, tp: TopicPartition) -> int:
        state = self._partitions.get(tp)
        return state.in_progress if state else 0

    def finished_above_committable(self) -> int:
        return sum(s.finished_above_committable for s in self._partitions.values())
