"""Fault injection and rate limiting policy of the dev sink.

Pure: no I/O, no clock of its own (``now`` is always passed in, in seconds) and randomness
comes from an injected ``random.Random``, so every decision is reproducible in unit tests.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

RATE_LIMIT_MESSAGE = "Rate limit exceeded. Retry after {seconds} seconds"

_MISSING = object()


class FaultConfigError(ValueError):
    """A fault configuration that the sink cannot apply (bad type, unknown option...)."""


@dataclass(frozen=True)
class FaultConfig:
    """What the sink should do wrong. Every option is optional and they combine.

    ``match`` scopes the per-request faults (latency, ``status``, ``drop``); ``times`` bounds
    only ``status``/``drop``, so latency keeps applying once those are used up. Rate limiting
    and ``auth_key`` are sink-wide, like a gateway's.
    """

    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    status: int | None = None
    message: str | None = None
    drop: bool = False
    times: int | None = None
    match: Mapping[str, Any] | None = None
    retry_after_s: int = 1
    retry_after_header: bool = False
    rate_limit_per_s: float | None = None
    burst: int | None = None
    auth_key: str | None = None

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> FaultConfig:
        """Build from JSON-ish input, rejecting anything the sink would misapply."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise FaultConfigError(f"unknown fault option(s): {', '.join(unknown)}")
        config = cls(**{k: v for k, v in raw.items() if v is not None})
        config.validate()
        return config

    def merged(self, raw: Mapping[str, Any]) -> FaultConfig:
        """This config with the given options overriding it (for CLI flags on top of JSON)."""
        base = {f.name: getattr(self, f.name) for f in fields(self)}
        base.update({k: v for k, v in raw.items() if v is not None})
        return FaultConfig.from_mapping(base)

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        if self.match is not None:
            out["match"] = dict(self.match)
        return out

    def validate(self) -> None:
        _check_number("latency_ms", self.latency_ms, minimum=0)
        _check_number("latency_jitter_ms", self.latency_jitter_ms, minimum=0)
        if self.status is not None:
            _check_int("status", self.status, minimum=400)
            if self.status > 599:
                raise FaultConfigError("status must be an error code, 400..599")
        if self.message is not None and not isinstance(self.message, str):
            raise FaultConfigError("message must be a string")
        if not isinstance(self.drop, bool):
            raise FaultConfigError("drop must be a boolean")
        if self.times is not None:
            _check_int("times", self.times, minimum=0)
        if self.match is not None and not isinstance(self.match, Mapping):
            raise FaultConfigError("match must be an object of body field -> value")
        _check_int("retry_after_s", self.retry_after_s, minimum=0)
        if not isinstance(self.retry_after_header, bool):
            raise FaultConfigError("retry_after_header must be a boolean")
        if self.rate_limit_per_s is not None:
            _check_number("rate_limit_per_s", self.rate_limit_per_s, minimum=0)
            if self.rate_limit_per_s <= 0:
                raise FaultConfigError("rate_limit_per_s must be > 0")
        if self.burst is not None:
            _check_int("burst", self.burst, minimum=1)
        if self.auth_key is not None and not isinstance(self.auth_key, str):
            raise FaultConfigError("auth_key must be a string")


def _check_number(name: str, value: object, *, minimum: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FaultConfigError(f"{name} must be a number")
    if not math.isfinite(value) or value < minimum:
        raise FaultConfigError(f"{name} must be >= {minimum}")


def _check_int(name: str, value: object, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise FaultConfigError(f"{name} must be an integer")
    if value < minimum:
        raise FaultConfigError(f"{name} must be >= {minimum}")


def body_matches(body: Mapping[str, Any] | None, match: Mapping[str, Any] | None) -> bool:
    """True when every ``match`` entry equals the body's value at that (dotted) path."""
    if not match:
        return True
    if body is None:
        return False
    return all(_lookup(body, path) == expected for path, expected in match.items())


def _lookup(body: Mapping[str, Any], path: str) -> object:
    # A literal top-level key wins, so field names containing dots stay addressable.
    if path in body:
        return body[path]
    node: object = body
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return _MISSING
        node = node[part]
    return node


class TokenBucket:
    """Classic token bucket: ``rate`` tokens per second, at most ``burst`` banked."""

    def __init__(self, rate_per_s: float, burst: int, now: float) -> None:
        self.rate = rate_per_s
        self.burst = burst
        self._tokens = float(burst)
        self._updated = now

    def try_acquire(self, now: float) -> float:
        """Take one token. Returns 0.0 when granted, else the seconds until one is available."""
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate)
        self._updated = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self.rate


def retry_after_seconds(wait_s: float) -> int:
    # The reference announces whole seconds; never announce 0, which would invite a hot loop.
    return max(1, math.ceil(wait_s))


def rate_limit_message(seconds: int) -> str:
    return RATE_LIMIT_MESSAGE.format(seconds=seconds)


@dataclass(frozen=True)
class FaultDecision:
    """What to do with one request: sleep ``latency_s``, then maybe answer ``status`` or drop."""

    latency_s: float = 0.0
    action: Literal["status", "drop"] | None = None
    status: int | None = None
    message: str | None = None
    retry_after_s: int | None = None
    retry_after_header: bool = False


NO_FAULT = FaultDecision()


@dataclass
class FaultPolicy:
    """Mutable fault state: the config, how many ``times`` remain, and the token bucket."""

    config: FaultConfig = field(default_factory=FaultConfig)
    rng: random.Random = field(default_factory=random.Random)
    remaining: int | None = field(init=False, default=None)
    bucket: TokenBucket | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.configure(self.config, now=0.0)

    def configure(self, config: FaultConfig, now: float) -> None:
        self.config = config
        self.remaining = config.times
        self.bucket = None
        if config.rate_limit_per_s is not None:
            burst = config.burst or max(1, math.ceil(config.rate_limit_per_s))
            self.bucket = TokenBucket(config.rate_limit_per_s, burst, now)

    def expected_key(self, default: str) -> str:
        return self.config.auth_key if self.config.auth_key is not None else default

    def check_rate_limit(self, now: float) -> int | None:
        """None when the request may proceed, else the whole seconds to announce in the 429."""
        if self.bucket is None:
            return None
        wait = self.bucket.try_acquire(now)
        return None if wait == 0.0 else retry_after_seconds(wait)

    def decide(self, body: Mapping[str, Any] | None) -> FaultDecision:
        config = self.config
        if not self._has_request_faults() or not body_matches(body, config.match):
            return NO_FAULT
        latency_s = self._latency_s()
        action = self._take_action()
        if action is None:
            return FaultDecision(latency_s=latency_s) if latency_s else NO_FAULT
        return FaultDecision(
            latency_s=latency_s,
            action=action,
            status=config.status,
            message=config.message,
            retry_after_s=config.retry_after_s,
            retry_after_header=config.retry_after_header,
        )

    def _has_request_faults(self) -> bool:
        config = self.config
        return bool(config.latency_ms or config.latency_jitter_ms or config.drop) or (
            config.status is not None
        )

    def _latency_s(self) -> float:
        config = self.config
        jitter = self.rng.uniform(0.0, config.latency_jitter_ms) if config.latency_jitter_ms else 0
        return (config.latency_ms + jitter) / 1000.0

    def _take_action(self) -> Literal["status", "drop"] | None:
        config = self.config
        if not config.drop and config.status is None:
            return None
        if self.remaining is not None:
            if self.remaining <= 0:
                return None
            self.remaining -= 1
        # Dropping wins over a status: a dropped connection never carries one.
        return "drop" if config.drop else "status"

    def snapshot(self) -> dict[str, Any]:
        out = self.config.to_dict()
        out["remaining"] = self.remaining
        return out
