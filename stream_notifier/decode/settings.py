"""The `decoding:` section of the service configuration: which format each topic carries.

    decoding:
      default: cloudevents-json          # for topics not listed under topics
      schemas: ../schemas/events         # .avsc files or folders: known writer schemas
      registry_url: http://127.0.0.1:8081
      registry_timeout: 5s
      reader_schemas: []                 # .avsc files: read records as these (by full name)
      topics:
        platform.events.avro:
          format: avro-single-object     # or avro-confluent, cloudevents-json
          reader_schemas: [../schemas/events/webhook.endpoint_disabled.v2.avsc]

A topic entry takes format, registry_url, registry_timeout and reader_schemas; what it
leaves out comes from the section's top level. Keys starting with '^' are regexes, tried
in file order after the exact names. Paths are relative to the configuration file.
Schemas are loaded and checked here, at startup, so a broken .avsc stops the service early.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, cast

from stream_notifier.configfile import Section
from stream_notifier.decode.registry import DEFAULT_TIMEOUT_S
from stream_notifier.decode.schemas import AvroSchema, load_paths
from stream_notifier.errors import ConfigError

Format = Literal["cloudevents-json", "avro-confluent", "avro-single-object"]
FORMATS: tuple[Format, ...] = ("cloudevents-json", "avro-confluent", "avro-single-object")
AVRO_FORMATS = frozenset({"avro-confluent", "avro-single-object"})


@dataclass(frozen=True, slots=True)
class TopicDecoding:
    format: Format = "cloudevents-json"
    registry_url: str | None = None
    registry_timeout_s: float = DEFAULT_TIMEOUT_S
    reader_schemas: tuple[AvroSchema, ...] = ()

    @property
    def is_avro(self) -> bool:
        return self.format in AVRO_FORMATS


@dataclass(frozen=True, slots=True)
class DecodingSettings:
    default: TopicDecoding = field(default_factory=TopicDecoding)
    # Every writer schema known locally: single-object fingerprints resolve against these.
    schemas: tuple[AvroSchema, ...] = ()
    topics: tuple[tuple[str, TopicDecoding], ...] = ()

    def for_topic(self, topic: str) -> TopicDecoding:
        for name, decoding in self.topics:
            if name == topic:
                return decoding
        for name, decoding in self.topics:
            if name.startswith("^") and re.match(name, topic):
                return decoding
        return self.default


def parse_decoding(
    section: Section, *, base_dir: Path, subscribed: tuple[str, ...] = ()
) -> DecodingSettings:
    schemas = _schema_list(section, "schemas", base_dir)
    inherited = _topic(section, base_dir, TopicDecoding(), format_key="default")
    topics_section = section.section("topics")
    topics: list[tuple[str, TopicDecoding]] = []
    for name in topics_section.data:
        key = str(name)
        _check_topic_name(topics_section, key, subscribed)
        entry = topics_section.section(key)
        topics.append((key, _topic(entry, base_dir, inherited, format_key="format")))
        entry.close()
    topics_section.close()
    settings = DecodingSettings(default=inherited, schemas=schemas, topics=tuple(topics))
    _require_sources(section, settings)
    section.close()
    return settings


def _topic(
    section: Section, base_dir: Path, inherited: TopicDecoding, *, format_key: str
) -> TopicDecoding:
    chosen = cast(Format, section.choice(format_key, FORMATS, inherited.format))
    url = section.text("registry_url", inherited.registry_url)
    if url is not None and not url.startswith(("http://", "https://", "mock://")):
        section.fail(f"must be an http(s):// (or mock://) URL, got {url!r}", "registry_url")
    if chosen == "avro-confluent" and not url:
        section.fail("is required for format avro-confluent", "registry_url")
    readers = (
        _schema_list(section, "reader_schemas", base_dir)
        if section.has("reader_schemas")
        else inherited.reader_schemas
    )
    _refuse_duplicate_names(section, readers)
    return TopicDecoding(
        format=chosen,
        registry_url=url,
        registry_timeout_s=section.positive_duration(
            "registry_timeout", inherited.registry_timeout_s
        ),
        reader_schemas=readers,
    )


def _schema_list(section: Section, key: str, base_dir: Path) -> tuple[AvroSchema, ...]:
    paths = section.str_list(key) or ()
    try:
        return load_paths(base_dir / p for p in paths)
    except ConfigError as error:
        section.fail(f"{error.file}: {error.message}", key)


def _refuse_duplicate_names(section: Section, readers: tuple[AvroSchema, ...]) -> None:
    seen: dict[str, str] = {}
    for schema in readers:
        if schema.name in seen:
            section.fail(
                f"{schema.origin} and {seen[schema.name]} both define {schema.name}: "
                "a topic reads each record type with one reader schema",
                "reader_schemas",
            )
        seen[schema.name] = schema.origin


def _check_topic_name(section: Section, name: str, subscribed: tuple[str, ...]) -> None:
    if name.startswith("^"):
        try:
            re.compile(name)
        except re.error as exc:
            section.fail(f"topic pattern {name!r} is not a valid regex: {exc}", name)
        return
    if not subscribed:
        return
    patterns = [re.compile(t) for t in subscribed if t.startswith("^")]
    if name not in subscribed and not any(p.match(name) for p in patterns):
        section.fail(f"topic {name!r} is not among the subscribed topics {list(subscribed)}", name)


def _require_sources(section: Section, settings: DecodingSettings) -> None:
    """Single-object records name their writer by fingerprint only: some must be known."""
    entries = [("default", settings.default), *settings.topics]
    for name, decoding in entries:
        known = settings.schemas or decoding.reader_schemas
        if decoding.format == "avro-single-object" and not known:
            where = "default" if name == "default" else f"topics.{name}"
            section.fail(
                f"{where} uses avro-single-object but no schemas are configured: "
                "list the writer schemas' files or folders under decoding.schemas",
                "schemas",
            )
