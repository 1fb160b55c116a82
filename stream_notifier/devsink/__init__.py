"""A local stand-in for the notifications API, for integration tests, the demo and benchmarks.

Exports resolve lazily: ``stream-notifier --help`` imports ``devsink.command`` and should not
pay for aiohttp and httpx just to list subcommands.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stream_notifier.devsink.client import SinkClient
    from stream_notifier.devsink.faults import (
        FaultConfig,
        FaultConfigError,
        FaultPolicy,
        TokenBucket,
    )
    from stream_notifier.devsink.server import (
        DEFAULT_API_KEY,
        DevSink,
        SinkHandle,
        SinkOptions,
        run_sink_in_thread,
    )

_EXPORTS = {
    "SinkClient": "client",
    "FaultConfig": "faults",
    "FaultConfigError": "faults",
    "FaultPolicy": "faults",
    "TokenBucket": "faults",
    "DEFAULT_API_KEY": "server",
    "DevSink": "server",
    "SinkHandle": "server",
    "SinkOptions": "server",
    "run_sink_in_thread": "server",
}

__all__ = [
    "DEFAULT_API_KEY",
    "DevSink",
    "FaultConfig",
    "FaultConfigError",
    "FaultPolicy",
    "SinkClient",
    "SinkHandle",
    "SinkOptions",
    "TokenBucket",
    "run_sink_in_thread",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
