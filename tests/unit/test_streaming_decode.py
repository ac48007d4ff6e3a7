"""Decoding Confluent-framed Avro with local Spark: evolution, and where bad records go.

Records go through the job's triage (``triage_batch``: frames, decode, row rules), so what
is asserted here is what a batch writes and dead-letters.
"""

from __future__ import annotations

import copy
import io
import json
import random
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import fastavro
import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.avro.functions import from_avro

from contract.catalog import load_contract
from contract.cql import LINEAGE_COLUMNS, table_spec_for
from contract.wire import (
    GUID_REASON,
    MAGIC_BYTE_V1,
    VALUE_SCHEMA_ID_HEADER,
    apicurio_frame,
    frame,
    header,
)
from streaming.dead_letters import KAFKA_COLUMN
from streaming.decode import (
    DECODED_SENTINEL,
    ReservedFieldError,
    readability_problem,
    reader_with_sentinel,
)
from streaming.frames import parse_frames
from streaming.registry import ReaderSchema, StaticSchemas
from streaming.table_target import TableTarget
from streaming.triage import STAGE, BatchMetrics, Triage, triage

if TYPE_CHECKING:
    from tests.unit.conftest import FakeSink, TriageBatch

V1_ID, V2_ID, UNKNOWN_ID, INCOMPATIBLE_ID = 11, 12, 99999, 13
KAFKA_SCHEMA = (
    "key binary, value binary, headers array<struct<key:string,value:binary>>, "
    "topic string, partition int, offset long, timestamp timestamp"
)
TS = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def v1_schema() -> dict[str, Any]:
    return copy.deepcopy(load_contract().schema)


def v2_schema() -> dict[str, Any]:
    """v1 plus an optional field with a default: a BACKWARD-compatible evolution."""
    schema = v1_schema()
    schema["fields"].append(
        {"name": "nickname", "type": ["string", "null"], "default": "none given"}
    )
    return schema


def incompatible_schema() -> dict[str, Any]:
    """v1 with ``username`` as an int: v2 cannot read it."""
    schema = v1_schema()
    for f in schema["fields"]:
        if f["name"] == "username":
            f["type"] = "int"
    return schema


def user(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.UUID(int=n)),
        "first_name": f"first{n}",
        "last_name": f"last{n}",
        "gender": "female" if n % 2 else None,
        "address": None,
        "post_code": str(10000 + n),
        "email": f"user{n}@example.com",
        "username": f"user{n}",
        "dob": datetime(1980, 1, 1, tzinfo=UTC),
        "registered_date": TS,
        "phone": None,
        "picture": None,
        **extra,
    }


def avro_bytes(schema: dict[str, Any], record: dict[str, Any]) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(schema), record)
    return out.getvalue()


# The v2 reader's table: what the rows decoded here are written to.
TARGET = TableTarget.from_spec(
    table_spec_for(v2_schema(), keyspace="ks", table="users", partition_key=["id"]),
    source="schemas/users.avsc",
)


def written(triaged: Triage) -> list[dict[str, Any]]:
    """The rows the write pass writes (table shape), as dicts."""
    rows, _ = triaged.observed_rows()
    return [r.asDict() for r in rows.collect()]


def kafka_df(spark: SparkSession, values: list[bytes]) -> DataFrame:
    rows = [
        (f"k{i}".encode(), v, [{"key": "trace", "value": b"t%d" % i}], "users_created", 0, i, TS)
        for i, v in enumerate(values)
    ]
    return spark.createDataFrame(rows, KAFKA_SCHEMA)


@pytest.fixture
def schemas() -> StaticSchemas:
    return StaticSchemas(
        writers={V1_ID: v1_schema(), V2_ID: v2_schema(), INCOMPATIBLE_ID: incompatible_schema()},
        reader=v2_schema(),
        subject="users_created-value",
        reader_id=V2_ID,
        reader_version=2,
        writer_versions={V1_ID: 1, V2_ID: 2},
    )


# -- how Spark 3.5 PERMISSIVE behaves: the facts the design rests on -------------------------


def test_permissive_gives_an_all_null_struct_not_a_null_struct(spark: SparkSession) -> None:
    schema = json.dumps(v1_schema())
    good = avro_bytes(v1_schema(), user(1))
    df = spark.createDataFrame(
        [("truncated", good[:7]), ("random", random.Random(3).randbytes(24)), ("empty", b"")],
        "case string, payload binary",
    )
    out = df.select(
        "case", from_avro("payload", schema, {"mode": "PERMISSIVE"}).alias("d")
    ).collect()
    for row in out:
        assert row["d"] is not None, row["case"]  # not a null struct...
        assert all(v is None for v in row["d"]), row["case"]  # ...but every field null


def test_permissive_accepts_trailing_bytes(spark: SparkSession) -> None:
    """Avro has no end marker: garbage after a valid record is not detected (documented)."""
    payload = avro_bytes(v1_schema(), user(1)) + b"\x01\x02\x03"
    df = spark.createDataFrame([(payload,)], "payload binary")
    decoded = from_avro("payload", json.dumps(v1_schema()), {"mode": "PERMISSIVE"})
    assert df.select(decoded.alias("d")).collect()[0]["d"]["username"] == "user1"


# -- evolution: two writer versions, one reader --------------------------------------------


def test_v1_and_v2_rows_decode_into_the_v2_shape(
    spark: SparkSession, schemas: StaticSchemas, triage_batch: TriageBatch
) -> None:
    values = [
        frame(V1_ID, avro_bytes(v1_schema(), user(1))),
        frame(V2_ID, avro_bytes(v2_schema(), user(2, nickname="Bee"))),
        frame(V2_ID, avro_bytes(v2_schema(), user(3, nickname=None))),
    ]
    decoded = triage_batch(kafka_df(spark, values), schemas, TARGET)

    assert decoded.dead_letters().count() == 0
    rows = {r["username"]: r for r in written(decoded)}
    assert rows["user1"]["nickname"] == "none given"  # v2's default
    assert rows["user2"]["nickname"] == "Bee"
    assert rows["user3"]["nickname"] is None
    lineage = [(r["writer_schema_id"], r["writer_schema_version"]) for _, r in sorted(rows.items())]
    assert lineage == [(V1_ID, 1), (V2_ID, 2), (V2_ID, 2)]
    assert rows["user1"]["id"] == str(uuid.UUID(int=1))
    assert rows["user1"]["registered_date"] == TS.replace(tzinfo=None)  # session tz is UTC
    # A decoded record keeps its Kafka record beside it (for its dead letter, if any).
    kafka = {r["username"]: r[KAFKA_COLUMN] for r in decoded.outcome.collect()}
    assert kafka["user1"]["offset"] == 0
    assert bytes(kafka["user1"]["key"]) == b"k0"
    columns = decoded.outcome.columns
    assert columns[: len(v2_schema()["fields"])] == [f["name"] for f in v2_schema()["fields"]]
    assert columns[len(v2_schema()["fields"]):][:3] == [
        "writer_schema_id", "writer_schema_version", KAFKA_COLUMN
    ]
    assert DECODED_SENTINEL not in columns
    written_columns, _ = decoded.observed_rows()
    assert written_columns.columns == [*[f["name"] for f in v2_schema()["fields"]],
                                       *LINEAGE_COLUMNS]


def test_a_record_with_only_null_fields_is_not_mistaken_for_a_corrupt_one(
    spark: SparkSession, triage_batch: TriageBatch
) -> None:
    schema = {
        "type": "record",
        "name": "AllOptional",
        "fields": [{"name": "a", "type": ["null", "string"], "default": None}],
    }
    values = [frame(1, avro_bytes(schema, {"a": None}))]
    target = TableTarget.from_spec(
        table_spec_for(schema, keyspace="ks", table="t", partition_key=["a"]), source="x"
    )
    decoded = triage_batch(kafka_df(spark, values), StaticSchemas({1: schema}, schema), target)
    # Decoded (not a decode dead letter): its only field is null, so the row rules stop it.
    outcome = decoded.outcome.collect()
    assert [(r["a"], r[STAGE], r["__error_class"]) for r in outcome] == [
        (None, "sink", "null_primary_key")
    ]


# -- dead-letter routing --------------------------------------------------------------------


def test_each_kind_of_bad_record_is_dead_lettered_with_its_raw_bytes(
    spark: SparkSession, schemas: StaticSchemas, triage_batch: TriageBatch
) -> None:
    good = avro_bytes(v1_schema(), user(1))
    bad = {
        "random bytes": b"\x7f" + random.Random(7).randbytes(30),
        "magic byte 1": bytes([MAGIC_BYTE_V1]) + uuid.uuid4().bytes + good,
        "unknown schema id": frame(UNKNOWN_ID, good),
        "truncated avro": frame(V1_ID, good[: len(good) // 2]),
        "random payload": frame(V1_ID, b"\xff" * 12),
        "incompatible writer": frame(INCOMPATIBLE_ID, good),
        "too short": b"\x00\x00\x01",
    }
    values = [frame(V1_ID, good), *bad.values()]
    decoded = triage_batch(kafka_df(spark, values), schemas, TARGET)

    assert [r["username"] for r in written(decoded)] == ["user1"]
    letters = {r["offset"]: r.asDict() for r in decoded.dead_letters().collect()}
    by_case = {case: letters[i + 1] for i, case in enumerate(bad)}
    assert {case: (r["stage"], r["error"]) for case, r in by_case.items()} == {
        "random bytes": ("frame", "unknown magic byte 0x7f"),
        "magic byte 1": ("frame", GUID_REASON),
        "unknown schema id": ("decode", "unknown schema id 99999"),
        "truncated avro": ("decode", f"avro payload does not decode with writer schema {V1_ID}"),
        "random payload": ("decode", f"avro payload does not decode with writer schema {V1_ID}"),
        "incompatible writer": (
            "decode",
            f"writer schema {INCOMPATIBLE_ID} cannot be read as reader schema version 2: "
            "type_mismatch at field username (reader type: string not compatible with "
            "writer type: int)",
        ),
        "too short": ("frame", "frame too short (3 bytes)"),
    }
    assert by_case["unknown schema id"]["error_class"] == "unknown_schema_id"
    assert by_case["truncated avro"]["error_class"] == "undecodable_payload"
    assert by_case["unknown schema id"]["schema_id"] == UNKNOWN_ID
    assert by_case["random bytes"]["schema_id"] is None
    for i, case in enumerate(bad, start=1):
        row = letters[i]
        assert bytes(row["value"]) == bad[case], case  # the raw bytes, as consumed
        assert bytes(row["key"]) == b"k%d" % i
        assert row["headers"] == {"trace": bytearray(b"t%d" % i)}
        assert (row["topic"], row["partition"], row["kafka_timestamp"]) == (
            "users_created",
            0,
            TS.replace(tzinfo=None),
        )
        assert row["dead_lettered_at"] is not None and row["replayed_at"] is None


def test_a_batch_with_no_decodable_frame_keeps_the_reader_shape(
    spark: SparkSession, schemas: StaticSchemas, triage_batch: TriageBatch
) -> None:
    kafka = kafka_df(spark, [b"", frame(UNKNOWN_ID, b"\x00")])
    decoded = triage_batch(kafka, schemas, TARGET)
    rows, _ = decoded.observed_rows()
    assert rows.count() == 0
    assert "nickname" in rows.columns
    assert sorted(r["stage"] for r in decoded.dead_letters().collect()) == ["decode", "frame"]


def test_decode_frames_treats_an_unresolved_id_as_unknown(spark: SparkSession) -> None:
    reader = ReaderSchema("s", V1_ID, 1, json.dumps(v1_schema()))
    framed = parse_frames(kafka_df(spark, [frame(V1_ID, avro_bytes(v1_schema(), user(1)))]))
    target = TableTarget.from_contract(load_contract())
    decoded = triage(framed, reader, {}, target)
    assert [r["error"] for r in decoded.dead_letters().collect()] == [
        f"unknown schema id {V1_ID}"
    ]


def test_headers_keep_the_last_value_of_a_repeated_key(
    spark: SparkSession, schemas: StaticSchemas, triage_batch: TriageBatch
) -> None:
    df = spark.createDataFrame(
        [(None, b"", [{"key": "h", "value": b"1"}, {"key": "h", "value": b"2"},
                      {"key": "n", "value": None}], "t", 0, 0, TS)],
        KAFKA_SCHEMA,
    )
    row = triage_batch(df, schemas, TARGET).dead_letters().collect()[0]
    assert row["headers"] == {"h": bytearray(b"2"), "n": bytearray(b"")}


# -- driver-side checks ---------------------------------------------------------------------


def test_readability_problem() -> None:
    assert readability_problem(json.dumps(v1_schema()), json.dumps(v2_schema())) is None
    assert readability_problem(json.dumps(v2_schema()), json.dumps(v1_schema())) is None
    problem = readability_problem(json.dumps(incompatible_schema()), json.dumps(v1_schema()))
    assert problem is not None and "type_mismatch" in problem


def test_reserved_field_names_are_refused() -> None:
    schema = v1_schema()
    schema["fields"].append({"name": "ingested_at", "type": "long"})
    with pytest.raises(ReservedFieldError, match="ingested_at"):
        reader_with_sentinel(ReaderSchema("s", 1, 1, json.dumps(schema)))


def _zigzag_varint(n: int) -> bytes:
    z, out = (n << 1) ^ (n >> 63), bytearray()
    while True:
        byte, z = z & 0x7F, z >> 7
        out.append(byte | (0x80 if z else 0))
        if not z:
            return bytes(out)


def test_a_huge_length_prefix_is_dead_lettered_not_an_out_of_memory(
    spark: SparkSession, schemas: StaticSchemas, triage_batch: TriageBatch
) -> None:
    """A payload claiming a 2 GB string: without the Avro read limits of streaming.session
    the JVM tries to allocate it and dies (a poison pill); with them the row is dead."""
    values = [frame(V1_ID, _zigzag_varint(2**31 - 16) + b"x"), frame(V1_ID, _zigzag_varint(2**30))]
    decoded = triage_batch(kafka_df(spark, values), schemas, TARGET)
    assert [r["error_class"] for r in decoded.dead_letters().collect()] == [
        "undecodable_payload",
        "undecodable_payload",
    ]


def test_random_payloads_behind_a_valid_header_never_crash_the_batch(
    spark: SparkSession, schemas: StaticSchemas, triage_batch: TriageBatch
) -> None:
    rng = random.Random(1)
    values = [frame(V1_ID, rng.randbytes(rng.randint(0, 200))) for _ in range(500)]
    decoded = triage_batch(kafka_df(spark, values), schemas, TARGET)
    rows, observation = decoded.observed_rows()
    rows.collect()  # the write's action
    metrics = BatchMetrics.from_observation(observation)
    assert metrics.rows == len(values)
    assert metrics.written + decoded.dead_letters().count() == len(values)


@pytest.mark.parametrize(
    "bad", [b"\xff\xfe\xfd", b"\xed\xa0\x80"], ids=["invalid-bytes", "lone-surrogate"]
)
def test_a_string_that_is_not_utf8_is_dead_lettered_not_stored_altered(
    spark: SparkSession, schemas: StaticSchemas, triage_batch: TriageBatch, bad: bytes
) -> None:
    """Spark's Avro reader copies a string's bytes unchecked, and Cassandra's driver would
    store replacement characters; fastavro (the reconciliation) refuses the record."""
    good = avro_bytes(v1_schema(), user(1, first_name="Zoë"))
    payload = avro_bytes(v1_schema(), user(2, first_name="QQQ"))
    assert payload.count(b"\x06QQQ") == 1  # length 3 (zigzag 6), then the bytes
    broken = payload.replace(b"\x06QQQ", b"\x06" + bad)
    with pytest.raises(UnicodeDecodeError):
        fastavro.schemaless_reader(io.BytesIO(broken), fastavro.parse_schema(v1_schema()))

    values = [frame(V1_ID, good), frame(V1_ID, broken)]
    triaged = triage_batch(kafka_df(spark, values), schemas, TARGET)
    assert [r["first_name"] for r in written(triaged)] == ["Zoë"]
    letters = triaged.dead_letters().collect()
    assert [(d["offset"], d["stage"], d["error_class"]) for d in letters] == [
        (1, "decode", "invalid_utf8")
    ]
    assert "first_name" in letters[0]["error"] and bytes(letters[0]["value"]) == values[1]


def test_invalid_utf8_looks_into_structs_arrays_and_maps(spark: SparkSession) -> None:
    from pyspark.sql import functions as F

    from streaming.decode import invalid_utf8

    raw = spark.createDataFrame(
        [(b"ok", b"fine"), (b"\xff", b"fine"), (b"ok", b"\xc3"), (None, None)], "a binary, b binary"
    )
    strings = raw.select(F.col("a").cast("string").alias("a"), F.col("b").cast("string").alias("b"))
    nested = strings.select(
        F.struct("a", F.struct("b").alias("inner")).alias("struct"),
        F.array("a", "b").alias("array"),
        F.when(F.col("a").isNotNull(), F.create_map("a", "b")).alias("map"),
        F.array(F.struct(F.lit(1).alias("n"), F.col("b").alias("s"))).alias("records"),
        F.lit(1).alias("number"),
    )
    checks = {name: invalid_utf8(F.col(name), nested.schema[name].dataType)
              for name in nested.columns}
    assert checks.pop("number") is None  # no string in it: no check at all
    out = nested.select(*[c.alias(n) for n, c in checks.items()]).collect()
    assert [r.asDict() for r in out] == [
        {"struct": False, "array": False, "map": False, "records": False},
        {"struct": True, "array": True, "map": True, "records": False},
        {"struct": True, "array": True, "map": True, "records": True},
        {"struct": False, "array": False, "map": False, "records": False},
    ]


# -- every framing in one batch ----------------------------------------------------------------


def _max_method_bytecode(df: DataFrame) -> int:
    """The largest generated Java method of ``df``'s physical plan, in bytes of bytecode."""
    jvm = df.sparkSession._jvm  # type: ignore[attr-defined]
    plan = df._jdf.queryExecution().executedPlan()
    stats = jvm.org.apache.spark.sql.execution.debug.package.codegenStringSeq(plan)
    sizes = [stats.apply(i)._3().maxMethodCodeSize() for i in range(stats.size())]
    return max(sizes, default=0)


def test_every_framing_in_one_batch(
    spark: SparkSession, schemas: StaticSchemas, triage_batch: TriageBatch
) -> None:
    """Prefix and header int-id frames decode through the same per-writer path; GUIDs (which
    the registry cannot resolve), malformed headers, Apicurio's 8-byte framing and poison
    are dead-lettered with their own classes, in the same batch."""
    v1 = avro_bytes(v1_schema(), user(1))
    v2 = avro_bytes(v2_schema(), user(2, nickname="Bee"))
    guid = bytes([MAGIC_BYTE_V1]) + uuid.uuid4().bytes
    # (value, __value_schema_id header or None, expected: username or error class)
    cases: list[tuple[bytes | None, bytes | None, str]] = [
        (frame(V1_ID, v1), None, "user1"),
        (v2, header(V2_ID), "user2"),
        (avro_bytes(v1_schema(), user(3)), header(V1_ID), "user3"),
        (frame(V1_ID, avro_bytes(v1_schema(), user(4))), None, "user4"),
        (guid + v1, None, "unsupported_guid_framing"),
        (v1, guid, "unsupported_header_guid_framing"),
        (v1, b"\x00\x00\x01", "malformed_header_schema_id"),
        (v1, b"\x02" + bytes(4), "malformed_header_schema_id"),
        (apicurio_frame(17, v1), None, "apicurio_content_id_framing"),
        (v1, header(UNKNOWN_ID), "unknown_schema_id"),
        (v1[: len(v1) // 2], header(V1_ID), "undecodable_payload"),
        (v1, header(INCOMPATIBLE_ID), "unreadable_writer_schema"),
        (b"\x7f" + random.Random(5).randbytes(20), None, "unknown_magic_byte"),
        (None, None, "null_value"),
        (b"\x00\x00", None, "frame_too_short"),
    ]
    rows = [
        (f"k{i}".encode(), value,
         [{"key": "trace", "value": b"t"}]
         + ([{"key": VALUE_SCHEMA_ID_HEADER, "value": ref}] if ref is not None else []),
         "users_created", 0, i, TS)
        for i, (value, ref, _) in enumerate(cases)
    ]
    triaged = triage_batch(spark.createDataFrame(rows, KAFKA_SCHEMA), schemas, TARGET)

    stored = {r["username"]: r for r in written(triaged)}
    assert sorted(stored) == sorted(e for _, _, e in cases if e.startswith("user"))
    assert stored["user2"]["nickname"] == "Bee"
    assert stored["user3"]["nickname"] == "none given"  # v1 read as v2, from the header id
    assert (stored["user3"]["writer_schema_id"], stored["user3"]["writer_schema_version"]) == (
        V1_ID, 1
    )
    letters = triaged.dead_letters()
    assert _max_method_bytecode(letters) < 8000  # the JVM's HugeMethodLimit: still compiled
    got = {r["offset"]: r.asDict() for r in letters.collect()}
    expected = {i: e for i, (_, _, e) in enumerate(cases) if not e.startswith("user")}
    assert {i: r["error_class"] for i, r in got.items()} == expected
    assert got[9]["schema_id"] == UNKNOWN_ID  # the header's id
    assert got[9]["headers"][VALUE_SCHEMA_ID_HEADER] == header(UNKNOWN_ID)
    assert "content id 17" in got[8]["error"]
    assert "cannot resolve schema GUIDs" in got[5]["error"]
    assert "cannot resolve schema GUIDs" in got[4]["error"]


def test_an_old_header_dead_letter_decodes_when_replayed(
    spark: SparkSession, schemas: StaticSchemas, triage_batch: TriageBatch, fake_sink: FakeSink
) -> None:
    """Before the header's int id was read, every record with the header was dead-lettered
    as ``unsupported_header_schema_id``; replay decodes it now and marks it replayed."""
    from pyspark.sql import functions as F

    from streaming.replay import replay

    payload = avro_bytes(v1_schema(), user(5))
    rows = [(b"k", payload, [{"key": VALUE_SCHEMA_ID_HEADER, "value": header(V1_ID)}],
             "users_created", 0, 0, TS)]
    # The dead letter as the old code wrote it: raw value, headers map, the old class.
    old = triage_batch(spark.createDataFrame(rows, KAFKA_SCHEMA), StaticSchemas({}, v2_schema()),
                       TARGET).dead_letters()
    old = old.withColumns({
        "error_class": F.lit("unsupported_header_schema_id"), "stage": F.lit("frame"),
        "error": F.lit("schema id in __value_schema_id header is not supported"),
        "schema_id": F.lit(None).cast("int"),
    }).localCheckpoint()
    assert old.count() == 1

    report = replay(old, schemas, TARGET, fake_sink)
    assert (report.selected, report.replayed, report.still_failing) == (1, 1, 0)
    assert [(r["username"], r["writer_schema_id"]) for r in fake_sink.rows] == [("user5", V1_ID)]
    assert [u["offset"] for u in fake_sink.updates if u.get("replayed_at")] == [0]
