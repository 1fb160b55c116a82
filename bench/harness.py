"""Running one system on one scenario's data and turning what the sink saw into a row.

Two kinds of system: those that finish by themselves and report their own timing (the
ceilings), and long-running consumers that the harness stops with SIGTERM once the sink
has every notification (naive, Quix Streams, stream_notifier). Either way the figure is
recorded only after the sink's records pass verification.
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml

from bench.data import Broker, write_routes
from bench.proc import Child
from bench.records import SinkRun
from bench.results import Row
from bench.settings import CONCURRENCY, RATE_LIMIT_PER_S
from bench.sink import SinkProcess
from bench.verify import Expected, Verdict, rate, verify
from stream_notifier.kafka.changelog import DEFAULT_TOPIC_CONFIG
from stream_notifier.state.manager import StateSettings

_POLL_S = 0.05
_SETTLE_S = 0.3
_COMMIT_PATIENCE_S = 15.0


@dataclass(frozen=True)
class Sizes:
    quick: bool
    fast_events: int
    slow_events: int
    rate_events: int
    latency_s: float
    noisy_distinct: int
    restore_entries: int
    # (scenario, system) -> events: a prefix for systems too slow for the whole backlog.
    caps: Mapping[tuple[str, str], int] = field(default_factory=dict)

    def events(self, scenario: str, system: str, full: int) -> int:
        return min(full, self.caps.get((scenario, system), full))


QUICK = Sizes(
    quick=True,
    fast_events=20_000,
    slow_events=2_000,
    rate_events=2_000,
    latency_s=10.0,
    noisy_distinct=5_000,
    restore_entries=200_000,
    caps={
        ("fast", "ceiling-http-httpx"): 2_000,
        ("fast", "naive"): 1_000,
        ("fast", "stream_notifier-partition"): 10_000,
        ("slow", "ceiling-http-httpx"): 1_000,
        ("slow", "naive"): 60,
        ("slow", "stream_notifier-partition"): 600,
        ("rate", "naive"): 600,
        ("rate", "quixstreams"): 300,
    },
)
FULL = Sizes(
    quick=False,
    fast_events=100_000,
    slow_events=5_000,
    rate_events=6_000,
    latency_s=30.0,
    noisy_distinct=20_000,
    restore_entries=1_000_000,
    caps={
        ("fast", "ceiling-http-httpx"): 10_000,
        ("fast", "naive"): 5_000,
        ("slow", "ceiling-http-httpx"): 3_000,
        ("slow", "naive"): 300,
        ("slow", "stream_notifier-partition"): 1_500,
        ("rate", "naive"): 2_000,
        ("rate", "quixstreams"): 2_000,
    },
)


@dataclass
class Measured:
    """What one run produced, before it becomes a row."""

    events: int
    verdict: Verdict | None = None
    seconds: float | None = None
    per_s: float | None = None
    cpu_per_10k: float | None = None
    http_429: int | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    error: str | None = None
    crashed: bool = False


@dataclass
class Drive:
    reached: bool
    cpu_per_10k: float | None
    exit_code: int | None
    crashed: bool
    caught_up: bool = True


class Bench:
    """Everything a scenario needs: the broker, the sink, where files go, what ran so far."""

    def __init__(
        self,
        *,
        bootstrap: str,
        workdir: Path,
        sizes: Sizes,
        quix_python: Path | None,
        systems: set[str] | None,
        log: Callable[[str], None],
    ) -> None:
        self.bootstrap = bootstrap
        self.workdir = workdir
        self.sizes = sizes
        self.quix_python = quix_python
        self.systems = systems
        self.log = log
        self.run_id = f"bench-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        self.broker = Broker(bootstrap)
        self.sink = SinkProcess(workdir)
        self.routes = write_routes(workdir)
        self.rows: list[Row] = []
        self.notes: list[dict[str, str]] = []
        self._specs = 0

    # --- bookkeeping ------------------------------------------------------------------------

    def wanted(self, system: str) -> bool:
        return self.systems is None or system in self.systems

    def note(self, scenario: str, system: str, text: str) -> None:
        self.notes.append({"scenario": scenario, "system": system, "note": text})
        self.log(f"  note {scenario}/{system}: {text}")

    def figure(self, scenario: str, system: str, name: str = "per_s") -> float | None:
        for row in self.rows:
            if row.scenario == scenario and row.system == system:
                value = getattr(row, name)
                return None if value is None else float(value)
        return None

    def skip(self, scenario: str, system: str, reason: str) -> None:
        self.rows.append(Row(scenario, system))
        self.note(scenario, system, f"skipped: {reason}")

    def record(
        self, scenario: str, system: str, measured: Measured, *, limit_per_s: float | None = None
    ) -> Row:
        verdict = measured.verdict
        row = Row(scenario, system, events=measured.events, limit_per_s=limit_per_s)
        if verdict is not None:
            row.ordering_violations = verdict.ordering_violations
            row.duplicates = verdict.duplicates
            row.lost = verdict.lost
        row.http_429 = measured.http_429
        good = measured.error is None and (verdict is None or verdict.ok)
        if good:
            row.seconds = measured.seconds
            row.per_s = measured.per_s
            row.cpu_s = measured.cpu_per_10k
            row.p50_ms = measured.p50_ms
            row.p99_ms = measured.p99_ms
        else:
            problems = [measured.error] if measured.error else []
            problems += verdict.problems() if verdict is not None else []
            per_s = f"{measured.per_s:.0f}/s" if measured.per_s else "no rate"
            self.note(scenario, system, f"not a result ({'; '.join(problems)}; it ran at {per_s})")
        self.rows.append(row)
        self.log(f"  {scenario:8} {system:26} {_summary(row)}")
        return row

    def spec(self, system: str, values: Mapping[str, Any]) -> Path:
        self._specs += 1
        path = self.workdir / f"spec-{self._specs:02d}-{system}.json"
        path.write_bytes(orjson.dumps(dict(values)))
        return path

    def group(self, scenario: str, system: str) -> str:
        # Unique per attempt: a retry must not inherit the offsets a failed attempt committed.
        return f"{self.run_id}-{scenario}-{system}-{uuid.uuid4().hex[:4]}"

    # --- system commands --------------------------------------------------------------------

    def changelog_topic(self, group: str, topic: str) -> str:
        return StateSettings().changelog_topic.replace("{group}", group).replace("{topic}", topic)

    def provision_changelog(self, group: str, topic: str) -> str:
        """Create stream_notifier's changelog topic as the service would (co-partitioned,
        compacted), for scenarios that fill it before the service starts."""
        changelog = self.changelog_topic(group, topic)
        if changelog not in self.broker.created:
            self.broker.create(changelog, self.broker.partitions(topic), DEFAULT_TOPIC_CONFIG)
        return changelog

    def notifier_command(
        self,
        scenario: str,
        topic: str,
        group: str,
        *,
        ordering: str,
        rate_limit_per_s: float | None = None,
        routes: Path | None = None,
        profile_to: Path | None = None,
        state_enabled: bool = True,
    ) -> list[str]:
        """`stream-notifier run` with a generated config: the real service, as deployed."""
        if rate_limit_per_s is None:
            # Effectively unlimited: the limiter must not be what a throughput figure measures.
            limit: dict[str, float] = {"per_second": 1_000_000, "burst": 10_000}
        else:
            # Paced, no burst of our own: spending the API's burst allowance leaves its bucket
            # empty, and then any jitter in arrival is a 429. Left unspent, it absorbs jitter.
            limit = {"per_second": rate_limit_per_s, "burst": 1}
        config = {
            "kafka": {"bootstrap_servers": self.bootstrap, "group_id": group, "topics": [topic]},
            "api": {"base_url": self.sink.base_url, "api_key": self.sink.api_key},
            "delivery": {
                "ordering": ordering,
                "max_concurrent_requests": CONCURRENCY,
                "rate_limit": limit,
            },
            "routes": str(routes or self.routes),
        }
        if not state_enabled:
            config["state"] = {"enabled": False}
        path = self.workdir / f"notifier-{group}.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        command = [sys.executable]
        if profile_to is not None:
            command += ["-m", "pyinstrument", "--show-all", "-r", "text", "-o", str(profile_to)]
        return [*command, "-m", "stream_notifier.cli", "run", "--config", str(path)]

    def consumer_command(
        self,
        scenario: str,
        system: str,
        topic: str,
        group: str,
        *,
        routes: Path | None = None,
        dedupe_window_s: float | None = None,
    ) -> list[str] | None:
        """The command for a long-running consumer system, or None if it cannot run here."""
        if system.startswith("stream_notifier-"):
            return self.notifier_command(
                scenario,
                topic,
                group,
                ordering=system.removeprefix("stream_notifier-"),
                rate_limit_per_s=RATE_LIMIT_PER_S if scenario == "rate" else None,
                routes=routes,
            )
        common = {
            "bootstrap": self.bootstrap,
            "topic": topic,
            "group_id": group,
            "sink_url": self.sink.base_url,
            "api_key": self.sink.api_key,
            "routes": str(self.routes),
            "concurrency": CONCURRENCY,
        }
        if system == "naive":
            return [sys.executable, "-m", "bench.systems.naive", str(self.spec(system, common))]
        if system == "quixstreams":
            if self.quix_python is None or not self.quix_python.exists():
                return None
            values = {
                **common,
                "state_dir": str(self.workdir / f"quix-state-{group}"),
                "dedupe_window_s": dedupe_window_s,
            }
            spec = self.spec(system, values)
            return [str(self.quix_python), "-m", "bench.systems.quix_app", str(spec)]
        raise ValueError(f"unknown consumer system {system}")

    # --- running ----------------------------------------------------------------------------

    def run_consumer(
        self,
        scenario: str,
        system: str,
        topic: str,
        expected: Sequence[Expected],
        *,
        ordered: bool,
        faults: Mapping[str, Any],
        timeout_s: float,
        routes: Path | None = None,
        dedupe_window_s: float | None = None,
        wait_for_commits: bool = False,
    ) -> Measured:
        """Run a consumer system until the sink has `expected` (and, with
        `wait_for_commits`, until its group committed the whole topic, so that a repeat it
        had yet to read cannot slip in after the figure was taken)."""
        group = self.group(scenario, system)
        command = self.consumer_command(
            scenario, system, topic, group, routes=routes, dedupe_window_s=dedupe_window_s
        )
        if command is None:
            return Measured(len(expected), error="not installed")
        self.sink.begin(**faults)
        child = Child(command, self.workdir / f"{scenario}-{system}.log")
        until = (lambda: self.broker.caught_up(group, topic)) if wait_for_commits else None
        try:
            drive = self.drive(child, len(expected), timeout_s, until=until)
        finally:
            child.kill()
        run = self.sink.collect()
        measured = self.measure(expected, run, ordered=ordered)
        measured.cpu_per_10k = drive.cpu_per_10k
        if drive.crashed:
            measured.crashed = True
            measured.error = f"exited with {drive.exit_code}: {child.problem()}"
        elif not drive.reached:
            measured.error = f"timed out after {timeout_s:.0f}s"
        elif not drive.caught_up:
            measured.error = "its group did not commit to the end of the topic"
        return measured

    def drive(
        self,
        child: Child,
        expected: int,
        timeout_s: float,
        *,
        until: Callable[[], bool] | None = None,
    ) -> Drive:
        """Wait until the sink accepted `expected` requests (and `until` holds), then stop
        the system.

        CPU is sampled from the first accepted request to the last, so the process's
        start-up (imports, joining the group) is not charged to the notifications.
        """
        deadline = time.monotonic() + timeout_s
        first: tuple[float, int] | None = None
        last: tuple[float, int] | None = None
        crashed = False
        while True:
            accepted = self.sink.accepted()
            cpu = child.cpu_s()
            if cpu is not None and accepted > 0:
                if first is None:
                    first = (cpu, accepted)
                last = (cpu, accepted)
            if accepted >= expected:
                break
            if child.exit_code() is not None:
                crashed = True
                break
            if time.monotonic() > deadline:
                break
            time.sleep(_POLL_S)
        caught_up = True
        if until is not None and accepted >= expected and not crashed:
            # Commits trail deliveries by the commit interval: give them a few of those.
            patience = time.monotonic() + _COMMIT_PATIENCE_S
            while not (caught_up := until()) and time.monotonic() < patience:
                time.sleep(0.2)
        # Give stragglers (and any duplicates) the chance to show up before stopping.
        time.sleep(_SETTLE_S)
        exit_code = child.exit_code() if crashed else child.stop(30)
        cpu_per_10k = None
        if first is not None and last is not None and last[1] > first[1]:
            cpu_per_10k = (last[0] - first[0]) / (last[1] - first[1]) * 10_000
        return Drive(accepted >= expected, cpu_per_10k, exit_code, crashed, caught_up)

    def measure(self, expected: Sequence[Expected], run: SinkRun, *, ordered: bool) -> Measured:
        verdict = verify(expected, run.deliveries, ordered=ordered)
        per_s = None
        if run.first_start_ns is not None and run.last_end_ns is not None:
            per_s = rate(verdict.delivered, run.first_start_ns, run.last_end_ns)
        return Measured(
            events=len(expected),
            verdict=verdict,
            seconds=run.seconds,
            per_s=per_s,
            http_429=run.http_429,
        )

    def run_ceiling_http(
        self,
        scenario: str,
        system: str,
        bodies: Path,
        expected: Sequence[Expected],
        *,
        transport: str,
        faults: Mapping[str, Any],
        timeout_s: float,
    ) -> Measured:
        result_path = self.workdir / f"{scenario}-{system}-result.json"
        spec = self.spec(
            system,
            {
                "sink_url": self.sink.base_url,
                "api_key": self.sink.api_key,
                "bodies": str(bodies),
                "expected": len(expected),
                "concurrency": CONCURRENCY,
                "transport": transport,
                "result": str(result_path),
            },
        )
        self.sink.begin(**faults)
        child = Child(
            [sys.executable, "-m", "bench.systems.ceiling_http", str(spec)],
            self.workdir / f"{scenario}-{system}.log",
        )
        code = child.wait(timeout_s)
        child.kill()
        measured = self.measure(expected, self.sink.collect(), ordered=False)
        if code is None:
            measured.error = f"timed out after {timeout_s:.0f}s"
        elif result_path.exists():
            result = orjson.loads(result_path.read_bytes())
            if result["count"]:
                measured.cpu_per_10k = result["cpu_s"] / result["count"] * 10_000
            if code != 0:
                measured.error = f"{result.get('failures')} requests failed"
        else:
            measured.error = f"exited with {code}: {child.problem()}"
        return measured

    def run_ceiling_consume(
        self,
        scenario: str,
        topic: str,
        expected: int,
        timeout_s: float,
        *,
        partition: int | None = None,
        decode: bool = True,
        from_assign: bool = False,
    ) -> Measured:
        system = "ceiling-consume"
        result_path = self.workdir / f"{scenario}-{system}-result.json"
        spec = self.spec(
            system,
            {
                "bootstrap": self.bootstrap,
                "topic": topic,
                "group_id": self.group(scenario, system),
                "expected": expected,
                "result": str(result_path),
                "timeout_s": timeout_s,
                "partition": partition,
                "decode": decode,
                "from_assign": from_assign,
            },
        )
        child = Child(
            [sys.executable, "-m", "bench.systems.ceiling_consume", str(spec)],
            self.workdir / f"{scenario}-{system}.log",
        )
        code = child.wait(timeout_s + 30)
        child.kill()
        if not result_path.exists():
            return Measured(expected, error=f"exited with {code}: {child.problem()}")
        result = orjson.loads(result_path.read_bytes())
        count, timed = int(result["count"]), int(result["timed"])
        measured = Measured(
            events=expected,
            seconds=(result["last_ns"] - result["first_ns"]) / 1e9,
            per_s=rate(timed, result["first_ns"], result["last_ns"]),
            cpu_per_10k=result["cpu_s"] / timed * 10_000 if timed else None,
        )
        if count < expected:
            measured.error = f"read {count} of {expected}"
        return measured


def _summary(row: Row) -> str:
    parts = []
    if row.per_s is not None:
        parts.append(f"{row.per_s:9.1f}/s")
    if row.cpu_s is not None:
        parts.append(f"cpu {row.cpu_s:.2f}s/10k")
    if row.p50_ms is not None and row.p99_ms is not None:
        parts.append(f"p50 {row.p50_ms:.1f}ms p99 {row.p99_ms:.1f}ms")
    if row.http_429:
        parts.append(f"429s {row.http_429}")
    for name in ("lost", "duplicates", "ordering_violations"):
        value = getattr(row, name)
        if value:
            parts.append(f"{name} {value}")
    return f"events {row.events}: " + (", ".join(parts) or "no figure")
