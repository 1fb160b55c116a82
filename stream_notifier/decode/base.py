from __future__ import annotations

from typing import Protocol

from stream_notifier.records import Event, RawRecord


class Decoder(Protocol):
    def decode(self, record: RawRecord) -> Event:
        """Return the event or raise DecodeError; never anything else."""
