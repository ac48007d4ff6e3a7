"""The Spark reader side: spark_struct mirrors spark-avro's SchemaConverters (no JVM needed).

contract.spark_types gives Spark's JSON type representation; streaming.sql.struct_type
turns it into the StructType compared here.

The expected types below were checked once against spark-avro 3.5.7's
``SchemaConverters.toSqlType`` on a JVM; these tests pin them.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from pyspark.sql import types as T

from contract.catalog import load_contract
from contract.cql import DEAD_LETTER_COLUMNS, LINEAGE_COLUMNS
from contract.spark_types import (
    cql_column_names,
    dead_letter_struct,
    lineage_fields,
    spark_struct,
    table_struct,
)
from streaming.sql import struct_type


def decoded(avro_type: Any) -> T.StructField:
    schema = {"type": "record", "name": "R", "fields": [{"name": "v", "type": avro_type}]}
    return struct_type(spark_struct(schema))["v"]


INNER = {"type": "record", "name": "Inner", "fields": [{"name": "x", "type": ["null", "int"]}]}


@pytest.mark.parametrize(
    ("avro_type", "data_type", "nullable"),
    [
        ("string", T.StringType(), False),
        ("int", T.IntegerType(), False),
        ("long", T.LongType(), False),
        ("float", T.FloatType(), False),
        ("double", T.DoubleType(), False),
        ("boolean", T.BooleanType(), False),
        ("bytes", T.BinaryType(), False),
        ({"type": "fixed", "name": "F", "size": 4}, T.BinaryType(), False),
        ({"type": "enum", "name": "E", "symbols": ["A"]}, T.StringType(), False),
        ({"type": "string", "logicalType": "uuid"}, T.StringType(), False),
        ({"type": "long", "logicalType": "timestamp-millis"}, T.TimestampType(), False),
        ({"type": "long", "logicalType": "timestamp-micros"}, T.TimestampType(), False),
        ({"type": "int", "logicalType": "date"}, T.DateType(), False),
        ({"type": "int", "logicalType": "time-millis"}, T.IntegerType(), False),
        ({"type": "long", "logicalType": "time-micros"}, T.LongType(), False),
        (
            {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 3},
            T.DecimalType(10, 3),
            False,
        ),
        (["null", "string"], T.StringType(), True),
        (
            ["null", {"type": "long", "logicalType": "timestamp-millis"}],
            T.TimestampType(),
            True,
        ),
        ({"type": "array", "items": "int"}, T.ArrayType(T.IntegerType(), False), False),
        (
            {"type": "array", "items": ["null", "string"]},
            T.ArrayType(T.StringType(), True),
            False,
        ),
        (
            {"type": "map", "values": "long"},
            T.MapType(T.StringType(), T.LongType(), False),
            False,
        ),
        (
            ["null", INNER],
            T.StructType([T.StructField("x", T.IntegerType(), True)]),
            True,
        ),
        (["int", "long"], T.LongType(), False),
        (["null", "float", "double"], T.DoubleType(), True),
        (
            ["string", "int"],
            T.StructType(
                [
                    T.StructField("member0", T.StringType(), True),
                    T.StructField("member1", T.IntegerType(), True),
                ]
            ),
            False,
        ),
    ],
)
def test_spark_struct_follows_spark_avro(
    avro_type: Any, data_type: T.DataType, nullable: bool
) -> None:
    assert decoded(avro_type) == T.StructField("v", data_type, nullable)


def test_users_contract_decodes_to_the_expected_struct() -> None:
    struct = struct_type(spark_struct(load_contract().schema))
    assert struct["id"] == T.StructField("id", T.StringType(), False)
    assert struct["dob"] == T.StructField("dob", T.TimestampType(), True)
    assert struct["email"] == T.StructField("email", T.StringType(), True)


def test_sink_columns_are_the_fields_then_the_lineage_columns() -> None:
    contract = load_contract()
    assert cql_column_names(contract) == [*contract.field_names, *LINEAGE_COLUMNS]
    assert struct_type(table_struct(contract)).fieldNames() == cql_column_names(contract)
    assert [f["name"] for f in lineage_fields()] == list(LINEAGE_COLUMNS)


def test_dead_letter_struct_matches_the_table() -> None:
    struct = struct_type(dead_letter_struct())
    assert [f.name for f in struct.fields] == list(DEAD_LETTER_COLUMNS)
    assert struct["offset"].dataType == T.LongType()
    assert struct["headers"].dataType == T.MapType(T.StringType(), T.BinaryType(), True)


def test_producers_do_not_import_pyspark() -> None:
    code = (
        "import sys, contract.cql, schematool.gate.lint, schematool.gate.check, "
        "contract.spark_types, contract.catalog; "
        "contract.spark_types.table_struct(contract.catalog.load_contract()); "
        "contract.spark_types.dead_letter_struct(); "
        "sys.exit('pyspark' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
