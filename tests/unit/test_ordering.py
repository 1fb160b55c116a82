"""KeyedQueue: one running item per key, the rest wait in submission order."""

from __future__ import annotations

from stream_notifier.ordering import ORDERING_MODES, KeyedQueue


def test_modes() -> None:
    assert ORDERING_MODES == ("key", "partition", "none")


def test_same_key_is_serialized_in_submission_order() -> None:
    queue: KeyedQueue[str] = KeyedQueue()
    assert queue.submit("k", "a") is True
    assert queue.submit("k", "b") is False
    assert queue.submit("k", "c") is False
    assert queue.waiting == 2
    assert queue.active_keys == 1
    assert queue.release("k") == "b"
    assert queue.release("k") == "c"
    assert queue.waiting == 0
    assert queue.active_keys == 1  # "c" still runs
    assert queue.release("k") is None
    assert queue.active_keys == 0
    # The key is free again: the next item starts at once.
    assert queue.submit("k", "d") is True


def test_different_keys_run_concurrently() -> None:
    queue: KeyedQueue[int] = KeyedQueue()
    assert queue.submit(("key", "t", b"1"), 1) is True
    assert queue.submit(("key", "t", b"2"), 2) is True
    assert queue.submit(("partition", "t", 0), 3) is True
    assert queue.submit(("key", "t", b"1"), 4) is False
    assert queue.active_keys == 3
    assert queue.release(("key", "t", b"2")) is None
    assert queue.release(("key", "t", b"1")) == 4


def test_none_key_never_waits() -> None:
    queue: KeyedQueue[int] = KeyedQueue()
    assert all(queue.submit(None, i) for i in range(5))
    assert queue.waiting == 0
    assert queue.active_keys == 0
    assert queue.release(None) is None


def test_release_of_an_unknown_key() -> None:
    queue: KeyedQueue[int] = KeyedQueue()
    assert queue.release("never") is None
    assert queue.active_keys == 0


def test_discard_removes_only_the_chosen_waiting_items() -> None:
    queue: KeyedQueue[tuple[int, str]] = KeyedQueue()  # (partition, name)
    queue.submit("k1", (0, "run-k1"))
    queue.submit("k1", (1, "a"))
    queue.submit("k1", (0, "b"))
    queue.submit("k1", (1, "c"))
    queue.submit("k2", (1, "run-k2"))
    queue.submit("k2", (1, "d"))
    removed = queue.discard(lambda item: item[0] == 1)
    assert sorted(removed) == [(1, "a"), (1, "c"), (1, "d")]
    assert queue.waiting == 1
    # Running items are not touched: their keys stay held until released.
    assert queue.active_keys == 2
    assert queue.release("k1") == (0, "b")
    assert queue.release("k2") is None
    assert queue.release("k1") is None
    assert queue.active_keys == 0


def test_discard_nothing() -> None:
    queue: KeyedQueue[int] = KeyedQueue()
    queue.submit("k", 1)
    queue.submit("k", 2)
    assert queue.discard(lambda item: False) == []
    assert queue.waiting == 1
