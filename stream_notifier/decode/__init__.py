"""Decoding: raw Kafka bytes to a CloudEvent. Every format sits behind `Decoder`."""

from stream_notifier.decode.base import Decoder
from stream_notifier.decode.cloudevents import CloudEventsJsonDecoder

__all__ = ["CloudEventsJsonDecoder", "Decoder"]
