"""The Confluent frame rules of :mod:`contract.wire` as Spark SQL column expressions.

This is the streaming job's hot path: every rule is a plain comparison of bytes (no Python
UDF, no lambda), so the whole check runs in Spark's generated code. The first matching
rule wins, in the same order as :func:`contract.wire.parse_frame`; the unit tests hold the
two together.

The schema reference (the ``__value_schema_id`` header's value when the record has one,
else the value's first five bytes) is computed once, as the ``frame_ref`` column out of a
one-row generator (see :func:`parse_frames`): the rules and the decoder's writer match
only compare that column. Were the header look-up a projection's expression, Spark's
optimizer would inline it into every branch of every CASE and every pushed-down filter,
and the generated code would outgrow the JVM's 64 KB method limit.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from contract.wire import (
    APICURIO_HEADER_SIZE,
    APICURIO_TEMPLATE,
    GUID_REASON,
    GUID_REF_SIZE,
    HEADER_GUID_REASON,
    HEADER_SIZE,
    MAGIC_BYTE,
    MAGIC_BYTE_V1,
    MALFORMED_HEADER_TEMPLATE,
    SCHEMA_ID_SIZE,
    SCHEMA_ID_ZERO_TEMPLATE,
    VALUE_SCHEMA_ID_HEADER,
    FrameErrorClass,
    header,
)
from streaming.sql import EXPRESSIONS, first_match

# The schema reference's bytes, and whether they came from the header.
FRAME_REF = "frame_ref"
FRAME_IN_HEADER = "frame_in_header"
# Columns parse_frames adds; the Kafka source columns (value, headers...) are kept as they are.
FRAME_COLUMNS = (
    FRAME_REF, FRAME_IN_HEADER, "magic", "schema_id", "payload", "frame_error",
    "frame_error_class",
)


def _unsigned(binary: Column) -> Column:
    """Big-endian unsigned value of a short binary (Spark has no binary -> int cast)."""
    return F.conv(F.hex(binary), 16, 10).cast("bigint")


def _byte(value: int) -> Column:
    return F.lit(bytearray([value]))


def schema_id_of(ref: Column) -> Column:
    """The schema id of a reference (:data:`FRAME_REF`, or a frame) as a signed int: bytes
    1..4, big-endian; assumes magic 0.

    Spark cannot cast binary to int, so this goes through hex text: it is evaluated only
    where the id is needed as a number (never on the decoding path, which compares bytes).
    """
    raw = _unsigned(F.substring(ref, 2, SCHEMA_ID_SIZE))
    return F.when(raw >= 2**31, raw - 2**32).otherwise(raw).cast("int")


def parse_frames(df: DataFrame, value: str = "value", headers: str = "headers") -> DataFrame:
    """Add :data:`FRAME_COLUMNS`: the schema reference, ``magic``, ``schema_id``,
    ``payload``, ``frame_error`` and ``frame_error_class``.

    ``frame_error`` is null for a frame the decoder can read; otherwise it is the reason.
    ``headers`` is the Kafka source's ``array<struct<key, value>>`` (``includeHeaders``);
    a missing column or a null array means no headers.
    """
    has_headers = headers in df.columns
    steps = EXPRESSIONS.get(
        ("frames", value, headers, has_headers),
        lambda: _frame_columns(value, headers, has_headers),
    )
    reference, *rest = steps
    # The reference comes out of a generator (one row in, one row out), not a projection:
    # the optimizer inlines a projection's expressions into every filter pushed through it
    # (the job's dead-letter filter references the reference thousands of times), but a
    # generator's output stays an attribute. Then each step adds its columns at once:
    # every step is one more analysis of the plan on the driver, paid by every micro-batch.
    df = df.select("*", F.inline(F.array(F.struct(
        *[column.alias(name) for name, column in reference.items()]
    ))))
    for step in rest:
        df = df.withColumns(step)
    return df


def _reference_columns(value: str, headers: str, has_headers: bool) -> dict[str, Column]:
    prefix = F.substring(F.col(value), 1, HEADER_SIZE)
    if not has_headers:
        return {FRAME_REF: prefix, FRAME_IN_HEADER: F.lit(False)}
    # The first header of that name (no lambda: headers.key is the array of the keys;
    # array_position is 1-based, 0 when absent, and get(-1) is null). A null header value
    # counts as no header, as in confluent-kafka's dual_schema_id_deserializer.
    position = F.array_position(F.col(headers)["key"], VALUE_SCHEMA_ID_HEADER)
    in_header = F.get(F.col(headers), position - 1)["value"]
    return {FRAME_REF: F.coalesce(in_header, prefix), FRAME_IN_HEADER: in_header.isNotNull()}


def _frame_columns(
    value: str, headers: str, has_headers: bool
) -> tuple[dict[str, Column], ...]:
    """:func:`parse_frames`' steps of columns (built once, see ``ExpressionCache``)."""
    v = F.col(value)
    length = F.length(v)
    ref, in_header = F.col(FRAME_REF), F.col(FRAME_IN_HEADER)
    ref_length = F.length(ref)
    first_byte = F.substring(ref, 1, 1)
    first_byte_text = F.when(ref_length == 0, F.lit("no magic byte")).otherwise(
        F.concat(F.lit("magic byte 0x"), F.lower(F.hex(first_byte)))
    )
    # The sign bit of the id is the top bit of byte 1: at least 0x80 means negative.
    negative_id = F.substring(ref, 2, 1) >= _byte(0x80)
    zero_id = F.when(length >= APICURIO_HEADER_SIZE, F.format_string(
        APICURIO_TEMPLATE, _unsigned(F.substring(v, HEADER_SIZE + 1, SCHEMA_ID_SIZE))
    )).otherwise(F.format_string(SCHEMA_ID_ZERO_TEMPLATE, length))

    rules: list[tuple[Column, Column, str]] = [
        (v.isNull(), F.lit("null value (tombstone)"), FrameErrorClass.NULL_VALUE),
        (length == 0, F.lit("empty value"), FrameErrorClass.EMPTY_VALUE),
        (
            in_header & (first_byte == _byte(MAGIC_BYTE_V1)) & (ref_length == GUID_REF_SIZE),
            F.lit(HEADER_GUID_REASON),
            FrameErrorClass.HEADER_GUID_FRAMING,
        ),
        (
            in_header & ((first_byte != _byte(MAGIC_BYTE)) | (ref_length != HEADER_SIZE)),
            F.format_string(MALFORMED_HEADER_TEMPLATE, ref_length, first_byte_text),
            FrameErrorClass.MALFORMED_HEADER,
        ),
        (first_byte == _byte(MAGIC_BYTE_V1), F.lit(GUID_REASON), FrameErrorClass.GUID_FRAMING),
        (
            first_byte != _byte(MAGIC_BYTE),
            F.concat(F.lit("unknown magic byte 0x"), F.lower(F.hex(first_byte))),
            FrameErrorClass.UNKNOWN_MAGIC,
        ),
        (
            ref_length < HEADER_SIZE,
            F.format_string("frame too short (%d bytes)", length),
            FrameErrorClass.TOO_SHORT,
        ),
        (
            negative_id,
            F.format_string("negative schema id %d", schema_id_of(ref)),
            FrameErrorClass.NEGATIVE_SCHEMA_ID,
        ),
        (~in_header & (ref == F.lit(header(0))), zero_id, FrameErrorClass.APICURIO_CONTENT_ID),
    ]
    # The first matching rule wins, in the same order as parse_frame's checks. The rules
    # run once, for the class; the reason is then looked up by class (only for bad frames).
    # Almost every frame is well formed, and proving it takes three comparisons of the
    # reference as unsigned binary (5 bytes, magic 0, id not negative: up to 0x007fffffff;
    # id 0 only from the header); only the others go through the rules. Exactly the frames
    # no rule matches (the unit tests hold it to parse_frame).
    plain = (v.isNotNull() & (length > 0) & (ref_length == HEADER_SIZE)
             & (ref <= F.lit(header(2**31 - 1))) & (in_header | (ref != F.lit(header(0)))))
    error_class = F.col("frame_error_class")
    well_formed = error_class.isNull()
    return (
        _reference_columns(value, headers, has_headers),
        {
            "magic": F.when(plain, F.lit(MAGIC_BYTE)).when(
                (length >= 1) & (ref_length >= 1), _unsigned(first_byte).cast("int")),
            "frame_error_class": first_match(
                [(plain, F.lit(None).cast("string")),
                 *[(cond, F.lit(name)) for cond, _, name in rules]]),
        },
        {
            "frame_error": F.when(
                ~well_formed, first_match([(error_class == name, why) for _, why, name in rules])
            ),
            "schema_id": F.when(well_formed, schema_id_of(ref)),
            "payload": F.when(well_formed, F.when(in_header, v).otherwise(
                F.expr(f"substr(`{value}`, {HEADER_SIZE + 1})")
            )),
        },
    )
