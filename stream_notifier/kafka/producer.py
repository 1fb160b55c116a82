"""The producing edge: an idempotent producer whose delivery reports resolve asyncio futures.

A write counts only once the broker acknowledged it (acks=all): that acknowledgement is
what lets the consumer store the dead-lettered record's offset.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Mapping
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from stream_notifier.errors import ProduceError
from stream_notifier.records import Headers

log = logging.getLogger(__name__)


class AsyncProducer:
    def __init__(self, config: Mapping[str, Any], loop: asyncio.AbstractEventLoop) -> None:
        # A short linger: a notification's request slot waits for its ledger write's ack.
        settings = {"enable.idempotence": True, "acks": "all", "linger.ms": 1}
        settings.update(config)
        self._producer = Producer(settings)
        self._loop = loop
        # Delivery reports gathered during one poll() and handed to the loop in one wake-up:
        # one per report was a measurable share of the CPU at a few thousand writes a second.
        self._reports: list[tuple[asyncio.Future[None], KafkaError | None]] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="kafka-producer", daemon=True)
        self._thread.start()

    async def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: Headers = (),
        partition: int | None = None,
    ) -> None:
        await self.produce(topic, key, value, headers, partition)

    def produce(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: Headers = (),
        partition: int | None = None,
    ) -> asyncio.Future[None]:
        """Queue the write now (so writes keep the order of the calls); the future resolves
        when the broker acknowledged it."""
        future: asyncio.Future[None] = self._loop.create_future()

        def report(error: KafkaError | None, _message: Message) -> None:
            self._reports.append((future, error))

        try:
            if partition is None:
                self._producer.produce(
                    topic, value=value, key=key, headers=list(headers), on_delivery=report
                )
            else:
                self._producer.produce(
                    topic,
                    value=value,
                    key=key,
                    headers=list(headers),
                    on_delivery=report,
                    partition=partition,
                )
        except (BufferError, KafkaException) as exc:
            raise ProduceError(f"could not queue the write to {topic}: {exc}") from None
        return future

    def close(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        self._producer.flush(10)
        self._hand_over()

    def _poll(self) -> None:
        while not self._stopping.is_set():
            self._producer.poll(0.05)
            self._hand_over()

    def _hand_over(self) -> None:
        if self._reports:
            reports, self._reports = self._reports, []
            self._loop.call_soon_threadsafe(_settle, reports)


def _settle(reports: list[tuple[asyncio.Future[None], KafkaError | None]]) -> None:
    for future, error in reports:
        if future.done():
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(ProduceError(f"the broker refused the write: {error.str()}"))
