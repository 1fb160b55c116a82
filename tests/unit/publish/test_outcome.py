"""What an HTTP answer means: delivered, permanent, deployment fault or transient."""

from __future__ import annotations

import orjson
import pytest

from stream_notifier.errors import (
    DeploymentError,
    ErrorContext,
    PermanentPublishError,
    PublishError,
    TransientPublishError,
)
from stream_notifier.publish.outcome import EXCERPT_BYTES, delivered_rows, retry_after_seconds

CONTEXT = ErrorContext(topic="events", partition=3, offset=41, route="r1")


def errors_body(*messages: str) -> bytes:
    return orjson.dumps({"errors": [{"message": m, "code": 0} for m in messages]})


def refused(
    status: int, content: bytes = b"", headers: dict[str, str] | None = None
) -> PublishError:
    with pytest.raises(PublishError) as caught:
        delivered_rows(status, headers or {}, content, CONTEXT)
    return caught.value


class TestDelivered:
    @pytest.mark.parametrize(
        ("status", "content", "rows"),
        [
            (200, orjson.dumps({"data": [{"id": "1"}, {"id": "2"}, {"id": "3"}]}), 3),
            (200, orjson.dumps({"data": [{"id": "1"}]}), 1),
            (200, orjson.dumps({"data": []}), 0),
            (201, orjson.dumps({"data": [{"id": "1"}]}), 1),
            (204, b"", 0),
            (200, b"not json", 0),
            (200, orjson.dumps({"data": {"id": "1"}}), 0),
            (200, orjson.dumps([1, 2]), 0),
        ],
    )
    def test_row_count(self, status: int, content: bytes, rows: int) -> None:
        assert delivered_rows(status, {}, content, CONTEXT) == rows


class TestClassification:
    @pytest.mark.parametrize(
        ("status", "kind"),
        [
            (400, PermanentPublishError),
            (404, PermanentPublishError),
            (409, PermanentPublishError),
            (413, PermanentPublishError),
            (422, PermanentPublishError),
            (401, DeploymentError),
            (403, DeploymentError),
            (408, TransientPublishError),
            (425, TransientPublishError),
            (429, TransientPublishError),
            (500, TransientPublishError),
            (502, TransientPublishError),
            (503, TransientPublishError),
            (504, TransientPublishError),
        ],
    )
    def test_status_table(self, status: int, kind: type[PublishError]) -> None:
        error = refused(status, errors_body("nope"))
        assert type(error) is kind
        assert error.retriable is (kind is TransientPublishError)
        assert error.stage == "publish"
        assert error.http_status == status
        # What the caller knew is kept, the status is added.
        assert error.context == ErrorContext("events", 3, 41, "r1", status)
        assert str(error) == f"HTTP {status}: nope (events[3]@41 route=r1 http={status})"

    def test_message_joins_the_api_errors(self) -> None:
        error = refused(422, errors_body("title is required", "body is required"))
        assert error.message == "HTTP 422: title is required; body is required"

    def test_message_falls_back_to_the_excerpt_then_to_no_body(self) -> None:
        assert refused(502, b"<html>Bad Gateway</html>").message == (
            "HTTP 502: <html>Bad Gateway</html>"
        )
        assert refused(500, b"").message == "HTTP 500: no body"

    def test_excerpt_is_bounded(self) -> None:
        error = refused(500, b"x" * (EXCERPT_BYTES * 4))
        assert error.response_excerpt == "x" * EXCERPT_BYTES

    def test_excerpt_survives_invalid_utf8(self) -> None:
        error = refused(400, b"bad \xff byte")
        assert error.response_excerpt == "bad \ufffd byte"

    def test_transient_without_announced_wait(self) -> None:
        error = refused(503, errors_body("Service Unavailable"))
        assert isinstance(error, TransientPublishError)
        assert error.retry_after_s is None

    def test_429_message_gives_the_wait(self) -> None:
        error = refused(429, errors_body("Rate limit exceeded. Retry after 7 seconds"))
        assert isinstance(error, TransientPublishError)
        assert error.retry_after_s == 7.0
        assert error.message == "HTTP 429: Rate limit exceeded. Retry after 7 seconds"

    def test_429_header_gives_the_wait(self) -> None:
        error = refused(429, b"", {"retry-after": "3"})
        assert isinstance(error, TransientPublishError)
        assert error.retry_after_s == 3.0


class TestRetryAfter:
    @pytest.mark.parametrize(
        ("headers", "content", "seconds"),
        [
            ({"retry-after": "3"}, b"", 3.0),
            ({"retry-after": "2.5"}, b"", 2.5),
            ({"retry-after": "-4"}, b"", 0.0),
            # The header wins over the message.
            ({"retry-after": "3"}, b"Rate limit exceeded. Retry after 7 seconds", 3.0),
            ({}, errors_body("Rate limit exceeded. Retry after 7 seconds"), 7.0),
            ({}, errors_body("Rate limit exceeded. Retry after 1 second"), 1.0),
            ({}, b"retry after 0.5 seconds", 0.5),
            # An HTTP date is not understood: fall back to the body, then to nothing.
            (
                {"retry-after": "Wed, 21 Oct 2026 07:28:00 GMT"},
                b"Rate limit exceeded. Retry after 9 seconds",
                9.0,
            ),
            ({"retry-after": "Wed, 21 Oct 2026 07:28:00 GMT"}, b"", None),
            ({}, errors_body("Rate limit exceeded"), None),
            ({}, b"", None),
        ],
    )
    def test_sources(self, headers: dict[str, str], content: bytes, seconds: float | None) -> None:
        assert retry_after_seconds(headers, content) == seconds
