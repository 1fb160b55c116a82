"""`stream-notifier dev-produce`: realistic domain events to a topic, by count or at a rate.

Events are CloudEvents in structured mode (JSON value) or binary mode (ce_* headers, JSON
data), or Avro event records (schemas/events) in single-object encoding or the Confluent
wire format. The Kafka key is the entity the event is about, so `key` ordering has meaning.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from stream_notifier.decode.schemas import load_paths
from stream_notifier.decode.writer import AvroEventWriter, latest_by_event_type
from stream_notifier.errors import EncodeError

DEFAULT_SCHEMAS = Path(__file__).resolve().parents[1] / "schemas" / "events"
Factory = Callable[[random.Random, int], tuple[str, dict[str, Any]]]


def _id(rng: random.Random) -> str:
    return str(rng.randrange(10**17, 9 * 10**18))


def endpoint_disabled(rng: random.Random, entity: int) -> tuple[str, dict[str, Any]]:
    return "webhook.endpoint_disabled", {
        "organization_id": str(10**17 + entity),
        "endpoint_id": f"ep_{entity}",
        "endpoint_url": f"https://hooks.example.com/{entity}/receive",
        "failure_count": rng.randrange(10, 100),
        "incident_id": f"inc_{rng.randrange(10**6)}",
    }


def api_key_revoked(rng: random.Random, entity: int) -> tuple[str, dict[str, Any]]:
    return "api_key_revoked", {
        "workspace_id": str(2 * 10**17 + entity),
        "key_id": f"key_{entity}",
        "key_name": rng.choice(["ci-deployer", "terraform", "backup-job", "metrics-exporter"]),
        "key_prefix": f"sk_live_{rng.randrange(16**4):04x}",
        "revoked_by": rng.choice(["alice@example.com", "bob@example.com", "security-bot"]),
    }


def invite_accepted(rng: random.Random, entity: int) -> tuple[str, dict[str, Any]]:
    return "invite_accepted", {
        "inviter_user_id": str(3 * 10**17 + entity),
        "invite_id": f"inv_{rng.randrange(10**6)}",
        "invitee_email": f"user{rng.randrange(10**4)}@example.com",
        "workspace_id": str(2 * 10**17 + entity),
        "workspace_name": rng.choice(["Acme Production", "Acme Staging", "Data Platform"]),
    }


def payment_failed(rng: random.Random, entity: int) -> tuple[str, dict[str, Any]]:
    return "billing.payment_failed", {
        "organization_id": str(10**17 + entity),
        "invoice_id": f"in_{rng.randrange(10**8)}",
        "invoice_number": f"INV-{rng.randrange(10**5):05d}",
        "amount": f"{rng.randrange(20, 5000)}.00",
        "currency": "EUR",
        "decline_reason": rng.choice(["insufficient funds", "card expired", "do not honor"]),
        "grace_period_ends": "2026-12-18",
    }


def deployment_failed(rng: random.Random, entity: int) -> tuple[str, dict[str, Any]]:
    return "deployment.failed", {
        "notify_user_ids": [str(3 * 10**17 + entity), str(3 * 10**17 + entity + 1)],
        "deployment_id": f"dep_{rng.randrange(10**7)}",
        "service": rng.choice(["checkout", "search", "auth"]),
        "environment": rng.choice(["production", "staging"]),
        "failed_step": rng.choice(["migrate", "health check", "image pull"]),
    }


FACTORIES: tuple[Factory, ...] = (
    endpoint_disabled,
    api_key_revoked,
    invite_accepted,
    payment_failed,
    deployment_failed,
)


def cloud_event(
    event_type: str, data: dict[str, Any], source: str, event_id: str
) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "type": event_type,
        "source": source,
        "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "data": data,
    }


def generate(seed: int, keys: int) -> Iterator[tuple[bytes, dict[str, Any]]]:
    """Endless (key, structured CloudEvent) pairs; the same seed gives the same events."""
    rng = random.Random(seed)
    while True:
        entity = rng.randrange(keys)
        event_type, data = rng.choice(FACTORIES)(rng, entity)
        event_id = str(uuid.UUID(int=rng.getrandbits(128)))
        yield f"entity-{entity}".encode(), cloud_event(event_type, data, "dev-produce", event_id)


def encode(event: dict[str, Any], mode: str) -> tuple[bytes, list[tuple[str, str | bytes | None]]]:
    if mode == "structured":
        return orjson.dumps(event), [("content-type", b"application/cloudevents+json")]
    headers: list[tuple[str, str | bytes | None]] = [
        (f"ce_{name}", str(value).encode())
        for name, value in event.items()
        if name not in ("data", "datacontenttype")
    ]
    headers.append(("content-type", b"application/json"))
    return orjson.dumps(event["data"]), headers


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bootstrap-servers", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    )
    parser.add_argument("--topic", default="platform.events")
    parser.add_argument("--count", type=int, default=100, help="events to produce")
    parser.add_argument(
        "--rate", type=float, default=0, help="events per second (0: as fast as possible)"
    )
    parser.add_argument("--keys", type=int, default=50, help="distinct entities (Kafka keys)")
    parser.add_argument("--mode", choices=("structured", "binary"), default="structured")
    parser.add_argument(
        "--format",
        choices=("json", "avro-single-object", "avro-confluent"),
        default="json",
        help="json: CloudEvents as --mode says; avro-*: Avro event records of --schemas",
    )
    parser.add_argument(
        "--registry-url",
        default=os.environ.get("SCHEMA_REGISTRY_URL"),
        help="schema registry for --format avro-confluent (default: $SCHEMA_REGISTRY_URL)",
    )
    parser.add_argument(
        "--schemas",
        type=Path,
        action="append",
        help=f"Avro schema files or folders, repeatable (default: {DEFAULT_SCHEMAS})",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--from-dir", type=Path, help="produce these *.json CloudEvents instead")


def run(args: argparse.Namespace) -> int:
    from confluent_kafka import Producer

    producer = Producer(
        {"bootstrap.servers": args.bootstrap_servers, "linger.ms": 20, "enable.idempotence": True}
    )
    started = time.monotonic()
    events: list[tuple[bytes | None, dict[str, Any]]]
    if args.from_dir:
        events = [
            (None, orjson.loads(p.read_bytes())) for p in sorted(args.from_dir.glob("*.json"))
        ]
    else:
        source = generate(args.seed, args.keys)
        events = [next(source) for _ in range(args.count)]
    avro = _avro_writer(args)
    skipped = 0
    for index, (key, event) in enumerate(events):
        encoded = _encode_any(event, args, avro)
        if encoded is None:
            skipped += 1
            continue
        value, headers = encoded
        _produce(
            producer,
            args.topic,
            key or str(event.get("subject") or event["id"]).encode(),
            value,
            headers,
        )
        if args.rate > 0:
            delay = started + (index + 1) / args.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
    remaining = producer.flush(30)
    if remaining:
        print(f"dev-produce: {remaining} events not acknowledged", file=sys.stderr)
        return 1
    produced = len(events) - skipped
    print(f"dev-produce: {produced} events to {args.topic} in {time.monotonic() - started:.2f}s")
    return 0


def _avro_writer(args: argparse.Namespace) -> AvroEventWriter | None:
    if args.format == "json":
        return None
    writers = latest_by_event_type(load_paths(args.schemas or [DEFAULT_SCHEMAS]))
    if args.format == "avro-single-object":
        return AvroEventWriter(writers, "avro-single-object")
    if not args.registry_url:
        raise SystemExit("dev-produce: --format avro-confluent needs --registry-url")
    from confluent_kafka.schema_registry import SchemaRegistryClient

    registry = SchemaRegistryClient.new_client({"url": args.registry_url})
    return AvroEventWriter(writers, "avro-confluent", registry=registry)


def _encode_any(
    event: dict[str, Any], args: argparse.Namespace, avro: AvroEventWriter | None
) -> tuple[bytes, list[tuple[str, str | bytes | None]]] | None:
    if avro is None:
        return encode(event, args.mode)
    try:
        return avro.encode(event, args.topic), []
    except EncodeError as error:
        # The example events include deliberately broken ones; say which, keep going.
        print(f"dev-produce: skipped event {event.get('id')}: {error}", file=sys.stderr)
        return None


def _produce(
    producer: Any,
    topic: str,
    key: bytes,
    value: bytes,
    headers: list[tuple[str, str | bytes | None]],
) -> None:
    while True:
        try:
            producer.produce(topic, key=key, value=value, headers=headers)
            producer.poll(0)
            return
        except BufferError:
            producer.poll(0.1)
