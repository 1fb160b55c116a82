"""The consuming edge: one thread owns the confluent-kafka Consumer and nothing else touches it.

The event loop does the work; this thread polls, hands records over, and carries out what
the loop asks (store offsets, pause, resume). Rebalance callbacks run here, in poll(), and
wait (bounded) for the loop to settle the partitions: librdkafka holds the rebalance until
they return, which is exactly the window to commit finished work before another member
takes over.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from confluent_kafka import Consumer, KafkaError, KafkaException, Message
from confluent_kafka import TopicPartition as KafkaTopicPartition

from stream_notifier.records import RawRecord, TopicPartition

log = logging.getLogger(__name__)


class ConsumerHandler(Protocol):
    """Implemented by the service; called on the event loop."""

    def on_records(self, records: list[RawRecord]) -> None: ...
    async def on_assigned(self, partitions: list[TopicPartition]) -> None: ...
    async def on_revoked(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]: ...
    def on_lost(self, partitions: list[TopicPartition]) -> None: ...
    def on_committed(self, offsets: dict[TopicPartition, int]) -> None: ...
    def on_fatal(self, error: Exception) -> None: ...


@dataclass(frozen=True, slots=True)
class ConsumerSettings:
    config: Mapping[str, Any]
    topics: tuple[str, ...]
    batch_size: int = 500
    poll_timeout_s: float = 0.05
    rebalance_timeout_s: float = 30.0


def to_raw(message: Message) -> RawRecord:
    _, timestamp = message.timestamp()
    topic, partition, offset = message.topic(), message.partition(), message.offset()
    assert topic is not None and partition is not None and offset is not None
    return RawRecord(
        topic=topic,
        partition=partition,
        offset=offset,
        key=_bytes(message.key()),
        value=_bytes(message.value()),
        headers=tuple((name, _bytes(value)) for name, value in _header_pairs(message)),
        timestamp_ms=timestamp if timestamp and timestamp > 0 else None,
    )


def _header_pairs(message: Message) -> list[tuple[str, Any]]:
    headers = message.headers()
    if not headers:
        return []
    return list(headers.items()) if isinstance(headers, dict) else list(headers)


def _bytes(value: str | bytes | None) -> bytes | None:
    return value.encode() if isinstance(value, str) else value


def _ours(partitions: list[KafkaTopicPartition]) -> list[TopicPartition]:
    return [TopicPartition(p.topic, p.partition) for p in partitions]


def _theirs(offsets: Mapping[TopicPartition, int]) -> list[KafkaTopicPartition]:
    return [KafkaTopicPartition(tp.topic, tp.partition, off) for tp, off in offsets.items()]


class ConsumerThread:
    def __init__(
        self,
        settings: ConsumerSettings,
        handler: ConsumerHandler,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._settings = settings
        self._handler = handler
        self._loop = loop
        self._commands: queue.SimpleQueue[Callable[[Consumer], None]] = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._fetching = threading.Event()
        self._fetching.set()
        self._consumer: Consumer | None = None
        self._thread = threading.Thread(target=self._run, name="kafka-consumer", daemon=True)
        self.closed = asyncio.Event()

    def start(self) -> None:
        self._consumer = Consumer({**self._settings.config, "on_commit": self._committed})
        self._consumer.subscribe(
            list(self._settings.topics),
            on_assign=self._assigned,
            on_revoke=self._revoked,
            on_lost=self._lost,
        )
        self._thread.start()

    # --- called from the event loop -------------------------------------------------------

    def store(self, offsets: Mapping[TopicPartition, int]) -> None:
        if offsets:
            batch = dict(offsets)
            self._commands.put(lambda c: _store(c, batch))

    def pause(self, partitions: list[TopicPartition]) -> None:
        if partitions:
            self._commands.put(lambda c: c.pause(_theirs({tp: -1001 for tp in partitions})))

    def resume(self, partitions: list[TopicPartition]) -> None:
        if partitions:
            self._commands.put(lambda c: c.resume(_theirs({tp: -1001 for tp in partitions})))

    def stop_fetching(self) -> None:
        self._fetching.clear()

    def close(self, final_offsets: Mapping[TopicPartition, int]) -> None:
        """Store the last offsets, commit them, leave the group; `closed` is set when done."""
        self.store(final_offsets)
        self._stopping.set()

    # --- the consumer thread ---------------------------------------------------------------

    def _run(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        try:
            while not self._stopping.is_set():
                self._apply_commands(consumer)
                if not self._fetching.is_set():
                    # Draining before shutdown: apply commands, take no more records.
                    self._stopping.wait(self._settings.poll_timeout_s)
                    continue
                messages = self._next_batch(consumer)
                records = self._records(messages)
                if records:
                    self._loop.call_soon_threadsafe(self._handler.on_records, records)
            self._apply_commands(consumer)
            _commit(consumer)
        except Exception as exc:  # the loop decides what a dead consumer means
            log.exception("consumer thread failed")
            self._loop.call_soon_threadsafe(self._handler.on_fatal, exc)
        finally:
            try:
                consumer.close()
            except Exception:
                log.exception("closing the consumer failed")
            self._loop.call_soon_threadsafe(self.closed.set)

    def _next_batch(self, consumer: Consumer) -> list[Message]:
        """Whatever is already fetched, else wait for the first record only: consume() with a
        timeout waits for a full batch, which at a steady trickle adds its whole timeout to
        every record's latency."""
        messages = consumer.consume(num_messages=self._settings.batch_size, timeout=0)
        if messages:
            return messages
        first = consumer.poll(self._settings.poll_timeout_s)
        if first is None:
            return []
        rest = consumer.consume(num_messages=self._settings.batch_size - 1, timeout=0)
        return [first, *rest]

    def _records(self, messages: list[Message]) -> list[RawRecord]:
        records = []
        for message in messages:
            error = message.error()
            if error is None:
                records.append(to_raw(message))
            elif error.code() == KafkaError._PARTITION_EOF:
                continue
            elif error.fatal():
                raise KafkaException(error)
            else:
                log.warning("consumer error (librdkafka retries it): %s", error)
        return records

    def _apply_commands(self, consumer: Consumer) -> None:
        while True:
            try:
                command = self._commands.get_nowait()
            except queue.Empty:
                return
            try:
                command(consumer)
            except KafkaException as exc:
                # Pausing or resuming a partition revoked in the meantime: nothing to do.
                log.debug("consumer command skipped: %s", exc)

    def _assigned(self, consumer: Consumer, partitions: list[KafkaTopicPartition]) -> None:
        # Assign paused: nothing is fetched until the loop resumes a partition, which it does
        # once that partition's state is restored.
        consumer.incremental_assign(partitions)
        if partitions:
            consumer.pause(partitions)
        self._await_loop(self._handler.on_assigned(_ours(partitions)))

    def _revoked(self, consumer: Consumer, partitions: list[KafkaTopicPartition]) -> None:
        # Offsets the loop stored earlier are still queued as commands: apply them first.
        self._apply_commands(consumer)
        offsets = self._await_loop(self._handler.on_revoked(_ours(partitions)))
        if offsets:
            _store(consumer, offsets)
            _commit(consumer, offsets)

    def _committed(self, error: KafkaError | None, partitions: list[KafkaTopicPartition]) -> None:
        if error is not None:
            return
        offsets = {
            TopicPartition(p.topic, p.partition): p.offset
            for p in partitions
            if p.error is None and p.offset >= 0
        }
        if offsets:
            self._loop.call_soon_threadsafe(self._handler.on_committed, offsets)

    def _lost(self, consumer: Consumer, partitions: list[KafkaTopicPartition]) -> None:
        self._loop.call_soon_threadsafe(self._handler.on_lost, _ours(partitions))

    def _await_loop(self, coroutine: Any) -> Any:
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result(timeout=self._settings.rebalance_timeout_s)
        except TimeoutError:
            future.cancel()
            log.error("the event loop did not settle a rebalance in time; continuing without it")
            return None


def _store(consumer: Consumer, offsets: Mapping[TopicPartition, int]) -> None:
    try:
        consumer.store_offsets(offsets=_theirs(offsets))
    except KafkaException as exc:
        # Partitions revoked meanwhile cannot be stored; their new owner starts from the
        # last commit, which is the at-least-once side of the trade.
        log.debug("could not store offsets %s: %s", offsets, exc)


def _commit(consumer: Consumer, offsets: Mapping[TopicPartition, int] | None = None) -> None:
    try:
        if offsets:
            consumer.commit(offsets=_theirs(offsets), asynchronous=False)
        else:
            consumer.commit(asynchronous=False)
    except KafkaException as exc:
        if exc.args and exc.args[0].code() == KafkaError._NO_OFFSET:
            return
        log.warning("commit failed: %s", exc)
