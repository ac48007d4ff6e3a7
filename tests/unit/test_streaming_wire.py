"""The Confluent frame rules: the pure-Python parser and the Spark expressions agree."""

from __future__ import annotations

import random

import pytest
from pyspark.sql import SparkSession

from contract.wire import (
    GUID_REASON,
    HEADER_SIZE,
    MAGIC_BYTE,
    MAGIC_BYTE_V1,
    SCHEMA_GUID_SIZE,
    VALUE_SCHEMA_ID_HEADER,
    Frame,
    FrameError,
    frame,
    parse_frame,
)
from streaming.frames import FRAME_COLUMNS, parse_frames

PAYLOAD = b"\x06abc\x02"
RANDOM = random.Random(20240601)

# (case name, value, headers, expected parse_frame result)
CASES: list[tuple[str, bytes | None, list[tuple[str, bytes | None]], Frame | FrameError]] = [
    ("valid", frame(7, PAYLOAD), [], Frame(MAGIC_BYTE, 7, PAYLOAD)),
    ("valid, empty payload", frame(7, b""), [], Frame(MAGIC_BYTE, 7, b"")),
    ("valid, big id", frame(2**31 - 1, PAYLOAD), [], Frame(MAGIC_BYTE, 2**31 - 1, PAYLOAD)),
    (
        "valid, unrelated header",
        frame(3, PAYLOAD),
        [("trace", b"x"), ("empty", None)],
        Frame(MAGIC_BYTE, 3, PAYLOAD),
    ),
    ("null value", None, [], FrameError("null value (tombstone)", "null_value")),
    ("empty", b"", [], FrameError("empty value", "empty_value")),
    *(
        (
            f"{n} bytes",
            bytes(n),
            [],
            FrameError(f"frame too short ({n} bytes)", "frame_too_short", 0),
        )
        for n in range(1, HEADER_SIZE)
    ),
    (
        "magic 1 with GUID",
        bytes([MAGIC_BYTE_V1]) + bytes(range(SCHEMA_GUID_SIZE)) + PAYLOAD,
        [],
        FrameError(GUID_REASON, "unsupported_guid_framing", 1),
    ),
    (
        "magic 0x7f",
        b"\x7f" + PAYLOAD,
        [],
        FrameError("unknown magic byte 0x7f", "unknown_magic_byte", 0x7F),
    ),
    (
        "magic 0xff, 1 byte",
        b"\xff",
        [],
        FrameError("unknown magic byte 0xff", "unknown_magic_byte", 0xFF),
    ),
    (
        "id in header",
        PAYLOAD,
        [(VALUE_SCHEMA_ID_HEADER, bytes([MAGIC_BYTE_V1]) + bytes(SCHEMA_GUID_SIZE))],
        FrameError(
            f"schema id in {VALUE_SCHEMA_ID_HEADER} header is not supported",
            "unsupported_header_schema_id",
            PAYLOAD[0],
        ),
    ),
    (
        "negative id",
        b"\x00\xff\xff\xff\xfe" + PAYLOAD,
        [],
        FrameError("negative schema id -2", "negative_schema_id", 0),
    ),
]
# Random bytes: whatever they are, both implementations must say the same thing.
def _random_bytes(n: int) -> bytes:
    return bytes(RANDOM.getrandbits(8) for _ in range(n))


RANDOM_VALUES = [_random_bytes(RANDOM.randint(1, 40)) for _ in range(12)]
RANDOM_VALUES += [b"\x00" + _random_bytes(RANDOM.randint(0, 40)) for _ in range(12)]


@pytest.mark.parametrize(("name", "value", "headers", "expected"), CASES, ids=[c[0] for c in CASES])
def test_parse_frame(name: str, value: bytes | None, headers: list, expected: object) -> None:
    assert parse_frame(value, headers) == expected


def test_frame_round_trips() -> None:
    assert parse_frame(frame(42, PAYLOAD)) == Frame(0, 42, PAYLOAD)


def _expected_row(value: bytes | None, headers: list) -> tuple:
    parsed = parse_frame(value, headers)
    if isinstance(parsed, Frame):
        return (parsed.magic, parsed.schema_id, parsed.payload, None, None)
    return (parsed.magic, None, None, parsed.reason, parsed.error_class)


def test_spark_expressions_agree_with_parse_frame(spark: SparkSession) -> None:
    inputs = [(value, headers) for _, value, headers, _ in CASES]
    inputs += [(value, []) for value in RANDOM_VALUES]
    rows = [
        (i, value, [{"key": k, "value": v} for k, v in headers] or None)
        for i, (value, headers) in enumerate(inputs)
    ]
    df = spark.createDataFrame(
        rows, "i int, value binary, headers array<struct<key:string,value:binary>>"
    )
    out = parse_frames(df).orderBy("i").collect()

    got = [
        (
            r["magic"],
            r["schema_id"],
            bytes(r["payload"]) if r["payload"] is not None else None,
            r["frame_error"],
            r["frame_error_class"],
        )
        for r in out
    ]
    assert got == [_expected_row(value, headers) for value, headers in inputs]


def test_spark_without_headers_column(spark: SparkSession) -> None:
    df = spark.createDataFrame([(frame(5, PAYLOAD),)], "value binary")
    framed = parse_frames(df)
    assert set(framed.columns) - {"value"} == set(FRAME_COLUMNS)
    row = framed.collect()[0]
    assert (row["schema_id"], bytes(row["payload"]), row["frame_error"]) == (5, PAYLOAD, None)
