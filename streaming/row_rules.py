"""What Cassandra would refuse in a decoded row, found before writing (stage ``sink``).

The connector fails a whole write when one row cannot be written, and a retried batch
would fail the same way forever (a poison pill). So every row-level defect Cassandra
would refuse is a rule here, and a row that breaks one is dead-lettered instead of
written: a null primary-key column, an empty partition key, a string that is not a uuid
for a uuid column, a null inside a collection. Whatever still fails at the write is the
cluster itself (see :mod:`streaming.cassandra_writer`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from pyspark.sql import Column
from pyspark.sql import functions as F

from contract.migration import normalize_cql_type
from streaming.table_target import TableTarget

UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_UUID_DASHES = (9, 14, 19, 24)  # 1-based positions of the four dashes in 8-4-4-4-12
_SHOWN_VALUE_CHARS = 64


class SinkErrorClass:
    NULL_PRIMARY_KEY = "null_primary_key"
    EMPTY_PARTITION_KEY = "empty_partition_key"
    INVALID_UUID = "invalid_uuid"
    NULL_IN_COLLECTION = "null_in_collection"


def row_problems(
    spark_types: Mapping[str, str],
    target: TableTarget,
    column: Callable[[str], Column] = F.col,
) -> list[tuple[Column, Column, str]]:
    """``(condition, reason, error_class)`` for each row-level defect, in priority order.

    ``spark_types`` maps each decoded field to its Spark type (``DataFrame.dtypes``);
    ``column(name)`` is how the field is read (a column, or a field of a struct).
    """
    problems: list[tuple[Column, Column, str]] = []
    for name in target.primary_key:
        problems.append(
            (
                column(name).isNull(),
                F.lit(f"primary key column {name} is null"),
                SinkErrorClass.NULL_PRIMARY_KEY,
            )
        )
    for name in target.partition_key:
        if spark_types.get(name) in ("string", "binary"):
            problems.append(
                (
                    F.length(column(name)) == 0,
                    F.lit(f"partition key column {name} is empty"),
                    SinkErrorClass.EMPTY_PARTITION_KEY,
                )
            )
    for name, cql in target.columns.items():
        if name not in spark_types:
            continue
        cql = normalize_cql_type(cql)
        if cql == "uuid" and spark_types[name] == "string":
            shown = F.substring(column(name), 1, _SHOWN_VALUE_CHARS)
            problems.append(
                (
                    column(name).isNotNull() & ~is_uuid_text(column(name)),
                    F.format_string(f"column {name} is not a uuid: '%s'", shown),
                    SinkErrorClass.INVALID_UUID,
                )
            )
        elif cql.startswith(("list<", "set<")):
            problems.append(_null_element(name, column(name)))
        elif cql.startswith("map<"):
            problems.append(_null_element(name, F.map_values(column(name))))
    return problems


def is_uuid_text(text: Column) -> Column:
    """``text`` matches :data:`UUID_PATTERN` (8-4-4-4-12 hex digits), without a regex.

    36 characters with dashes at the four places, and without the dashes 32 characters
    that ``unhex`` accepts (it gives null for anything but hex digits): the same test as
    the pattern, at a fraction of a regex's cost, and it runs on every row.
    """
    digits = F.replace(text, F.lit("-"), F.lit(""))
    dashes = [F.substring(text, p, 1) == "-" for p in _UUID_DASHES]
    return (
        (F.length(text) == 36)
        & dashes[0] & dashes[1] & dashes[2] & dashes[3]
        & (F.length(digits) == 32)
        & F.unhex(digits).isNotNull()
    )


def _null_element(name: str, values: Column) -> tuple[Column, Column, str]:
    return (
        F.coalesce(F.exists(values, lambda v: v.isNull()), F.lit(False)),
        F.lit(f"column {name} holds a null element (a Cassandra collection cannot)"),
        SinkErrorClass.NULL_IN_COLLECTION,
    )
