"""The Spark reader side of a contract: what ``from_avro`` produces, and the sink's columns.

:func:`spark_struct` mirrors spark-avro 3.5's ``SchemaConverters.toSqlType`` so that the
streaming job can know the decoded shape without a JVM. pyspark is imported inside the
functions: producers import this package and must not need Spark.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from avro.schema import RecordSchema, Schema

from contract.avro_types import SchemaError, logical_type, parse_schema
from contract.catalog import Contract
from contract.cql import DEAD_LETTER_COLUMNS, LINEAGE_COLUMNS

if TYPE_CHECKING:
    from pyspark.sql.types import DataType, StructField, StructType


def spark_struct(avro_schema: Mapping[str, Any] | str, source: str = "<schema>") -> StructType:
    """The ``StructType`` spark-avro decodes ``avro_schema`` into (``from_avro``'s data type)."""
    record = parse_schema(avro_schema, source)
    data_type, _nullable = _spark_type(record, frozenset(), source)
    return data_type  # type: ignore[return-value]


def _spark_type(schema: Schema, records: frozenset[str], source: str) -> tuple[DataType, bool]:
    """``(data type, nullable)`` as SchemaConverters.toSqlTypeHelper computes them."""
    from pyspark.sql import types as T

    logical = logical_type(schema)
    kind = schema.type
    if kind == "null":
        return T.NullType(), True
    if kind == "boolean":
        return T.BooleanType(), False
    if kind == "int":
        return (T.DateType() if logical == "date" else T.IntegerType()), False
    if kind == "long":
        timestamp = logical in ("timestamp-millis", "timestamp-micros")
        return (T.TimestampType() if timestamp else T.LongType()), False
    if kind == "float":
        return T.FloatType(), False
    if kind == "double":
        return T.DoubleType(), False
    if kind in ("string", "enum"):  # uuid stays a string
        return T.StringType(), False
    if kind in ("bytes", "fixed"):
        if logical == "decimal":
            props: dict[str, Any] = dict(schema.props)
            return T.DecimalType(props["precision"], props.get("scale", 0)), False
        return T.BinaryType(), False
    if kind == "array":
        item, item_nullable = _spark_type(schema.items, records, source)  # type: ignore[attr-defined]
        return T.ArrayType(item, containsNull=item_nullable), False
    if kind == "map":
        value, value_nullable = _spark_type(schema.values, records, source)  # type: ignore[attr-defined]
        return T.MapType(T.StringType(), value, valueContainsNull=value_nullable), False
    if kind == "record":
        return _record_struct(schema, records, source), False  # type: ignore[arg-type]
    if kind == "union":
        return _union_type(schema, records, source)
    raise SchemaError(source, f"Avro type {kind!r} has no Spark type")


def _record_struct(record: RecordSchema, records: frozenset[str], source: str) -> StructType:
    from pyspark.sql import types as T

    if record.fullname in records:
        raise SchemaError(source, f"record {record.fullname} is recursive; Spark cannot read it")
    inner = records | {record.fullname}
    fields = []
    for field in record.fields:
        data_type, nullable = _spark_type(field.type, inner, source)
        fields.append(T.StructField(field.name, data_type, nullable))
    return T.StructType(fields)


def _union_type(schema: Schema, records: frozenset[str], source: str) -> tuple[DataType, bool]:

    branches: list[Schema] = list(schema.schemas)  # type: ignore[attr-defined]
    others = [b for b in branches if b.type != "null"]
    if len(others) < len(branches):  # a union with null: drop it, the result is nullable
        if len(others) == 1:
            return _spark_type(others[0], records, source)[0], True
        return _non_null_union(others, records, source), True
    return _non_null_union(others, records, source), False


def _non_null_union(branches: list[Schema], records: frozenset[str], source: str) -> DataType:
    from pyspark.sql import types as T

    kinds = {b.type for b in branches}
    if len(branches) == 1:
        return _spark_type(branches[0], records, source)[0]
    if len(branches) == 2 and kinds == {"int", "long"}:
        return T.LongType()
    if len(branches) == 2 and kinds == {"float", "double"}:
        return T.DoubleType()
    # Any other union becomes a struct of member0, member1... with one member set per row.
    return T.StructType(
        [
            T.StructField(f"member{i}", _spark_type(b, records, source)[0], True)
            for i, b in enumerate(branches)
        ]
    )


def lineage_fields() -> list[StructField]:
    """The Spark fields of :data:`contract.cql.LINEAGE_COLUMNS`, in table order."""
    from pyspark.sql import types as T

    spark_types = {"int": T.IntegerType(), "timestamp": T.TimestampType()}
    return [T.StructField(n, spark_types[t], True) for n, t in LINEAGE_COLUMNS.items()]


def dead_letter_struct() -> StructType:
    """The Spark schema of the ``dead_letters`` table's rows (:data:`DEAD_LETTER_COLUMNS`)."""
    from pyspark.sql import types as T

    spark_types: dict[str, DataType] = {
        "text": T.StringType(),
        "int": T.IntegerType(),
        "bigint": T.LongType(),
        "timestamp": T.TimestampType(),
        "blob": T.BinaryType(),
        "map<text, blob>": T.MapType(T.StringType(), T.BinaryType(), True),
    }
    return T.StructType(
        [
            T.StructField(name, spark_types[cql], name not in ("topic", "partition", "offset"))
            for name, cql in DEAD_LETTER_COLUMNS.items()
        ]
    )


def avro_field_names(contract: Contract) -> list[str]:
    """The top-level Avro fields: the columns decoded from each record."""
    return contract.field_names


def cql_column_names(contract: Contract) -> list[str]:
    """Every column the sink writes, in table order: the Avro fields, then the lineage columns."""
    return [*contract.field_names, *LINEAGE_COLUMNS]


def table_struct(contract: Contract) -> StructType:
    """The rows the sink writes: the decoded record's fields plus the lineage columns."""
    from pyspark.sql import types as T

    decoded = spark_struct(contract.schema, f"schemas/{contract.avsc_path.name}")
    return T.StructType([*decoded.fields, *lineage_fields()])
