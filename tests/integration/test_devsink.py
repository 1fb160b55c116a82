"""The dev sink over real loopback HTTP: the reference behaviour, the traps, and the faults."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from stream_notifier.devsink.client import SinkClient
from stream_notifier.devsink.server import NO_RECIPIENT, SinkHandle, run_sink_in_thread

pytestmark = pytest.mark.integration

KEY = "test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
ORG_MEMBERS = 3


def note(**fields: Any) -> dict[str, Any]:
    return {"title": "Order shipped", "body": "Order 7 is on its way", "user_id": "42", **fields}


@pytest.fixture(scope="module")
def sink() -> Iterator[SinkHandle]:
    with run_sink_in_thread(api_key=KEY, org_members=ORG_MEMBERS) as handle:
        yield handle


@pytest.fixture
def control(sink: SinkHandle) -> Iterator[SinkClient]:
    with sink.client() as client:
        client.reset()
        client.clear_faults()
        yield client


@pytest.fixture
def http(sink: SinkHandle) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sink.base_url, timeout=10.0) as client:
        yield client


def post(http: httpx.Client, body: object, headers: dict[str, str] | None = None) -> httpx.Response:
    return http.post(
        "/notifications", content=orjson.dumps(body), headers={**AUTH, **(headers or {})}
    )


def error_of(response: httpx.Response) -> tuple[int, str]:
    errors = response.json()["errors"]
    assert len(errors) == 1
    assert errors[0]["code"] == response.status_code
    return response.status_code, errors[0]["message"]


# -- the reference behaviour -------------------------------------------------------------------


class TestAuth:
    @pytest.mark.parametrize(
        "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}]
    )
    def test_missing_or_wrong_key_is_401(
        self, http: httpx.Client, control: SinkClient, headers: dict[str, str]
    ) -> None:
        response = http.post("/notifications", json=note(), headers=headers)
        assert error_of(response) == (401, "Unauthorized")
        assert control.requests() == []
        assert control.stats()["by_status"] == {"401": 1}

    def test_key_revoked_at_runtime(self, http: httpx.Client, control: SinkClient) -> None:
        control.set_faults(auth_key="rotated")
        assert post(http, note()).status_code == 401
        assert post(http, note(), {"Authorization": "Bearer rotated"}).status_code == 200
        control.clear_faults()
        assert post(http, note()).status_code == 200


class TestValidation:
    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"body": "b", "user_id": "1"}, "title"),
            ({"title": "", "body": "b", "user_id": "1"}, "title"),
            ({"title": 5, "body": "b", "user_id": "1"}, "title"),
            ({"title": "t", "user_id": "1"}, "body"),
            ({"title": "t", "body": "  ", "user_id": "1"}, "body"),
            (note(user_id="abc"), "user_id"),
            (note(user_id="-1"), "user_id"),
            (note(user_id=True), "user_id"),
            (note(user_ids=["1", "x2"]), "user_ids[1]"),
            (note(user_ids="1"), "user_ids"),
            (note(organization_id="org-1"), "organization_id"),
            (note(workspace_id="9" * 30), "workspace_id"),
            (note(expires_hours="24"), "expires_hours"),
            (note(expires_hours=10**12), "expires_hours"),
        ],
    )
    def test_invalid_payload_is_422_naming_the_field(
        self, http: httpx.Client, control: SinkClient, body: dict[str, Any], field: str
    ) -> None:
        status, message = error_of(post(http, body))
        assert status == 422
        assert message.startswith(field)
        assert control.stats()["rows_stored"] == 0

    def test_no_recipient_is_400(self, http: httpx.Client) -> None:
        body = {"title": "t", "body": "b", "user_ids": []}
        assert error_of(post(http, body)) == (400, NO_RECIPIENT)

    @pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'"text"', b""])
    def test_bad_json_or_not_an_object_is_400(self, http: httpx.Client, raw: bytes) -> None:
        response = http.post("/notifications", content=raw, headers=AUTH)
        assert response.status_code == 400
        error_of(response)

    def test_body_over_2mb_is_refused(self, http: httpx.Client, control: SinkClient) -> None:
        response = post(http, note(metadata={"blob": "x" * (2 * 1024 * 1024)}))
        assert response.status_code == 413
        error_of(response)
        assert control.stats()["rows_stored"] == 0

    def test_ids_as_ints_and_digit_strings(self, http: httpx.Client) -> None:
        response = post(http, note(user_id=7, user_ids=["8", 9]))
        assert [row["user_id"] for row in response.json()["data"]] == ["7", "8", "9"]


class TestAccepted:
    def test_row_shape_defaults_and_expiry(self, http: httpx.Client) -> None:
        response = post(http, note(severity="catastrophic", expires_hours=2, metadata={"k": 1}))
        assert response.status_code == 200
        (row,) = response.json()["data"]
        assert set(row) >= {
            "id", "user_id", "organization_id", "workspace_id", "title", "body", "ctas",
            "severity", "metadata", "created_at", "expires_at",
        }  # fmt: skip
        assert row["severity"] == "info"  # unknown severities are silently downgraded
        assert (row["user_id"], row["organization_id"], row["workspace_id"]) == ("42", None, None)
        assert row["metadata"] == {"k": 1}
        assert row["ctas"] == []
        created = time.strptime(row["created_at"][:19], "%Y-%m-%dT%H:%M:%S")
        expires = time.strptime(row["expires_at"][:19], "%Y-%m-%dT%H:%M:%S")
        assert time.mktime(expires) - time.mktime(created) == 2 * 3600

    def test_zero_and_negative_expiry_are_not_rejected(self, http: httpx.Client) -> None:
        assert post(http, note(expires_hours=0)).status_code == 200
        assert post(http, note(expires_hours=-5)).status_code == 200

    def test_default_expiry_is_90_days(self, http: httpx.Client) -> None:
        (row,) = post(http, note()).json()["data"]
        created = time.strptime(row["created_at"][:10], "%Y-%m-%d")
        expires = time.strptime(row["expires_at"][:10], "%Y-%m-%d")
        assert round((time.mktime(expires) - time.mktime(created)) / 86400) == 90

    def test_fan_out_is_a_deduplicated_union(self, http: httpx.Client, control: SinkClient) -> None:
        body = note(user_id="1", user_ids=["2", "1", "5001"], organization_id="5", workspace_id="6")
        rows = post(http, body).json()["data"]
        org = [f"5{i:03d}" for i in range(1, ORG_MEMBERS + 1)]
        workspace = [f"6{i:03d}" for i in range(1, ORG_MEMBERS + 1)]
        assert [r["user_id"] for r in rows] == ["1", "2", "5001", *org[1:], *workspace]
        assert {(r["organization_id"], r["workspace_id"]) for r in rows} == {("5", "6")}
        assert len({r["id"] for r in rows}) == len(rows)
        assert control.stats()["rows_stored"] == len(rows)
        assert control.rows() == rows

    def test_action_url_shortcut_and_ctas_win(self, http: httpx.Client) -> None:
        (row,) = post(http, note(action_url="/orders/7")).json()["data"]
        assert row["ctas"] == [{"label": "View", "payload": "/orders/7"}]
        (row,) = post(http, note(action_url="/o", action_label="Open")).json()["data"]
        assert row["ctas"] == [{"label": "Open", "payload": "/o"}]
        ctas = [{"label": "Track", "payload": "https://t.example/7"}]
        (row,) = post(http, note(ctas=ctas, action_url="/ignored")).json()["data"]
        assert row["ctas"] == ctas


class TestReferenceTraps:
    def test_cta_with_url_is_stored_then_500(self, http: httpx.Client, control: SinkClient) -> None:
        body = note(user_ids=["1", "2"], user_id=None, ctas=[{"label": "Open", "url": "/o/7"}])
        response = post(http, body)
        assert error_of(response)[0] == 500
        rows = control.rows()
        assert [r["user_id"] for r in rows] == ["1", "2"]
        assert rows[0]["ctas"] == [{"label": "Open", "url": "/o/7"}]
        # A retry of the "failed" request writes the rows again: the trap the guide sets.
        post(http, body)
        assert control.stats()["rows_stored"] == 4
        assert control.stats()["accepted"] == 0
        (first, _) = control.requests(include_all=True)
        assert (first["outcome"], first["status"], len(first["rows"])) == ("late_failure", 500, 2)

    @pytest.mark.parametrize("metadata", [["a"], "text", 3])
    def test_non_object_metadata_is_stored_then_500(
        self, http: httpx.Client, control: SinkClient, metadata: object
    ) -> None:
        assert post(http, note(metadata=metadata)).status_code == 500
        assert [r["metadata"] for r in control.rows()] == [metadata]


class TestRecording:
    def test_records_body_key_times_and_seq(self, http: httpx.Client, control: SinkClient) -> None:
        before = time.monotonic_ns()
        post(http, note(title="one"), {"Idempotency-Key": "k-1"})
        post(http, note(title="two"))
        post(http, note(title=""))  # rejected: not among the accepted requests
        after = time.monotonic_ns()
        records = control.wait_for(2, timeout=2)
        assert [r["body"]["title"] for r in records] == ["one", "two"]
        assert [r["idempotency_key"] for r in records] == ["k-1", None]
        first, second = records
        assert second["seq"] > first["seq"]
        for record in records:
            assert before <= record["received_start_ns"] <= record["received_end_ns"] <= after
            assert record["received_end_ns"] <= record["responded_ns"] <= after
            assert record["status"] == 200
            assert len(record["rows"]) == 1
        assert [r["body"]["title"] for r in control.requests(since=first["seq"])] == ["two"]
        assert len(control.requests(include_all=True)) == 3
        stats = control.stats()
        assert (stats["received"], stats["accepted"], stats["by_status"]) == (
            3,
            2,
            {"200": 2, "422": 1},
        )

    def test_reference_ignores_idempotency_key(
        self, http: httpx.Client, control: SinkClient
    ) -> None:
        headers = {"Idempotency-Key": "same"}
        first = post(http, note(), headers).json()["data"]
        second = post(http, note(), headers).json()["data"]
        assert first[0]["id"] != second[0]["id"]
        assert control.stats()["rows_stored"] == 2

    def test_reset(self, http: httpx.Client, control: SinkClient) -> None:
        post(http, note())
        control.reset()
        assert control.requests(include_all=True) == []
        assert control.rows() == []
        assert control.stats()["received"] == 0

    def test_wait_for_times_out(self, control: SinkClient) -> None:
        with pytest.raises(TimeoutError):
            control.wait_for(1, timeout=0.1)

    def test_record_file(self, tmp_path: Path) -> None:
        path = tmp_path / "requests.jsonl"
        with run_sink_in_thread(record_path=str(path)) as sink, httpx.Client() as http:
            headers = {"Authorization": "Bearer dev-key"}
            http.post(sink.notifications_url, json=note(title="a"), headers=headers)
            http.post(sink.notifications_url, json=note(title=""), headers=headers)
        lines = [orjson.loads(line) for line in path.read_bytes().splitlines()]
        assert [(r["body"]["title"], r["status"], r["accepted"]) for r in lines] == [
            ("a", 200, True),
            ("", 422, False),
        ]

    def test_max_records_bounds_memory_not_counters(self) -> None:
        with run_sink_in_thread(max_records=5) as sink, httpx.Client() as http:
            headers = {"Authorization": "Bearer dev-key"}
            for i in range(25):
                http.post(sink.notifications_url, json=note(title=f"n{i}"), headers=headers)
            with sink.client() as control:
                kept = control.requests()
                assert 5 <= len(kept) < 10
                assert kept[-1]["body"]["title"] == "n24"
                assert [r["seq"] for r in kept] == list(range(26 - len(kept), 26))
                assert control.stats()["accepted"] == 25
                assert len(control.requests(since=23)) == 2


def test_honored_idempotency_replays_first_response() -> None:
    with run_sink_in_thread(honor_idempotency=True) as sink, httpx.Client() as http:
        headers = {"Authorization": "Bearer dev-key", "Idempotency-Key": "evt-1"}
        first = http.post(sink.notifications_url, json=note(), headers=headers)
        again = http.post(sink.notifications_url, json=note(), headers=headers)
        other = http.post(
            sink.notifications_url, json=note(), headers={**headers, "Idempotency-Key": "evt-2"}
        )
        assert first.status_code == again.status_code == other.status_code == 200
        assert again.json() == first.json()
        assert other.json() != first.json()
        with sink.client() as control:
            stats = control.stats()
            assert (stats["rows_stored"], stats["accepted"], stats["replayed"]) == (2, 2, 1)
            assert [r["outcome"] for r in control.requests(include_all=True)] == [
                "accepted",
                "replayed",
                "accepted",
            ]


# -- faults ------------------------------------------------------------------------------------


class TestFaults:
    def test_status_for_n_times_then_normal(self, http: httpx.Client, control: SinkClient) -> None:
        control.set_faults(status=503, times=2)
        statuses = [post(http, note()).status_code for _ in range(3)]
        assert statuses == [503, 503, 200]
        assert len(control.requests()) == 1
        stats = control.stats()
        assert (stats["rows_stored"], stats["faulted"]) == (1, 2)
        assert control.faults()["remaining"] == 0

    def test_status_body_shape_and_custom_message(
        self, http: httpx.Client, control: SinkClient
    ) -> None:
        control.set_faults(status=404, message="Organization not found", times=1)
        assert error_of(post(http, note())) == (404, "Organization not found")
        control.set_faults(status=500, times=1)
        assert error_of(post(http, note())) == (500, "Internal Server Error")

    def test_match_on_dotted_body_path(self, http: httpx.Client, control: SinkClient) -> None:
        control.set_faults(status=500, match={"metadata.event_id": "bad"})
        ok = note(metadata={"event_id": "good"})
        bad = note(metadata={"event_id": "bad"})
        assert [post(http, b).status_code for b in (ok, bad, ok, bad)] == [200, 500, 200, 500]

    def test_429_fault_carries_reference_message_without_header(
        self, http: httpx.Client, control: SinkClient
    ) -> None:
        control.set_faults(status=429, retry_after_s=3, times=1)
        response = post(http, note())
        assert error_of(response) == (429, "Rate limit exceeded. Retry after 3 seconds")
        assert "Retry-After" not in response.headers
        control.set_faults(status=429, retry_after_s=2, retry_after_header=True, times=1)
        assert post(http, note()).headers["Retry-After"] == "2"
        assert control.stats()["http_429"] == 2

    def test_rate_limit_token_bucket(self, http: httpx.Client, control: SinkClient) -> None:
        control.set_faults(rate_limit_per_s=0.5, burst=2)
        responses = [post(http, note()) for _ in range(3)]
        assert [r.status_code for r in responses] == [200, 200, 429]
        assert error_of(responses[2]) == (429, "Rate limit exceeded. Retry after 2 seconds")
        assert "Retry-After" not in responses[2].headers
        stats = control.stats()
        assert (stats["http_429"], stats["accepted"]) == (1, 2)

    def test_drop_closes_without_response(self, http: httpx.Client, control: SinkClient) -> None:
        control.set_faults(drop=True, times=1)
        with pytest.raises(httpx.TransportError):
            post(http, note())
        assert post(http, note()).status_code == 200
        stats = control.stats()
        assert (stats["dropped"], stats["accepted"], stats["rows_stored"]) == (1, 1, 1)
        assert [r["outcome"] for r in control.requests(include_all=True)] == [
            "dropped",
            "accepted",
        ]

    def test_latency_lets_requests_overlap(self, sink: SinkHandle, control: SinkClient) -> None:
        control.set_faults(latency_ms=300, latency_jitter_ms=20)
        started = time.monotonic()
        with (
            httpx.Client(base_url=sink.base_url, timeout=10) as http,
            ThreadPoolExecutor(8) as pool,
        ):
            statuses = list(
                pool.map(lambda i: post(http, note(title=f"n{i}")).status_code, range(8))
            )
        elapsed = time.monotonic() - started
        assert statuses == [200] * 8
        assert elapsed < 8 * 0.3 / 2  # far from serial
        assert control.stats()["max_concurrency"] >= 4
        records = control.requests()
        # Every response took at least the injected latency.
        assert all(r["responded_ns"] - r["received_end_ns"] >= 300_000_000 for r in records)

    def test_bad_fault_config_is_400(self, control: SinkClient) -> None:
        with pytest.raises(httpx.HTTPStatusError) as caught:
            control.set_faults(status=200)
        assert caught.value.response.status_code == 400

    def test_clear_restores_startup_faults(self) -> None:
        with run_sink_in_thread(latency_ms=5) as sink, sink.client() as control:
            control.set_faults(status=500)
            assert control.clear_faults()["latency_ms"] == 5
            assert control.faults()["status"] is None


def test_unknown_routes_answer_in_error_shape(http: httpx.Client) -> None:
    assert error_of(http.get("/nowhere")) == (404, "Not Found")
    assert error_of(http.get("/notifications")) == (405, "Method Not Allowed")
    assert http.get("/_sink/health").status_code == 200


# -- the command line --------------------------------------------------------------------------

RUN_COMMAND = (
    "import argparse, sys\n"
    "from stream_notifier.devsink import command\n"
    "parser = argparse.ArgumentParser()\n"
    "command.add_arguments(parser)\n"
    "sys.exit(command.run(parser.parse_args(sys.argv[1:])))\n"
)

CLI_FLAGS = ["--port", "0", "--api-key", "cli-key", "--org-members", "2", "--latency-ms", "1"]


def test_command_serves_until_sigterm(tmp_path: Path) -> None:
    ready = tmp_path / "port"
    proc = subprocess.Popen(
        [sys.executable, "-c", RUN_COMMAND, *CLI_FLAGS, "--ready-file", str(ready)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + 15
        while not ready.exists():
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "dev-sink never wrote its ready file"
            time.sleep(0.05)
        port = int(ready.read_text())
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == f"dev-sink listening on http://127.0.0.1:{port}"
        base = f"http://127.0.0.1:{port}"
        response = httpx.post(
            f"{base}/notifications",
            json=note(user_id=None, organization_id="3"),
            headers={"Authorization": "Bearer cli-key"},
        )
        assert [r["user_id"] for r in response.json()["data"]] == ["3001", "3002"]
        with SinkClient(base) as control:
            assert control.faults()["latency_ms"] == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=10)
    assert code == 0
    assert not ready.exists()
