"""`stream-notifier check --config FILE`: validate a configuration and its routes offline,
and check every template variable against the Avro schemas of the topics it reads.

Exit 0 when all is well (warnings allowed), 1 when a template reads a field its event
schema lacks, 2 when the configuration itself is invalid: a gate for the CI of the teams
who write routes. Needs no broker, no API key and no registry.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from stream_notifier.config import load_config
from stream_notifier.errors import ConfigError
from stream_notifier.schemacheck import avro_topics, check_routes

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_CONFIG = 2
# check and render never connect anywhere: placeholders satisfy settings that only `run` uses.
OFFLINE_ENV = {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092", "WACHT_BACKEND_API_KEY": "unused"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, type=Path, help="service YAML file")


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config, {**OFFLINE_ENV, **os.environ})
    except ConfigError as error:
        print(f"stream-notifier: configuration error: {error}", file=sys.stderr)
        return EXIT_CONFIG
    findings = check_routes(config.routes, config.decoding, config.kafka.topics)
    for finding in findings:
        print(finding.describe(config.routes.source))
    errors = sum(1 for f in findings if f.level == "error")
    warnings = len(findings) - errors
    topics = [name for name, _ in avro_topics(config.decoding, config.kafka.topics)]
    checked = f"Avro topic(s) {', '.join(topics)}" if topics else "no Avro topic"
    print(
        f"check: {len(config.routes.routes)} route(s), {checked}: "
        f"{errors} error(s), {warnings} warning(s)"
    )
    return EXIT_FINDINGS if errors else EXIT_OK
