"""One exception root. Every error says where it happened and whether trying again can help.

The tree mirrors the data flow, so a dead letter's stage is the class of the error:

    StreamNotifierError
    ├── ConfigError                startup: names file, route, field
    ├── RecordError                one record cannot become a notification (dead-letter it)
    │   ├── DecodeError            stage "decode"
    │   │   └── SchemaUnavailableError  retriable: the schema registry did not answer
    │   ├── RoutingError           stage "route"
    │   ├── RenderError            stage "render"
    │   └── ValidationError        stage "validate"
    ├── PublishError               stage "publish"; carries HTTP status and body excerpt
    │   ├── TransientPublishError  retriable; may carry the API's announced wait
    │   ├── PermanentPublishError  the API refused this notification (dead-letter it)
    │   └── DeploymentError        401/403: our key or rights are wrong (stop, don't dead-letter)
    ├── EncodeError                dev-produce: an event does not fit its Avro schema
    └── ProduceError               a dead-letter or changelog write failed (offset stays)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Self


@dataclass(frozen=True, slots=True)
class ErrorContext:
    """Where a record-level error happened. Everything is optional: fill in what is known."""

    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    route: str | None = None
    http_status: int | None = None

    def describe(self) -> str:
        parts = []
        if self.topic is not None:
            parts.append(f"{self.topic}[{self.partition}]@{self.offset}")
        if self.route is not None:
            parts.append(f"route={self.route}")
        if self.http_status is not None:
            parts.append(f"http={self.http_status}")
        return " ".join(parts)


class StreamNotifierError(Exception):
    """Root of every error stream_notifier raises on purpose."""

    retriable: bool = False
    stage: str = "internal"

    def __init__(self, message: str, *, context: ErrorContext | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.context = context or ErrorContext()

    def with_context(self, **fields: Any) -> Self:
        """Add what an outer layer knows (topic, offset, route) without losing the rest."""
        self.context = replace(self.context, **fields)
        return self

    def __str__(self) -> str:
        where = self.context.describe()
        return f"{self.message} ({where})" if where else self.message


class ConfigError(StreamNotifierError):
    """The configuration cannot be used; raised once, at startup."""

    stage = "config"

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        route: str | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message, context=ErrorContext(route=route))
        self.file = file
        self.route = route
        self.field = field

    def __str__(self) -> str:
        where = [self.file or "<config>"]
        if self.route is not None:
            where.append(f"route '{self.route}'")
        if self.field is not None:
            where.append(f"field '{self.field}'")
        return f"{': '.join(where)}: {self.message}"


class RecordError(StreamNotifierError):
    """This record cannot become a notification; retrying will not change that."""


class DecodeError(RecordError):
    stage = "decode"


class SchemaUnavailableError(DecodeError):
    """The record may be fine, but its writer schema cannot be fetched now (registry down,
    timing out, refusing our credentials). The one retriable record error: the service
    retries the record with backoff and never dead-letters it, so an outage of the registry
    does not empty the topic into the dead-letter topic."""

    retriable = True


class RoutingError(RecordError):
    stage = "route"


class RenderError(RecordError):
    stage = "render"


class ValidationError(RecordError):
    stage = "validate"


class PublishError(StreamNotifierError):
    stage = "publish"

    def __init__(
        self,
        message: str,
        *,
        context: ErrorContext | None = None,
        response_excerpt: str | None = None,
    ) -> None:
        super().__init__(message, context=context)
        self.response_excerpt = response_excerpt

    @property
    def http_status(self) -> int | None:
        return self.context.http_status


class TransientPublishError(PublishError):
    retriable = True

    def __init__(
        self,
        message: str,
        *,
        context: ErrorContext | None = None,
        response_excerpt: str | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message, context=context, response_excerpt=response_excerpt)
        self.retry_after_s = retry_after_s


class PermanentPublishError(PublishError):
    pass


class DeploymentError(PublishError):
    """Credentials or permissions are wrong for every record: stop the consumer instead."""


class EncodeError(StreamNotifierError):
    """An event cannot be written as Avro: no schema for its type, or it does not fit it."""

    stage = "encode"


class ProduceError(StreamNotifierError):
    """The broker did not take a write the record's offset depends on."""

    retriable = True
    stage = "produce"
