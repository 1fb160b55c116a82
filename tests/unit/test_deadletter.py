"""Dead letters: the original record untouched, plus Kafka Connect style `why` headers."""

from __future__ import annotations

import pytest

from stream_notifier.deadletter import dead_letter, dead_letter_topic
from stream_notifier.errors import (
    DecodeError,
    ErrorContext,
    PermanentPublishError,
    RenderError,
    StreamNotifierError,
    TransientPublishError,
    ValidationError,
)
from stream_notifier.records import RawRecord

ORIGINAL_HEADERS = (("traceparent", b"00-abc-01"), ("ce_id", b"evt-1"), ("empty", None))
RECORD = RawRecord(
    topic="platform.events",
    partition=3,
    offset=1234,
    key=b"acct-9",
    value=b'{"not": "json',
    headers=ORIGINAL_HEADERS,
    timestamp_ms=1_700_000_000_000,
)


def reason(error: StreamNotifierError, **kwargs: int) -> dict[str, str]:
    letter = dead_letter(RECORD, error, topic="dlq", **kwargs)
    added = letter.headers[len(ORIGINAL_HEADERS) :]
    pairs = {k: v.decode() for k, v in added if v is not None}
    assert len(pairs) == len(added), "reason headers are unique and never null"
    return pairs


def test_original_record_is_carried_untouched_headers_first() -> None:
    letter = dead_letter(RECORD, DecodeError("record value is not valid JSON"), topic="x.dlq")
    assert letter.topic == "x.dlq"
    assert letter.key == RECORD.key
    assert letter.value == RECORD.value
    assert letter.headers[: len(ORIGINAL_HEADERS)] == ORIGINAL_HEADERS


def test_connect_headers() -> None:
    headers = reason(DecodeError("record value is not valid JSON"))
    assert headers == {
        "__connect.errors.topic": "platform.events",
        "__connect.errors.partition": "3",
        "__connect.errors.offset": "1234",
        "__connect.errors.stage": "decode",
        "__connect.errors.class.name": "DecodeError",
        "__connect.errors.exception.message": "record value is not valid JSON",
        "__connect.errors.connector.name": "stream-notifier",
        "stream_notifier.errors.attempts": "1",
        "stream_notifier.errors.retriable": "false",
        "stream_notifier.errors.timestamp": "1700000000000",
    }


@pytest.mark.parametrize(
    ("error", "stage"),
    [
        (DecodeError("x"), "decode"),
        (RenderError("x"), "render"),
        (ValidationError("x"), "validate"),
        (PermanentPublishError("x"), "publish"),
    ],
)
def test_stage_and_class_follow_the_error(error: StreamNotifierError, stage: str) -> None:
    headers = reason(error)
    assert headers["__connect.errors.stage"] == stage
    assert headers["__connect.errors.class.name"] == type(error).__name__


def test_message_has_no_location_suffix_and_route_is_its_own_header() -> None:
    error = RenderError("template.body: missing template variable").with_context(
        topic="platform.events", partition=3, offset=1234, route="invite-accepted"
    )
    headers = reason(error)
    assert headers["__connect.errors.exception.message"] == (
        "template.body: missing template variable"
    )
    assert headers["stream_notifier.errors.route"] == "invite-accepted"


def test_publish_error_carries_http_status_and_excerpt() -> None:
    error = PermanentPublishError(
        "HTTP 422: title is required",
        context=ErrorContext("platform.events", 3, 1234, "r1", 422),
        response_excerpt='{"errors":[{"message":"title is required","code":422}]}',
    )
    headers = reason(error, attempts=1)
    assert headers["stream_notifier.errors.http.status"] == "422"
    assert headers["stream_notifier.errors.http.response"] == (
        '{"errors":[{"message":"title is required","code":422}]}'
    )
    assert headers["__connect.errors.stage"] == "publish"
    assert headers["__connect.errors.class.name"] == "PermanentPublishError"
    assert headers["stream_notifier.errors.route"] == "r1"


def test_exhausted_transient_error_counts_attempts() -> None:
    error = TransientPublishError(
        "HTTP 503: no body", context=ErrorContext(http_status=503), response_excerpt=""
    )
    headers = reason(error, attempts=6)
    assert headers["stream_notifier.errors.attempts"] == "6"
    assert headers["stream_notifier.errors.retriable"] == "true"
    assert headers["stream_notifier.errors.http.status"] == "503"
    assert "stream_notifier.errors.http.response" not in headers  # empty excerpt left out


def test_optional_headers_are_left_out() -> None:
    bare = RawRecord("t", 0, 0, None, None)
    letter = dead_letter(bare, DecodeError("record value is empty (null)"), topic="t.dlq")
    names = [k for k, _ in letter.headers]
    assert "stream_notifier.errors.timestamp" not in names
    assert "stream_notifier.errors.route" not in names
    assert "stream_notifier.errors.http.status" not in names
    assert letter.key is None
    assert letter.value is None


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{topic}.dlq", "platform.events.dlq"),
        ("dlq.{topic}", "dlq.platform.events"),
        ("notifications-dlq", "notifications-dlq"),
        ("{topic}-{topic}", "platform.events-platform.events"),
    ],
)
def test_dead_letter_topic_template(template: str, expected: str) -> None:
    assert dead_letter_topic(template, RECORD) == expected
