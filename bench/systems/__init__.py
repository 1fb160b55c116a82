"""The systems under test, each a program run as its own process (`python -m
bench.systems.NAME SPEC.json`), so none shares a GIL with the harness or the dev sink.

These modules import only stream_notifier and their own client library: the Quix Streams
one runs in a separate virtualenv that has neither matplotlib nor psutil.
"""
