"""What an HTTP answer means for one notification. Pure: no I/O, just status, headers, body.

2xx delivered; 400/404/422 (and other 4xx) permanent; 401/403 a deployment fault;
408/429/5xx transient, with the API's announced wait when it gave one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import orjson

from stream_notifier.errors import (
    DeploymentError,
    ErrorContext,
    PermanentPublishError,
    TransientPublishError,
)

EXCERPT_BYTES = 512
_RETRY_AFTER_MESSAGE = re.compile(rb"[Rr]etry after (\d+(?:\.\d+)?) seconds?")
_TRANSIENT = frozenset({408, 425, 429})
_DEPLOYMENT = frozenset({401, 403})


def delivered_rows(
    status: int, headers: Mapping[str, str], content: bytes, context: ErrorContext
) -> int:
    """Rows the API wrote (one per recipient) on success; otherwise raise the outcome."""
    if 200 <= status < 300:
        return _row_count(content)
    excerpt = content[:EXCERPT_BYTES].decode("utf-8", errors="replace")
    context = ErrorContext(
        topic=context.topic,
        partition=context.partition,
        offset=context.offset,
        route=context.route,
        http_status=status,
    )
    message = f"HTTP {status}: {_error_message(content) or excerpt or 'no body'}"
    if status in _TRANSIENT or status >= 500:
        raise TransientPublishError(
            message,
            context=context,
            response_excerpt=excerpt,
            retry_after_s=retry_after_seconds(headers, content),
        )
    if status in _DEPLOYMENT:
        raise DeploymentError(message, context=context, response_excerpt=excerpt)
    raise PermanentPublishError(message, context=context, response_excerpt=excerpt)


def retry_after_seconds(headers: Mapping[str, str], content: bytes) -> float | None:
    """`Retry-After: N` (seconds) or the reference API's "Retry after N seconds" message."""
    header = headers.get("retry-after")
    if header is not None:
        try:
            return max(0.0, float(header))
        except ValueError:
            pass  # an HTTP date: fall back to the body, then to our own backoff
    match = _RETRY_AFTER_MESSAGE.search(content)
    return float(match.group(1)) if match else None


def _row_count(content: bytes) -> int:
    try:
        document = orjson.loads(content) if content else None
    except orjson.JSONDecodeError:
        return 0
    if isinstance(document, dict) and isinstance(document.get("data"), list):
        return len(document["data"])
    return 0


def _error_message(content: bytes) -> str | None:
    try:
        document = orjson.loads(content)
    except orjson.JSONDecodeError:
        return None
    if isinstance(document, dict) and isinstance(document.get("errors"), list):
        messages = [str(e.get("message")) for e in document["errors"] if isinstance(e, dict)]
        return "; ".join(messages) or None
    return None
