"""`python -m bench.run [--quick]`: every scenario, every system, one broker, one sink.

Needs a broker at KAFKA_BOOTSTRAP_SERVERS (`dev/with-kafka.sh` provides one) and, for the
Quix Streams system, its virtualenv (`make bench` creates it). Writes
bench/results/latest.{json,md,png} and prints the table.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import scenarios
from bench.harness import FULL, QUICK, Bench
from bench.proc import REPO
from bench.report import chart, markdown
from bench.results import SCENARIOS, SYSTEMS, document, machine_info, row_errors, write_json

DEFAULT_QUIX_PYTHON = REPO / ".local" / "bench" / "quix-venv" / "bin" / "python"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller data; under 5 minutes")
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help=f"comma-separated subset of {','.join(SCENARIOS)}",
    )
    parser.add_argument(
        "--systems", help=f"comma-separated subset of {','.join(SYSTEMS)} (default: all)"
    )
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--name", default="latest", help="file name stem of the results")
    parser.add_argument(
        "--quix-python",
        type=Path,
        default=Path(os.environ.get("BENCH_QUIX_PYTHON", DEFAULT_QUIX_PYTHON)),
        help="the interpreter of the Quix Streams virtualenv",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = parser.parse_args(argv)
    args.scenario_list = [s for s in args.scenarios.split(",") if s]
    unknown = set(args.scenario_list) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    args.system_set = set(args.systems.split(",")) if args.systems else None
    if args.system_set and args.system_set - set(SYSTEMS):
        parser.error(f"unknown system(s): {', '.join(sorted(args.system_set - set(SYSTEMS)))}")
    return args


def quix_version(python: Path) -> str | None:
    if not python.exists():
        return None
    try:
        out = subprocess.run(
            [str(python), "-c", "import quixstreams; print(quixstreams.__version__)"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    started = time.monotonic()

    def log(message: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {message}", flush=True)

    workdir = Path(tempfile.mkdtemp(prefix="stream-notifier-bench-"))
    extra = {"quixstreams": quix_version(args.quix_python)}
    machine = machine_info(REPO, args.quick, extra)
    bench = Bench(
        bootstrap=bootstrap,
        workdir=workdir,
        sizes=QUICK if args.quick else FULL,
        quix_python=args.quix_python,
        systems=args.system_set,
        log=log,
    )
    log(f"run {bench.run_id}; broker {bootstrap}; work directory {workdir}")
    try:
        bench.sink.start()
        log(f"dev sink at {bench.sink.base_url} (pid {bench.sink.child and bench.sink.child.pid})")
        wanted = args.scenario_list
        if {"fast", "slow", "rate"} & set(wanted):
            data = scenarios.backlog_dataset(bench)
            if "fast" in wanted:
                scenarios.fast(bench, data)
            if "slow" in wanted:
                scenarios.slow(bench, data)
            if "rate" in wanted:
                scenarios.rate_limited(bench, data)
        if "noisy" in wanted:
            scenarios.noisy(bench)
        if "restore" in wanted:
            scenarios.restore(bench)
        if "latency" in wanted:
            scenarios.latency(bench)
    finally:
        bench.sink.stop()
        bench.broker.delete_created()
    machine["seconds"] = round(time.monotonic() - started, 1)
    doc = document(machine, bench.rows, bench.notes)
    invalid = [(row, errors) for row in doc["rows"] if (errors := row_errors(row))]
    for row, errors in invalid:
        print(f"bench: row {row['scenario']}/{row['system']} breaks the schema: {errors}")
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / f"{args.name}.json", doc)
    text = markdown(doc)
    (args.out / f"{args.name}.md").write_text(text)
    try:
        chart(doc, args.out / f"{args.name}.png")
    except ImportError as exc:
        print(f"bench: no chart ({exc}); install the bench extra")
    except Exception as exc:  # the figures are written already; a chart must not lose them
        print(f"bench: the chart failed: {type(exc).__name__}: {exc}")
    print()
    print(text)
    log(f"wrote {args.out / args.name}.{{json,md,png}}")
    failed = any(n["note"].startswith("not a result") for n in bench.notes)
    if args.keep or failed:
        # A failed run's service logs are what explains it: keep them.
        log(f"logs kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if invalid else 0


if __name__ == "__main__":
    sys.exit(main())
