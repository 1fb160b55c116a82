"""Changelog records: key `d:<identity>` or `l:<idempotency key>`, value an Avro-encoded
entry (schemas/stream_notifier/changelog_entry.avsc), or null for a tombstone."""

from __future__ import annotations

from stream_notifier.state.codec import decode_entry, encode_entry
from stream_notifier.state.store import Change, Entry


def encode_change(change: Change) -> tuple[bytes, bytes | None]:
    key, entry = change
    if entry is None:
        return key.encode(), None
    return key.encode(), encode_entry(
        {
            "kind": entry.kind,
            "key": entry.key,
            "route": entry.route,
            "expires_at_ms": entry.expires_at_ms,
            "written_at_ms": entry.written_at_ms,
            "offset": entry.offset,
        }
    )


def decode_record(key: bytes, value: bytes | None) -> tuple[str, Entry | None]:
    changelog_key = key.decode()
    if value is None:
        return changelog_key, None
    fields = decode_entry(value)
    return changelog_key, Entry(
        fields["kind"],
        fields["key"],
        fields["route"],
        fields["expires_at_ms"],
        fields["written_at_ms"],
        fields["offset"],
    )
