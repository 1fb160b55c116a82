"""The dev sink's request records, read back for one system's run. Pure: bytes in, figures out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from bench.verify import Delivery


@dataclass
class SinkRun:
    """The sink's view of one system's run."""

    deliveries: list[Delivery] = field(default_factory=list)
    accepted_starts_ns: list[int] = field(default_factory=list)
    first_start_ns: int | None = None
    last_end_ns: int | None = None
    requests: int = 0
    http_429: int = 0
    other_failures: int = 0

    @property
    def seconds(self) -> float | None:
        if self.first_start_ns is None or self.last_end_ns is None:
            return None
        return (self.last_end_ns - self.first_start_ns) / 1e9


def parse_records(lines: list[bytes]) -> SinkRun:
    run = SinkRun()
    for line in lines:
        if not line.strip():
            continue
        record: dict[str, Any] = orjson.loads(line)
        run.requests += 1
        start = int(record["received_start_ns"])
        if run.first_start_ns is None or start < run.first_start_ns:
            run.first_start_ns = start
        status = record["status"]
        if record["outcome"] == "accepted":
            event_id = str(record["body"]["metadata"]["event_id"])
            run.deliveries.append(Delivery(event_id, start))
            run.accepted_starts_ns.append(start)
            end = int(record["responded_ns"])
            if run.last_end_ns is None or end > run.last_end_ns:
                run.last_end_ns = end
        elif status == 429:
            run.http_429 += 1
        else:
            run.other_failures += 1
    return run
