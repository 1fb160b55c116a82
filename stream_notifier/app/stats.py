"""Counters of what the service did, for logs, the demo summary and tests."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class Stats:
    consumed: int = 0
    delivered: int = 0
    rows: int = 0
    skipped: int = 0
    dead_lettered: int = 0
    suppressed: int = 0
    replayed: int = 0
    restored_entries: int = 0
    pauses: int = 0

    def summary(self) -> str:
        return " ".join(f"{k}={v}" for k, v in asdict(self).items())
