"""`stream-notifier run --config FILE`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from dataclasses import replace
from pathlib import Path

from stream_notifier.app.service import Service
from stream_notifier.config import AppConfig, load_config
from stream_notifier.errors import ConfigError

EXIT_CONFIG = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, type=Path, help="service YAML file")
    parser.add_argument(
        "--strict-routes",
        action="store_true",
        help="dead-letter events that no route matches instead of skipping them",
    )
    parser.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "INFO"))
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=int(os.environ.get("METRICS_PORT", "0")),
        help="serve Prometheus metrics on this port (0: off)",
    )


def run(args: argparse.Namespace) -> int:
    configure_logging(args.log_level)
    try:
        config = load_config(args.config, os.environ)
    except ConfigError as error:
        print(f"stream-notifier: configuration error: {error}", file=sys.stderr)
        return EXIT_CONFIG
    if args.strict_routes:
        config = replace(config, delivery=replace(config.delivery, strict_routes=True))
    return asyncio.run(serve(config, args.metrics_port))


async def serve(config: AppConfig, metrics_port: int = 0) -> int:
    service = Service(config)
    if metrics_port:
        from stream_notifier.app.metrics import serve_metrics

        serve_metrics(service, metrics_port)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, service.request_stop)
    return await service.run()


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # httpx logs every request (with its URL) at INFO: too loud for a stream processor.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # confluent-kafka's schema registry client uses httpx's successor under this name.
    logging.getLogger("httpx2").setLevel(logging.WARNING)
