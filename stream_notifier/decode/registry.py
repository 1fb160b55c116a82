"""Writer schemas by Confluent schema id, from a schema registry, each fetched once.

A registry that does not answer is an outage, not a bad record: `SchemaUnavailableError`
(retriable) makes the service retry the record. An id the registry does not know, or a
schema that is not Avro, is the record's fault: `DecodeError`, dead-lettered.

Lookups run on the event loop for the first record of each id (later ones hit the cache),
so after a failed call further misses fail fast for a cooldown instead of each waiting
for the registry's timeout again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, Protocol

from stream_notifier.decode.schemas import AvroSchema, from_definition
from stream_notifier.errors import ConfigError, DecodeError, SchemaUnavailableError

# Statuses that say the registry (or our access to it) is unwell, not that the id is bad.
_OUTAGE_STATUSES = frozenset({401, 403, 408, 429, 500, 502, 503, 504})
_NOT_FOUND = 404
DEFAULT_TIMEOUT_S = 5.0
_COOLDOWN_S = 1.0
_MAX_COOLDOWN_S = 30.0
# An id the registry said it does not know is asked again only after this long.
_UNKNOWN_TTL_S = 60.0


class SchemaFetcher(Protocol):
    """What we use of confluent_kafka.schema_registry.SchemaRegistryClient."""

    def get_schema(self, schema_id: int) -> Any: ...


def registry_client(url: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> SchemaFetcher:
    """confluent-kafka's client (a `mock://` URL gives its in-memory mock). Its own retries
    are off: they would sleep on the event loop; the service retries with backoff."""
    from confluent_kafka.schema_registry import SchemaRegistryClient

    client: SchemaFetcher = SchemaRegistryClient.new_client(
        {"url": url, "timeout": timeout_s, "max.retries": 0}
    )
    return client


class RegistrySchemas:
    def __init__(
        self,
        client: SchemaFetcher,
        *,
        url: str,
        clock: Callable[[], float] = time.monotonic,
        cooldown_s: float = _COOLDOWN_S,
    ) -> None:
        self._client = client
        self._url = url
        self._clock = clock
        self._cooldown_s = cooldown_s
        self._cache: dict[int, AvroSchema] = {}
        self._unknown: dict[int, tuple[float, str]] = {}
        self._down_until = 0.0
        self._last_outage = ""
        self.fetches = 0

    def get(self, schema_id: int) -> AvroSchema:
        cached = self._cache.get(schema_id)
        if cached is not None:
            return cached
        unknown = self._unknown.get(schema_id)
        if unknown is not None and self._clock() < unknown[0]:
            raise DecodeError(unknown[1])
        if self._clock() < self._down_until:
            raise SchemaUnavailableError(
                f"schema registry {self._url} unavailable for schema id {schema_id} "
                f"({self._last_outage})"
            )
        schema = self._fetch(schema_id)
        self._cache[schema_id] = schema
        return schema

    def _fetch(self, schema_id: int) -> AvroSchema:
        from confluent_kafka.schema_registry.error import SchemaRegistryError

        started = self._clock()
        self.fetches += 1
        try:
            registered = self._client.get_schema(schema_id)
        except SchemaRegistryError as exc:
            status = exc.http_status_code
            if status in _OUTAGE_STATUSES or status >= 500:
                raise self._outage(started, f"HTTP {status}: {exc.error_message}") from None
            message = (
                f"schema id {schema_id} is unknown to the schema registry {self._url}"
                if status == _NOT_FOUND
                else f"schema registry refused schema id {schema_id}: HTTP {status}: {exc}"
            )
            raise self._unknown_id(schema_id, message) from None
        except Exception as exc:  # transport errors come from httpx or httpx2, or OS level
            raise self._outage(started, f"{type(exc).__name__}: {exc}") from None
        return self._parse(schema_id, registered)

    def _parse(self, schema_id: int, registered: Any) -> AvroSchema:
        schema_type = getattr(registered, "schema_type", None) or "AVRO"
        if schema_type != "AVRO":
            raise self._unknown_id(schema_id, f"schema id {schema_id} is {schema_type}, not AVRO")
        if getattr(registered, "references", None):
            raise self._unknown_id(
                schema_id,
                f"schema id {schema_id} uses schema references, which are not supported: "
                "register the schema with its named types inlined",
            )
        try:
            return from_definition(json.loads(registered.schema_str), f"registry id {schema_id}")
        except (ValueError, TypeError, ConfigError) as exc:  # not JSON, or no schema at all
            raise self._unknown_id(schema_id, f"schema id {schema_id}: {exc}") from None

    def _outage(self, started: float, reason: str) -> SchemaUnavailableError:
        self._last_outage = reason
        # A registry that hangs until the timeout is kept away from the loop for longer.
        waited = self._clock() - started
        self._down_until = self._clock() + max(self._cooldown_s, min(4 * waited, _MAX_COOLDOWN_S))
        return SchemaUnavailableError(f"schema registry {self._url} unavailable: {reason}")

    def _unknown_id(self, schema_id: int, message: str) -> DecodeError:
        self._unknown[schema_id] = (self._clock() + _UNKNOWN_TTL_S, message)
        return DecodeError(message)
