"""Retry policy and Publisher: a fake sender, a fake clock, and sleeps that only record."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import orjson
import pytest

from stream_notifier.errors import (
    DecodeError,
    DeploymentError,
    ErrorContext,
    PermanentPublishError,
    TransientPublishError,
)
from stream_notifier.publish.concurrency import AdaptiveLimit
from stream_notifier.publish.outcome import delivered_rows
from stream_notifier.publish.publisher import Delivered, Publisher, PublishFailed
from stream_notifier.publish.ratelimit import RateLimiter, TokenBucket
from stream_notifier.publish.retry import RetryPolicy, is_retriable
from stream_notifier.render.notification import Notification

CONTEXT = ErrorContext(topic="events", partition=0, offset=5, route="r1")
NOTIFICATION = Notification(
    route="r1",
    event_id="evt-1",
    scope=(("user_id", "1"),),
    body={"title": "t", "body": "b", "severity": "info", "user_id": "1", "metadata": {}},
    payload=b'{"title":"t","body":"b","severity":"info","user_id":"1","metadata":{}}',
    idempotency_key="k" * 32,
    ordering_key=None,
)
RATE_LIMITED = orjson.dumps(
    {"errors": [{"message": "Rate limit exceeded. Retry after 7 seconds", "code": 429}]}
)
Answer = tuple[int, bytes] | tuple[int, bytes, dict[str, str]]


def ok(rows: int) -> tuple[int, bytes]:
    return 200, orjson.dumps({"data": [{"id": str(i)} for i in range(rows)]})


class FakeSender:
    """Answers with the scripted HTTP responses, classified by the real outcome code."""

    def __init__(self, answers: Sequence[Answer]) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[Notification, ErrorContext]] = []

    async def send(self, notification: Notification, context: ErrorContext) -> int:
        self.calls.append((notification, context))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        status, content = answer[0], answer[1]
        headers = answer[2] if len(answer) == 3 else {}
        return delivered_rows(status, headers, content, context)


class FakeTime:
    """One clock for the limiter; sleeps are recorded per caller and do not advance it."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now
        self.retry_waits: list[float] = []
        self.limiter_waits: list[float] = []

    def clock(self) -> float:
        return self.now

    async def retry_sleep(self, seconds: float) -> None:
        self.retry_waits.append(seconds)

    async def limiter_sleep(self, seconds: float) -> None:
        self.limiter_waits.append(seconds)


def publisher(
    answers: Sequence[Answer],
    policy: RetryPolicy | None = None,
    *,
    rate: float = 1000.0,
    burst: int = 100,
) -> tuple[Publisher, FakeSender, FakeTime, TokenBucket]:
    time = FakeTime()
    sender = FakeSender(answers)
    bucket = TokenBucket(rate, burst)
    limiter = RateLimiter(bucket, time.clock, time.limiter_sleep)
    pub = Publisher(sender, limiter, policy or RetryPolicy(), sleep=time.retry_sleep)
    return pub, sender, time, bucket


def publish(pub: Publisher) -> Delivered:
    return asyncio.run(pub.publish(NOTIFICATION, CONTEXT))


def publish_failed(pub: Publisher) -> PublishFailed:
    with pytest.raises(PublishFailed) as caught:
        publish(pub)
    return caught.value


class TestIsRetriable:
    @pytest.mark.parametrize(
        ("error", "retriable"),
        [
            (TransientPublishError("x"), True),
            (PermanentPublishError("x"), False),
            (DeploymentError("x"), False),
            (DecodeError("x"), False),
            (ValueError("x"), False),
            (TimeoutError(), False),
        ],
    )
    def test_only_stream_notifier_errors_marked_retriable(
        self, error: BaseException, retriable: bool
    ) -> None:
        assert is_retriable(error) is retriable


class TestPublisher:
    def test_success_first_time(self) -> None:
        pub, sender, time, _ = publisher([ok(3)])
        assert publish(pub) == Delivered(rows=3, attempts=1)
        assert time.retry_waits == []
        assert sender.calls == [(NOTIFICATION, CONTEXT)]
        assert (pub.stats.requests, pub.stats.retries, pub.stats.http_429) == (1, 0, 0)

    def test_transient_then_success(self) -> None:
        policy = RetryPolicy(max_attempts=5, initial_backoff_s=0.5, max_backoff_s=30.0)
        pub, sender, time, _ = publisher([(503, b""), ok(2)], policy)
        assert publish(pub) == Delivered(rows=2, attempts=2)
        # Exponential backoff with up to `initial` of jitter: 0.5 + [0, 0.5].
        assert len(time.retry_waits) == 1
        assert 0.5 <= time.retry_waits[0] <= 1.0
        assert len(sender.calls) == 2
        assert (pub.stats.requests, pub.stats.retries, pub.stats.http_429) == (2, 1, 0)

    def test_backoff_grows_and_is_capped(self) -> None:
        policy = RetryPolicy(max_attempts=6, initial_backoff_s=1.0, max_backoff_s=5.0)
        pub, _, time, _ = publisher([(500, b"")] * 5 + [ok(1)], policy)
        assert publish(pub) == Delivered(rows=1, attempts=6)
        lower = [1.0, 2.0, 4.0, 5.0, 5.0]
        upper = [2.0, 3.0, 5.0, 5.0, 5.0]
        assert len(time.retry_waits) == 5
        for wait, low, high in zip(time.retry_waits, lower, upper, strict=True):
            assert low <= wait <= high

    def test_429_waits_the_announced_seconds_and_blocks_the_limiter(self) -> None:
        pub, sender, time, bucket = publisher([(429, RATE_LIMITED), ok(1)])
        assert publish(pub) == Delivered(rows=1, attempts=2)
        assert time.retry_waits == [7.0]
        # The clock did not move, so the second attempt also met the limiter's block.
        assert time.limiter_waits == pytest.approx([7.0])
        assert (pub.stats.requests, pub.stats.retries, pub.stats.http_429) == (2, 1, 1)
        # Everybody else sharing the limiter is held back too.
        assert bucket.reserve(time.now) >= 7.0
        assert len(sender.calls) == 2

    def test_429_with_header(self) -> None:
        pub, _, time, _ = publisher([(429, b"", {"retry-after": "2"}), ok(1)])
        assert publish(pub).attempts == 2
        assert time.retry_waits == [2.0]
        assert time.limiter_waits == pytest.approx([2.0])

    def test_429_without_announced_wait_blocks_for_the_default(self) -> None:
        pub, _, time, _ = publisher([(429, b""), ok(1)], RetryPolicy(initial_backoff_s=0.25))
        assert publish(pub).attempts == 2
        assert 0.25 <= time.retry_waits[0] <= 0.5  # our own backoff
        assert time.limiter_waits == pytest.approx([1.0])  # default_429_wait_s

    def test_announced_wait_is_capped_by_max_backoff(self) -> None:
        policy = RetryPolicy(max_backoff_s=3.0)
        pub, _, time, _ = publisher([(429, RATE_LIMITED), ok(1)], policy)
        publish(pub)
        assert time.retry_waits == [3.0]

    @pytest.mark.parametrize("status", [400, 404, 422])
    def test_permanent_fails_after_one_attempt(self, status: int) -> None:
        pub, sender, time, _ = publisher([(status, b"bad")])
        failed = publish_failed(pub)
        assert failed.attempts == 1
        assert isinstance(failed.error, PermanentPublishError)
        assert failed.error.http_status == status
        assert str(failed) == str(failed.error)
        assert time.retry_waits == []
        assert len(sender.calls) == 1

    @pytest.mark.parametrize("status", [401, 403])
    def test_deployment_error_is_not_retried(self, status: int) -> None:
        pub, sender, _, _ = publisher([(status, b"")])
        failed = publish_failed(pub)
        assert failed.attempts == 1
        assert isinstance(failed.error, DeploymentError)
        assert len(sender.calls) == 1

    @pytest.mark.parametrize("max_attempts", [1, 2, 4])
    def test_exhaustion_after_max_attempts(self, max_attempts: int) -> None:
        policy = RetryPolicy(max_attempts=max_attempts, initial_backoff_s=0.1)
        pub, sender, time, _ = publisher([(503, b"")], policy)
        failed = publish_failed(pub)
        assert failed.attempts == max_attempts
        assert isinstance(failed.error, TransientPublishError)
        assert failed.error.http_status == 503
        assert isinstance(failed.__cause__, TransientPublishError)
        assert len(sender.calls) == max_attempts
        assert len(time.retry_waits) == max_attempts - 1
        assert pub.stats.retries == max_attempts - 1

    def test_transient_then_permanent_stops_there(self) -> None:
        pub, sender, _, _ = publisher([(500, b""), (422, b"")])
        failed = publish_failed(pub)
        assert failed.attempts == 2
        assert isinstance(failed.error, PermanentPublishError)
        assert len(sender.calls) == 2

    def test_connection_error_from_sender_is_retried(self) -> None:
        class FlakySender:
            def __init__(self) -> None:
                self.calls = 0

            async def send(self, notification: Notification, context: ErrorContext) -> int:
                self.calls += 1
                if self.calls == 1:
                    raise TransientPublishError("connection failed", context=context)
                return 1

        time = FakeTime()
        limiter = RateLimiter(TokenBucket(100.0, 10), time.clock, time.limiter_sleep)
        pub = Publisher(FlakySender(), limiter, RetryPolicy(), sleep=time.retry_sleep)
        assert publish(pub) == Delivered(rows=1, attempts=2)
        assert pub.stats.http_429 == 0
        assert time.limiter_waits == []

    def test_every_attempt_goes_through_the_limiter(self) -> None:
        # burst 1 at 1/s: the second attempt must wait for its token.
        pub, _, time, _ = publisher([(500, b""), ok(1)], rate=1.0, burst=1)
        publish(pub)
        assert time.limiter_waits == pytest.approx([1.0])


def test_transient_failures_shrink_an_adaptive_request_limit() -> None:
    fake = FakeTime()
    sender = FakeSender([(503, b""), (503, b""), ok(1)])
    adaptive = AdaptiveLimit(minimum=2, maximum=64, limit=32.0)
    pub = Publisher(
        sender,
        RateLimiter(TokenBucket(1000.0, 100), fake.clock, fake.limiter_sleep),
        RetryPolicy(),
        sleep=fake.retry_sleep,
        adaptive=adaptive,
        clock=fake.clock,
    )
    assert publish(pub).attempts == 3
    # Two overloads at one instant count once (one decrease per round trip).
    assert adaptive.limit == pytest.approx(32.0 * 0.7 + 1 / (32.0 * 0.7))
    assert pub.slots.holders == 0
