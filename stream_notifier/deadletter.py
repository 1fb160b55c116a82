"""What a dead letter carries: the original key, value and headers, plus headers that say
why and where from. Names follow Kafka Connect's `__connect.errors.*` so existing tooling
reads them; the few it has no name for use `stream_notifier.errors.*`.
"""

from __future__ import annotations

from dataclasses import dataclass

from stream_notifier.errors import PublishError, StreamNotifierError
from stream_notifier.records import Headers, RawRecord

PREFIX = "__connect.errors."
OWN_PREFIX = "stream_notifier.errors."


@dataclass(frozen=True, slots=True)
class DeadLetter:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: Headers


def dead_letter_topic(template: str, record: RawRecord) -> str:
    return template.replace("{topic}", record.topic)


def dead_letter(
    record: RawRecord, error: StreamNotifierError, *, topic: str, attempts: int = 1
) -> DeadLetter:
    reason: list[tuple[str, str]] = [
        (PREFIX + "topic", record.topic),
        (PREFIX + "partition", str(record.partition)),
        (PREFIX + "offset", str(record.offset)),
        (PREFIX + "stage", error.stage),
        (PREFIX + "class.name", type(error).__name__),
        (PREFIX + "exception.message", error.message),
        (PREFIX + "connector.name", "stream-notifier"),
        (OWN_PREFIX + "attempts", str(attempts)),
        (OWN_PREFIX + "retriable", str(error.retriable).lower()),
    ]
    if record.timestamp_ms is not None:
        reason.append((OWN_PREFIX + "timestamp", str(record.timestamp_ms)))
    if error.context.route is not None:
        reason.append((OWN_PREFIX + "route", error.context.route))
    if isinstance(error, PublishError):
        if error.http_status is not None:
            reason.append((OWN_PREFIX + "http.status", str(error.http_status)))
        if error.response_excerpt:
            reason.append((OWN_PREFIX + "http.response", error.response_excerpt))
    # The original headers first, untouched, so a redrive can put them back as they were.
    headers = record.headers + tuple((k, v.encode("utf-8")) for k, v in reason)
    return DeadLetter(topic=topic, key=record.key, value=record.value, headers=headers)


def origin_topic(headers: Headers) -> str | None:
    """The topic a dead letter came from, as its headers say."""
    for key, value in headers:
        if key == PREFIX + "topic" and value is not None:
            return value.decode("utf-8", errors="replace")
    return None


def reason(headers: Headers) -> dict[str, str]:
    """The dead letter's reason headers, without their prefixes."""
    found = {}
    for key, value in headers:
        for prefix in (PREFIX, OWN_PREFIX):
            if key.startswith(prefix) and value is not None:
                found[key[len(prefix) :]] = value.decode("utf-8", errors="replace")
    return found


def original_headers(headers: Headers) -> Headers:
    """The headers the record had before it was dead-lettered: what a redrive puts back."""
    return tuple((k, v) for k, v in headers if not k.startswith((PREFIX, OWN_PREFIX)))
