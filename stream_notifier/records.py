"""What flows through the pipeline: the raw Kafka record and the decoded event."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Headers = tuple[tuple[str, bytes | None], ...]


@dataclass(frozen=True, slots=True)
class TopicPartition:
    topic: str
    partition: int

    def __str__(self) -> str:
        return f"{self.topic}[{self.partition}]"


@dataclass(frozen=True, slots=True)
class RawRecord:
    """A consumed record exactly as Kafka gave it: what a dead letter must carry back."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers = ()
    timestamp_ms: int | None = None

    @property
    def tp(self) -> TopicPartition:
        return TopicPartition(self.topic, self.partition)

    def header(self, name: str) -> bytes | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def template_view(self) -> dict[str, Any]:
        """The `kafka` object templates see."""
        return {
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "key": _text(self.key),
            "timestamp": self.timestamp_ms,
            "headers": {k: _text(v) for k, v in self.headers},
        }


@dataclass(frozen=True, slots=True)
class Event:
    """A CloudEvent: required attributes, the optional ones and extensions, and its data."""

    id: str
    type: str
    source: str
    specversion: str
    data: Any
    attributes: dict[str, Any] = field(default_factory=dict)

    def template_view(self) -> dict[str, Any]:
        """Attributes at top level, as CloudEvents names them, plus `data`."""
        view = dict(self.attributes)
        view.update(
            id=self.id,
            type=self.type,
            source=self.source,
            specversion=self.specversion,
            data=self.data,
        )
        return view


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("utf-8", errors="replace")
