"""Row checks before the Cassandra write, and the table's shape (no Cassandra needed)."""

from __future__ import annotations

import io
import json
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import fastavro
import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from contract.catalog import load_contract
from contract.spark_types import dead_letter_struct, spark_struct, table_struct
from contract.wire import frame
from streaming.decode import decode
from streaming.frames import parse_frames
from streaming.registry import StaticSchemas
from streaming.sink import (
    TableBehindReaderSchema,
    TableTarget,
    check_rows,
    columns_to_write,
    table_rows,
    unquote,
)

if TYPE_CHECKING:
    from tests.unit.conftest import UserValue

SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "Thing",
    "fields": [
        {
            "name": "id",
            "type": ["null", {"type": "string", "logicalType": "uuid"}],
            "default": None,
        },
        {"name": "name", "type": ["null", "string"], "default": None},
        {"name": "tags", "type": {"type": "array", "items": ["null", "string"]}, "default": []},
    ],
}
TARGET = TableTarget(
    keyspace="ks",
    table="things",
    columns={
        "id": "uuid",
        "name": "text",
        "tags": "list<text>",
        "writer_schema_id": "int",
        "writer_schema_version": "int",
        "ingested_at": "timestamp",
    },
    partition_key=("id",),
    clustering_key=(),
    source="schemas/things.avsc",
)
GOOD_ID = str(uuid.UUID(int=7))
TS = datetime(2024, 6, 1, tzinfo=UTC)
KAFKA_SCHEMA = (
    "key binary, value binary, headers array<struct<key:string,value:binary>>, "
    "topic string, partition int, offset long, timestamp timestamp"
)


def encoded(record: dict[str, Any]) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(SCHEMA), record)
    return frame(1, out.getvalue())


def decoded_rows(spark: SparkSession, records: list[dict[str, Any]]) -> DataFrame:
    rows = [(None, encoded(r), None, "things", 0, i, TS) for i, r in enumerate(records)]
    df = spark.createDataFrame(rows, KAFKA_SCHEMA)
    return decode(parse_frames(df), StaticSchemas({1: SCHEMA}, SCHEMA)).rows


def test_rows_cassandra_would_refuse_are_dead_lettered_before_the_write(
    spark: SparkSession,
) -> None:
    records = [
        {"id": GOOD_ID, "name": "ok", "tags": ["a"]},
        {"id": None, "name": "no key", "tags": []},
        {"id": "", "name": "empty key", "tags": []},
        {"id": "not-a-uuid", "name": "bad uuid", "tags": []},
        {"id": GOOD_ID.upper(), "name": "upper-case uuid is fine", "tags": []},
        {"id": str(uuid.uuid4()), "name": "null in list", "tags": ["a", None]},
    ]
    checked = check_rows(decoded_rows(spark, records), TARGET)
    assert sorted(r["name"] for r in checked.writable.collect()) == [
        "ok",
        "upper-case uuid is fine",
    ]
    letters = {r["offset"]: r for r in checked.dead_letters.collect()}
    assert {o: (r["stage"], r["error_class"], r["error"]) for o, r in letters.items()} == {
        1: ("sink", "null_primary_key", "primary key column id is null"),
        2: ("sink", "empty_partition_key", "partition key column id is empty"),
        3: ("sink", "invalid_uuid", "column id is not a uuid: 'not-a-uuid'"),
        5: (
            "sink",
            "null_in_collection",
            "column tags holds a null element (a Cassandra collection cannot)",
        ),
    }
    assert all(r["schema_id"] == 1 and r["value"] is not None for r in letters.values())


def test_table_rows_have_the_data_columns_then_lineage(spark: SparkSession) -> None:
    rows = decoded_rows(spark, [{"id": GOOD_ID, "name": "x", "tags": []}])
    out = table_rows(rows, ["id", "name", "tags"], TARGET)
    assert out.columns == list(TARGET.columns)
    row = out.collect()[0]
    assert (row["id"], row["writer_schema_id"]) == (GOOD_ID, 1)
    assert row["ingested_at"] is not None


def test_a_table_column_the_reader_lacks_is_left_out() -> None:
    assert columns_to_write(["id", "tags"], TARGET) == ["id", "tags"]


def test_a_reader_field_the_table_lacks_refuses_to_write() -> None:
    with pytest.raises(TableBehindReaderSchema, match=r"ks.things has no column.*\['nickname'\]"):
        columns_to_write(["id", "name", "nickname"], TARGET)


def test_target_from_the_users_contract() -> None:
    target = TableTarget.from_contract(load_contract())
    contract_fields = [f["name"] for f in json.loads(load_contract().schema_str)["fields"]]
    assert target.data_columns == contract_fields
    assert list(target.columns)[-3:] == ["writer_schema_id", "writer_schema_version", "ingested_at"]
    assert target.qualified_table == "spark_streams.created_users"
    assert target.columns["id"] == "uuid"
    assert target.primary_key == ("id",)


@pytest.mark.parametrize(
    ("name", "expected"), [("id", "id"), ('"Name"', "Name"), ('"a""b"', 'a"b')]
)
def test_unquote(name: str, expected: str) -> None:
    assert unquote(name) == expected


def _types(struct: StructType) -> list[tuple[str, str]]:
    """Names and types, not nullability: PERMISSIVE from_avro makes every field nullable."""
    return [(f.name, f.dataType.simpleString()) for f in struct.fields]


def test_the_job_produces_the_shapes_schemas_spark_predicts(
    spark: SparkSession, user_value: UserValue
) -> None:
    contract = load_contract()
    kafka = spark.createDataFrame(
        [(None, user_value(1), None, "t", 0, 0, TS), (None, b"", None, "t", 0, 1, TS)],
        KAFKA_SCHEMA,
    )
    decoded = decode(parse_frames(kafka), StaticSchemas({1: contract.schema}, contract.schema))
    data = decoded.rows.select(*contract.field_names)
    assert _types(data.schema) == _types(spark_struct(contract.schema))
    target = TableTarget.from_contract(contract)
    written = table_rows(decoded.rows, contract.field_names, target)
    assert _types(written.schema) == _types(table_struct(contract))
    assert _types(decoded.dead_letters.schema) == _types(dead_letter_struct())


UUID_CANDIDATES = [
    str(uuid.UUID(int=7)), str(uuid.uuid4()).upper(), "0" * 8 + "-0000-0000-0000-" + "0" * 12,
    "not-a-uuid", "", "-" * 36, str(uuid.UUID(int=7)).replace("-", ""),
    str(uuid.UUID(int=7)) + "0", "g" + str(uuid.UUID(int=7))[1:],
    "0000000-00000-0000-0000-000000000000",  # a dash one place early
    "٠" + str(uuid.UUID(int=7))[1:],  # an Arabic-Indic zero is a digit, not a hex digit
    "{" + str(uuid.UUID(int=7))[1:], "00000000-0000-0000-0000-00000000000-",
]


def test_the_uuid_check_agrees_with_the_pattern(spark: SparkSession) -> None:
    import re

    from pyspark.sql import functions as F

    from streaming.sink import UUID_PATTERN, is_uuid_text

    df = spark.createDataFrame([(s,) for s in UUID_CANDIDATES], "s string")
    seen = {r["s"]: r["ok"] for r in df.select("s", is_uuid_text(F.col("s")).alias("ok")).collect()}
    assert seen == {s: re.fullmatch(UUID_PATTERN, s) is not None for s in UUID_CANDIDATES}
