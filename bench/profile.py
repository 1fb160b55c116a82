"""`python -m bench.profile`: where stream_notifier spends its CPU on the fast scenario.

Runs the real service (as `bench.run` does, a subprocess against the dev sink in its own
process) on a backlog, sampled by py-spy (every thread, native extensions folded into their
Python callers) or pyinstrument (the event loop's thread, as a call tree), and prints the
hottest functions with file:line. Needs a broker at KAFKA_BOOTSTRAP_SERVERS.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from bench.data import Dataset, generate_events
from bench.harness import QUICK, Bench
from bench.proc import REPO, Child


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--ordering", choices=("key", "partition"), default="key")
    parser.add_argument("--tool", choices=("py-spy", "pyinstrument"), default="py-spy")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="sink latency per request")
    parser.add_argument(
        "--no-state", action="store_true", help="run with the dedupe/ledger store disabled"
    )
    parser.add_argument(
        "--all-threads",
        action="store_true",
        help="py-spy: sample every thread, also those waiting in C (default: the GIL holder)",
    )
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()))
    return parser.parse_args(argv)


def summarize_raw(path: Path, top: int) -> str:
    """py-spy's collapsed stacks, as self and inclusive sample counts per function."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [f for f in stack.split(";") if f and not f.startswith("process ")]
        frames = [f for f in frames if not f.startswith("thread ")]
        if not frames:
            continue
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    lines = [f"{total} samples", "", "self (where the CPU is):"]
    lines += [f"  {n / total:6.1%}  {frame}" for frame, n in own.most_common(top)]
    lines += ["", "inclusive, stream_notifier's own frames:"]
    ours = [(f, n) for f, n in inclusive.most_common() if "stream_notifier/" in f]
    lines += [f"  {n / total:6.1%}  {frame}" for frame, n in ours[:top]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    workdir = Path(tempfile.mkdtemp(prefix="stream-notifier-profile-"))
    bench = Bench(
        bootstrap=bootstrap,
        workdir=workdir,
        sizes=QUICK,
        quix_python=None,
        systems=None,
        log=lambda message: print(message, flush=True),
    )
    report = ""
    try:
        bench.sink.start()
        events = generate_events(args.events, bench.routes)
        data = Dataset(f"{bench.run_id}-profile", events, bench.broker, workdir)
        topic = data.topic(args.events)
        group = bench.group("profile", f"stream_notifier-{args.ordering}")
        profile_out = (
            args.out / f"profile-{args.ordering}.{'txt' if args.tool == 'pyinstrument' else 'raw'}"
        )
        command = bench.notifier_command(
            "fast",
            topic,
            group,
            ordering=args.ordering,
            profile_to=profile_out if args.tool == "pyinstrument" else None,
            state_enabled=not args.no_state,
        )
        bench.sink.begin(**({"latency_ms": args.latency_ms} if args.latency_ms else {}))
        child = Child(command, workdir / "service.log")
        spy = None
        if args.tool == "py-spy":
            spy_bin = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
            spy = subprocess.Popen(
                [
                    spy_bin,
                    "record",
                    "--pid",
                    str(child.pid),
                    "--format",
                    "raw",
                    "--output",
                    str(profile_out),
                    "--rate",
                    "200",
                    "--threads",
                    # The GIL holder is where Python spends CPU; other threads mostly wait
                    # in librdkafka or on queues, which py-spy would count as busy.
                    *([] if args.all_threads else ["--gil"]),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
            )
        drive = bench.drive(child, args.events, 300)
        measured = bench.measure(data.expected(args.events), bench.sink.collect(), ordered=True)
        verdict = measured.verdict
        print(
            f"{args.events} events: {measured.per_s or 0:.0f}/s at the sink, "
            f"cpu {drive.cpu_per_10k or 0:.2f}s/10k, "
            f"{'verified' if verdict and verdict.ok else 'NOT verified'}"
        )
        if spy is not None:
            spy.wait(30)
        if args.tool == "py-spy":
            report = summarize_raw(profile_out, args.top)
        else:
            report = profile_out.read_text(errors="replace")
        print(report)
        print(f"\nprofile: {profile_out}")
    finally:
        bench.sink.stop()
        bench.broker.delete_created()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    os.chdir(REPO)
    sys.exit(main())
