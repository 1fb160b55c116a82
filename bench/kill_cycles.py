"""`python -m bench.kill_cycles`: duplicates over ten SIGKILL-and-restart cycles.

A 20,000-event backlog drains through the real service while it is SIGKILLed ten times
mid-stream and restarted; at the end every event must have been delivered, and the sink
counts notifications delivered more than once (by idempotency key). The same run with the
ledger switched off is the baseline: what commit-after-success alone would repeat.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from stream_notifier.devproduce import encode, generate
from stream_notifier.devsink.server import run_sink_in_thread

REPO = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args(argv)
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    topic = f"bench.kills.{int(time.time())}"
    _create(bootstrap, topic, partitions=3)
    _fill(bootstrap, topic, args.events)
    results = {}
    for ledger in (True, False):
        results[ledger] = _cycles(bootstrap, topic, args, ledger)
    for ledger, (delivered, duplicates, seconds) in results.items():
        name = "with ledger" if ledger else "ledger off (baseline)"
        print(
            f"{name:24s} delivered={delivered} duplicates={duplicates} "
            f"({duplicates / args.events:.4%} of events) in {seconds:.0f}s"
        )
    with_ledger, baseline = results[True][1], results[False][1]
    ratio = f"{with_ledger / baseline:.3f}" if baseline else "n/a"
    print(f"duplicates with the ledger / baseline = {ratio} over {args.kills} SIGKILLs")
    return 0


def _cycles(
    bootstrap: str, topic: str, args: argparse.Namespace, ledger: bool
) -> tuple[int, int, float]:
    started = time.monotonic()
    with (
        run_sink_in_thread(latency_ms=1, latency_jitter_ms=3, max_records=None) as sink,
        tempfile.TemporaryDirectory() as tmp,
    ):
        client = sink.client()
        config = _config(Path(tmp), bootstrap, topic, sink.base_url, args.concurrency, ledger)
        step = args.events // (args.kills + 2)
        for kill in range(args.kills):
            service = _start(config, Path(tmp) / f"run-{kill}.log")
            target = (kill + 1) * step
            while client.stats()["accepted"] < target and service.poll() is None:
                time.sleep(0.05)
            service.kill()
            service.wait()
        service = _start(config, Path(tmp) / "final.log")
        # Accepted counts repeats too: check the distinct count only once it could be done.
        while client.stats()["accepted"] < args.events or _distinct(client) < args.events:
            time.sleep(1.0)
        service.terminate()
        service.wait(60)
        keys = [r["idempotency_key"] for r in client.requests()]
    return len(keys), len(keys) - len(set(keys)), time.monotonic() - started


def _distinct(client: Any) -> int:
    return len({r["idempotency_key"] for r in client.requests()})


def _config(
    directory: Path, bootstrap: str, topic: str, sink_url: str, concurrency: int, ledger: bool
) -> Path:
    routes = yaml.safe_load((REPO / "examples" / "routes.yaml").read_text())
    for route in routes["routes"]:
        route.pop("topics", None)
    (directory / "routes.yaml").write_text(yaml.safe_dump(routes))
    group = f"bench-kills-{'ledger' if ledger else 'baseline'}-{int(time.time())}"
    config = {
        "kafka": {
            "bootstrap_servers": bootstrap,
            "group_id": group,
            "topics": [topic],
            "properties": {"session.timeout.ms": 6000},
        },
        "api": {"base_url": sink_url, "api_key": "dev-key"},
        "delivery": {
            "max_concurrent_requests": concurrency,
            "rate_limit": {"per_second": 100000, "burst": 1000},
        },
        "state": {"enabled": ledger},
        "routes": "routes.yaml",
    }
    path = directory / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _start(config: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "stream_notifier.cli", "run", "--config", str(config)],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        cwd=REPO,
    )


def _create(bootstrap: str, topic: str, partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=partitions)])[topic].result()


def _fill(bootstrap: str, topic: str, count: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
    events = generate(5, 1000)
    for _ in range(count):
        key, event = next(events)
        value, headers = encode(event, "structured")
        while True:
            try:
                producer.produce(topic, key=key, value=value, headers=headers)
                break
            except BufferError:
                producer.poll(0.1)
    producer.flush(60)


if __name__ == "__main__":
    sys.exit(main())
