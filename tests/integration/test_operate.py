"""Operator tools against the real broker: redrive dead letters, replay from an offset."""

from __future__ import annotations

from pathlib import Path

import pytest

from stream_notifier.cli import main
from stream_notifier.devsink.server import run_sink_in_thread
from tests.conftest import NewTopicFactory
from tests.integration.harness import (
    ServiceProcess,
    committed,
    example_event,
    produce_events,
    wait_committed,
    wait_until,
    write_config,
)
from tests.kafka_helpers import consume_all

pytestmark = pytest.mark.integration


def test_redrive_puts_matching_dead_letters_back_once(
    kafka_bootstrap: str,
    new_topic: NewTopicFactory,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    topic = new_topic(partitions=1)
    with run_sink_in_thread() as sink:
        client = sink.client()
        client.set_faults(status=422, match={"metadata.event_id": "evt_01HZX4W2B6N8C4F7"})
        config, group = write_config(
            tmp_path, bootstrap=kafka_bootstrap, topics=[topic], sink_url=sink.base_url
        )
        produce_events(
            kafka_bootstrap, topic, [(b"a", example_event("invite-accepted")), (b"b", b"{broken")]
        )
        with ServiceProcess(config) as service:
            wait_committed(kafka_bootstrap, group, topic, [2])  # both dead-lettered
            client.clear_faults()
            dlq = f"{topic}.dlq"
            args = [
                "redrive",
                dlq,
                "--bootstrap-servers",
                kafka_bootstrap,
                "--where",
                "stage=publish",
            ]
            assert main(args) == 0
            assert "redrove 1, left 1" in capsys.readouterr().out
            delivered = client.wait_for(1, timeout=60)
            assert main(args) == 0
            assert "redrove 0" in capsys.readouterr().out
            assert service.terminate() == 0, service.logs()
    assert delivered[0]["body"]["metadata"]["event_id"] == "evt_01HZX4W2B6N8C4F7"
    records = consume_all(kafka_bootstrap, topic)
    assert len(records) == 3
    redriven_headers = dict(records[2].headers() or [])
    assert redriven_headers["content-type"] == b"application/cloudevents+json"
    assert not any(k.startswith("__connect.errors.") for k in redriven_headers)


def test_replay_moves_a_stopped_group_back_and_the_events_are_delivered_again(
    kafka_bootstrap: str, new_topic: NewTopicFactory, tmp_path: Path
) -> None:
    topic = new_topic(partitions=1)
    names = ("api-key-revoked", "invite-accepted", "webhook-endpoint-disabled")
    with run_sink_in_thread() as sink:
        client = sink.client()
        config, group = write_config(
            tmp_path, bootstrap=kafka_bootstrap, topics=[topic], sink_url=sink.base_url
        )
        produce_events(kafka_bootstrap, topic, [(n.encode(), example_event(n)) for n in names])
        with ServiceProcess(config) as first:
            client.wait_for(3, timeout=60)
            wait_committed(kafka_bootstrap, group, topic, [3])
            # The committed offset passing the records releases their ledger entries.
            assert first.terminate() == 0, first.logs()
        assert main(["replay", "--config", str(config), "--topic", topic, "--to-offset", "1"]) == 0
        assert committed(kafka_bootstrap, group, topic) == [1]
        with ServiceProcess(config) as second:
            wait_until(lambda: len(client.requests()) >= 5, 60, "records 1 and 2 again")
            assert second.terminate() == 0, second.logs()
        assert len(client.requests()) == 5
