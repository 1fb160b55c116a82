"""`python -m bench.state_memory`: bytes of memory per dedupe window and per ledger entry.

Builds one partition's store with N entries of each kind, the way a restore or live traffic
does, and reads the allocation with tracemalloc; the figure goes in the README.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
import tracemalloc

from stream_notifier.state.store import PartitionStore


def _key(i: int) -> str:
    # Real identities are 32 hex characters of a SHA-256.
    return hashlib.sha256(i.to_bytes(8, "big")).hexdigest()[:32]


def measure(kind: str, count: int) -> tuple[float, float]:
    tracemalloc.start()
    # The keys are traced too: the store keeps the strings it was given.
    keys = [_key(i) for i in range(count)]
    started = time.perf_counter()
    store = PartitionStore(max_entries=count * 2)
    now = 1_000_000
    for offset, key in enumerate(keys):
        if kind == "dedupe":
            store.open_window(key, "endpoint-disabled", 600_000, now)
        else:
            store.record_delivery(key, "endpoint-disabled", offset, 86_400_000, now)
    elapsed = time.perf_counter() - started
    del keys  # the list itself is not part of the store
    current, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(store) == count
    return current / count, elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    for kind in ("dedupe", "ledger"):
        per_entry, seconds = measure(kind, args.entries)
        print(
            f"{kind:7s} {args.entries:>9,} entries: {per_entry:6.0f} bytes/entry "
            f"({per_entry * args.entries / 2**20:,.0f} MiB), built in {seconds:.2f}s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
