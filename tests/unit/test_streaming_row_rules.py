"""Row rules before the Cassandra write, and the table's shape (no Cassandra needed).

Records go through the job's own triage (:func:`streaming.triage.triage`), as a batch does.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import fastavro
import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from contract.catalog import load_contract
from contract.cql import LINEAGE_COLUMNS, TableSpec
from contract.spark_types import dead_letter_struct, spark_struct, table_struct
from contract.wire import frame
from streaming.registry import StaticSchemas
from streaming.row_rules import UUID_PATTERN, is_uuid_text
from streaming.sql import struct_type
from streaming.table_target import TableBehindReaderSchema, TableTarget, columns_to_write
from streaming.triage import STAGE

if TYPE_CHECKING:
    from tests.unit.conftest import TriageBatch, UserValue

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
TARGET = TableTarget.from_spec(
    TableSpec(
        keyspace="ks",
        table="things",
        columns=(("id", "uuid"), ("name", "text"), ("tags", "list<text>"),
                 *LINEAGE_COLUMNS.items()),
        partition_key=("id",),
    ),
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


def kafka_rows(spark: SparkSession, records: list[dict[str, Any]]) -> DataFrame:
    rows = [(None, encoded(r), None, "things", 0, i, TS) for i, r in enumerate(records)]
    return spark.createDataFrame(rows, KAFKA_SCHEMA)


def test_rows_cassandra_would_refuse_are_dead_lettered_before_the_write(
    spark: SparkSession, triage_batch: TriageBatch
) -> None:
    records = [
        {"id": GOOD_ID, "name": "ok", "tags": ["a"]},
        {"id": None, "name": "no key", "tags": []},
        {"id": "", "name": "empty key", "tags": []},
        {"id": "not-a-uuid", "name": "bad uuid", "tags": []},
        {"id": str(uuid.UUID(int=0xABC)).upper(), "name": "upper-case uuid is fine", "tags": []},
        {"id": str(uuid.uuid4()), "name": "null in list", "tags": ["a", None]},
    ]
    triaged = triage_batch(kafka_rows(spark, records), StaticSchemas({1: SCHEMA}, SCHEMA), TARGET)
    writable, _ = triaged.observed_rows()
    assert sorted(r["name"] for r in writable.collect()) == [
        "ok",
        "upper-case uuid is fine",
    ]
    letters = {r["offset"]: r for r in triaged.dead_letters().collect()}
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


def test_table_rows_have_the_data_columns_then_lineage(
    spark: SparkSession, triage_batch: TriageBatch
) -> None:
    kafka = kafka_rows(spark, [{"id": GOOD_ID, "name": "x", "tags": []}])
    out, _ = triage_batch(kafka, StaticSchemas({1: SCHEMA}, SCHEMA), TARGET).observed_rows()
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


def _types(struct: StructType | dict[str, Any]) -> list[tuple[str, str]]:
    """Names and types, not nullability: PERMISSIVE from_avro makes every field nullable."""
    if isinstance(struct, dict):  # Spark's JSON representation, as contract.spark_types has it
        struct = struct_type(struct)
    return [(f.name, f.dataType.simpleString()) for f in struct.fields]


def test_the_job_produces_the_shapes_schemas_spark_predicts(
    spark: SparkSession, user_value: UserValue, triage_batch: TriageBatch
) -> None:
    contract = load_contract()
    kafka = spark.createDataFrame(
        [(None, user_value(1), None, "t", 0, 0, TS), (None, b"", None, "t", 0, 1, TS)],
        KAFKA_SCHEMA,
    )
    target = TableTarget.from_contract(contract)
    schemas = StaticSchemas({1: contract.schema}, contract.schema)
    triaged = triage_batch(kafka, schemas, target)
    data = triaged.outcome.where(F.col(STAGE).isNull()).select(*contract.field_names)
    assert _types(data.schema) == _types(spark_struct(contract.schema))
    written, _ = triaged.observed_rows()
    assert _types(written.schema) == _types(table_struct(contract))
    assert _types(triaged.dead_letters().schema) == _types(dead_letter_struct())


UUID_CANDIDATES = [
    str(uuid.UUID(int=7)), str(uuid.uuid4()).upper(), "0" * 8 + "-0000-0000-0000-" + "0" * 12,
    "not-a-uuid", "", "-" * 36, str(uuid.UUID(int=7)).replace("-", ""),
    str(uuid.UUID(int=7)) + "0", "g" + str(uuid.UUID(int=7))[1:],
    "0000000-00000-0000-0000-000000000000",  # a dash one place early
    "٠" + str(uuid.UUID(int=7))[1:],  # an Arabic-Indic zero is a digit, not a hex digit
    "{" + str(uuid.UUID(int=7))[1:], "00000000-0000-0000-0000-00000000000-",
]


def test_the_uuid_check_agrees_with_the_pattern(spark: SparkSession) -> None:
    df = spark.createDataFrame([(s,) for s in UUID_CANDIDATES], "s string")
    seen = {r["s"]: r["ok"] for r in df.select("s", is_uuid_text(F.col("s")).alias("ok")).collect()}
    assert seen == {s: re.fullmatch(UUID_PATTERN, s) is not None for s in UUID_CANDIDATES}
