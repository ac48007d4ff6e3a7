"""The Spark side of a contract, as Spark's JSON type representation (no pyspark here).

:func:`spark_struct` mirrors spark-avro 3.5's ``SchemaConverters.toSqlType``: the type
``from_avro`` decodes a record schema into, known without a JVM. Every function returns
the JSON dicts ``StructType.fromJson`` takes (``streaming.sql.struct_type`` turns one into
a ``StructType``). The streaming job does not use them: it decodes with ``from_avro`` itself.
The unit tests hold the job's real output to these shapes, and the benchmark's Python-UDF
decoder takes its return type from :func:`spark_struct`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from avro.schema import RecordSchema, Schema

from contract.avro_types import SchemaError, logical_type, parse_schema
from contract.catalog import Contract
from contract.cql import (
    DEAD_LETTER_CLUSTERING_KEY,
    DEAD_LETTER_COLUMNS,
    DEAD_LETTER_PARTITION_KEY,
    LINEAGE_COLUMNS,
)

SparkJson = dict[str, Any] | str  # a type: a dict for struct/array/map, else its name

# Spark's names of the primitive types in JSON (DataType.jsonValue()).
STRING, BINARY, LONG, INTEGER, TIMESTAMP = "string", "binary", "long", "integer", "timestamp"
_CQL_SPARK: Mapping[str, SparkJson] = {
    "text": STRING,
    "int": INTEGER,
    "bigint": LONG,
    "timestamp": TIMESTAMP,
    "blob": BINARY,
    "map<text, blob>": {"type": "map", "keyType": STRING, "valueType": BINARY,
                        "valueContainsNull": True},
}


def struct(fields: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "struct", "fields": fields}


def struct_field(name: str, data_type: SparkJson, nullable: bool) -> dict[str, Any]:
    return {"name": name, "type": data_type, "nullable": nullable, "metadata": {}}


def spark_struct(avro_schema: Mapping[str, Any] | str, source: str = "<schema>") -> dict[str, Any]:
    """The struct spark-avro decodes ``avro_schema`` into (``from_avro``'s data type)."""
    record = parse_schema(avro_schema, source)
    data_type, _nullable = _spark_type(record, frozenset(), source)
    assert isinstance(data_type, dict)
    return data_type


def _spark_type(schema: Schema, records: frozenset[str], source: str) -> tuple[SparkJson, bool]:
    """``(data type, nullable)`` as SchemaConverters.toSqlTypeHelper computes them."""
    logical = logical_type(schema)
    kind = schema.type
    if kind == "null":
        return "void", True
    if kind == "boolean":
        return "boolean", False
    if kind == "int":
        return ("date" if logical == "date" else INTEGER), False
    if kind == "long":
        timestamp = logical in ("timestamp-millis", "timestamp-micros")
        return (TIMESTAMP if timestamp else LONG), False
    if kind in ("float", "double"):
        return kind, False
    if kind in ("string", "enum"):  # uuid stays a string
        return STRING, False
    if kind in ("bytes", "fixed"):
        if logical == "decimal":
            props: dict[str, Any] = dict(schema.props)
            return f"decimal({props['precision']},{props.get('scale', 0)})", False
        return BINARY, False
    if kind == "array":
        item, item_nullable = _spark_type(schema.items, records, source)  # type: ignore[attr-defined]
        return {"type": "array", "elementType": item, "containsNull": item_nullable}, False
    if kind == "map":
        value, value_nullable = _spark_type(schema.values, records, source)  # type: ignore[attr-defined]
        return {"type": "map", "keyType": STRING, "valueType": value,
                "valueContainsNull": value_nullable}, False
    if kind == "record":
        return _record_struct(schema, records, source), False  # type: ignore[arg-type]
    if kind == "union":
        return _union_type(schema, records, source)
    raise SchemaError(source, f"Avro type {kind!r} has no Spark type")


def _record_struct(record: RecordSchema, records: frozenset[str], source: str) -> dict[str, Any]:
    if record.fullname in records:
        raise SchemaError(source, f"record {record.fullname} is recursive; Spark cannot read it")
    inner = records | {record.fullname}
    fields = []
    for field in record.fields:
        data_type, nullable = _spark_type(field.type, inner, source)
        fields.append(struct_field(field.name, data_type, nullable))
    return struct(fields)


def _union_type(schema: Schema, records: frozenset[str], source: str) -> tuple[SparkJson, bool]:
    branches: list[Schema] = list(schema.schemas)  # type: ignore[attr-defined]
    others = [b for b in branches if b.type != "null"]
    if len(others) < len(branches):  # a union with null: drop it, the result is nullable
        if len(others) == 1:
            return _spark_type(others[0], records, source)[0], True
        return _non_null_union(others, records, source), True
    return _non_null_union(others, records, source), False


def _non_null_union(branches: list[Schema], records: frozenset[str], source: str) -> SparkJson:
    kinds = {b.type for b in branches}
    if len(branches) == 1:
        return _spark_type(branches[0], records, source)[0]
    if len(branches) == 2 and kinds == {"int", "long"}:
        return LONG
    if len(branches) == 2 and kinds == {"float", "double"}:
        return "double"
    # Any other union becomes a struct of member0, member1... with one member set per row.
    return struct(
        [
            struct_field(f"member{i}", _spark_type(b, records, source)[0], True)
            for i, b in enumerate(branches)
        ]
    )


def lineage_fields() -> list[dict[str, Any]]:
    """The Spark fields of :data:`contract.cql.LINEAGE_COLUMNS`, in table order."""
    return [struct_field(n, _CQL_SPARK[t], True) for n, t in LINEAGE_COLUMNS.items()]


def dead_letter_struct() -> dict[str, Any]:
    """The Spark schema of the ``dead_letters`` table's rows (:data:`DEAD_LETTER_COLUMNS`)."""
    primary_key = (*DEAD_LETTER_PARTITION_KEY, *DEAD_LETTER_CLUSTERING_KEY)
    return struct(
        [
            struct_field(name, _CQL_SPARK[cql], name not in primary_key)
            for name, cql in DEAD_LETTER_COLUMNS.items()
        ]
    )


def cql_column_names(contract: Contract) -> list[str]:
    """Every column the sink writes, in table order: the Avro fields, then the lineage columns."""
    return [*contract.field_names, *LINEAGE_COLUMNS]


def table_struct(contract: Contract) -> dict[str, Any]:
    """The rows the sink writes: the decoded record's fields plus the lineage columns."""
    decoded = spark_struct(contract.schema, contract.source)
    return struct([*decoded["fields"], *lineage_fields()])
