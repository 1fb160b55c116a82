"""Keeps each assigned partition's store in memory and durable in its changelog partition.

State for input partition p of topic t lives in partition p of t's changelog (co-partitioned),
so whoever owns input partition p restores exactly its own state and nothing else. Kafka does
the coordination: no locks, no leader, no home-made membership.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from stream_notifier.errors import ProduceError
from stream_notifier.kafka.changelog import ensure_changelog, partition_count, read_partition
from stream_notifier.kafka.producer import AsyncProducer
from stream_notifier.records import TopicPartition
from stream_notifier.state.changelog import decode_record, encode_change
from stream_notifier.state.store import Change, PartitionStore

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StateSettings:
    enabled: bool = True
    changelog_topic: str = "{group}.{topic}.changelog"
    max_entries_per_partition: int = 1_000_000
    ledger_ttl_s: float = 7 * 86400.0
    expiry_sweep_s: float = 1.0
    topic_config: tuple[tuple[str, str], ...] = ()


@dataclass
class RestoreReport:
    partition: TopicPartition
    entries: int
    seconds: float


class StateManager:
    def __init__(
        self,
        settings: StateSettings,
        client_config: Mapping[str, Any],
        group_id: str,
        producer: AsyncProducer,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self.settings = settings
        self._client_config = dict(client_config)
        self._group_id = group_id
        self._producer = producer
        self._clock_ms = clock_ms
        self._stores: dict[TopicPartition, PartitionStore] = {}
        self._ensured: set[str] = set()
        self._background: set[asyncio.Future[Any]] = set()

    def changelog_topic(self, topic: str) -> str:
        return self.settings.changelog_topic.replace("{group}", self._group_id).replace(
            "{topic}", topic
        )

    def now_ms(self) -> int:
        return self._clock_ms()

    def store(self, tp: TopicPartition) -> PartitionStore | None:
        return self._stores.get(tp)

    async def restore(self, tp: TopicPartition) -> RestoreReport:
        """Read tp's changelog partition to the end seen now, before tp's records are read."""
        started = time.monotonic()
        changelog = self.changelog_topic(tp.topic)
        await self._ensure(tp.topic, changelog)
        # Reading and decoding both happen off the loop: a million entries take seconds,
        # and the other partitions keep being served meanwhile.
        store, stale, records = await asyncio.to_thread(self._load, changelog, tp.partition)
        self._stores[tp] = store
        if stale:
            self._write_soon(tp, stale)
        report = RestoreReport(tp, len(store), time.monotonic() - started)
        log.info(
            "restored %s: %d live entries from %d changelog records in %.3fs",
            tp,
            report.entries,
            records,
            report.seconds,
        )
        return report

    def _load(self, changelog: str, partition: int) -> tuple[PartitionStore, list[Change], int]:
        loader = _Loader(self.settings.max_entries_per_partition, self._clock_ms())
        records = read_partition(self._client_config, changelog, partition, loader.apply)
        if loader.unreadable:
            log.warning("%s: skipped %d unreadable changelog records", changelog, loader.unreadable)
        return loader.store, loader.stale, records

    async def write(self, tp: TopicPartition, changes: list[Change]) -> None:
        """Produce the changes to tp's changelog partition; returns once the broker has them."""
        futures = self._produce(tp, changes)
        if len(futures) == 1:
            await futures[0]
        elif futures:
            await asyncio.gather(*futures)

    def _write_soon(self, tp: TopicPartition, changes: list[Change]) -> None:
        """Housekeeping writes (tombstones): queued now, in order with every other write of
        the partition, and only logged if they fail."""
        try:
            futures = self._produce(tp, changes)
        except ProduceError as error:
            log.warning("changelog housekeeping write failed: %s", error)
            return
        if futures:
            self._spawn(asyncio.gather(*futures))

    def _produce(self, tp: TopicPartition, changes: list[Change]) -> list[asyncio.Future[None]]:
        topic = self.changelog_topic(tp.topic)
        return [
            self._producer.produce(topic, *encode_change(change), partition=tp.partition)
            for change in changes
        ]

    def committed(self, offsets: Mapping[TopicPartition, int]) -> None:
        """The group committed these offsets: ledger entries below them are done."""
        for tp, offset in offsets.items():
            store = self._stores.get(tp)
            if store is not None:
                self._write_soon(tp, store.committed(offset))

    def drop(self, tp: TopicPartition) -> None:
        self._stores.pop(tp, None)

    async def sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.expiry_sweep_s)
            now = self._clock_ms()
            for tp, store in list(self._stores.items()):
                self._write_soon(tp, store.expire(now))

    @property
    def evicted(self) -> int:
        return sum(s.stats.evicted for s in self._stores.values())

    async def _ensure(self, topic: str, changelog: str) -> None:
        if changelog in self._ensured:
            return
        partitions = await asyncio.to_thread(partition_count, self._client_config, topic)
        await asyncio.to_thread(
            ensure_changelog,
            self._client_config,
            changelog,
            partitions,
            dict(self.settings.topic_config),
        )
        self._ensured.add(changelog)

    def _spawn(self, pending: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(pending)
        self._background.add(task)
        task.add_done_callback(self._settled)

    def _settled(self, task: asyncio.Future[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # A lost tombstone only delays compaction; the entry's own expiry still ends it.
            log.warning("changelog housekeeping write failed: %s", task.exception())


class _Loader:
    """Applies changelog batches to a fresh store as they are read; an empty batch means
    the read starts over (after a leader election), so the store does too."""

    def __init__(self, max_entries: int, now_ms: int) -> None:
        self._max_entries = max_entries
        self._now_ms = now_ms
        self._reset()

    def _reset(self) -> None:
        self.store = PartitionStore(self._max_entries)
        self.stale: list[Change] = []
        self.unreadable = 0

    def apply(self, batch: list[tuple[bytes, bytes | None]]) -> None:
        if not batch:
            self._reset()
            return
        for key, value in batch:
            try:
                changelog_key, entry = decode_record(key, value)
            # fastavro reports corrupt bytes with assorted exception types.
            except (ValueError, KeyError, IndexError, TypeError, UnicodeDecodeError, EOFError):
                self.unreadable += 1  # a foreign or corrupt record: skip it, keep the rest
                continue
            self.stale += self.store.restore(entry, changelog_key, self._now_ms)
