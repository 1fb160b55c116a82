"""The dev sink as its own process, and what it recorded for one system's run.

In a thread of the harness the sink would share the GIL and run at about half speed, which
would make the sink the benchmark. Its in-memory records are capped (`--max-records`);
every request also goes to a JSON-lines file, which is what the harness verifies, read
once the system has stopped, so nothing polls the sink for bodies while a system runs.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from bench.proc import Child
from bench.records import SinkRun, parse_records
from stream_notifier.devsink.client import SinkClient

API_KEY = "bench-key"
_MAX_RECORDS = 2000


class SinkProcess:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.record_path = workdir / "sink-requests.jsonl"
        self.ready_path = workdir / "sink.port"
        self.api_key = API_KEY
        self.child: Child | None = None
        self.client: SinkClient | None = None
        self.base_url = ""

    def start(self, timeout: float = 20.0) -> None:
        self.child = Child(
            [
                sys.executable,
                "-m",
                "stream_notifier.cli",
                "dev-sink",
                "--port",
                "0",
                "--api-key",
                self.api_key,
                "--ready-file",
                str(self.ready_path),
                "--record",
                str(self.record_path),
                "--max-records",
                str(_MAX_RECORDS),
            ],
            self.workdir / "sink.log",
        )
        deadline = time.monotonic() + timeout
        while not self.ready_path.exists():
            if self.child.exit_code() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the dev sink did not start:\n{self.child.tail()}")
            time.sleep(0.05)
        port = int(self.ready_path.read_text().strip())
        self.base_url = f"http://127.0.0.1:{port}"
        self.client = SinkClient(self.base_url)
        self.client.wait_ready()

    def begin(self, **faults: Any) -> None:
        """A clean slate for the next system: no records, no counters, these faults only."""
        assert self.client is not None
        self.client.reset()
        if faults:
            self.client.set_faults(**faults)
        else:
            self.client.clear_faults()
        # The sink appends (O_APPEND), so truncating restarts the file under its feet.
        os.truncate(self.record_path, 0)

    def accepted(self) -> int:
        assert self.client is not None
        return int(self.client.stats()["accepted"])

    def stats(self) -> dict[str, Any]:
        assert self.client is not None
        return self.client.stats()

    def collect(self) -> SinkRun:
        with self.record_path.open("rb") as lines:
            return parse_records(lines.readlines())

    def stop(self) -> None:
        if self.client is not None:
            self.client.close()
        if self.child is not None:
            self.child.stop(10)
