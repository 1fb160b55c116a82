"""One decoder per topic, chosen by the `decoding:` configuration, behind `Decoder`."""

from __future__ import annotations

from collections.abc import Mapping

from stream_notifier.decode.avro import ConfluentAvroDecoder, SingleObjectDecoder
from stream_notifier.decode.base import Decoder
from stream_notifier.decode.cloudevents import CloudEventsJsonDecoder
from stream_notifier.decode.registry import RegistrySchemas, SchemaFetcher, registry_client
from stream_notifier.decode.settings import DecodingSettings, TopicDecoding
from stream_notifier.records import Event, RawRecord


class TopicDecoders:
    """Builds each topic's decoder on its first record and keeps it: a registry client and
    its schema cache live as long as the service, shared by the topics with the same URL."""

    def __init__(
        self,
        settings: DecodingSettings,
        *,
        registry_clients: Mapping[str, SchemaFetcher] | None = None,
    ) -> None:
        self._settings = settings
        self._by_topic: dict[str, Decoder] = {}
        self._by_decoding: dict[int, Decoder] = {}
        self._registries: dict[str, RegistrySchemas] = {}
        self._json = CloudEventsJsonDecoder()
        # Clients made elsewhere, by URL (tests hand in a populated mock:// client).
        self._clients = dict(registry_clients or {})

    def decode(self, record: RawRecord) -> Event:
        decoder = self._by_topic.get(record.topic)
        if decoder is None:
            decoder = self.for_topic(record.topic)
            self._by_topic[record.topic] = decoder
        return decoder.decode(record)

    def for_topic(self, topic: str) -> Decoder:
        decoding = self._settings.for_topic(topic)
        # Topics matched by the same entry (a '^regex' or the default) share one decoder.
        key = id(decoding)
        decoder = self._by_decoding.get(key)
        if decoder is None:
            decoder = self._build(decoding)
            self._by_decoding[key] = decoder
        return decoder

    def _build(self, decoding: TopicDecoding) -> Decoder:
        if decoding.format == "avro-single-object":
            return SingleObjectDecoder(self._settings.schemas, decoding.reader_schemas)
        if decoding.format == "avro-confluent":
            assert decoding.registry_url is not None  # the settings parser requires it
            return ConfluentAvroDecoder(
                self._registry(decoding.registry_url, decoding.registry_timeout_s),
                decoding.reader_schemas,
            )
        return self._json

    def _registry(self, url: str, timeout_s: float) -> RegistrySchemas:
        schemas = self._registries.get(url)
        if schemas is None:
            client = self._clients.get(url) or registry_client(url, timeout_s)
            schemas = RegistrySchemas(client, url=url)
            self._registries[url] = schemas
        return schemas
