"""Benchmarks: stream_notifier beside the physical ceilings, a naive consumer and Quix Streams.

`python -m bench.run [--quick]` (or `make bench` / `make bench-quick`) runs every scenario
against one broker and one dev sink, verifies each system's output at the sink, and writes
`bench/results/latest.{json,md,png}`.

This package must stay importable without the harness's own dependencies (matplotlib,
psutil): the Quix Streams system runs from `bench.systems` in a separate virtualenv.
"""
