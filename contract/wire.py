"""The Confluent wire format, written down once.

A value produced by a Confluent serializer is a *frame*::

    byte 0      magic byte: 0
    bytes 1..4  schema id, a signed 32-bit big-endian int (Java's ByteBuffer.getInt)
    bytes 5..   the Avro binary payload (no Avro container header)

Newer serializers know two more framings, both refused here on purpose and dead-lettered
with a reason that names them (they can be replayed once supported):

* magic byte 1 followed by a 16-byte schema GUID instead of the int id;
* the schema id carried out of band in the ``__value_schema_id`` header, the value then
  being the bare Avro payload (the header is checked first, as confluent-kafka's
  ``dual_schema_id_deserializer`` does, because then byte 0 is payload, not a magic byte).

The pipeline's producer writes only the first framing. The rules exist twice: here as
pure Python (:func:`parse_frame`, for tests and tools) and as Spark SQL column expressions
in :mod:`streaming.frames` (the hot path: no Python UDF), built from this module's
constants. The unit tests hold the two together.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass

MAGIC_BYTE = 0
SCHEMA_ID_SIZE = 4
HEADER_SIZE = 1 + SCHEMA_ID_SIZE
MAGIC_BYTE_V1 = 1
SCHEMA_GUID_SIZE = 16
VALUE_SCHEMA_ID_HEADER = "__value_schema_id"

_SCHEMA_ID = struct.Struct(">i")


class FrameErrorClass:
    """Stable names for each way a frame can be malformed (the dead letters' ``error_class``)."""

    NULL_VALUE = "null_value"
    EMPTY_VALUE = "empty_value"
    HEADER_SCHEMA_ID = "unsupported_header_schema_id"
    GUID_FRAMING = "unsupported_guid_framing"
    UNKNOWN_MAGIC = "unknown_magic_byte"
    TOO_SHORT = "frame_too_short"
    NEGATIVE_SCHEMA_ID = "negative_schema_id"


@dataclass(frozen=True)
class Frame:
    magic: int
    schema_id: int
    payload: bytes


@dataclass(frozen=True)
class FrameError:
    reason: str
    error_class: str
    magic: int | None = None


def header_reason() -> str:
    return f"schema id in {VALUE_SCHEMA_ID_HEADER} header is not supported"


GUID_REASON = f"magic byte {MAGIC_BYTE_V1} (schema GUID framing) is not supported"


def parse_frame(
    value: bytes | None, headers: Iterable[tuple[str, bytes | None]] = ()
) -> Frame | FrameError:
    """One Kafka value -> its frame, or why it is not a frame this pipeline reads."""
    if value is None:
        return FrameError("null value (tombstone)", FrameErrorClass.NULL_VALUE)
    if len(value) == 0:
        return FrameError("empty value", FrameErrorClass.EMPTY_VALUE)
    magic = value[0]
    if any(key == VALUE_SCHEMA_ID_HEADER for key, _ in headers):
        return FrameError(header_reason(), FrameErrorClass.HEADER_SCHEMA_ID, magic)
    if magic == MAGIC_BYTE_V1:
        return FrameError(GUID_REASON, FrameErrorClass.GUID_FRAMING, magic)
    if magic != MAGIC_BYTE:
        return FrameError(f"unknown magic byte 0x{magic:02x}", FrameErrorClass.UNKNOWN_MAGIC, magic)
    if len(value) < HEADER_SIZE:
        return FrameError(
            f"frame too short ({len(value)} bytes)", FrameErrorClass.TOO_SHORT, magic
        )
    (schema_id,) = _SCHEMA_ID.unpack_from(value, 1)
    if schema_id < 0:
        return FrameError(
            f"negative schema id {schema_id}", FrameErrorClass.NEGATIVE_SCHEMA_ID, magic
        )
    return Frame(magic, schema_id, bytes(value[HEADER_SIZE:]))


def frame(schema_id: int, payload: bytes) -> bytes:
    """The inverse of :func:`parse_frame` for the supported framing (tests, tools)."""
    return bytes([MAGIC_BYTE]) + _SCHEMA_ID.pack(schema_id) + payload


def header(schema_id: int) -> bytes:
    """The 5 bytes a frame of ``schema_id`` starts with (compared as binary in Spark)."""
    return bytes([MAGIC_BYTE]) + _SCHEMA_ID.pack(schema_id)
