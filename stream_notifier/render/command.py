"""`stream-notifier render`: the exact request bodies an event would produce, offline."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import orjson

from stream_notifier.check import OFFLINE_ENV
from stream_notifier.config import load_config
from stream_notifier.decode.dispatch import TopicDecoders
from stream_notifier.decode.settings import DecodingSettings
from stream_notifier.errors import ConfigError, RecordError
from stream_notifier.ordering import OrderingMode
from stream_notifier.pipeline import Preparer
from stream_notifier.records import RawRecord
from stream_notifier.render.notification import Notification
from stream_notifier.routing import Router, load_routes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--routes", type=Path, help="routes YAML file (JSON CloudEvents)")
    source.add_argument(
        "--config", type=Path, help="service YAML file: its routes, and its decoding per topic"
    )
    parser.add_argument(
        "--event",
        required=True,
        type=Path,
        help="the record value: a structured CloudEvent (JSON), or Avro for an Avro topic",
    )
    parser.add_argument("--topic", default="events", help="the topic it would arrive on")
    parser.add_argument("--strict-routes", action="store_true")


def run(args: argparse.Namespace) -> int:
    try:
        if args.config is not None:
            config = load_config(args.config, {**OFFLINE_ENV, **os.environ})
            routes, decoding = config.routes, config.decoding
        else:
            routes, decoding = load_routes(args.routes), DecodingSettings()
    except ConfigError as error:
        print(f"stream-notifier: configuration error: {error}", file=sys.stderr)
        return 2
    ordering: OrderingMode = "key"
    preparer = Preparer(
        TopicDecoders(decoding),
        Router(routes),
        ordering=ordering,
        strict_routes=args.strict_routes,
    )
    record = RawRecord(args.topic, 0, 0, None, args.event.read_bytes())
    prepared = preparer.prepare(record)
    if prepared.unrouted:
        print("no route matches this event (it would be skipped)", file=sys.stderr)
        return 0
    failed = False
    for outcome in prepared.outcomes:
        if isinstance(outcome, Notification):
            sys.stdout.write(
                f"# route {outcome.route}  Idempotency-Key: {outcome.idempotency_key}\n"
            )
            sys.stdout.write(orjson.dumps(outcome.body, option=orjson.OPT_INDENT_2).decode() + "\n")
        else:
            failed = True
            assert isinstance(outcome, RecordError)
            print(f"error [{outcome.stage}] {outcome}", file=sys.stderr)
    return 1 if failed else 0
