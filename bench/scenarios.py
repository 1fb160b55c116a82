"""The scenarios. Names are stable: dashboards and regression checks read them.

Each takes the shared `Bench`, runs every applicable system on the same data, and appends
one row per system. `noisy` and `restore` need stream_notifier's route dedupe and state
store; without them they record skipped rows saying why (see `dedupe_support`).

A new scenario is a function of the Bench appending rows (use `Bench.run_consumer` for a
system that drains a topic, `Bench.record` for the verified row) called from bench/run.py.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable, Iterator

from bench.data import Dataset, SteadyProducer, generate_events, with_repeats, write_routes
from bench.harness import Bench, Measured
from bench.proc import Child
from bench.settings import RATE_LIMIT_BURST, RATE_LIMIT_PER_S, SLOW_LATENCY_MS
from bench.verify import percentile, rate, verify

# Latency runs at a fifth of stream_notifier's own backlog rate: a steady, unsaturated load.
LATENCY_SHARE = 0.2
LATENCY_DEFAULT_RATE = 500.0

SEED_NOISY = 11

CONSUMERS = ("naive", "quixstreams", "stream_notifier-key", "stream_notifier-partition")
ORDERED = frozenset(CONSUMERS)


def fast(bench: Bench, data: Dataset) -> None:
    """A backlog drained as fast as possible into a sink that answers at once."""
    scenario = "fast"
    full = bench.sizes.fast_events
    bench.log(f"fast: {full} events backlog, {len(set(e.key for e in data.events))} keys")
    if bench.wanted("ceiling-consume"):
        topic = data.topic(full)
        bench.record(
            scenario, "ceiling-consume", bench.run_ceiling_consume(scenario, topic, full, 300)
        )
    _ceilings(bench, data, scenario, faults={}, timeout_s=300)
    _consumers(bench, data, scenario, faults={}, min_rate=50)


def slow(bench: Bench, data: Dataset) -> None:
    """A sink that takes 100 ms per request: the concurrency story."""
    scenario = "slow"
    faults = {"latency_ms": SLOW_LATENCY_MS}
    bench.log(f"slow: {bench.sizes.slow_events} events, sink latency {SLOW_LATENCY_MS:.0f} ms")
    _ceilings(bench, data, scenario, faults=faults, timeout_s=300)
    _consumers(bench, data, scenario, faults=faults, min_rate=5)


def rate_limited(bench: Bench, data: Dataset) -> None:
    """A sink enforcing 200 requests/s with 429s; stream_notifier is configured to the same
    limit, the others do what they can (retry after the announced wait)."""
    scenario = "rate"
    faults = {"rate_limit_per_s": RATE_LIMIT_PER_S, "burst": RATE_LIMIT_BURST}
    bench.log(
        f"rate: {bench.sizes.rate_events} events, "
        f"sink limit {RATE_LIMIT_PER_S:.0f}/s, burst {RATE_LIMIT_BURST}"
    )
    _consumers(
        bench,
        data,
        scenario,
        faults=faults,
        min_rate=RATE_LIMIT_PER_S / 4,
        limit_per_s=RATE_LIMIT_PER_S,
    )


def latency(bench: Bench) -> None:
    """A steady live load: produce-to-sink latency per event, on one machine's clock."""
    scenario = "latency"
    base = bench.figure("fast", "stream_notifier-key")
    target = round(base * LATENCY_SHARE) if base else LATENCY_DEFAULT_RATE
    if not base:
        bench.note(scenario, "*", f"no stream_notifier fast rate this run; using {target}/s")
    duration = bench.sizes.latency_s
    bench.log(f"latency: {target:.0f} events/s for {duration:.0f} s")
    for system in CONSUMERS:
        if not bench.wanted(system):
            continue
        fast_rate = bench.figure("fast", system)
        if fast_rate is not None and fast_rate < target * 1.2:
            bench.skip(
                scenario,
                system,
                f"its backlog rate ({fast_rate:.0f}/s) cannot sustain {target:.0f}/s; "
                "its latency would only measure a growing queue",
            )
            continue
        measured = _latency_run(bench, system, target, duration)
        if measured.crashed:
            bench.note(scenario, system, f"first attempt crashed, retried: {measured.error}")
            measured = _latency_run(bench, system, target, duration)
        bench.record(scenario, system, measured)


def _latency_run(bench: Bench, system: str, target: float, duration: float) -> Measured:
    scenario = "latency"
    group = bench.group(scenario, system)
    topic = bench.broker.create(f"{group}-in")
    command = bench.consumer_command(scenario, system, topic, group)
    expected_n = int(target * duration) + 1
    if command is None:
        return Measured(expected_n, error="not installed")
    bench.sink.begin()
    producer = SteadyProducer(bench.bootstrap, topic, seed=1000 + CONSUMERS.index(system))
    child = Child(command, bench.workdir / f"{scenario}-{system}.log")
    try:
        # One warm-up event proves the system is assigned and ready before the clock runs.
        warmup = producer.produce_one()
        producer.join()
        if not _wait_for(bench, child, 1, 60):
            crashed = child.exit_code() is not None
            return Measured(
                expected_n, error=f"warm-up never arrived: {child.problem()}", crashed=crashed
            )
        cpu0 = child.cpu_s()
        producer.start(target, duration)
        drive_deadline = time.monotonic() + duration + 60
        producer.join()
        reached = _wait_for(bench, child, len(producer.produced), drive_deadline - time.monotonic())
        cpu1 = child.cpu_s()
        exit_code = child.exit_code()
        time.sleep(0.3)
        child.stop(30)
    finally:
        producer.stop()
        child.kill()
    expected = [e.expected for e in producer.produced]
    run = bench.sink.collect()
    verdict = verify(expected, run.deliveries, ordered=system in ORDERED)
    first: dict[str, int] = {}
    for delivery in run.deliveries:
        if delivery.event_id not in first or delivery.started_ns < first[delivery.event_id]:
            first[delivery.event_id] = delivery.started_ns
    latencies = [
        (first[event_id] - produced) / 1e6
        for event_id, produced in producer.produced_ns.items()
        if event_id in first and event_id != warmup.event_id
    ]
    steady = [first[e.event_id] for e in producer.produced[1:] if e.event_id in first]
    steady_n = len(producer.produced) - 1
    measured = Measured(
        events=len(expected),
        verdict=verdict,
        seconds=(max(steady) - min(steady)) / 1e9 if steady else None,
        per_s=rate(len(steady), min(steady), max(steady)) if steady else None,
        http_429=run.http_429,
        p50_ms=percentile(latencies, 50),
        p99_ms=percentile(latencies, 99),
    )
    if cpu0 is not None and cpu1 is not None and steady_n:
        measured.cpu_per_10k = (cpu1 - cpu0) / steady_n * 10_000
    if exit_code is not None:
        measured.crashed = True
        measured.error = f"exited with {exit_code}: {child.problem()}"
    elif not reached:
        measured.error = "did not deliver every event in time"
    return measured


def _wait_for(bench: Bench, child: Child, count: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + max(0.0, timeout_s)
    while bench.sink.accepted() < count:
        if child.exit_code() is not None or time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _ceilings(
    bench: Bench, data: Dataset, scenario: str, *, faults: dict[str, float], timeout_s: float
) -> None:
    full = bench.sizes.fast_events if scenario == "fast" else bench.sizes.slow_events
    for system, transport in (("ceiling-http", "aiohttp"), ("ceiling-http-httpx", "httpx")):
        if not bench.wanted(system):
            continue
        count = bench.sizes.events(scenario, system, full)
        measured = bench.run_ceiling_http(
            scenario,
            system,
            data.bodies(),
            data.expected(count),
            transport=transport,
            faults=faults,
            timeout_s=timeout_s,
        )
        bench.record(scenario, system, measured)


def _consumers(
    bench: Bench,
    data: Dataset,
    scenario: str,
    *,
    faults: dict[str, float],
    min_rate: float,
    limit_per_s: float | None = None,
) -> None:
    full = {
        "fast": bench.sizes.fast_events,
        "slow": bench.sizes.slow_events,
        "rate": bench.sizes.rate_events,
    }[scenario]
    for system in CONSUMERS:
        if not bench.wanted(system):
            continue
        count = bench.sizes.events(scenario, system, full)
        if count < full:
            bench.note(scenario, system, f"ran on the first {count} of the {full} events")
        topic = data.topic(count)
        for attempt in (1, 2):
            measured = bench.run_consumer(
                scenario,
                system,
                topic,
                data.expected(count),
                ordered=system in ORDERED,
                faults=faults,
                timeout_s=60 + count / min_rate,
            )
            if not measured.crashed or attempt == 2:
                break
            # Recorded, and tried once more: one crash should not blank a whole row, but
            # it must not go unseen either.
            bench.note(scenario, system, f"first attempt crashed, retried: {measured.error}")
        if measured.error == "not installed":
            bench.skip(scenario, system, "its virtualenv is missing (make bench makes it)")
            continue
        bench.record(scenario, system, measured, limit_per_s=limit_per_s)


# --- dedupe scenarios ----------------------------------------------------------------------

DEDUPE_WINDOW = "10m"
DEDUPE_WINDOW_S = 600.0


def dedupe_support() -> str | None:
    """None when stream_notifier has route dedupe and a state store; else why not."""
    from stream_notifier import config
    from stream_notifier.routing import model

    if "dedupe" not in {f.name for f in dataclasses.fields(model.Route)}:
        return "stream_notifier routes have no dedupe spec (issue 5)"
    if "state" not in {f.name for f in dataclasses.fields(config.AppConfig)}:
        return "stream_notifier has no state store (issue 5)"
    return None


def noisy(bench: Bench) -> None:
    """Every event arrives twice, the repeat 1-200 events later and well inside the dedupe
    window: half the records are repeats. Notifications sent must equal distinct events.

    `events` and `per s` count input records (repeats included: suppressing is the work);
    `dup` counts notifications beyond one per event, the excess this scenario is about.
    """
    scenario = "noisy"
    systems = [s for s in ("quixstreams", "stream_notifier-key") if bench.wanted(s)]
    reason = dedupe_support()
    if reason is not None:
        for system in systems:
            bench.skip(scenario, system, reason)
        return
    distinct = generate_events(bench.sizes.noisy_distinct, bench.routes, seed=SEED_NOISY)
    records = with_repeats(distinct, seed=SEED_NOISY)
    group_topic = bench.broker.create(f"{bench.run_id}-noisy")
    bench.broker.produce(group_topic, records)
    routes = write_routes(bench.workdir, dedupe_window=DEDUPE_WINDOW)
    expected = [e.expected for e in distinct]
    bench.log(
        f"noisy: {len(records)} records, {len(distinct)} distinct, dedupe window {DEDUPE_WINDOW}"
    )
    for system in systems:
        measured = bench.run_consumer(
            scenario,
            system,
            group_topic,
            expected,
            ordered=True,
            faults={},
            timeout_s=60 + len(records) / 50,
            routes=routes,
            dedupe_window_s=DEDUPE_WINDOW_S,
            wait_for_commits=True,
        )
        if measured.error == "not installed":
            bench.skip(scenario, system, "its virtualenv is missing (make bench makes it)")
            continue
        if measured.per_s is not None and measured.verdict is not None:
            # Input records per second: the delivered rate scaled by records per notification.
            measured.per_s *= len(records) / max(1, measured.verdict.delivered)
        measured.events = len(records)
        bench.record(scenario, system, measured)


def restore(bench: Bench) -> None:
    """Dedupe entries in one changelog partition: how long stream_notifier takes to restore
    them on assignment, against ceiling-consume reading the same partition."""
    scenario = "restore"
    reason = dedupe_support()
    systems = [s for s in ("ceiling-consume", "stream_notifier") if bench.wanted(s)]
    if reason is not None:
        for system in systems:
            bench.skip(scenario, system, reason)
        return
    entries = bench.sizes.restore_entries
    group = bench.group(scenario, "stream_notifier")
    topic = bench.broker.create(f"{group}-in", partitions=1)
    changelog = bench.provision_changelog(group, topic)
    started = time.monotonic()
    bench.broker.produce_raw(changelog, _dedupe_entries(entries), partition=0)
    bench.log(
        f"restore: {entries} dedupe entries in {changelog}[0] "
        f"(written in {time.monotonic() - started:.1f}s)"
    )
    if "ceiling-consume" in systems:
        measured = bench.run_ceiling_consume(
            scenario, changelog, entries, 300, partition=0, decode=False, from_assign=True
        )
        bench.record(scenario, "ceiling-consume", measured)
    if "stream_notifier" in systems:
        bench.record(scenario, "stream_notifier", _restore_run(bench, group, topic, entries))


_RESTORED = re.compile(
    r"restored (?P<tp>\S+): (?P<live>\d+) live entries from (?P<records>\d+) changelog "
    r"records in (?P<seconds>[\d.]+)s"
)


def _restore_run(bench: Bench, group: str, topic: str, entries: int) -> Measured:
    """Start the service on an empty input whose changelog holds `entries`; the service
    logs the restore it did before reading its partition, which is the figure."""
    command = bench.notifier_command("restore", topic, group, ordering="key")
    child = Child(command, bench.workdir / "restore-stream_notifier.log")
    deadline = time.monotonic() + 120 + entries / 5_000
    found = None
    try:
        while found is None and time.monotonic() < deadline and child.exit_code() is None:
            time.sleep(0.2)
            found = _RESTORED.search(child.log_path.read_text(errors="replace"))
        cpu = child.cpu_s()
        child.stop(30)
    finally:
        child.kill()
    if found is None:
        return Measured(entries, error=f"no restore reported: {child.problem()}")
    live, seconds = int(found["live"]), float(found["seconds"])
    measured = Measured(events=entries, seconds=seconds, per_s=entries / seconds)
    # The whole process's CPU, start-up included: restore is most of what it did.
    measured.cpu_per_10k = cpu / entries * 10_000 if cpu else None
    if live != entries:
        measured.error = f"restored {live} live entries of {entries} written"
    return measured


def _dedupe_entries(count: int) -> Iterator[tuple[bytes, bytes | None]]:
    """Live dedupe windows as the service writes them (expiring in a day)."""
    from stream_notifier.state.changelog import encode_change
    from stream_notifier.state.store import Entry

    now_ms = int(time.time() * 1000)
    for index in range(count):
        identity = f"bench-restore:{index:09d}"
        entry = Entry("dedupe", identity, "endpoint-disabled", now_ms + 86_400_000, now_ms)
        yield encode_change((entry.changelog_key, entry))


Scenario = Callable[[Bench], None]


def backlog_dataset(bench: Bench) -> Dataset:
    """One set of events for fast, slow and rate: each uses a prefix of it."""
    count = max(bench.sizes.fast_events, bench.sizes.slow_events, bench.sizes.rate_events)
    started = time.monotonic()
    events = generate_events(count, bench.routes)
    bench.log(f"generated and rendered {count} events in {time.monotonic() - started:.1f}s")
    return Dataset(f"{bench.run_id}-backlog", events, bench.broker, bench.workdir)


__all__ = [
    "backlog_dataset",
    "fast",
    "latency",
    "noisy",
    "rate_limited",
    "restore",
    "slow",
]
