from __future__ import annotations

import pytest

from stream_notifier.state.changelog import decode_record, encode_change
from stream_notifier.state.store import Entry, PartitionStore

WINDOW = 10_000


def test_a_window_opens_only_when_asked_and_closes_at_its_expiry() -> None:
    store = PartitionStore(max_entries=10)
    assert not store.window_open("id", now_ms=0)
    changes = store.open_window("id", "route", WINDOW, now_ms=1_000)
    assert changes == [("d:id", Entry("dedupe", "id", "route", 11_000, 1_000))]
    assert store.window_open("id", now_ms=10_999)
    assert not store.window_open("id", now_ms=11_000)


def test_sliding_extension_moves_the_expiry_and_fixed_windows_do_not_move() -> None:
    store = PartitionStore(max_entries=10)
    store.open_window("id", "route", WINDOW, now_ms=0)
    assert store.extend_window("id", WINDOW, now_ms=9_000)[0][1] == Entry(
        "dedupe", "id", "route", 19_000, 9_000
    )
    assert store.window_open("id", now_ms=18_000)
    assert store.extend_window("unknown", WINDOW, now_ms=0) == []


def test_expiry_removes_windows_and_ledger_entries_with_tombstones() -> None:
    store = PartitionStore(max_entries=10)
    store.open_window("w", "route", 100, now_ms=0)
    store.record_delivery("l", "route", offset=5, ttl_ms=50, now_ms=0)
    store.open_window("later", "route", 1_000, now_ms=0)
    assert sorted(store.expire(now_ms=100)) == [("d:w", None), ("l:l", None)]
    assert len(store) == 1
    assert store.stats.expired == 2


def test_the_ledger_releases_entries_once_the_committed_offset_passes_them() -> None:
    store = PartitionStore(max_entries=10)
    for offset in (3, 4, 5):
        store.record_delivery(f"k{offset}", "route", offset, ttl_ms=10**9, now_ms=0)
    assert store.committed(5) == [("l:k3", None), ("l:k4", None)]
    assert store.delivered("k5")
    assert not store.delivered("k4")


def test_the_oldest_windows_are_evicted_past_the_cap_and_ledger_entries_are_kept() -> None:
    store = PartitionStore(max_entries=3)
    store.record_delivery("ledger", "route", 1, ttl_ms=10**9, now_ms=0)
    store.open_window("a", "route", WINDOW, now_ms=0)
    store.open_window("b", "route", WINDOW, now_ms=1)
    changes = store.open_window("c", "route", WINDOW, now_ms=2)
    assert changes[-1] == ("d:a", None)
    assert store.stats.evicted == 1
    assert store.delivered("ledger")
    assert not store.window_open("a", now_ms=3)
    assert store.window_open("c", now_ms=3)


def test_restore_applies_latest_values_drops_stale_entries_and_honours_tombstones() -> None:
    store = PartitionStore(max_entries=10)
    live = Entry("dedupe", "a", "route", 5_000, 0)
    stale = Entry("dedupe", "b", "route", 500, 0)
    ledger = Entry("ledger", "k", "route", 5_000, 0, offset=7)
    assert store.restore(live, "d:a", now_ms=1_000) == []
    assert store.restore(stale, "d:b", now_ms=1_000) == [("d:b", None)]
    store.restore(ledger, "l:k", now_ms=1_000)
    store.restore(None, "d:a", now_ms=1_000)
    assert not store.window_open("a", now_ms=1_000)
    assert store.delivered("k")
    assert len(store) == 1


@pytest.mark.parametrize(
    "entry",
    [Entry("dedupe", "id", "route", 10, 1), Entry("ledger", "key", "r", 99, 2, offset=42)],
)
def test_changelog_records_round_trip_through_avro(entry: Entry) -> None:
    key, value = encode_change((entry.changelog_key, entry))
    assert value is not None and value[0] == 1  # the format version byte
    assert decode_record(key, value) == (entry.changelog_key, entry)
    assert decode_record(key, None) == (entry.changelog_key, None)


def test_an_unknown_format_version_is_refused() -> None:
    key, value = encode_change(("d:x", Entry("dedupe", "x", "r", 1, 1)))
    assert value is not None
    with pytest.raises(ValueError, match="format version"):
        decode_record(key, b"\x09" + value[1:])


def test_the_restore_loader_applies_batches_and_starts_over_on_an_empty_one() -> None:
    from stream_notifier.state.manager import _Loader

    window = Entry("dedupe", "a", "route", 5_000, 0)
    loader = _Loader(max_entries=10, now_ms=1_000)
    loader.apply([encode_change((window.changelog_key, window)), (b"d:bad", b"\x01\xff")])
    assert loader.store.window_open("a", now_ms=1_000)
    assert loader.unreadable == 1
    loader.apply([])  # the read starts over after a leader election
    assert len(loader.store) == 0 and loader.unreadable == 0
