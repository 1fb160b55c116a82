"""Offsets: records finish in any order, the committed offset only covers a finished prefix."""

from __future__ import annotations

import itertools

import pytest

from stream_notifier.offsets import OffsetTracker, PartitionOffsets
from stream_notifier.records import TopicPartition

TP = TopicPartition("events", 0)
TP1 = TopicPartition("events", 1)


def started(*offsets: int) -> PartitionOffsets:
    state = PartitionOffsets()
    for offset in offsets:
        assert state.start(offset)
    return state


class TestPartitionOffsets:
    def test_nothing_finished_nothing_committable(self) -> None:
        state = started(10, 11)
        assert state.committable is None
        assert state.in_progress == 2

    def test_out_of_order_finishes_commit_only_the_contiguous_prefix(self) -> None:
        state = started(10, 11, 12, 13)
        state.finish(12)
        assert state.committable is None
        assert state.finished_above_committable == 1
        state.finish(10)
        assert state.committable == 11
        state.finish(13)
        assert state.committable == 11
        assert state.finished_above_committable == 2
        assert state.in_progress == 1
        state.finish(11)
        assert state.committable == 14
        assert state.finished_above_committable == 0
        assert state.in_progress == 0

    @pytest.mark.parametrize("order", list(itertools.permutations([0, 1, 2, 3])))
    def test_any_finish_order_ends_at_last_plus_one(self, order: tuple[int, ...]) -> None:
        state = started(0, 1, 2, 3)
        committed = []
        for offset in order:
            state.finish(offset)
            committed.append(state.committable)
            # Committable is one past the longest finished prefix.
            done = set(order[: len(committed)])
            prefix = next(i for i in range(5) if i not in done)
            assert state.committable == (prefix if prefix else None)
        assert state.committable == 4

    def test_gaps_in_offsets_do_not_block(self) -> None:
        # Compaction and transaction markers leave holes: only started offsets count.
        state = started(5, 9, 20)
        state.finish(5)
        assert state.committable == 6
        state.finish(20)
        assert state.committable == 6
        state.finish(9)
        assert state.committable == 21

    @pytest.mark.parametrize("offset", [10, 11, 5])
    def test_redelivered_offset_is_refused(self, offset: int) -> None:
        state = started(10, 11)
        assert state.start(offset) is False
        assert list(state.started) == [10, 11]

    def test_offset_below_committable_is_refused_when_nothing_runs(self) -> None:
        state = started(10, 11)
        state.finish(10)
        state.finish(11)
        assert not state.started
        assert state.start(11) is False
        assert state.start(3) is False
        assert state.start(12) is True

    def test_next_offset_is_accepted(self) -> None:
        state = started(10)
        assert state.start(11) is True


class TestOffsetTracker:
    def test_to_store_returns_only_offsets_that_moved(self) -> None:
        tracker = OffsetTracker()
        for tp in (TP, TP1):
            for offset in (0, 1, 2):
                assert tracker.start(tp, offset)
        assert tracker.to_store() == {}
        tracker.finish(TP, 0)
        tracker.finish(TP1, 1)
        assert tracker.to_store() == {TP: 1}
        assert tracker.to_store() == {}
        tracker.finish(TP1, 0)
        assert tracker.to_store() == {TP1: 2}
        tracker.finish(TP, 1)
        tracker.finish(TP, 2)
        tracker.finish(TP1, 2)
        assert tracker.to_store() == {TP: 3, TP1: 3}
        assert tracker.to_store() == {}

    def test_to_store_never_goes_backwards(self) -> None:
        tracker = OffsetTracker()
        tracker.start(TP, 10)
        tracker.finish(TP, 10)
        assert tracker.to_store() == {TP: 11}
        # The guard itself: whatever the state says, nothing is ever stored backwards.
        tracker.partition(TP).committable = 5
        assert tracker.to_store() == {}
        assert tracker.committable(TP) == 5

    def test_drop_forgets_the_partition(self) -> None:
        tracker = OffsetTracker()
        tracker.start(TP, 7)
        tracker.finish(TP, 7)
        assert tracker.to_store() == {TP: 8}
        tracker.start(TP, 8)
        tracker.drop(TP)
        assert tracker.committable(TP) is None
        assert tracker.in_progress(TP) == 0
        assert tracker.to_store() == {}
        # Re-assigned later from an older committed offset: it starts afresh.
        assert tracker.start(TP, 3) is True
        tracker.finish(TP, 3)
        assert tracker.to_store() == {TP: 4}

    def test_drop_unknown_partition_is_harmless(self) -> None:
        OffsetTracker().drop(TP)

    def test_redelivered_offset_start_returns_false(self) -> None:
        tracker = OffsetTracker()
        assert tracker.start(TP, 4) is True
        assert tracker.start(TP, 4) is False
        assert tracker.start(TP1, 4) is True  # another partition is independent

    def test_in_progress_and_finished_above_committable(self) -> None:
        tracker = OffsetTracker()
        for offset in range(5):
            tracker.start(TP, offset)
        tracker.start(TP1, 0)
        tracker.start(TP1, 1)
        tracker.finish(TP, 1)
        tracker.finish(TP, 3)
        tracker.finish(TP1, 1)
        assert tracker.in_progress(TP) == 3
        assert tracker.in_progress(TP1) == 1
        assert tracker.in_progress(TopicPartition("other", 0)) == 0
        assert tracker.finished_above_committable() == 3
        tracker.finish(TP, 0)
        assert tracker.finished_above_committable() == 2
        assert tracker.committable(TP) == 2
        assert tracker.committable(TopicPartition("other", 0)) is None
