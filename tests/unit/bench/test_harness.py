"""The benchmark harness's pure parts: result rows, verification, the sink's records.

No broker, no processes: these are what decide whether a benchmark figure is recorded.
"""

from __future__ import annotations

import orjson
import pytest

from bench.records import parse_records
from bench.report import goals, markdown, versus
from bench.results import ROW_FIELDS, Row, document, row_errors
from bench.verify import Delivery, Expected, percentile, rate, verify

# Two keys, produced in this order: a1 a2 b1 a3 b2.
EXPECTED = [
    Expected("a1", "a"),
    Expected("a2", "a"),
    Expected("b1", "b"),
    Expected("a3", "a"),
    Expected("b2", "b"),
]


def deliveries(*ids: str) -> list[Delivery]:
    """Deliveries in the given order (the sink started receiving them 1 ms apart)."""
    return [Delivery(event_id, started_ns=i * 1_000_000) for i, event_id in enumerate(ids)]


def test_in_order_everything_once_is_ok() -> None:
    verdict = verify(EXPECTED, deliveries("a1", "b1", "a2", "b2", "a3"), ordered=True)
    assert verdict.ok
    assert (verdict.delivered, verdict.lost, verdict.duplicates) == (5, 0, 0)
    assert verdict.ordering_violations == 0


def test_lost_events_are_counted_and_fail() -> None:
    verdict = verify(EXPECTED, deliveries("a1", "a2", "b1"), ordered=True)
    assert (verdict.delivered, verdict.lost) == (3, 2)
    assert not verdict.ok
    assert "2 lost" in verdict.problems()


def test_duplicates_are_counted_but_are_not_a_failure() -> None:
    verdict = verify(EXPECTED, deliveries("a1", "a1", "a2", "b1", "a3", "b2", "b2"), ordered=True)
    assert verdict.duplicates == 2
    assert verdict.ok


def test_reordering_within_a_key_is_a_violation() -> None:
    verdict = verify(EXPECTED, deliveries("a2", "a1", "b1", "a3", "b2"), ordered=True)
    assert verdict.ordering_violations == 1
    assert not verdict.ok


def test_interleaving_different_keys_is_not_a_violation() -> None:
    verdict = verify(EXPECTED, deliveries("b1", "b2", "a1", "a2", "a3"), ordered=True)
    assert verdict.ordering_violations == 0


def test_a_redelivery_after_later_events_is_a_duplicate_not_a_reordering() -> None:
    # At least once: a1 delivered, then a2, then a1 again after a restart.
    verdict = verify(EXPECTED, deliveries("a1", "a2", "a1", "b1", "a3", "b2"), ordered=True)
    assert verdict.duplicates == 1
    assert verdict.ordering_violations == 0


def test_order_is_judged_by_when_the_sink_received_not_by_list_position() -> None:
    shuffled = [Delivery("a2", 20), Delivery("a1", 10), Delivery("b1", 30)]
    shuffled += [Delivery("a3", 40), Delivery("b2", 50)]
    assert verify(EXPECTED, shuffled, ordered=True).ordering_violations == 0


def test_order_is_not_judged_for_systems_that_do_not_promise_it() -> None:
    verdict = verify(EXPECTED, deliveries("a3", "a2", "a1", "b2", "b1"), ordered=False)
    assert verdict.ordering_violations is None
    assert verdict.ok


def test_unexpected_events_fail() -> None:
    verdict = verify(EXPECTED, deliveries("a1", "a2", "b1", "a3", "b2", "zz"), ordered=True)
    assert verdict.unexpected == 1
    assert not verdict.ok


def test_percentile_and_rate() -> None:
    assert percentile([], 50) is None
    assert percentile([5.0, 1.0, 3.0, 2.0, 4.0], 50) == 3.0
    assert percentile([float(i) for i in range(1, 101)], 99) == 99.0
    assert rate(100, 0, 2_000_000_000) == 50.0
    assert rate(0, 0, 1) is None
    assert rate(10, 5, 5) is None


def test_rows_have_exactly_the_published_schema() -> None:
    row = Row("fast", "stream_notifier-key", events=20_000, per_s=1234.5678, lost=0).to_dict()
    assert tuple(row) == ROW_FIELDS
    assert row_errors(row) == []
    assert row["per_s"] == 1234.568
    assert row["p99_ms"] is None


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"scenario": "fastest"}, "unknown scenario"),
        ({"system": "kafka-streams"}, "unknown system"),
        ({"events": 1.5}, "events must be an integer"),
        ({"per_s": "fast"}, "per_s must be a number"),
    ],
)
def test_schema_errors_are_reported(change: dict[str, object], complaint: str) -> None:
    row = {**Row("fast", "naive").to_dict(), **change}
    assert any(complaint in e for e in row_errors(row))


def test_schema_rejects_extra_or_missing_fields() -> None:
    row = Row("fast", "naive").to_dict()
    assert row_errors({**row, "note": "x"})
    del row["lost"]
    assert row_errors(row)


def _record(seq: int, event_id: str, outcome: str = "accepted", status: int = 200) -> bytes:
    return orjson.dumps(
        {
            "seq": seq,
            "status": status,
            "outcome": outcome,
            "accepted": outcome == "accepted",
            "body": {"title": "t", "metadata": {"event_id": event_id}},
            "received_start_ns": seq * 1000,
            "received_end_ns": seq * 1000 + 10,
            "responded_ns": seq * 1000 + 50,
        }
    )


def test_sink_records_become_deliveries_and_429_counts() -> None:
    lines = [
        _record(1, "a1"),
        _record(2, "a2", outcome="rate_limited", status=429),
        _record(3, "a2"),
        _record(4, "b1", outcome="faulted", status=503),
        b"\n",
    ]
    run = parse_records(lines)
    assert [d.event_id for d in run.deliveries] == ["a1", "a2"]
    assert (run.requests, run.http_429, run.other_failures) == (4, 1, 1)
    assert run.first_start_ns == 1000
    assert run.last_end_ns == 3050
    assert run.seconds == pytest.approx(2050 / 1e9)


def test_a_tiny_run_end_to_end_through_verification_and_report() -> None:
    """Sink records -> verification -> rows -> markdown with ratios and goals."""
    run = parse_records([_record(i + 1, e.event_id) for i, e in enumerate(EXPECTED)])
    verdict = verify(EXPECTED, run.deliveries, ordered=True)
    assert verdict.ok
    rows = [
        Row("fast", "ceiling-http", events=5, per_s=1000.0, lost=0, duplicates=0),
        Row("fast", "naive", events=5, per_s=50.0, lost=0, duplicates=0, ordering_violations=0),
        Row("fast", "quixstreams", events=5, per_s=300.0, lost=0, duplicates=0),
        Row(
            "fast",
            "stream_notifier-key",
            events=5,
            per_s=900.0,
            lost=verdict.lost,
            duplicates=verdict.duplicates,
            ordering_violations=verdict.ordering_violations,
        ),
        Row("rate", "stream_notifier-key", events=100, per_s=196.0, http_429=2, limit_per_s=200.0),
        Row("noisy", "stream_notifier-key"),
    ]
    doc = document({"mode": "quick", "date": "2026-01-01T00:00:00Z"}, rows, [])
    assert all(row_errors(row) == [] for row in doc["rows"])
    key_row = doc["rows"][3]
    assert versus(doc["rows"], key_row) == ("0.90 x ceiling-http; 3.00 x quixstreams; 18 x naive")
    checked = goals(doc["rows"])

    def goal(prefix: str) -> bool | None:
        return next(ok for ok, text in checked if text.startswith(prefix))

    assert goal("fast: key ÷ ceiling-http") is True
    assert goal("fast: key ÷ quixstreams") is True
    assert goal("fast: key ÷ naive") is True
    assert goal("slow: key ÷ partition") is None
    assert goal("rate: stream_notifier-key sustained ÷ limit") is True
    assert goal("rate: stream_notifier-key 429s") is False
    assert goal("zero lost") is True
    text = markdown(doc)
    assert "| fast | stream_notifier-key | 5 | 900 |" in text
    assert "**MISSED**: rate: stream_notifier-key 429s" in text
