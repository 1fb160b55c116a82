"""The result schema: dashboards and regression checks read these names, so keep them stable."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson

SCENARIOS = ("fast", "slow", "rate", "noisy", "restore", "latency")
SYSTEMS = (
    "ceiling-consume",
    "ceiling-http",
    "ceiling-http-httpx",
    "naive",
    "quixstreams",
    "stream_notifier-key",
    "stream_notifier-partition",
    "stream_notifier",
)
ROW_FIELDS = (
    "scenario",
    "system",
    "events",
    "seconds",
    "per_s",
    "cpu_s",
    "p50_ms",
    "p99_ms",
    "http_429",
    "limit_per_s",
    "ordering_violations",
    "duplicates",
    "lost",
)
_INTS = {"events", "http_429", "ordering_violations", "duplicates", "lost"}
_FLOATS = {"seconds", "per_s", "cpu_s", "p50_ms", "p99_ms", "limit_per_s"}


@dataclass
class Row:
    """One system in one scenario. `cpu_s` is CPU seconds per 10,000 notifications; every
    figure is None where it does not apply, and the figures are None when the output
    failed verification (the counts of what went wrong stay)."""

    scenario: str
    system: str
    events: int | None = None
    seconds: float | None = None
    per_s: float | None = None
    cpu_s: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    http_429: int | None = None
    limit_per_s: float | None = None
    ordering_violations: int | None = None
    duplicates: int | None = None
    lost: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for name in _FLOATS:
            if out[name] is not None:
                out[name] = round(float(out[name]), 3)
        return out


def row_errors(row: Mapping[str, Any]) -> list[str]:
    """Why `row` does not fit the published schema (empty when it does)."""
    errors = []
    if tuple(row) != ROW_FIELDS:
        errors.append(f"fields {list(row)} != {list(ROW_FIELDS)}")
    if row.get("scenario") not in SCENARIOS:
        errors.append(f"unknown scenario {row.get('scenario')!r}")
    if row.get("system") not in SYSTEMS:
        errors.append(f"unknown system {row.get('system')!r}")
    for name in _INTS:
        value = row.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            errors.append(f"{name} must be an integer or null, got {value!r}")
    for name in _FLOATS:
        value = row.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            errors.append(f"{name} must be a number or null, got {value!r}")
    return errors


def machine_info(repo: Path, quick: bool, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    import confluent_kafka

    info: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "mode": "quick" if quick else "full",
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gib": _memory_gib(),
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "platform": platform.platform(),
        "confluent_kafka": str(confluent_kafka.version()),
        "librdkafka": confluent_kafka.libversion()[0],
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
        "git": _git(repo),
    }
    info.update(extra or {})
    return info


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _git(repo: Path) -> str | None:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return f"{head}{'+dirty' if dirty else ''}"


def document(
    machine: Mapping[str, Any], rows: list[Row], notes: list[dict[str, str]]
) -> dict[str, Any]:
    return {
        "machine": dict(machine),
        "rows": [row.to_dict() for row in rows],
        "notes": notes,
    }


def write_json(path: Path, doc: Mapping[str, Any]) -> None:
    # Written whole and renamed: a dashboard polling the file never reads half of it.
    tmp = path.with_suffix(".json.tmp")
    tmp.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
    tmp.replace(path)
