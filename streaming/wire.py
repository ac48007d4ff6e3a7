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

The pipeline's producer writes only the first framing. The rules exist twice: as a
pure-Python :func:`parse_frame` (tests, tools) and as Spark SQL column expressions in
:func:`parse_frames` (the hot path: no Python UDF). The unit tests hold the two together.
Spark is imported only by the functions that build expressions: the producer uses this
module's constants and :func:`header` without loading it.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

MAGIC_BYTE = 0
SCHEMA_ID_SIZE = 4
HEADER_SIZE = 1 + SCHEMA_ID_SIZE
MAGIC_BYTE_V1 = 1
SCHEMA_GUID_SIZE = 16
VALUE_SCHEMA_ID_HEADER = "__value_schema_id"

_SCHEMA_ID = struct.Struct(">i")

# Columns parse_frames adds; the Kafka source columns (value, headers...) are kept as they are.
FRAME_COLUMNS = ("magic", "schema_id", "payload", "frame_error", "frame_error_class")


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


def _header_reason() -> str:
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
        return FrameError(_header_reason(), FrameErrorClass.HEADER_SCHEMA_ID, magic)
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


# -- the same rules as Spark SQL expressions ----------------------------------------------


def _unsigned(binary: Column) -> Column:
    """Big-endian unsigned value of a short binary (Spark has no binary -> int cast)."""
    from pyspark.sql import functions as F

    return F.conv(F.hex(binary), 16, 10).cast("bigint")


def _byte(value: int) -> Column:
    from pyspark.sql import functions as F

    return F.lit(bytearray([value]))


def schema_id_of(value: Column) -> Column:
    """The frame's schema id as a signed int (bytes 1..4, big-endian); assumes a frame.

    Spark cannot cast binary to int, so this goes through hex text: it is evaluated only
    where the id is needed as a number (never on the decoding path, see :func:`header`).
    """
    from pyspark.sql import functions as F

    raw = _unsigned(F.substring(value, 2, SCHEMA_ID_SIZE))
    return F.when(raw >= 2**31, raw - 2**32).otherwise(raw).cast("int")


def header(schema_id: int) -> bytes:
    """The 5 bytes a frame of ``schema_id`` starts with (compared as binary in Spark)."""
    return bytes([MAGIC_BYTE]) + _SCHEMA_ID.pack(schema_id)


def parse_frames(df: DataFrame, value: str = "value", headers: str = "headers") -> DataFrame:
    """Add ``magic``, ``schema_id``, ``payload``, ``frame_error`` and ``frame_error_class``.

    ``frame_error`` is null for a frame the decoder can read; otherwise it is the reason.
    ``headers`` is the Kafka source's ``array<struct<key, value>>`` (``includeHeaders``);
    a missing column or a null array means no headers.

    Every rule is a plain comparison of bytes (no lambda, no text conversion), so the
    whole check runs in Spark's generated code.
    """
    from streaming.sql import EXPRESSIONS

    has_headers = headers in df.columns
    first, second = EXPRESSIONS.get(
        ("frames", value, headers, has_headers),
        lambda: _frame_columns(value, headers, has_headers),
    )
    # Two steps, each adding its columns at once: every step is one more analysis of the
    # plan on the driver, paid by every micro-batch.
    return df.withColumns(first).withColumns(second)


def _frame_columns(
    value: str, headers: str, has_headers: bool
) -> tuple[dict[str, Column], dict[str, Column]]:
    """:func:`parse_frames`' two steps of columns (built once, see ``ExpressionCache``)."""
    from pyspark.sql import functions as F

    from streaming.sql import first_match

    v = F.col(value)
    length = F.length(v)
    first_byte = F.substring(v, 1, 1)
    if has_headers:
        # headers.key is the array of the header keys: no lambda, so code generation holds.
        has_id_header = F.coalesce(
            F.array_contains(F.col(headers)["key"], VALUE_SCHEMA_ID_HEADER), F.lit(False)
        )
    else:
        has_id_header = F.lit(False)
    # The sign bit of the id is the top bit of byte 1: at least 0x80 means negative.
    negative_id = F.substring(v, 2, 1) >= _byte(0x80)

    rules: list[tuple[Column, Column, str]] = [
        (v.isNull(), F.lit("null value (tombstone)"), FrameErrorClass.NULL_VALUE),
        (length == 0, F.lit("empty value"), FrameErrorClass.EMPTY_VALUE),
        (has_id_header, F.lit(_header_reason()), FrameErrorClass.HEADER_SCHEMA_ID),
        (first_byte == _byte(MAGIC_BYTE_V1), F.lit(GUID_REASON), FrameErrorClass.GUID_FRAMING),
        (
            first_byte != _byte(MAGIC_BYTE),
            F.concat(F.lit("unknown magic byte 0x"), F.lower(F.hex(first_byte))),
            FrameErrorClass.UNKNOWN_MAGIC,
        ),
        (
            length < HEADER_SIZE,
            F.format_string("frame too short (%d bytes)", length),
            FrameErrorClass.TOO_SHORT,
        ),
        (
            negative_id,
            F.format_string("negative schema id %d", schema_id_of(v)),
            FrameErrorClass.NEGATIVE_SCHEMA_ID,
        ),
    ]
    # The first matching rule wins, in the same order as parse_frame's checks. The rules
    # run once, for the class; the reason is then looked up by class (only for bad frames).
    error_class = F.col("frame_error_class")
    well_formed = error_class.isNull()
    return {
        "magic": F.when(length >= 1, _unsigned(first_byte).cast("int")),
        "frame_error_class": first_match([(cond, F.lit(name)) for cond, _, name in rules]),
    }, {
        "frame_error": F.when(
            ~well_formed, first_match([(error_class == name, why) for _, why, name in rules])
        ),
        "schema_id": F.when(well_formed, schema_id_of(v)),
        "payload": F.when(well_formed, F.expr(f"substr(`{value}`, {HEADER_SIZE + 1})")),
    }
