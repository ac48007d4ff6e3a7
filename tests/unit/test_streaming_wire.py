"""The Confluent frame rules: the pure-Python parser and the Spark expressions agree."""

from __future__ import annotations

import random

import pytest
from pyspark.sql import SparkSession

from contract.wire import (
    GUID_REASON,
    HEADER_GUID_REASON,
    HEADER_SIZE,
    MAGIC_BYTE,
    MAGIC_BYTE_V1,
    SCHEMA_GUID_SIZE,
    VALUE_SCHEMA_ID_HEADER,
    Frame,
    FrameError,
    apicurio_frame,
    frame,
    header,
    malformed_header_reason,
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
        "int id in header, bare payload",
        PAYLOAD,
        [("trace", b"x"), (VALUE_SCHEMA_ID_HEADER, header(7))],
        Frame(MAGIC_BYTE, 7, PAYLOAD, in_header=True),
    ),
    (
        # The header wins over the prefix; the whole value is the payload.
        "int id in header, value that looks framed",
        frame(3, PAYLOAD),
        [(VALUE_SCHEMA_ID_HEADER, header(8))],
        Frame(MAGIC_BYTE, 8, frame(3, PAYLOAD), in_header=True),
    ),
    (
        "first header of the name wins",
        PAYLOAD,
        [(VALUE_SCHEMA_ID_HEADER, header(9)), (VALUE_SCHEMA_ID_HEADER, header(10))],
        Frame(MAGIC_BYTE, 9, PAYLOAD, in_header=True),
    ),
    (
        "null header value: the prefix is read",
        frame(4, PAYLOAD),
        [(VALUE_SCHEMA_ID_HEADER, None)],
        Frame(MAGIC_BYTE, 4, PAYLOAD),
    ),
    (
        "GUID in header",
        PAYLOAD,
        [(VALUE_SCHEMA_ID_HEADER, bytes([MAGIC_BYTE_V1]) + bytes(SCHEMA_GUID_SIZE))],
        FrameError(HEADER_GUID_REASON, "unsupported_header_guid_framing", MAGIC_BYTE_V1),
    ),
    *(
        (
            f"malformed header {ref.hex() or 'empty'}",
            PAYLOAD,
            [(VALUE_SCHEMA_ID_HEADER, ref)],
            FrameError(
                malformed_header_reason(len(ref), ref[0] if ref else None),
                "malformed_header_schema_id",
                ref[0] if ref else None,
            ),
        )
        for ref in (
            b"", b"\x00\x00\x01", header(7) + b"\x00", b"\x02" + bytes(4),
            bytes([MAGIC_BYTE_V1]) + bytes(4), bytes([MAGIC_BYTE_V1]) + bytes(17),
        )
    ),
    (
        "negative id in header",
        PAYLOAD,
        [(VALUE_SCHEMA_ID_HEADER, b"\x00\xff\xff\xff\xff")],
        FrameError("negative schema id -1", "negative_schema_id", 0),
    ),
    (
        "id 0 in header: an id like any other (unknown to the registry)",
        PAYLOAD,
        [(VALUE_SCHEMA_ID_HEADER, header(0))],
        Frame(MAGIC_BYTE, 0, PAYLOAD, in_header=True),
    ),
    (
        "Apicurio 8-byte content id",
        apicurio_frame(42, PAYLOAD),
        [],
        FrameError(
            "schema id 0: looks like Apicurio's 8-byte content-id framing (content id 42)",
            "apicurio_content_id_framing",
            0,
        ),
    ),
    (
        "Apicurio 8-byte content id, big",
        apicurio_frame(2**32 - 1, b""),
        [],
        FrameError(
            "schema id 0: looks like Apicurio's 8-byte content-id framing "
            f"(content id {2**32 - 1})",
            "apicurio_content_id_framing",
            0,
        ),
    ),
    (
        "schema id 0, too short for Apicurio's framing",
        frame(0, b"\x01"),
        [],
        FrameError(
            "schema id 0, which no registry assigns (6 bytes: too short for Apicurio's "
            "8-byte content-id framing)",
            "apicurio_content_id_framing",
            0,
        ),
    ),
    (
        "the smallest negative id, in the header",
        PAYLOAD,
        [(VALUE_SCHEMA_ID_HEADER, b"\x00\x80\x00\x00\x00")],
        FrameError("negative schema id -2147483648", "negative_schema_id", 0),
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
# Random header values (some shaped like a reference) beside random values.
RANDOM_HEADERS = [
    (_random_bytes(RANDOM.randint(1, 20)), [(VALUE_SCHEMA_ID_HEADER, ref)])
    for ref in [
        *(_random_bytes(RANDOM.randint(0, 20)) for _ in range(8)),
        *(bytes([RANDOM.choice([0, 1])]) + _random_bytes(RANDOM.choice([4, 16])) for _ in range(8)),
    ]
]


@pytest.mark.parametrize(("name", "value", "headers", "expected"), CASES, ids=[c[0] for c in CASES])
def test_parse_frame(name: str, value: bytes | None, headers: list, expected: object) -> None:
    assert parse_frame(value, headers) == expected


def test_frame_round_trips() -> None:
    assert parse_frame(frame(42, PAYLOAD)) == Frame(0, 42, PAYLOAD)


def _expected_row(value: bytes | None, headers: list) -> tuple:
    parsed = parse_frame(value, headers)
    if isinstance(parsed, Frame):
        return (parsed.magic, parsed.schema_id, parsed.payload, None, None, parsed.in_header)
    return (parsed.magic, None, None, parsed.reason, parsed.error_class, None)


def test_spark_expressions_agree_with_parse_frame(spark: SparkSession) -> None:
    inputs = [(value, headers) for _, value, headers, _ in CASES]
    inputs += [(value, []) for value in RANDOM_VALUES]
    inputs += RANDOM_HEADERS
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
            r["frame_in_header"] if r["frame_error"] is None else None,
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
