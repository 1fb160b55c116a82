"""The dev sink's fault and rate-limit policy, driven by an injected clock and seeded RNG."""

from __future__ import annotations

import random

import pytest

from stream_notifier.devsink.faults import (
    FaultConfig,
    FaultConfigError,
    FaultPolicy,
    TokenBucket,
    body_matches,
    rate_limit_message,
    retry_after_seconds,
)


def policy(**options: object) -> FaultPolicy:
    return FaultPolicy(FaultConfig.from_mapping(options), rng=random.Random(7))


class TestTokenBucket:
    def test_burst_then_refusal_with_wait_until_next_token(self) -> None:
        bucket = TokenBucket(rate_per_s=2.0, burst=3, now=100.0)
        assert [bucket.try_acquire(100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
        assert bucket.try_acquire(100.0) == pytest.approx(0.5)

    def test_refills_at_rate_and_caps_at_burst(self) -> None:
        bucket = TokenBucket(rate_per_s=10.0, burst=2, now=0.0)
        bucket.try_acquire(0.0)
        bucket.try_acquire(0.0)
        assert bucket.try_acquire(0.05) == pytest.approx(0.05)  # half a token banked
        assert bucket.try_acquire(0.1) == 0.0
        # An hour idle banks only `burst` tokens.
        assert [bucket.try_acquire(3600.0) for _ in range(3)][2] > 0.0

    def test_refused_requests_do_not_consume_tokens(self) -> None:
        bucket = TokenBucket(rate_per_s=1.0, burst=1, now=0.0)
        assert bucket.try_acquire(0.0) == 0.0
        for _ in range(5):
            assert bucket.try_acquire(0.5) > 0.0
        assert bucket.try_acquire(1.0) == 0.0

    def test_clock_going_backwards_is_not_a_refill(self) -> None:
        bucket = TokenBucket(rate_per_s=1.0, burst=1, now=10.0)
        assert bucket.try_acquire(10.0) == 0.0
        assert bucket.try_acquire(5.0) > 0.0


class TestRateLimitPolicy:
    def test_announces_whole_seconds_never_zero(self) -> None:
        assert retry_after_seconds(0.01) == 1
        assert retry_after_seconds(1.0) == 1
        assert retry_after_seconds(1.2) == 2
        assert rate_limit_message(3) == "Rate limit exceeded. Retry after 3 seconds"

    def test_check_rate_limit(self) -> None:
        p = FaultPolicy(FaultConfig(rate_limit_per_s=0.5, burst=2))
        p.configure(p.config, now=0.0)
        assert p.check_rate_limit(0.0) is None
        assert p.check_rate_limit(0.0) is None
        assert p.check_rate_limit(0.0) == 2  # one token every 2 s
        assert p.check_rate_limit(1.5) == 1
        assert p.check_rate_limit(2.0) is None

    def test_default_burst_is_one_seconds_worth(self) -> None:
        p = FaultPolicy(FaultConfig(rate_limit_per_s=5))
        p.configure(p.config, now=0.0)
        assert [p.check_rate_limit(0.0) for _ in range(6)] == [None] * 5 + [1]

    def test_no_limit_configured(self) -> None:
        p = policy()
        assert all(p.check_rate_limit(0.0) is None for _ in range(10_000))


BODY: dict[str, object] = {"title": "x", "metadata": {"event_id": "e1", "n": 3}, "a.b": 1}


class TestMatch:
    def test_empty_match_matches_everything(self) -> None:
        assert body_matches(BODY, None)
        assert body_matches(None, {})

    def test_top_level_and_dotted_paths(self) -> None:
        assert body_matches(BODY, {"title": "x"})
        assert body_matches(BODY, {"metadata.event_id": "e1", "metadata.n": 3})
        assert not body_matches(BODY, {"metadata.event_id": "e2"})
        assert not body_matches(BODY, {"title": "x", "metadata.missing": None})

    def test_literal_dotted_key_wins(self) -> None:
        assert body_matches(BODY, {"a.b": 1})

    def test_unparsable_body_never_matches_a_filter(self) -> None:
        assert not body_matches(None, {"title": "x"})


class TestDecide:
    def test_no_faults(self) -> None:
        decision = policy().decide({"title": "x"})
        assert decision.action is None
        assert decision.latency_s == 0.0

    def test_status_for_n_times_then_normal(self) -> None:
        p = policy(status=503, times=2)
        actions = [p.decide({}).action for _ in range(4)]
        assert actions == ["status", "status", None, None]
        assert p.remaining == 0

    def test_status_forever_without_times(self) -> None:
        p = policy(status=500)
        assert all(p.decide({}).status == 500 for _ in range(100))

    def test_times_only_counts_matching_requests(self) -> None:
        p = policy(status=429, times=1, match={"metadata.event_id": "e2"})
        assert p.decide({"metadata": {"event_id": "e1"}}).action is None
        assert p.decide({"metadata": {"event_id": "e2"}}).action == "status"
        assert p.decide({"metadata": {"event_id": "e2"}}).action is None

    def test_drop_wins_over_status(self) -> None:
        assert policy(drop=True, status=500).decide({}).action == "drop"

    def test_status_decision_carries_429_options(self) -> None:
        decision = policy(status=429, retry_after_s=4, retry_after_header=True).decide({})
        assert (decision.status, decision.retry_after_s, decision.retry_after_header) == (
            429,
            4,
            True,
        )

    def test_latency_fixed_plus_seeded_jitter(self) -> None:
        p = policy(latency_ms=50, latency_jitter_ms=10)
        latencies = [p.decide({}).latency_s for _ in range(200)]
        assert all(0.050 <= s <= 0.060 for s in latencies)
        assert len(set(latencies)) > 1
        again = policy(latency_ms=50, latency_jitter_ms=10)
        assert [again.decide({}).latency_s for _ in range(200)] == latencies

    def test_latency_outlives_exhausted_times(self) -> None:
        p = policy(latency_ms=20, status=500, times=1)
        first, second = p.decide({}), p.decide({})
        assert (first.action, first.latency_s) == ("status", 0.02)
        assert (second.action, second.latency_s) == (None, 0.02)

    def test_match_scopes_latency(self) -> None:
        p = policy(latency_ms=20, match={"title": "slow"})
        assert p.decide({"title": "slow"}).latency_s == 0.02
        assert p.decide({"title": "fast"}).latency_s == 0.0

    def test_reconfigure_resets_remaining(self) -> None:
        p = policy(status=500, times=1)
        p.decide({})
        p.configure(FaultConfig(status=500, times=1), now=0.0)
        assert p.decide({}).action == "status"


class TestAuthKey:
    def test_runtime_key_overrides_configured_one(self) -> None:
        assert policy().expected_key("dev-key") == "dev-key"
        assert policy(auth_key="rotated").expected_key("dev-key") == "rotated"


class TestConfig:
    @pytest.mark.parametrize(
        "options",
        [
            {"bogus": 1},
            {"status": 200},
            {"status": 600},
            {"status": "500"},
            {"times": -1},
            {"times": True},
            {"latency_ms": -5},
            {"latency_ms": "slow"},
            {"rate_limit_per_s": 0},
            {"burst": 0},
            {"match": ["title"]},
            {"drop": "yes"},
            {"retry_after_header": 1},
            {"auth_key": 5},
        ],
    )
    def test_rejects_bad_options(self, options: dict[str, object]) -> None:
        with pytest.raises(FaultConfigError):
            FaultConfig.from_mapping(options)

    def test_null_means_default(self) -> None:
        assert FaultConfig.from_mapping({"status": None, "latency_ms": None}) == FaultConfig()

    def test_merged_overrides_only_given_values(self) -> None:
        base = FaultConfig.from_mapping({"status": 503, "latency_ms": 5})
        merged = base.merged({"latency_ms": 10, "burst": None})
        assert (merged.status, merged.latency_ms, merged.burst) == (503, 10, None)

    def test_snapshot_reports_remaining(self) -> None:
        p = policy(status=500, times=3, match={"title": "x"})
        p.decide({"title": "x"})
        snap = p.snapshot()
        assert snap["remaining"] == 2
        assert snap["match"] == {"title": "x"}
