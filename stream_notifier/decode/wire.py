"""The two Avro framings seen on Kafka, both ways. Pure: bytes in, bytes out.

- Confluent wire format: magic byte 0, a 4-byte big-endian schema id, then the Avro binary
  body. The id names the writer schema in a schema registry.
- Avro single-object encoding (Avro 1.8+ spec): the marker C3 01, the 8-byte little-endian
  CRC-64-AVRO fingerprint of the writer schema's Parsing Canonical Form, then the body.
"""

from __future__ import annotations

import struct

from stream_notifier.errors import DecodeError

CONFLUENT_MAGIC = b"\x00"
SINGLE_OBJECT_MARKER = b"\xc3\x01"
_CONFLUENT_HEADER = 5
_SINGLE_OBJECT_HEADER = 10


def frame_confluent(schema_id: int, body: bytes) -> bytes:
    return CONFLUENT_MAGIC + struct.pack(">I", schema_id) + body


def split_confluent(value: bytes | None) -> tuple[int, bytes]:
    """(schema id, Avro body) of a Confluent-framed value; DecodeError if it is not one."""
    if not value:
        raise DecodeError("record value is empty: expected Confluent-framed Avro")
    if value[:1] != CONFLUENT_MAGIC:
        raise DecodeError(
            f"record value starts with byte 0x{value[0]:02x}, not the Confluent magic byte 0x00"
        )
    if len(value) < _CONFLUENT_HEADER:
        raise DecodeError(f"record value is {len(value)} bytes: too short for a schema id")
    (schema_id,) = struct.unpack_from(">I", value, 1)
    return schema_id, value[_CONFLUENT_HEADER:]


def frame_single_object(fingerprint: int, body: bytes) -> bytes:
    return SINGLE_OBJECT_MARKER + struct.pack("<Q", fingerprint) + body


def split_single_object(value: bytes | None) -> tuple[int, bytes]:
    """(CRC-64-AVRO fingerprint, Avro body) of a single-object encoded value."""
    if not value:
        raise DecodeError("record value is empty: expected Avro single-object encoding")
    if value[:2] != SINGLE_OBJECT_MARKER:
        raise DecodeError(
            f"record value starts with {value[:2].hex()}, not the Avro single-object marker c301"
        )
    if len(value) < _SINGLE_OBJECT_HEADER:
        raise DecodeError(f"record value is {len(value)} bytes: too short for a fingerprint")
    (fingerprint,) = struct.unpack_from("<Q", value, 2)
    return fingerprint, value[_SINGLE_OBJECT_HEADER:]
