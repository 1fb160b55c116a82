"""Retry policy for one notification: small tenacity parts, composed; sleep is injected."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)
from tenacity.wait import wait_base

from stream_notifier.errors import StreamNotifierError, TransientPublishError


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 6
    max_elapsed_s: float = 120.0
    initial_backoff_s: float = 0.5
    max_backoff_s: float = 30.0


class wait_announced(wait_base):
    """The API's announced wait when it gave one (429), else the fallback policy's."""

    def __init__(self, fallback: wait_base, cap_s: float) -> None:
        self.fallback = fallback
        self.cap_s = cap_s

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        if isinstance(error, TransientPublishError) and error.retry_after_s is not None:
            return min(error.retry_after_s, self.cap_s)
        return float(self.fallback(retry_state))


def is_retriable(error: BaseException) -> bool:
    return isinstance(error, StreamNotifierError) and error.retriable


def retrying(policy: RetryPolicy, sleep: Callable[[float], Awaitable[None]]) -> AsyncRetrying:
    backoff = wait_exponential_jitter(
        multiplier=policy.initial_backoff_s,
        max=policy.max_backoff_s,
        jitter=policy.initial_backoff_s,
    )
    return AsyncRetrying(
        stop=stop_after_attempt(policy.max_attempts) | stop_after_delay(policy.max_elapsed_s),
        wait=wait_announced(backoff, policy.max_backoff_s),
        retry=retry_if_exception(is_retriable),
        sleep=sleep,
        reraise=True,
    )
