"""Numbers every part of the benchmark agrees on."""

# Requests in flight for every concurrent system, ceilings included (stream_notifier's
# max_concurrent_requests, the Quix sink's and the ceilings' connection pools).
CONCURRENCY = 64
# The slow scenario's sink latency per request.
SLOW_LATENCY_MS = 100.0
# The rate scenario's limit, enforced by the sink with 429s. The burst is small so that the
# rate over a run measures the limit, not the bucket the sink starts with; stream_notifier
# gets the same numbers for its own limiter.
RATE_LIMIT_PER_S = 200.0
RATE_LIMIT_BURST = 20
# What key-ordered delivery could reach against the slow sink if nothing else limited it.
SLOW_CEILING_PER_S = CONCURRENCY / (SLOW_LATENCY_MS / 1000)
