"""The service: wires the Kafka edge, the pure pipeline, the publisher and dead letters.

Order of events for one record (the commit order, documented in one place):
  1. the consumer thread hands it over; its offset is registered as started;
  2. it is prepared (decode, route, render, validate) right away, on the loop;
  3. it waits for its ordering key; a notification the ledger says was delivered, or one a
     dedupe window suppresses, is not sent; the others are published (retrying what is
     transient) or dead-lettered, a dead letter counting only once the broker acked it;
  4. on the API's 200 the ordering key is handed on; the ledger entry (and dedupe window)
     is written to the changelog while the request slot is still held;
  5. only once those writes are acknowledged is the offset marked finished; the tracker
     stores the contiguous prefix and librdkafka commits stored offsets on its interval,
     on revoke and on shutdown; the commit releases the ledger entries below it.
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
from stream_notifier.decode.dispatch import TopicDecoders
from stream_notifier.errors import DeploymentError, ErrorContext, StreamNotifierError
from stream_notifier.kafka import AsyncProducer, ConsumerSettings, ConsumerThread
from stream_notifier.offsets import OffsetTracker
from stream_notifier.ordering import KeyedQueue
from stream_notifier.pipeline import Prepared, Preparer
from stream_notifier.publish.client import NotificationsClient
from stream_notifier.publish.concurrency import AdaptiveLimit
from stream_notifier.publish.publisher import Publisher, PublishFailed, PublishStats, Sender
from stream_notifier.publish.ratelimit import RateLimiter, TokenBucket
from stream_notifier.records import RawRecord, TopicPartition
from stream_notifier.render.notification import Notification
from stream_notifier.routing import Router
from stream_notifier.state.manager import StateManager
from stream_notifier.state.store import PartitionStore

log = logging.getLogger("stream_notifier")

EXIT_OK = 0
EXIT_DEPLOYMENT_FAULT = 3
EXIT_KAFKA_FAULT = 4
EXIT_INTERNAL_FAULT = 5
_STORE_DELAY_S = 0.05
_WRITE_MAX_BACKOFF_S = 30.0


@dataclass(eq=False)
class Job:
    prepared: Prepared
    key: Hashable | None
    task: asyncio.Task[None] | None = field(default=None, repr=False)
    released: bool = False  # its ordering key was handed on
    finished: bool = False  # delivered, suppressed or dead-lettered: its offset may go

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
            TopicDecoders(config.decoding),
            Router(config.routes),
            ordering=delivery.ordering,
            strict_routes=delivery.strict_routes,
        )
        self._client = sender or NotificationsClient(config.api)
        bucket = TokenBucket(delivery.rate_limit.per_second, delivery.rate_limit.burst)
        self._publisher = Publisher(
            self._client,
            RateLimiter(bucket, clock, sleep),
            delivery.retry,
            sleep=sleep,
            max_concurrent=delivery.max_concurrent_requests,
            adaptive=(
                AdaptiveLimit(
                    minimum=min(delivery.adaptive_min_requests, delivery.max_concurrent_requests),
                    maximum=delivery.max_concurrent_requests,
                )
                if delivery.adaptive_min_requests is not None
                else None
            ),
            clock=clock,
        )
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
        self._state: StateManager | None = None
        self._restoring: dict[TopicPartition, asyncio.Task[None]] = {}
        self._sending: dict[str, asyncio.Future[None]] = {}
        self._sweeper: asyncio.Task[None] | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        kafka = self.config.kafka
        self._producer = AsyncProducer(kafka.producer_config(), loop)
        if self.config.state.enabled:
            self._state = StateManager(
                self.config.state, kafka.producer_config(), kafka.group_id, self._producer
            )
            self._sweeper = loop.create_task(self._state.sweep_forever())
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
        reporter = loop.create_task(self._report_forever())
        await self._stop.wait()
        reporter.cancel()
        await self._shutdown()
        return self._exit_code

    async def _report_forever(self, every_s: float = 30.0) -> None:
        while True:
            await asyncio.sleep(every_s)
            log.info(
                "%s in_flight=%d repeat_on_crash=%d paused=%d",
                self.stats.summary(),
                self._in_flight,
                self.repeat_on_crash,
                len(self._paused),
            )

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
        for task in [*self._restoring.values(), *([self._sweeper] if self._sweeper else [])]:
            task.cancel()
        abandoned = self._cancel(lambda job: True)
        if abandoned:
            log.warning(
                "abandoned %d unfinished records; they are read again on restart", abandoned
            )
        log.info(
            "shutting down: %d finished records above the committed offsets "
            "(the ledger keeps them from being sent again)",
            self.repeat_on_crash,
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
        # A callback, not a `finally`: a task cancelled before its first step (a partition
        # lost in the same loop turn its records arrived) never runs its body at all.
        job.task.add_done_callback(lambda _task: self._job_done(job))

    async def _run_job(self, job: Job) -> None:
        try:
            prepared = await self._decodable(job.prepared)
            for index, outcome in enumerate(prepared.outcomes):
                last = index == len(prepared.outcomes) - 1
                await self._settle(job, outcome, last)
            job.finished = True
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
        except Exception:
            # A bug, not an outcome: stop loudly rather than stall the partition behind it.
            log.exception(
                "processing %s[%d]@%d failed unexpectedly; stopping",
                job.tp.topic,
                job.tp.partition,
                job.prepared.record.offset,
            )
            self.request_stop(EXIT_INTERNAL_FAULT)

    def _job_done(self, job: Job) -> None:
        self._running.get(job.tp, set()).discard(job)
        self._count_in_flight(-1)
        if job.finished:
            self._finish(job.tp, job.prepared.record.offset)
        self._release(job)
        self._relieve_backpressure(job.tp)

    def _release(self, job: Job) -> None:
        """Hand the job's ordering key to the next record waiting for it."""
        if job.released:
            return
        job.released = True
        following = self._queue.release(job.key)
        if following is not None and not self._stop.is_set():
            self._launch(following)
        elif following is not None:
            dropped = self._queue.discard(lambda j: j.key == job.key)
            self._count_in_flight(-1 - len(dropped))

    async def _decodable(self, prepared: Prepared) -> Prepared:
        """A record whose writer schema could not be fetched (registry outage) is prepared
        again with backoff until it decodes or fails for good: never dead-lettered for the
        outage, and holding its ordering key meanwhile so nothing overtakes it."""
        retry = self.config.delivery.retry
        backoff = retry.initial_backoff_s
        while (error := _retriable_error(prepared)) is not None:
            log.warning("%s; trying again in %.2fs", error, backoff)
            await self._sleep(backoff)
            backoff = min(backoff * 2, retry.max_backoff_s)
            # Off the loop: a registry that hangs takes its whole timeout to fail.
            prepared = await asyncio.to_thread(self._preparer.prepare, prepared.record)
        return prepared

    async def _settle(
        self, job: Job, outcome: Notification | StreamNotifierError, last: bool
    ) -> None:
        record = job.prepared.record
        if isinstance(outcome, StreamNotifierError):
            await self._dead_letter(record, outcome, attempts=0)
            return
        store = self._state.store(record.tp) if self._state is not None else None
        if store is not None and store.delivered(outcome.idempotency_key):
            # Delivered before a crash or rebalance, not yet committed: never twice.
            self.stats.replayed += 1
            return
        if store is None or outcome.dedupe is None:
            await self._publish(job, outcome, store, last)
            return
        identity = outcome.dedupe.identity
        while (pending := self._sending.get(identity)) is not None:
            # An identical notification is on its way: its outcome decides this one's.
            await asyncio.shield(pending)
        if await self._suppress(record.tp, store, outcome):
            return
        sending: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sending[identity] = sending
        try:
            await self._publish(job, outcome, store, last)
        finally:
            del self._sending[identity]
            sending.set_result(None)

    async def _suppress(
        self, tp: TopicPartition, store: PartitionStore, notification: Notification
    ) -> bool:
        assert self._state is not None and notification.dedupe is not None
        window = notification.dedupe
        now = self._state.now_ms()
        if not store.window_open(window.identity, now):
            return False
        self.stats.suppressed += 1
        log.debug("suppressed a repeat of %s inside its dedupe window", notification.route)
        if window.sliding:
            state = self._state
            changes = store.extend_window(window.identity, int(window.window_s * 1000), now)
            await self._until_written(f"changelog of {tp}", lambda: state.write(tp, changes))
        return True

    async def _publish(
        self, job: Job, notification: Notification, store: PartitionStore | None, last: bool
    ) -> None:
        record = job.prepared.record
        context = ErrorContext(record.topic, record.partition, record.offset, notification.route)

        async def remember(rows: int) -> None:
            self.stats.delivered += 1
            self.stats.rows += rows
            if last:
                # Delivered in order: the key's next record may go while this one's ledger
                # write is acknowledged (its offset still waits for that).
                self._release(job)
            if store is not None:
                # Between the API's 200 and this write's ack lies the only window in which
                # a crash can still repeat a notification; the request slot covers it.
                await self._remember(record, notification, store)

        try:
            await self._publisher.publish(notification, context, on_delivered=remember)
        except PublishFailed as failed:
            if isinstance(failed.error, DeploymentError):
                raise failed.error from None
            await self._dead_letter(record, failed.error, attempts=failed.attempts)

    async def _remember(
        self, record: RawRecord, notification: Notification, store: PartitionStore
    ) -> None:
        assert self._state is not None
        now = self._state.now_ms()
        changes = store.record_delivery(
            notification.idempotency_key,
            notification.route,
            record.offset,
            int(self._state.settings.ledger_ttl_s * 1000),
            now,
        )
        if notification.dedupe is not None:
            changes += store.open_window(
                notification.dedupe.identity,
                notification.route,
                int(notification.dedupe.window_s * 1000),
                now,
            )
        state = self._state
        await self._until_written(
            f"changelog of {record.tp}", lambda: state.write(record.tp, changes)
        )

    async def _dead_letter(
        self, record: RawRecord, error: StreamNotifierError, *, attempts: int
    ) -> None:
        producer = self._producer
        assert producer is not None
        topic = dead_letter_topic(self.config.dead_letter_topic, record)
        letter = dead_letter(record, error, topic=topic, attempts=attempts)
        log.warning("dead-lettering to %s: %s: %s", topic, error.stage, error)
        await self._until_written(
            topic, lambda: producer.send(letter.topic, letter.key, letter.value, letter.headers)
        )
        self.stats.dead_lettered += 1

    async def _until_written(self, what: str, write: Callable[[], Awaitable[None]]) -> None:
        """The record's offset must not move before this write is safe: keep trying."""
        backoff = 0.5
        while True:
            try:
                await write()
                return
            except StreamNotifierError as failure:
                log.error("write to %s failed (%s); retrying in %.1fs", what, failure, backoff)
                await self._sleep(backoff)
                backoff = min(backoff * 2, _WRITE_MAX_BACKOFF_S)

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
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def publish_stats(self) -> PublishStats:
        return self._publisher.stats

    @property
    def request_limit(self) -> int:
        adaptive = self._publisher.slots.adaptive
        return adaptive.allowed if adaptive else self.config.delivery.max_concurrent_requests

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
            if p not in self._restoring
            and self._offsets.in_progress(p) <= delivery.max_in_flight_per_partition * 3 // 4
        ]
        if ready:
            self._paused.difference_update(ready)
            self._consumer.resume(sorted(ready, key=str))

    # --- rebalances (awaited by the consumer thread) -------------------------------------------

    async def on_assigned(self, partitions: list[TopicPartition]) -> None:
        """Partitions arrive paused; each resumes once its state is restored."""
        self._assigned.update(partitions)
        log.info("assigned %s", ", ".join(map(str, partitions)) or "nothing")
        for tp in partitions:
            if self._state is None:
                self._resume_unless_saturated(tp)
            else:
                self._restoring[tp] = asyncio.get_running_loop().create_task(self._restore(tp))

    async def _restore(self, tp: TopicPartition) -> None:
        assert self._state is not None
        try:
            report = await self._state.restore(tp)
        except asyncio.CancelledError:
            self._done_restoring(tp)
            raise
        except Exception as error:
            # It stays among the restoring partitions, so nothing resumes it: its records
            # are never processed without their state. The service stops.
            log.critical("restoring state for %s failed: %s", tp, error)
            self.request_stop(EXIT_KAFKA_FAULT)
            return
        self._done_restoring(tp)
        self.stats.restored_entries += report.entries
        if tp in self._assigned:
            self._resume_unless_saturated(tp)

    def _done_restoring(self, tp: TopicPartition) -> None:
        # Only this task's own entry: after a quick revoke and reassign, a newer restore
        # of the same partition may already be registered.
        if self._restoring.get(tp) is asyncio.current_task():
            del self._restoring[tp]

    def _resume_unless_saturated(self, tp: TopicPartition) -> None:
        if self._consumer is None:
            return
        if self._in_flight >= self.config.delivery.max_in_flight:
            self._paused.add(tp)
        else:
            # Backpressure may have marked it while it restored: resumed now, it must not
            # stay marked, or backpressure would never pause it again.
            self._paused.discard(tp)
            self._consumer.resume([tp])

    def on_committed(self, offsets: dict[TopicPartition, int]) -> None:
        if self._state is not None:
            self._state.committed({tp: o for tp, o in offsets.items() if tp in self._assigned})

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
            restoring = self._restoring.pop(tp, None)
            if restoring is not None:
                restoring.cancel()
            if self._state is not None:
                self._state.drop(tp)


def _retriable_error(prepared: Prepared) -> StreamNotifierError | None:
    return next(
        (o for o in prepared.outcomes if isinstance(o, StreamNotifierError) and o.retriable),
        None,
    )
