"""stream_notifier: domain events on Kafka become in-app notifications over HTTP."""

__version__ = "0.1.0"
