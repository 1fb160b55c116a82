"""The benchmark's data: generated domain events, their rendered bodies, and topics holding them.

Every system of a scenario reads the same events. A system too slow to drain the whole
backlog within the time budget reads a prefix of it from its own topic (same events, same
keys, same partitions), and its figure says how many it handled.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from bench.systems.common import preparer, render_record
from bench.verify import Expected
from stream_notifier.devproduce import encode, generate
from stream_notifier.records import RawRecord

PARTITIONS = 6
KEYS = 1000
SEED = 7
_EXAMPLE_ROUTES = Path(__file__).resolve().parent.parent / "examples" / "routes.yaml"


@dataclass(frozen=True, slots=True)
class BenchEvent:
    event_id: str
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    idempotency_key: str = ""
    body: bytes = b""

    @property
    def expected(self) -> Expected:
        return Expected(self.event_id, self.key)


def write_routes(directory: Path, *, dedupe_window: str | None = None) -> Path:
    """The example routes without their topic restriction: the benchmark's topics have
    their own names, and every route should apply to them. With `dedupe_window`, every
    route also suppresses repeats of the same event id inside that window."""
    routes = yaml.safe_load(_EXAMPLE_ROUTES.read_text())
    for route in routes["routes"]:
        route.pop("topics", None)
        if dedupe_window is not None:
            route["dedupe"] = {"key": "{{ id }}", "window": dedupe_window}
    path = directory / ("routes.yaml" if dedupe_window is None else "routes-dedupe.yaml")
    path.write_text(yaml.safe_dump(routes, sort_keys=False))
    return path


def to_bench_event(key: bytes, event: dict[str, Any]) -> BenchEvent:
    value, headers = encode(event, "structured")
    return BenchEvent(
        event_id=str(event["id"]),
        key=key,
        value=value,
        headers=tuple((k, v if isinstance(v, bytes) else str(v).encode()) for k, v in headers),
    )


def generate_events(
    count: int, routes: Path, *, seed: int = SEED, keys: int = KEYS
) -> list[BenchEvent]:
    """`count` events over `keys` keys, each rendered to the body every system must send."""
    prep = preparer(str(routes))
    source = generate(seed, keys)
    out = []
    for offset in range(count):
        key, document = next(source)
        event = to_bench_event(key, document)
        record = RawRecord("bench", 0, offset, event.key, event.value, event.headers)
        (notification,) = render_record(prep, record)  # one route per event type
        out.append(
            BenchEvent(
                event.event_id,
                event.key,
                event.value,
                event.headers,
                notification.idempotency_key,
                notification.payload,
            )
        )
    return out


def write_bodies(path: Path, events: Iterable[BenchEvent]) -> Path:
    with path.open("wb") as out:
        for event in events:
            out.write(event.idempotency_key.encode() + b" " + event.body + b"\n")
    return path


class Broker:
    """Topics this run created (and deletes at the end), and producing into them."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.admin = AdminClient({"bootstrap.servers": bootstrap})
        self.created: list[str] = []

    def create(
        self,
        name: str,
        partitions: int = PARTITIONS,
        config: Mapping[str, str] | None = None,
        timeout: float = 30.0,
    ) -> str:
        """Create `name` and return once every partition has a leader."""
        new = NewTopic(
            name, num_partitions=partitions, replication_factor=1, config=dict(config or {})
        )
        futures = self.admin.create_topics([new], operation_timeout=timeout)
        futures[name].result(timeout=timeout)
        self.created.append(name)
        deadline = time.monotonic() + timeout
        while True:
            topic = self.admin.list_topics(topic=name, timeout=timeout).topics.get(name)
            if (
                topic is not None
                and topic.error is None
                and len(topic.partitions) == partitions
                and all(p.leader >= 0 for p in topic.partitions.values())
            ):
                return name
            if time.monotonic() > deadline:
                raise TimeoutError(f"topic {name} has no leaders after {timeout}s")
            time.sleep(0.1)

    def partitions(self, topic: str) -> int:
        return len(self.admin.list_topics(topic=topic, timeout=30).topics[topic].partitions)

    def caught_up(self, group: str, topic: str) -> bool:
        """Whether `group` has committed every partition of `topic` up to its end."""
        consumer = Consumer(
            {"bootstrap.servers": self.bootstrap, "group.id": group, "enable.auto.commit": False}
        )
        try:
            tps = [TopicPartition(topic, p) for p in range(self.partitions(topic))]
            for tp in consumer.committed(tps, timeout=10):
                _, high = consumer.get_watermark_offsets(tp, timeout=10)
                if tp.offset < high:
                    return False
            return True
        finally:
            consumer.close()

    def produce_raw(
        self, topic: str, records: Iterable[tuple[bytes, bytes | None]], partition: int
    ) -> int:
        """Key/value pairs into one partition (a changelog's records, for instance)."""
        producer = Producer({"bootstrap.servers": self.bootstrap, "acks": "all", "linger.ms": 20})
        count = 0
        for key, value in records:
            while True:
                try:
                    producer.produce(topic, key=key, value=value, partition=partition)
                    break
                except BufferError:
                    producer.poll(0.05)
            count += 1
            if count % 10_000 == 0:
                producer.poll(0)
        if producer.flush(120):
            raise KafkaException(f"{topic}: not every record acked")
        return count

    def produce(self, topic: str, events: Iterable[BenchEvent]) -> int:
        producer = Producer({"bootstrap.servers": self.bootstrap, "acks": "all", "linger.ms": 20})
        errors: list[KafkaError] = []

        def report(error: KafkaError | None, _message: Message) -> None:
            if error is not None:
                errors.append(error)

        count = 0
        for event in events:
            _produce(producer, topic, event, report)
            count += 1
        if producer.flush(60) or errors:
            raise KafkaException(errors[0] if errors else f"{topic}: not every event acked")
        return count

    def delete_created(self) -> None:
        if not self.created:
            return
        for future in self.admin.delete_topics(self.created, operation_timeout=30).values():
            # Already gone, or the broker is shutting down: nothing left to clean.
            with contextlib.suppress(KafkaException):
                future.result(timeout=30)
        self.created.clear()


def _produce(
    producer: Producer,
    topic: str,
    event: BenchEvent,
    report: Callable[[KafkaError | None, Message], None],
) -> None:
    while True:
        try:
            producer.produce(
                topic,
                key=event.key,
                value=event.value,
                headers=list(event.headers),
                on_delivery=report,
            )
            producer.poll(0)
            return
        except BufferError:
            producer.poll(0.05)


@dataclass
class Dataset:
    """One backlog of events, and lazily one topic per prefix length a system needs."""

    name: str
    events: list[BenchEvent]
    broker: Broker
    workdir: Path
    _topics: dict[int, str] = field(default_factory=dict)
    _bodies: Path | None = None

    def topic(self, count: int) -> str:
        count = min(count, len(self.events))
        topic = self._topics.get(count)
        if topic is None:
            topic = self.broker.create(f"{self.name}-n{count}")
            self.broker.produce(topic, self.events[:count])
            self._topics[count] = topic
        return topic

    def expected(self, count: int) -> list[Expected]:
        return [e.expected for e in self.events[:count]]

    def bodies(self) -> Path:
        if self._bodies is None:
            self._bodies = write_bodies(self.workdir / f"{self.name}-bodies.txt", self.events)
        return self._bodies


class SteadyProducer:
    """Produces fresh events at a fixed rate in a thread and notes when each was produced.

    The note is taken on this machine's monotonic clock right before `produce()`, the same
    clock the dev sink stamps requests with, so produce-to-sink latency needs no clock sync.
    """

    def __init__(self, bootstrap: str, topic: str, *, seed: int, keys: int = KEYS) -> None:
        # A latency-minded producer: small linger, so batching does not dominate.
        self._producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 1})
        self._topic = topic
        self._source: Iterator[tuple[bytes, dict[str, Any]]] = generate(seed, keys)
        self.produced: list[BenchEvent] = []
        self.produced_ns: dict[str, int] = {}
        self._errors: list[KafkaError] = []
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def produce_one(self) -> BenchEvent:
        # generate() stamps the CloudEvent's `time` as it makes it, i.e. now.
        key, document = next(self._source)
        event = to_bench_event(key, document)
        self.produced_ns[event.event_id] = time.monotonic_ns()
        _produce(self._producer, self._topic, event, self._report)
        self.produced.append(event)
        return event

    def start(self, rate_per_s: float, duration_s: float) -> None:
        self._thread = threading.Thread(
            target=self._run, args=(rate_per_s, duration_s), name="steady-producer", daemon=True
        )
        self._thread.start()

    def join(self) -> None:
        if self._thread is not None:
            self._thread.join()
        if self._producer.flush(30) or self._errors:
            raise KafkaException(self._errors[0] if self._errors else "events not acked")

    def stop(self) -> None:
        self._stop.set()

    def _run(self, rate_per_s: float, duration_s: float) -> None:
        start = time.monotonic()
        total = int(rate_per_s * duration_s)
        for index in range(total):
            if self._stop.is_set():
                return
            delay = start + index / rate_per_s - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self.produce_one()
            self._producer.poll(0)

    def _report(self, error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            self._errors.append(error)


def with_repeats(events: list[BenchEvent], *, seed: int, max_gap: int = 200) -> list[BenchEvent]:
    """Each event followed, 1 to `max_gap` events later, by an exact repeat of itself (what
    a retrying producer or a flapping source sends): half the records are repeats."""
    rng = random.Random(seed)
    placed = [(float(i), e) for i, e in enumerate(events)]
    placed += [(i + rng.randint(1, max_gap) + 0.5, e) for i, e in enumerate(events)]
    placed.sort(key=lambda pair: pair[0])
    return [event for _, event in placed]
