"""The human side of a run: a markdown table with ratios and goals, and a chart."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.results import SCENARIOS
from bench.settings import CONCURRENCY, SLOW_CEILING_PER_S

Rows = Sequence[Mapping[str, Any]]

GOALS_DOC = "issue 7"


def _get(rows: Rows, scenario: str, system: str, name: str = "per_s") -> float | None:
    for row in rows:
        if row["scenario"] == scenario and row["system"] == system:
            value = row.get(name)
            return None if value is None else float(value)
    return None


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _x(value: float | None, what: str) -> str | None:
    if value is None:
        return None
    return f"{value:.2f} x {what}" if value < 10 else f"{value:.0f} x {what}"


def versus(rows: Rows, row: Mapping[str, Any]) -> str:
    """The row's figure against the ceilings and peers measured in the same run."""
    scenario, system, per_s = row["scenario"], row["system"], row["per_s"]
    if per_s is None:
        return ""
    parts: list[str | None] = []
    if scenario in ("fast", "slow") and system not in ("ceiling-http", "ceiling-consume"):
        parts.append(_x(_ratio(per_s, _get(rows, scenario, "ceiling-http")), "ceiling-http"))
    if scenario == "fast" and system.startswith("stream_notifier"):
        parts.append(_x(_ratio(per_s, _get(rows, scenario, "quixstreams")), "quixstreams"))
        parts.append(_x(_ratio(per_s, _get(rows, scenario, "naive")), "naive"))
    if scenario == "slow" and system == "stream_notifier-key":
        parts.append(
            _x(per_s / SLOW_CEILING_PER_S, f"in-flight/latency ({SLOW_CEILING_PER_S:.0f}/s)")
        )
        parts.append(
            _x(_ratio(per_s, _get(rows, scenario, "stream_notifier-partition")), "partition")
        )
    if scenario == "restore" and system == "stream_notifier":
        took = _ratio(row.get("seconds"), _get(rows, scenario, "ceiling-consume", "seconds"))
        parts.append(_x(took, "ceiling-consume's time"))
    if scenario == "rate" and row.get("limit_per_s"):
        parts.append(_x(per_s / float(row["limit_per_s"]), "limit"))
        share = _share_429(row)
        if share is not None:
            parts.append(f"429s {share:.1%} of requests")
    return "; ".join(p for p in parts if p)


def _share_429(row: Mapping[str, Any]) -> float | None:
    if row.get("http_429") is None or not row.get("events"):
        return None
    sent = int(row["events"]) + int(row["http_429"]) + int(row.get("duplicates") or 0)
    return int(row["http_429"]) / sent


def goals(rows: Rows) -> list[tuple[bool | None, str]]:
    """Each goal of issue 7 with the figure measured against it (None: not measured)."""
    out: list[tuple[bool | None, str]] = []

    def check(value: float | None, goal: float, text: str) -> None:
        if value is None:
            out.append((None, f"{text}: not measured (goal ≥ {goal:g})"))
        else:
            out.append((value >= goal, f"{text}: {value:.2f} (goal ≥ {goal:g})"))

    key = _get(rows, "fast", "stream_notifier-key")
    check(_ratio(key, _get(rows, "fast", "ceiling-http")), 0.8, "fast: key ÷ ceiling-http")
    check(_ratio(key, _get(rows, "fast", "quixstreams")), 3, "fast: key ÷ quixstreams")
    check(_ratio(key, _get(rows, "fast", "naive")), 10, "fast: key ÷ naive")
    slow_key = _get(rows, "slow", "stream_notifier-key")
    check(
        _ratio(slow_key, SLOW_CEILING_PER_S),
        0.8,
        f"slow: key ÷ in-flight/latency ({SLOW_CEILING_PER_S:.0f}/s)",
    )
    check(
        _ratio(slow_key, _get(rows, "slow", "stream_notifier-partition")),
        10,
        "slow: key ÷ partition",
    )
    for row in rows:
        if row["scenario"] == "rate" and row["system"].startswith("stream_notifier"):
            check(
                _ratio(row["per_s"], row.get("limit_per_s")),
                0.95,
                f"rate: {row['system']} sustained ÷ limit",
            )
            share = _share_429(row)
            if share is not None:
                out.append((share < 0.01, f"rate: {row['system']} 429s {share:.2%} (goal < 1%)"))
    noisy = [r for r in rows if r["scenario"] == "noisy" and r["system"] == "stream_notifier-key"]
    for row in noisy:
        excess = row.get("duplicates")
        if excess is None:
            out.append((None, "noisy: excess notifications: not measured (goal 0)"))
        else:
            out.append((excess == 0, f"noisy: excess notifications: {excess} (goal 0)"))
    took = _ratio(
        _get(rows, "restore", "stream_notifier", "seconds"),
        _get(rows, "restore", "ceiling-consume", "seconds"),
    )
    if took is None:
        out.append((None, "restore: time ÷ ceiling-consume's: not measured (goal ≤ 1.5)"))
    else:
        out.append((took <= 1.5, f"restore: time ÷ ceiling-consume's: {took:.2f} (goal ≤ 1.5)"))
    bad = [
        f"{r['scenario']}/{r['system']}"
        for r in rows
        if (r.get("lost") or 0) > 0 or (r.get("ordering_violations") or 0) > 0
    ]
    checked = [r for r in rows if r.get("lost") is not None]
    out.append(
        (
            not bad if checked else None,
            "zero lost, zero ordering violations"
            + (f": violated by {', '.join(bad)}" if bad else f" across {len(checked)} runs"),
        )
    )
    return out


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def markdown(doc: Mapping[str, Any]) -> str:
    machine = doc["machine"]
    rows: Rows = doc["rows"]
    lines = [
        f"# Benchmarks: {machine.get('mode')} run, {machine.get('date')}",
        "",
        f"Machine: {machine.get('cpu_count')} x {machine.get('cpu_model')}, "
        f"{machine.get('memory_gib')} GiB, Python {machine.get('python')}, "
        f"{machine.get('platform')}; librdkafka {machine.get('librdkafka')}"
        + (f", quixstreams {machine['quixstreams']}" if machine.get("quixstreams") else "")
        + f"; git {machine.get('git')}; load average at start {machine.get('load_avg_at_start')}.",
        "",
        "One broker, one dev sink (its own process), the same events for every system; a "
        "figure is recorded only after the sink's records pass verification (count, "
        "duplicates, lost, and per-key order where the system promises it). Every "
        f"concurrent system, ceilings included, gets {CONCURRENCY} requests in flight. `per s` is "
        "notifications per second between the first request and the last answer at the "
        "sink; `CPU s/10k` is the system "
        "process's CPU seconds per 10,000 notifications. `noisy`: events and per s count "
        "input records, half of them repeats; dup is notifications beyond one per event. "
        "`restore`: events are changelog entries, seconds the time to restore them.",
        "",
        "| scenario | system | events | per s | vs | CPU s/10k | p50 ms | p99 ms "
        "| 429s | lost | dup | order |",
        "|---|---|--:|--:|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for row in rows:
        lines.append(
            "| "
            + " | ".join(
                [
                    row["scenario"],
                    row["system"],
                    _fmt(row["events"]),
                    _fmt(row["per_s"], 0),
                    versus(rows, row),
                    _fmt(row["cpu_s"], 2),
                    _fmt(row["p50_ms"]),
                    _fmt(row["p99_ms"]),
                    _fmt(row["http_429"]),
                    _fmt(row["lost"]),
                    _fmt(row["duplicates"]),
                    _fmt(row["ordering_violations"]),
                ]
            )
            + " |"
        )
    lines += ["", f"## Goals ({GOALS_DOC})", ""]
    for ok, text in goals(rows):
        mark = {True: "met", False: "MISSED", None: "n/a"}[ok]
        lines.append(f"- **{mark}**: {text}")
    notes = doc.get("notes") or []
    if notes:
        lines += ["", "## Notes", ""]
        lines += [f"- {n['scenario']}/{n['system']}: {n['note']}" for n in notes]
    return "\n".join(lines) + "\n"


def chart(doc: Mapping[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows: Rows = doc["rows"]
    fig, axes = plt.subplots(2, 3, figsize=(16, 9))
    for ax, scenario in zip(axes.flat, SCENARIOS, strict=True):
        here = [r for r in rows if r["scenario"] == scenario]
        ax.set_title(scenario)
        if scenario == "latency":
            shown = [r for r in here if r["p50_ms"] is not None]
            names = [r["system"] for r in shown]
            xs = range(len(shown))
            ax.bar([x - 0.2 for x in xs], [r["p50_ms"] for r in shown], 0.4, label="p50")
            ax.bar([x + 0.2 for x in xs], [r["p99_ms"] for r in shown], 0.4, label="p99")
            ax.set_ylabel("produce → sink, ms")
            ax.legend()
        else:
            shown = [r for r in here if r["per_s"] is not None]
            names = [r["system"] for r in shown]
            colors = [
                "tab:orange" if n.startswith("stream_notifier") else "tab:blue" for n in names
            ]
            bars = ax.bar(range(len(shown)), [r["per_s"] for r in shown], color=colors)
            ax.bar_label(bars, labels=[f"{r['per_s']:,.0f}" for r in shown], fontsize=7)
            ax.set_ylabel(
                {"restore": "entries / s", "noisy": "input records / s"}.get(
                    scenario, "notifications / s"
                )
            )
            if scenario == "fast" and shown:
                # ceiling-consume is two orders above the rest: a linear axis hides them.
                ax.set_yscale("log")
            limits = {r["limit_per_s"] for r in shown if r.get("limit_per_s")}
            for limit in limits:
                ax.axhline(limit, color="gray", linestyle="--", linewidth=1)
        if not shown:
            ax.text(0.5, 0.5, "skipped", ha="center", va="center", transform=ax.transAxes)
            ax.set_xticks([])
            continue
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
    machine = doc["machine"]
    fig.suptitle(
        f"stream_notifier benchmarks ({machine.get('mode')}, {machine.get('date')}, "
        f"{machine.get('cpu_count')} CPUs)"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
