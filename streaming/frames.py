"""The Confluent frame rules of :mod:`contract.wire` as Spark SQL column expressions.

This is the streaming job's hot path: every rule is a plain comparison of bytes (no Python
UDF, no lambda), so the whole check runs in Spark's generated code. The first matching
rule wins, in the same order as :func:`contract.wire.parse_frame`; the unit tests hold the
two together.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from contract.wire import (
    GUID_REASON,
    HEADER_SIZE,
    MAGIC_BYTE,
    MAGIC_BYTE_V1,
    SCHEMA_ID_SIZE,
    VALUE_SCHEMA_ID_HEADER,
    FrameErrorClass,
    header_reason,
)
from streaming.sql import EXPRESSIONS, first_match

# Columns parse_frames adds; the Kafka source columns (value, headers...) are kept as they are.
FRAME_COLUMNS = ("magic", "schema_id", "payload", "frame_error", "frame_error_class")


def _unsigned(binary: Column) -> Column:
    """Big-endian unsigned value of a short binary (Spark has no binary -> int cast)."""
    return F.conv(F.hex(binary), 16, 10).cast("bigint")


def _byte(value: int) -> Column:
    return F.lit(bytearray([value]))


def schema_id_of(value: Column) -> Column:
    """The frame's schema id as a signed int (bytes 1..4, big-endian); assumes a frame.

    Spark cannot cast binary to int, so this goes through hex text: it is evaluated only
    where the id is needed as a number (never on the decoding path, see :func:`header`).
    """
    raw = _unsigned(F.substring(value, 2, SCHEMA_ID_SIZE))
    return F.when(raw >= 2**31, raw - 2**32).otherwise(raw).cast("int")


def parse_frames(df: DataFrame, value: str = "value", headers: str = "headers") -> DataFrame:
    """Add ``magic``, ``schema_id``, ``payload``, ``frame_error`` and ``frame_error_class``.

    ``frame_error`` is null for a frame the decoder can read; otherwise it is the reason.
    ``headers`` is the Kafka source's ``array<struct<key, value>>`` (``includeHeaders``);
    a missing column or a null array means no headers.

    Every rule is a plain comparison of bytes (no lambda, no text conversion), so the
    whole check runs in Spark's generated code.
    """
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
        (has_id_header, F.lit(header_reason()), FrameErrorClass.HEADER_SCHEMA_ID),
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
