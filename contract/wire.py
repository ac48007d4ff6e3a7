"""The Confluent wire format, written down once.

A value produced by a Confluent serializer is a *frame*::

    byte 0      magic byte: 0
    bytes 1..4  schema id, a signed 32-bit big-endian int (Java's ByteBuffer.getInt)
    bytes 5..   the Avro binary payload (no Avro container header)

The schema reference (the first five bytes: magic 0 + id) may instead travel in the
``__value_schema_id`` header, the value then being the bare Avro payload: what
confluent-kafka's ``SchemaId.id_to_bytes()`` writes there. That framing decodes too. The
header is checked first, as confluent-kafka's ``dual_schema_id_deserializer`` does
(byte 0 of the value is then payload, not a magic byte); a header whose value is null
does not count (that deserializer then reads the prefix).

Refused on purpose, each dead-lettered with a reason and an error class that name it:

* a schema GUID (magic byte 1 + 16 bytes), in the header or as the value's prefix: the
  registry (Apicurio's Confluent API) serves no ``/schemas/guids/{guid}`` and returns no
  GUID on registration, so a GUID cannot be resolved to a schema (docs/architecture.md);
* a header holding anything else than magic 0 + 4-byte id or magic 1 + 16-byte GUID;
* schema id 0 in the prefix, which no registry assigns: what Apicurio's native serdes'
  8-byte id framing (magic 0 + a big-endian long content id) reads as, so the reason
  names that framing and its content id.

The pipeline's producer writes only the prefix framing. The rules exist twice: here as
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
GUID_REF_SIZE = 1 + SCHEMA_GUID_SIZE
VALUE_SCHEMA_ID_HEADER = "__value_schema_id"
# Apicurio's Legacy8ByteIdHandler: magic 0 + an 8-byte (long) content or global id.
APICURIO_ID_SIZE = 8
APICURIO_HEADER_SIZE = 1 + APICURIO_ID_SIZE

_SCHEMA_ID = struct.Struct(">i")


class FrameErrorClass:
    """Stable names for each way a frame can be malformed (the dead letters' ``error_class``)."""

    NULL_VALUE = "null_value"
    EMPTY_VALUE = "empty_value"
    HEADER_GUID_FRAMING = "unsupported_header_guid_framing"
    MALFORMED_HEADER = "malformed_header_schema_id"
    GUID_FRAMING = "unsupported_guid_framing"
    UNKNOWN_MAGIC = "unknown_magic_byte"
    TOO_SHORT = "frame_too_short"
    NEGATIVE_SCHEMA_ID = "negative_schema_id"
    APICURIO_CONTENT_ID = "apicurio_content_id_framing"
    # Written by earlier versions for every record with a __value_schema_id header; no
    # longer produced. Such dead letters decode now when replayed (streaming.replay).
    LEGACY_HEADER_SCHEMA_ID = "unsupported_header_schema_id"


@dataclass(frozen=True)
class Frame:
    magic: int
    schema_id: int
    payload: bytes
    in_header: bool = False  # the reference came in the __value_schema_id header


@dataclass(frozen=True)
class FrameError:
    reason: str
    error_class: str
    magic: int | None = None


NO_GUIDS = "the registry cannot resolve schema GUIDs (no /schemas/guids/{guid})"
GUID_REASON = f"magic byte {MAGIC_BYTE_V1} (schema GUID framing): {NO_GUIDS}"
HEADER_GUID_REASON = f"schema GUID in the {VALUE_SCHEMA_ID_HEADER} header: {NO_GUIDS}"


# Templates shared with streaming.frames (Java's String.format there, % here).
MALFORMED_HEADER_TEMPLATE = (
    f"{VALUE_SCHEMA_ID_HEADER} header is not a schema reference (%d bytes, %s; "
    f"expected magic {MAGIC_BYTE} + 4-byte id or magic {MAGIC_BYTE_V1} + 16-byte GUID)"
)
APICURIO_TEMPLATE = (
    "schema id 0: looks like Apicurio's 8-byte content-id framing (content id %d)"
)
SCHEMA_ID_ZERO_TEMPLATE = (
    "schema id 0, which no registry assigns (%d bytes: too short for Apicurio's 8-byte "
    "content-id framing)"
)


def malformed_header_reason(length: int, magic: int | None) -> str:
    first = "no magic byte" if magic is None else f"magic byte 0x{magic:02x}"
    return MALFORMED_HEADER_TEMPLATE % (length, first)


def apicurio_reason(value: bytes) -> str:
    """Why a prefix frame of schema id 0 is refused (``value`` starts with 5 such bytes)."""
    if len(value) < APICURIO_HEADER_SIZE:
        return SCHEMA_ID_ZERO_TEMPLATE % len(value)
    # Bytes 1..4 are zero: the long is its low four bytes, never negative.
    return APICURIO_TEMPLATE % int.from_bytes(value[1:APICURIO_HEADER_SIZE], "big")


def schema_reference(
    value: bytes, headers: Iterable[tuple[str, bytes | None]] = ()
) -> tuple[bytes, bool]:
    """The bytes that name the writer schema, and whether they came from the header.

    The first ``__value_schema_id`` header with a value wins (as confluent-kafka's
    ``dual_schema_id_deserializer``); otherwise the value's first five bytes.
    """
    for key, header_value in headers:
        if key == VALUE_SCHEMA_ID_HEADER:
            if header_value is not None:
                return bytes(header_value), True
            break
    return bytes(value[:HEADER_SIZE]), False


def parse_frame(
    value: bytes | None, headers: Iterable[tuple[str, bytes | None]] = ()
) -> Frame | FrameError:
    """One Kafka value -> its frame, or why it is not a frame this pipeline reads."""
    if value is None:
        return FrameError("null value (tombstone)", FrameErrorClass.NULL_VALUE)
    if len(value) == 0:
        return FrameError("empty value", FrameErrorClass.EMPTY_VALUE)
    ref, in_header = schema_reference(value, headers)
    magic = ref[0] if ref else None
    if in_header and magic == MAGIC_BYTE_V1 and len(ref) == GUID_REF_SIZE:
        return FrameError(HEADER_GUID_REASON, FrameErrorClass.HEADER_GUID_FRAMING, magic)
    if in_header and (magic != MAGIC_BYTE or len(ref) != HEADER_SIZE):
        return FrameError(
            malformed_header_reason(len(ref), magic), FrameErrorClass.MALFORMED_HEADER, magic
        )
    if magic == MAGIC_BYTE_V1:
        return FrameError(GUID_REASON, FrameErrorClass.GUID_FRAMING, magic)
    if magic != MAGIC_BYTE:
        return FrameError(f"unknown magic byte 0x{magic:02x}", FrameErrorClass.UNKNOWN_MAGIC, magic)
    if len(ref) < HEADER_SIZE:
        return FrameError(
            f"frame too short ({len(value)} bytes)", FrameErrorClass.TOO_SHORT, magic
        )
    (schema_id,) = _SCHEMA_ID.unpack_from(ref, 1)
    if schema_id < 0:
        return FrameError(
            f"negative schema id {schema_id}", FrameErrorClass.NEGATIVE_SCHEMA_ID, magic
        )
    if schema_id == 0 and not in_header:
        return FrameError(apicurio_reason(value), FrameErrorClass.APICURIO_CONTENT_ID, magic)
    payload = bytes(value) if in_header else bytes(value[HEADER_SIZE:])
    return Frame(magic, schema_id, payload, in_header)


def frame(schema_id: int, payload: bytes) -> bytes:
    """The inverse of :func:`parse_frame` for the prefix framing (tests, tools)."""
    return header(schema_id) + payload


def header(schema_id: int) -> bytes:
    """The 5 bytes that name schema ``schema_id``: a frame's start, or the header's value
    (compared as binary in Spark)."""
    return bytes([MAGIC_BYTE]) + _SCHEMA_ID.pack(schema_id)


def apicurio_frame(content_id: int, payload: bytes) -> bytes:
    """What Apicurio's native serdes write with their 8-byte id handler (tests, tools)."""
    return bytes([MAGIC_BYTE]) + struct.pack(">q", content_id) + payload

