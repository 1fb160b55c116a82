"""``stream-notifier dev-sink``: run the dev sink in the foreground until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stream_notifier.devsink.server import SinkOptions

DEFAULT_PORT = 8085


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="port (8085; 0 picks a free one)"
    )
    parser.add_argument(
        "--api-key",
        default=os.environ.get("WACHT_BACKEND_API_KEY", "dev-key"),
        help="expected bearer key (env WACHT_BACKEND_API_KEY, else 'dev-key')",
    )
    parser.add_argument("--record", metavar="FILE", help="also append each request as JSON lines")
    parser.add_argument(
        "--honor-idempotency",
        action="store_true",
        help="replay the first response for a repeated Idempotency-Key (the reference ignores it)",
    )
    parser.add_argument(
        "--org-members", type=int, default=1, help="users per organization/workspace fan-out"
    )
    parser.add_argument(
        "--max-records",
        type=int,
        help="keep at least the last N requests/rows in memory, not all (for long benchmarks)",
    )
    parser.add_argument(
        "--ready-file", metavar="FILE", help="write the bound port here once listening"
    )
    faults = parser.add_argument_group("faults (also settable at runtime: POST /_sink/faults)")
    faults.add_argument("--latency-ms", type=float, help="added latency per request")
    faults.add_argument("--latency-jitter-ms", type=float, help="uniform extra 0..N ms")
    faults.add_argument("--rate-limit-per-s", type=float, help="token bucket rate; 429 beyond")
    faults.add_argument("--burst", type=int, help="token bucket size (default: one second's)")
    faults.add_argument(
        "--retry-after-header",
        action="store_true",
        default=None,
        help="send Retry-After on 429 (the reference does not)",
    )
    faults.add_argument(
        "--faults", metavar="JSON", help="any fault options as JSON, e.g. '{\"status\": 503}'"
    )


def run(args: argparse.Namespace) -> int:
    from stream_notifier.devsink.faults import FaultConfigError

    try:
        options = _options(args)
    except (FaultConfigError, ValueError, TypeError) as exc:
        print(f"dev-sink: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve(options, args.host, args.port, args.ready_file))
    except OSError as exc:
        print(f"dev-sink: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0


def _options(args: argparse.Namespace) -> SinkOptions:
    from stream_notifier.devsink.faults import FaultConfig
    from stream_notifier.devsink.server import SinkOptions

    raw: dict[str, Any] = json.loads(args.faults) if args.faults else {}
    if not isinstance(raw, dict):
        raise ValueError("--faults must be a JSON object")
    flags = {
        "latency_ms": args.latency_ms,
        "latency_jitter_ms": args.latency_jitter_ms,
        "rate_limit_per_s": args.rate_limit_per_s,
        "burst": args.burst,
        "retry_after_header": args.retry_after_header,
    }
    faults = FaultConfig.from_mapping(raw).merged(flags)
    return SinkOptions(
        api_key=args.api_key,
        honor_idempotency=args.honor_idempotency,
        org_members=args.org_members,
        record_path=args.record,
        max_records=args.max_records,
        faults=faults,
    )


async def _serve(options: SinkOptions, host: str, port: int, ready_file: str | None) -> None:
    from stream_notifier.devsink.server import DevSink

    sink = DevSink(options)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    base_url = await sink.start(host, port)
    try:
        if ready_file:
            _write_atomically(Path(ready_file), f"{sink.port}\n")
        print(f"dev-sink listening on {base_url}", flush=True)
        await stop.wait()
    finally:
        await sink.stop()
        if ready_file:
            _remove(Path(ready_file))


def _remove(path: Path) -> None:
    # A stale port left behind would send the next script to a dead sink.
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _write_atomically(path: Path, text: str) -> None:
    # A script polling for the file must never read a half-written port.
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)
