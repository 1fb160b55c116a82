"""Dedupe windows and the delivery ledger, kept in a compacted changelog: real broker, real
service processes, dev sink on loopback."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from stream_notifier.devproduce import generate
from stream_notifier.devsink.server import run_sink_in_thread
from tests.conftest import NewTopicFactory
from tests.integration.harness import (
    ServiceProcess,
    committed,
    event_ids,
    example_event,
    produce_events,
    wait_committed,
    wait_until,
    write_config,
)
from tests.kafka_helpers import consume_all

pytestmark = pytest.mark.integration


def _disabled(event_id: str, endpoint: str = "ep_987") -> dict[str, Any]:
    event = example_event("webhook-endpoint-disabled")
    event["id"] = event_id
    event["data"]["endpoint_id"] = endpoint
    return event


def test_repeats_inside_the_window_are_suppressed_and_delivered_again_after_it(
    kafka_bootstrap: str, new_topic: NewTopicFactory, tmp_path: Path
) -> None:
    topic = new_topic(partitions=1)
    with run_sink_in_thread() as sink:
        client = sink.client()
        config, group = write_config(
            tmp_path,
            bootstrap=kafka_bootstrap,
            topics=[topic],
            sink_url=sink.base_url,
            dedupe={"key": "{{ data.endpoint_id }}", "window": "4s"},
        )
        with ServiceProcess(config) as service:
            produce_events(
                kafka_bootstrap, topic, [(b"ep", _disabled(f"evt_{i}")) for i in range(5)]
            )
            wait_committed(kafka_bootstrap, group, topic, [5])
            assert event_ids(client.requests()) == ["evt_0"]
            # Another endpoint is another identity: not suppressed.
            produce_events(kafka_bootstrap, topic, [(b"ep", _disabled("evt_other", "ep_1"))])
            wait_committed(kafka_bootstrap, group, topic, [6])
            time.sleep(4.5)
            produce_events(kafka_bootstrap, topic, [(b"ep", _disabled("evt_after"))])
            wait_committed(kafka_bootstrap, group, topic, [7])
            assert service.terminate() == 0, service.logs()
        assert event_ids(client.requests()) == ["evt_0", "evt_other", "evt_after"]
        assert "suppressed=4" in service.logs()


def test_a_failed_delivery_opens_no_window(
    kafka_bootstrap: str, new_topic: NewTopicFactory, tmp_path: Path
) -> None:
    topic = new_topic(partitions=1)
    with run_sink_in_thread() as sink:
        client = sink.client()
        client.set_faults(status=422, match={"metadata.event_id": "evt_rejected"})
        config, group = write_config(
            tmp_path,
            bootstrap=kafka_bootstrap,
            topics=[topic],
            sink_url=sink.base_url,
            dedupe={"key": "{{ data.endpoint_id }}", "window": "10m"},
        )
        produce_events(
            kafka_bootstrap,
            topic,
            [(b"ep", _disabled("evt_rejected")), (b"ep", _disabled("evt_next"))],
        )
        with ServiceProcess(config) as service:
            wait_committed(kafka_bootstrap, group, topic, [2])
            assert service.terminate() == 0, service.logs()
        assert event_ids(client.requests()) == ["evt_next"]
        assert len(consume_all(kafka_bootstrap, f"{topic}.dlq")) == 1


@pytest.mark.parametrize("stop", ["sigterm", "sigkill"])
def test_the_window_survives_a_restart(
    kafka_bootstrap: str, new_topic: NewTopicFactory, tmp_path: Path, stop: str
) -> None:
    topic = new_topic(partitions=1)
    with run_sink_in_thread() as sink:
        client = sink.client()
        config, group = write_config(
            tmp_path,
            bootstrap=kafka_bootstrap,
            topics=[topic],
            sink_url=sink.base_url,
            dedupe={"key": "{{ data.endpoint_id }}", "window": "10m"},
        )
        produce_events(kafka_bootstrap, topic, [(b"ep", _disabled("evt_first"))])
        with ServiceProcess(config) as first:
            wait_committed(kafka_bootstrap, group, topic, [1])
            if stop == "sigkill":
                first.kill()
            else:
                assert first.terminate() == 0, first.logs()
        produce_events(kafka_bootstrap, topic, [(b"ep", _disabled("evt_repeat"))])
        with ServiceProcess(config) as second:
            wait_committed(kafka_bootstrap, group, topic, [2])
            assert second.terminate() == 0, second.logs()
        assert event_ids(client.requests()) == ["evt_first"]
        assert "suppressed=1" in second.logs()


def test_a_partition_moving_to_another_member_keeps_its_window(
    kafka_bootstrap: str, new_topic: NewTopicFactory, tmp_path: Path
) -> None:
    topic = new_topic(partitions=2)
    with run_sink_in_thread() as sink:
        client = sink.client()
        config, group = write_config(
            tmp_path,
            bootstrap=kafka_bootstrap,
            topics=[topic],
            sink_url=sink.base_url,
            dedupe={"key": "{{ data.endpoint_id }}", "window": "10m"},
        )
        with ServiceProcess(config) as first, ServiceProcess(config) as second:
            # Both members own one partition each once the group settles.
            wait_until(
                lambda: (
                    "assigned" in first.logs()
                    and "assigned" in second.logs()
                    and _owns_one(first.logs())
                    and _owns_one(second.logs())
                ),
                60,
                "one partition per member",
            )
            for p in (0, 1):
                produce_events(
                    kafka_bootstrap,
                    topic,
                    [(b"ep", _disabled(f"evt_p{p}", f"ep_p{p}"))],
                    partition=p,
                )
            client.wait_for(2, timeout=60)
            assert first.terminate() == 0, first.logs()
            # The survivor takes both partitions over and restores their windows.
            for p in (0, 1):
                produce_events(
                    kafka_bootstrap,
                    topic,
                    [(b"ep", _disabled(f"evt_again_p{p}", f"ep_p{p}"))],
                    partition=p,
                )
            wait_until(
                lambda: committed(kafka_bootstrap, group, topic, 2) == [2, 2],
                60,
                "all four records settled",
            )
            assert second.terminate() == 0, second.logs()
        assert sorted(event_ids(client.requests())) == ["evt_p0", "evt_p1"]


def _owns_one(logs: str) -> bool:
    """Cooperative rebalancing: partitions come and go in increments; tally them."""
    owned = 0
    for line in logs.splitlines():
        for verb, sign in ((" assigned ", 1), (" revoked ", -1), (" lost ", -1)):
            if verb in line:
                owned += sign * line.split(verb, 1)[1].split(";")[0].count("[")
    return owned == 1


def test_after_sigkill_the_ledger_keeps_replayed_records_from_being_sent_again(
    kafka_bootstrap: str, new_topic: NewTopicFactory, tmp_path: Path
) -> None:
    topic = new_topic(partitions=2)
    total = 600
    events = generate(11, 40)
    produce_events(kafka_bootstrap, topic, [next(events) for _ in range(total)])
    with run_sink_in_thread(latency_ms=2, latency_jitter_ms=4) as sink:
        client = sink.client()
        config, _ = write_config(
            tmp_path,
            bootstrap=kafka_bootstrap,
            topics=[topic],
            sink_url=sink.base_url,
            # A long commit interval: at the kill, many delivered records are uncommitted.
            delivery={"max_concurrent_requests": 4},
        )
        text = config.read_text().replace("commit_interval: 200ms", "commit_interval: 30s")
        config.write_text(text)
        with ServiceProcess(config) as first:
            client.wait_for(250, timeout=120)
            first.kill()
        delivered_before = len(client.requests())
        with ServiceProcess(config) as second:
            wait_until(
                lambda: len(set(event_ids(client.requests()))) >= total,
                120,
                "every event delivered",
            )
            assert second.terminate() == 0, second.logs()
        ids = event_ids(client.requests())
    duplicates = len(ids) - len(set(ids))
    assert set(ids) == {e for e in _allevent_ids(kafka_bootstrap, topic)}
    assert "replayed=" in second.logs()
    replayed = int(second.logs().split("replayed=")[-1].split()[0])
    # Far more than the in-flight requests were uncommitted at the kill, and the ledger
    # stopped them; only a send that raced the kill (at most the 4 in flight) may repeat.
    assert replayed > 20, f"{replayed} replays suppressed of {delivered_before} delivered"
    assert duplicates <= 4


def _allevent_ids(bootstrap: str, topic: str) -> list[str]:
    import orjson

    return [orjson.loads(m.value() or b"{}")["id"] for m in consume_all(bootstrap, topic)]


def test_the_changelog_compacts_to_its_live_keys(
    kafka_bootstrap: str, new_topic: NewTopicFactory, tmp_path: Path
) -> None:
    topic = new_topic(partitions=1)
    compact_fast = {
        "segment.ms": "100",
        "min.cleanable.dirty.ratio": "0.01",
        "delete.retention.ms": "100",
        "min.compaction.lag.ms": "0",
    }
    with run_sink_in_thread() as sink:
        config, group = write_config(
            tmp_path,
            bootstrap=kafka_bootstrap,
            topics=[topic],
            sink_url=sink.base_url,
            dedupe={"key": "{{ data.endpoint_id }}", "window": "2s", "mode": "sliding"},
            state={"topic_config": compact_fast, "expiry_sweep": "200ms"},
        )
        # 10 endpoints, 30 repeats each: a sliding window rewrites its entry on every repeat.
        events = [(b"ep", _disabled(f"evt_{i}", f"ep_{i % 10}")) for i in range(300)]
        with ServiceProcess(config) as service:
            produce_events(kafka_bootstrap, topic, events)
            wait_committed(kafka_bootstrap, group, topic, [300])
            time.sleep(3)  # every window expires and is tombstoned
            assert service.terminate() == 0, service.logs()
    changelog = f"{group}.{topic}.changelog"
    assert "suppressed=290" in service.logs()
    # Offsets survive compaction: the end offset counts every write ever made (ledger
    # entries, windows, each sliding extension, tombstones).
    consumer = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": "watermarks"})
    _, written = consumer.get_watermark_offsets(TopicPartition(changelog, 0), timeout=10)
    consumer.close()
    assert written >= 310  # 10 ledger entries, 10 windows, 290 extensions, tombstones

    def compacted() -> bool:
        # A write after segment.ms rolls the active segment so the cleaner may take it.
        producer = Producer({"bootstrap.servers": kafka_bootstrap})
        producer.produce(changelog, key=b"roll", value=None, partition=0)
        producer.flush(10)
        live = [m for m in consume_all(kafka_bootstrap, changelog) if m.value() is not None]
        return len(consume_all(kafka_bootstrap, changelog)) <= 5 and not live

    wait_until(compacted, 90, "the changelog compacted to no live keys")
