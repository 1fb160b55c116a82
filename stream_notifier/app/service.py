"""The service: wires the Kafka edge, the pure pipeline, the publisher and dead letters.

Order of events for one record (the commit order, documented in one place):
  1. the consumer thread hands it over; its offset is registered as started;
  2. it is prepared (decode, route, render, validate) right away, on the loop;
  3. it waits for its ordering key, then each notification is published (retrying what is
     transient) or dead-lettered; a dead letter counts only once the broker acknowledged it;
  4. only then is the offset marked finished; the tracker stores the contiguous prefix and
     librdkafka commits stored offsets on its interval, on revoke and on shutdown.
A record that no route matches is finished at step 2. A deployment fault (401/403) stops the
service and never finishes the failing record, so no commit passes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field

from stream_notifier.app.stats import Stats
from stream_notifier.config import AppConfig
from stream_notifier.deadletter import dead_letter, dead_letter_topic
from stream_notifier.decode import CloudEventsJsonDecoder
from stream_notifier.errors import DeploymentError, ErrorContext, StreamNotifierError
from stream_notifier.kafka import AsyncProducer, ConsumerSettings, ConsumerThread
from stream_notifier.offsets import OffsetTracker
from stream_notifier.ordering import KeyedQueue
from stream_notifier.pipeline import Prepared, Preparer
from stream_notifier.publish.client import NotificationsClient
from stream_notifier.publish.publisher import Publisher, PublishFailed, Sender
from stream_notifier.publish.ratelimit import RateLimiter, TokenBucket
from stream_notifier.records import RawRecord, TopicPartition
from stream_notifier.render.notification import Notification
from stream_notifier.routing import Router

log = logging.getLogger("stream_notifier")

EXIT_OK = 0
EXIT_DEPLOYMENT_FAULT = 3
EXIT_KAFKA_FAULT = 4
_STORE_DELAY_S = 0.05
_DEAD_LETTER_MAX_BACKOFF_S = 30.0


@dataclass(eq=False)
class Job:
    prepared: Prepared
    key: Hashable | None
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def tp(self) -> TopicPartition:
        return self.prepared.record.tp


class Service:
    def __init__(
        self,
        config: AppConfig,
        *,
        sender: Sender | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.config = config
        delivery = config.delivery
        self.stats = Stats()
        self._preparer = Preparer(
            CloudEventsJsonDecoder(),
            Router(config.routes),
            ordering=delivery.ordering,
            strict_routes=delivery.strict_routes,
        )
        self._client = sender or NotificationsClient(config.api)
        bucket = TokenBucket(delivery.rate_limit.per_second, delivery.rate_limit.burst)
        self._publisher = Publisher(
            self._client, RateLimiter(bucket, clock, sleep), delivery.retry, sleep=sleep
        )
        self._request_slots = asyncio.Semaphore(delivery.max_concurrent_requests)
        self._sleep = sleep
        self._offsets = OffsetTracker()
        self._queue: KeyedQueue[Job] = KeyedQueue()
        self._running: dict[TopicPartition, set[Job]] = {}
        self._assigned: set[TopicPartition] = set()
        self._paused: set[TopicPartition] = set()
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._store_scheduled = False
        self._stop = asyncio.Event()
        self._exit_code = EXIT_OK
        self._consumer: ConsumerThread | None = None
        self._producer: AsyncProducer | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        kafka = self.config.kafka
        self._producer = AsyncProducer(kafka.producer_config(), loop)
        self._consumer = ConsumerThread(
            ConsumerSettings(
                kafka.consumer_config(),
                kafka.topics,
                rebalance_timeout_s=self.config.delivery.rebalance_timeout_s + 5,
            ),
            self,
            loop,
        )
        self._consumer.start()
        log.info(
            "consuming %s as group %s; publishing to %r; ordering=%s",
            list(kafka.topics),
            kafka.group_id,
            self.config.api,
            self.config.delivery.ordering,
        )
        await self._stop.wait()
        await self._shutdown()
        return self._exit_code

    def request_stop(self, exit_code: int = EXIT_OK) -> None:
        if exit_code != EXIT_OK and self._exit_code == EXIT_OK:
            self._exit_code = exit_code
        self._stop.set()

    async def _shutdown(self) -> None:
        assert self._consumer is not None and self._producer is not None
        self._consumer.stop_fetching()
        if self._exit_code == EXIT_OK:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), self.config.delivery.shutdown_timeout_s)
        abandoned = self._cancel(lambda job: True)
        if abandoned:
            log.warning(
                "abandoned %d unfinished records; they are read again on restart", abandoned
            )
        self._consumer.close(self._offsets.to_store())
        await self._consumer.closed.wait()
        await asyncio.to_thread(self._producer.close)
        if isinstance(self._client, NotificationsClient):
            await self._client.aclose()
        log.info("stopped: %s", self.stats.summary())

    # --- records (consumer handler, on the loop) ----------------------------------------------

    def on_records(self, records: list[RawRecord]) -> None:
        touched = set()
        for record in records:
            tp = record.tp
            if tp not in self._assigned:
                continue  # revoked between poll and now: the new owner reads it
            if not self._offsets.start(tp, record.offset):
                continue  # already seen in this assignment: it is in progress or done
            self.stats.consumed += 1
            prepared = self._preparer.prepare(record)
            if prepared.unrouted:
                self.stats.skipped += 1
                self._finish(tp, record.offset)
                continue
            job = Job(prepared, prepared.ordering_key)
            self._count_in_flight(1)
            touched.add(tp)
            if self._queue.submit(job.key, job):
                self._launch(job)
        self._apply_backpressure(touched)

    def _launch(self, job: Job) -> None:
        self._running.setdefault(job.tp, set()).add(job)
        job.task = asyncio.get_running_loop().create_task(self._run_job(job))

    async def _run_job(self, job: Job) -> None:
        finished = False
        try:
            for outcome in job.prepared.outcomes:
                await self._settle(job.prepared.record, outcome)
            finished = True
        except DeploymentError as error:
            log.critical(
                "the notifications API refused our credentials (%s): stopping without "
                "committing past %s[%d]@%d; fix the API key or its permissions",
                error,
                job.tp.topic,
                job.tp.partition,
                job.prepared.record.offset,
            )
            self.request_stop(EXIT_DEPLOYMENT_FAULT)
        finally:
            self._running.get(job.tp, set()).discard(job)
            self._count_in_flight(-1)
            if finished:
                self._finish(job.tp, job.prepared.record.offset)
            following = self._queue.release(job.key)
            if following is not None and not self._stop.is_set():
                self._launch(following)
            elif following is not None:
                dropped = self._queue.discard(lambda j: j.key == job.key)
                self._count_in_flight(-1 - len(dropped))
            self._relieve_backpressure(job.tp)

    async def _settle(self, record: RawRecord, outcome: Notification | StreamNotifierError) -> None:
        if isinstance(outcome, StreamNotifierError):
            await self._dead_letter(record, outcome, attempts=0)
            return
        context = ErrorContext(record.topic, record.partition, record.offset, outcome.route)
        try:
            async with self._request_slots:
                delivered = await self._publisher.publish(outcome, context)
        except PublishFailed as failed:
            if isinstance(failed.error, DeploymentError):
                raise failed.error from None
            await self._dead_letter(record, failed.error, attempts=failed.attempts)
            return
        self.stats.delivered += 1
        self.stats.rows += delivered.rows

    async def _dead_letter(
        self, record: RawRecord, error: StreamNotifierError, *, attempts: int
    ) -> None:
        assert self._producer is not None
        topic = dead_letter_topic(self.config.dead_letter_topic, record)
        letter = dead_letter(record, error, topic=topic, attempts=attempts)
        log.warning("dead-lettering to %s: %s: %s", topic, error.stage, error)
        backoff = 0.5
        while True:
            try:
                await self._producer.send(letter.topic, letter.key, letter.value, letter.headers)
                break
            except StreamNotifierError as failure:
                # The offset must not move until the dead letter is safe: keep trying.
                log.error(
                    "dead-letter write to %s failed (%s); retrying in %.1fs",
                    topic,
                    failure,
                    backoff,
                )
                await self._sleep(backoff)
                backoff = min(backoff * 2, _DEAD_LETTER_MAX_BACKOFF_S)
        self.stats.dead_lettered += 1

    def _count_in_flight(self, delta: int) -> None:
        self._in_flight += delta
        if self._in_flight:
            self._idle.clear()
        else:
            self._idle.set()

    # --- offsets --------------------------------------------------------------------------

    def _finish(self, tp: TopicPartition, offset: int) -> None:
        if tp not in self._assigned:
            return
        self._offsets.finish(tp, offset)
        if not self._store_scheduled:
            self._store_scheduled = True
            asyncio.get_running_loop().call_later(_STORE_DELAY_S, self._store_offsets)

    def _store_offsets(self) -> None:
        self._store_scheduled = False
        if self._consumer is not None:
            self._consumer.store(self._offsets.to_store())

    @property
    def idle(self) -> bool:
        return self._idle.is_set()

    @property
    def repeat_on_crash(self) -> int:
        """Finished records above the committable offsets: what a crash now would redo."""
        return self._offsets.finished_above_committable()

    # --- backpressure -----------------------------------------------------------------------

    def _apply_backpressure(self, touched: set[TopicPartition]) -> None:
        delivery = self.config.delivery
        if self._in_flight >= delivery.max_in_flight:
            targets = self._assigned - self._paused
        else:
            targets = {
                tp
                for tp in touched - self._paused
                if self._offsets.in_progress(tp) >= delivery.max_in_flight_per_partition
            }
        if targets and self._consumer is not None:
            self._paused |= targets
            self.stats.pauses += len(targets)
            self._consumer.pause(sorted(targets, key=str))

    def _relieve_backpressure(self, tp: TopicPartition) -> None:
        if not self._paused or self._consumer is None:
            return
        delivery = self.config.delivery
        if self._in_flight > delivery.max_in_flight * 3 // 4:
            return
        ready = [
            p
            for p in self._paused
            if self._offsets.in_progress(p) <= delivery.max_in_flight_per_partition * 3 // 4
        ]
        if ready:
            self._paused.difference_update(ready)
            self._consumer.resume(sorted(ready, key=str))

    # --- rebalances (awaited by the consumer thread) -------------------------------------------

    async def on_assigned(self, partitions: list[TopicPartition]) -> None:
        self._assigned.update(partitions)
        log.info("assigned %s", ", ".join(map(str, partitions)) or "nothing")
        if self._in_flight >= self.config.delivery.max_in_flight and self._consumer is not None:
            self._paused.update(partitions)
            self._consumer.pause(partitions)

    async def on_revoked(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        revoked = set(partitions)
        self._discard_waiting(revoked)
        running = [job.task for tp in revoked for job in self._running.get(tp, ()) if job.task]
        if running:
            await asyncio.wait(running, timeout=self.config.delivery.rebalance_timeout_s)
        self._cancel(lambda job: job.tp in revoked)
        final = {tp: off for tp in revoked if (off := self._offsets.committable(tp)) is not None}
        self._forget(revoked)
        log.info("revoked %s; committing %s", ", ".join(map(str, partitions)), final)
        return final

    def on_lost(self, partitions: list[TopicPartition]) -> None:
        lost = set(partitions)
        self._discard_waiting(lost)
        self._cancel(lambda job: job.tp in lost)
        self._forget(lost)
        log.warning(
            "lost %s without committing; another member owns them now",
            ", ".join(map(str, partitions)),
        )

    def on_fatal(self, error: Exception) -> None:
        log.critical("the Kafka consumer failed: %s", error)
        self.request_stop(EXIT_KAFKA_FAULT)

    def _discard_waiting(self, partitions: set[TopicPartition]) -> None:
        self._count_in_flight(-len(self._queue.discard(lambda job: job.tp in partitions)))

    def _cancel(self, chosen: Callable[[Job], bool]) -> int:
        jobs = [job for jobs in self._running.values() for job in jobs if chosen(job)]
        for job in jobs:
            if job.task is not None:
                job.task.cancel()
        return len(jobs)

    def _forget(self, partitions: set[TopicPartition]) -> None:
        for tp in partitions:
            self._assigned.discard(tp)
            self._paused.discard(tp)
            self._offsets.drop(tp)
            self._running.pop(tp, None)
