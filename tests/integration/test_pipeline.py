"""The delivery pipeline end to end: real broker, real service process, dev sink on loopback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from stream_notifier.devsink.server import run_sink_in_thread
from tests.conftest import NewTopicFactory
from tests.integration.harness import (
    ServiceProcess,
    committed,
    example_event,
    headers_of,
    produce_events,
    wait_committed,
    wait_until,
    write_config,
)
from tests.kafka_helpers import consume_all

pytestmark = pytest.mark.integration
EXPECTED = Path(__file__).resolve().parents[1] / "data" / "expected"
EXAMPLES = ("api-key-revoked", "invite-accepted", "webhook-endpoint-disabled")


def test_example_events_arrive_with_exactly_the_expected_bodies(
    kafka_bootstrap: str, new_topic: NewTopicFactory, tmp_path: Path
) -> None:
    topic = new_topic(partitions=1)
    with run_sink_in_thread() as sink:
        config, group = write_config(
            tmp_path, bootstrap=kafka_bootstrap, topics=[topic], sink_url=sink.base_url
        )
        # Both CloudEvents modes: structured for the first two, binary for the last.
        produce_events(
            kafka_bootstrap,
            topic,
            [(b"a", example_event(EXAMPLES[0])), (b"b", example_event(EXAMPLES[1]))],
        )
        produce_events(kafka_bootstrap, topic, [(b"c", example_event(EXAMPLES[2]))], mode="binary")
        with ServiceProcess(config) as service:
            received = sink.client().wait_for(3, timeout=60)
            wait_committed(kafka_bootstrap, group, topic, [3])
            assert service.terminate() == 0, service.logs()
    bodies = {r["body"]["metadata"]["event_id"]: r["body"] for r in received}
    assert len(received) == 3
    for name in EXAMPLES:
        expected = orjson.loads((EXPECTED / f"{name}.json").read_bytes())
        assert bodies[expected["metadata"]["event_id"]] == expected
    keys = {r["idempotency_key"] for r in received}
    assert len(keys) == 3 and all(keys)


def _invalid_scope_event() -> dict[str, Any]:
    event = example_event("webhook-endpoint-disabled")
    event["id"] = "evt_invalid_scope"
    event["data"]["organization_id"] = "acme-corp"
    return event


def _rejected_event() -> dict[str, Any]:
    event = example_event("api-key-revoked")
    event["id"] = "evt_rejected_by_api"
    return event


def test_bad_input_and_permanent_failures_are_dead_lettered_and_later_records_flow(
    kafka_bootstrap: str, new_topic: NewTopicFactory, tmp_path: Path
) -> None:
    topic = new_topic(partitions=1)
    with run_sink_in_thread() as sink:
        sink.client().set_faults(status=422, match={"metadata.event_id": "evt_rejected_by_api"})
        config, group = write_config(
            tmp_path, bootstrap=kafka_bootstrap, topics=[topic], sink_url=sink.base_url
        )
        produce_events(
            kafka_bootstrap,
            topic,
            [
                (b"k1", b"{not json"),
                (b"k2", example_event("unknown-type")),
                (b"k3", example_event("missing-variable")),
                (b"k4", _invalid_scope_event()),
                (b"k5", _rejected_event()),
                (b"k6", example_event("invite-accepted")),
            ],
        )
        with ServiceProcess(config, "--strict-routes") as service:
            delivered = sink.client().wait_for(1, timeout=60)
            wait_committed(kafka_bootstrap, group, topic, [6])
            assert service.terminate() == 0, service.logs()
    assert [r["body"]["metadata"]["event_id"] for r in delivered] == ["evt_01HZX4W2B6N8C4F7"]

    letters = consume_all(kafka_bootstrap, f"{topic}.dlq")
    stages = {}
    for letter in letters:
        headers = headers_of(letter)
        assert headers["__connect.errors.topic"] == topic
        assert headers["__connect.errors.partition"] == "0"
        stages[int(headers["__connect.errors.offset"])] = (headers, letter)
    assert sorted(stages) == [0, 1, 2, 3, 4]
    expected = {
        0: ("decode", "DecodeError"),
        1: ("route", "RoutingError"),
        2: ("render", "RenderError"),
        3: ("validate", "ValidationError"),
        4: ("publish", "PermanentPublishError"),
    }
    for offset, (stage, error_class) in expected.items():
        headers, letter = stages[offset]
        assert headers["__connect.errors.stage"] == stage
        assert headers["__connect.errors.class.name"] == error_class
    assert stages[0][1].value() == b"{not json"
    assert stages[0][1].key() == b"k1"
    assert "invitee_email" in stages[2][0]["__connect.errors.exception.message"]
    assert stages[4][0]["stream_notifier.errors.http.status"] == "422"
    assert stages[4][0]["stream_notifier.errors.route"] == "api-key-revoked"
    # The original CloudEvents headers travel with the dead letter for a redrive.
    assert stages[1][0]["content-type"] == "application/cloudevents+json"


def test_nothing_is_committed_before_delivery_and_a_killed_service_delivers_after_restart(
    kafka_bootstrap: str, new_topic: NewTopicFactory, tmp_path: Path
) -> None:
    topic = new_topic(partitions=1)
    with run_sink_in_thread() as sink:
        client = sink.client()
        client.set_faults(status=503)
        config, group = write_config(
            tmp_path,
            bootstrap=kafka_bootstrap,
            topics=[topic],
            sink_url=sink.base_url,
            delivery={
                "retry": {
                    "max_attempts": 1000,
                    "initial_backoff": "50ms",
                    "max_backoff": "100ms",
                    "max_elapsed": "10m",
                }
            },
        )
        produce_events(kafka_bootstrap, topic, [(b"k", example_event("invite-accepted"))])
        with ServiceProcess(config) as first:
            wait_until(
                lambda: client.stats()["by_status"].get("503", 0) >= 5,
                60,
                "several failed attempts",
            )
            assert committed(kafka_bootstrap, group, topic) == [None]
            first.kill()
        assert committed(kafka_bootstrap, group, topic) == [None]
        assert client.requests() == []

        client.clear_faults()
        with ServiceProcess(config) as second:
            delivered = client.wait_for(1, timeout=60)
            wait_committed(kafka_bootstrap, group, topic, [1])
            assert second.terminate() == 0, second.logs()
    assert delivered[0]["body"]["metadata"]["event_id"] == "evt_01HZX4W2B6N8C4F7"


def test_rejected_credentials_stop_the_service_without_committing_past_the_record(
    kafka_bootstrap: str, new_topic: NewTopicFactory, tmp_path: Path
) -> None:
    topic = new_topic(partitions=1)
    with run_sink_in_thread(api_key="the-right-key") as sink:
        config, group = write_config(
            tmp_path,
            bootstrap=kafka_bootstrap,
            topics=[topic],
            sink_url=sink.base_url,
            api_key="a-revoked-key",
        )
        produce_events(kafka_bootstrap, topic, [(b"k", example_event(n)) for n in EXAMPLES])
        with ServiceProcess(config) as service:
            code = service.wait(60)
            logs = service.logs()
        assert code == 3, logs
        assert "refused our credentials" in logs
        assert "a-revoked-key" not in logs
        assert committed(kafka_bootstrap, group, topic) in ([None], [0])
        assert consume_all(kafka_bootstrap, topic)  # the records are still there
        assert sink.client().requests() == []


def test_shutdown_is_prompt_while_a_record_waits_for_its_retry(
    kafka_bootstrap: str, new_topic: NewTopicFactory, tmp_path: Path
) -> None:
    topic = new_topic(partitions=1)
    with run_sink_in_thread() as sink:
        client = sink.client()
        client.set_faults(status=500)
        config, group = write_config(
            tmp_path,
            bootstrap=kafka_bootstrap,
            topics=[topic],
            sink_url=sink.base_url,
            delivery={
                "retry": {
                    "max_attempts": 10,
                    "initial_backoff": "30s",
                    "max_backoff": "60s",
                    "max_elapsed": "10m",
                }
            },
        )
        produce_events(kafka_bootstrap, topic, [(b"k", example_event("invite-accepted"))])
        with ServiceProcess(config) as service:
            wait_until(
                lambda: client.stats()["by_status"].get("500", 0) >= 1,
                60,
                "the first failed attempt",
            )
            code = service.terminate(timeout=20)
            assert code == 0, service.logs()
        assert committed(kafka_bootstrap, group, topic) == [None]
