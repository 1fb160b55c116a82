"""Shared fixtures. Integration tests get a real broker through `kafka_bootstrap`."""

from __future__ import annotations

import gc
import os
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from tests.kafka_helpers import NewTopicFactory as NewTopicFactory  # re-exported for tests
from tests.kafka_helpers import admin_client, broker_reachable, create_topic, unique_name

REPO = Path(__file__).resolve().parent.parent
KAFKA_SH = REPO / "dev" / "kafka.sh"
DEFAULT_BOOTSTRAP = "127.0.0.1:9092"


@pytest.fixture(scope="session")
def kafka_bootstrap(request: pytest.FixtureRequest) -> str:
    """Bootstrap address of a running broker: a reachable one is reused, else one is started
    with dev/kafka.sh and stopped at session end (only if this fixture started it)."""
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_BOOTSTRAP)
    if broker_reachable(bootstrap, timeout=3.0):
        return bootstrap

    host, _, port = bootstrap.rpartition(":")
    if "," in bootstrap or host not in ("127.0.0.1", "localhost"):
        pytest.fail(f"no Kafka broker answers at {bootstrap}, and only loopback can be started")
    env = {**os.environ, "KAFKA_PORT": port}
    started = subprocess.run([str(KAFKA_SH), "start"], env=env, check=False)
    if started.returncode != 0:
        pytest.fail(f"dev/kafka.sh start failed (exit {started.returncode})")

    def stop() -> None:
        # Free the clients first: the last test's fixtures hold them until pytest is done, and
        # each would log connection errors to stderr once the broker is gone.
        gc.collect()
        subprocess.run([str(KAFKA_SH), "stop"], env=env, check=False)

    # A config cleanup runs after every test's fixtures are released, unlike a session
    # fixture's teardown, which runs while the last test still holds them.
    request.config.add_cleanup(stop)
    return bootstrap


@pytest.fixture(scope="session")
def kafka_admin(kafka_bootstrap: str) -> AdminClient:
    return admin_client(kafka_bootstrap)


@pytest.fixture
def new_topic(
    kafka_admin: AdminClient, request: pytest.FixtureRequest
) -> Iterator[NewTopicFactory]:
    """Factory: `new_topic(partitions=1, config=None) -> name` creates a uniquely named topic
    and returns once broker metadata shows it. The topics are deleted after the test."""
    created: list[str] = []

    def make(partitions: int = 1, config: Mapping[str, str] | None = None) -> str:
        name = create_topic(kafka_admin, unique_name(request.node.name), partitions, config)
        created.append(name)
        return name

    yield make
    if created:
        # Best effort, not awaited: a reused broker should not fill up with test topics.
        kafka_admin.delete_topics(created, operation_timeout=10)
