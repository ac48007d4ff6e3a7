"""Decoded rows -> the contract's Cassandra table; dead letters -> ``<keyspace>.dead_letters``.

Writes go through spark-cassandra-connector in append mode, which in Cassandra is an
upsert by primary key: a retried batch writes the same rows again, harmlessly.

Failure policy. The connector fails a whole write when one row cannot be written, and a
retried batch would fail the same way forever (a poison pill). So every row-level defect
Cassandra would refuse is found *before* writing and the row is dead-lettered (stage
``sink``): a null primary-key column, an empty partition key, a string that is not a
uuid for a uuid column, a null inside a collection. Whatever still fails after that is
the cluster itself (down, timeouts, auth): the exception propagates, the micro-batch fails
and Spark retries it from the checkpoint. No row is lost and none is dead-lettered
because Cassandra was unavailable.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from pyspark.errors import AnalysisException
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from contract.catalog import Contract
from contract.cql import DEAD_LETTER_COLUMNS, DEAD_LETTER_TABLE, LINEAGE_COLUMNS, table_spec
from contract.migration import normalize_cql_type
from streaming.dead_letters import KAFKA_COLUMN, Stage, dead_letter_rows
from streaming.sql import EXPRESSIONS, first_match

CASSANDRA_FORMAT = "org.apache.spark.sql.cassandra"
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_UUID_DASHES = (9, 14, 19, 24)  # 1-based positions of the four dashes in 8-4-4-4-12
_SHOWN_VALUE_CHARS = 64


class SinkErrorClass:
    NULL_PRIMARY_KEY = "null_primary_key"
    EMPTY_PARTITION_KEY = "empty_partition_key"
    INVALID_UUID = "invalid_uuid"
    NULL_IN_COLLECTION = "null_in_collection"


class TableNotVisible(RuntimeError):
    """The connector's view of the cluster does not show the table (or its columns) yet."""


class TableBehindReaderSchema(RuntimeError):
    """The reader schema has fields the table lacks: writing would silently drop them."""


@dataclass(frozen=True)
class TableTarget:
    """Where a contract's rows go, and the columns (name -> CQL type) that table has."""

    keyspace: str
    table: str
    columns: Mapping[str, str]  # Avro fields then lineage columns, unquoted names
    partition_key: tuple[str, ...]
    clustering_key: tuple[str, ...]
    source: str  # the contract file, for messages

    @classmethod
    def from_contract(cls, contract: Contract) -> TableTarget:
        spec = table_spec(contract)
        return cls(
            keyspace=contract.keyspace,
            table=contract.table,
            columns={unquote(name): cql for name, cql in spec.columns},
            partition_key=tuple(contract.partition_key),
            clustering_key=tuple(contract.clustering_key),
            source=f"schemas/{contract.avsc_path.name}",
        )

    def with_columns(self, columns: Mapping[str, str]) -> TableTarget:
        """The same table, with the columns it has now (after ``make schemas`` added some)."""
        return replace(self, columns=dict(columns))

    @property
    def cache_key(self) -> tuple[object, ...]:
        """Hashable and equal for equal targets (``columns`` is a mapping)."""
        return (self.keyspace, self.table, tuple(self.columns.items()), self.partition_key,
                self.clustering_key, self.source)

    @property
    def qualified_table(self) -> str:
        return f"{self.keyspace}.{self.table}"

    @property
    def primary_key(self) -> tuple[str, ...]:
        return self.partition_key + self.clustering_key

    @property
    def data_columns(self) -> list[str]:
        return [c for c in self.columns if c not in LINEAGE_COLUMNS]


def unquote(name: str) -> str:
    """``"Name"`` -> ``Name``: a CQL identifier as Cassandra stores it."""
    if len(name) >= 2 and name[0] == name[-1] == '"':
        return name[1:-1].replace('""', '"')
    return name


# -- row checks: what Cassandra would refuse, found before writing --------------------------


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


@dataclass(frozen=True)
class Checked:
    """Rows split by :func:`check_rows`; ``annotated`` is worth persisting if both are used."""

    annotated: DataFrame

    @property
    def writable(self) -> DataFrame:
        return self.annotated.where(F.col("_sink_error").isNull()).drop(
            "_sink_error", "_sink_error_class"
        )

    @property
    def dead_letters(self) -> DataFrame:
        return dead_letter_rows(
            self.annotated.where(F.col("_sink_error").isNotNull()),
            stage=Stage.SINK,
            error=F.col("_sink_error"),
            error_class=F.col("_sink_error_class"),
            schema_id=F.col("writer_schema_id"),
            kafka=F.col(KAFKA_COLUMN),
        )


def check_rows(rows: DataFrame, target: TableTarget) -> Checked:
    """Mark each decoded row with the first defect Cassandra would refuse it for."""
    problems = row_problems(dict(rows.dtypes), target)
    return Checked(
        rows.withColumn("_sink_error", first_match([(c, why) for c, why, _ in problems]))
        .withColumn(
            "_sink_error_class", first_match([(c, F.lit(name)) for c, _, name in problems])
        )
    )


# -- shaping and writing ----------------------------------------------------------------------


def columns_to_write(reader_fields: Sequence[str], target: TableTarget) -> list[str]:
    """The table's data columns the reader schema provides, in table order.

    A table column the reader lacks is left out (untouched by the upsert). A reader field
    the table lacks raises: the registry is ahead of the table, and writing would drop
    that field's data without a trace.
    """
    missing = [f for f in reader_fields if f not in target.columns]
    if missing:
        raise TableBehindReaderSchema(
            f"table {target.qualified_table} has no column for reader field(s) {missing}; "
            f"update {target.source} and run `make schemas` before producing with that schema"
        )
    return [c for c in target.data_columns if c in reader_fields]


def table_rows(writable: DataFrame, reader_fields: Sequence[str], target: TableTarget) -> DataFrame:
    """Decoded rows in the table's shape: data columns + lineage (``ingested_at`` = now)."""
    columns = EXPRESSIONS.get(
        ("table_rows", tuple(reader_fields), target.cache_key),
        lambda: [
            *[F.col(c) for c in columns_to_write(reader_fields, target)],
            F.col("writer_schema_id").cast("int"),
            F.col("writer_schema_version").cast("int"),
            F.current_timestamp().alias("ingested_at"),
        ],
    )
    return writable.select(*columns)


def write_table(df: DataFrame, keyspace: str, table: str) -> None:
    """Upsert ``df``'s rows (append mode is an upsert by primary key in Cassandra)."""
    df.write.format(CASSANDRA_FORMAT).options(keyspace=keyspace, table=table).mode("append").save()


def write_dead_letters(dead_letters: DataFrame, keyspace: str) -> None:
    missing = [c for c in DEAD_LETTER_COLUMNS if c not in dead_letters.columns]
    if missing:
        raise ValueError(f"not dead-letter rows: missing columns {missing}")
    write_table(dead_letters.select(*DEAD_LETTER_COLUMNS), keyspace, DEAD_LETTER_TABLE)


def read_table(spark: SparkSession, keyspace: str, table: str) -> DataFrame:
    """A Cassandra table as a DataFrame (replay reads the dead letters this way)."""
    return spark.read.format(CASSANDRA_FORMAT).options(keyspace=keyspace, table=table).load()


def await_columns(
    spark: SparkSession, keyspace: str, table: str, columns: Sequence[str],
    timeout_s: float = 60.0, poll_s: float = 0.5,
) -> None:
    """Until the connector sees ``keyspace.table`` with ``columns``, at most ``timeout_s``.

    The connector's driver session learns about schema changes from Cassandra's events,
    debounced by a second or so: a table created or altered a moment ago (``make
    schemas`` just before a start, a column added while the job runs) can be missing
    from its view, and a write would fail on it.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            seen = set(read_table(spark, keyspace, table).columns)
            missing = [c for c in columns if c not in seen]
        except AnalysisException as exc:  # the keyspace or the table is not seen yet
            missing, seen = list(columns), set()
            problem = str(exc).splitlines()[0]
        else:
            problem = f"columns {missing} are not seen yet"
        if not missing:
            return
        if time.monotonic() > deadline:
            raise TableNotVisible(
                f"after {timeout_s:.0f}s spark-cassandra-connector still cannot write "
                f"{keyspace}.{table}: {problem}; run `make schemas` and check the cluster"
            )
        time.sleep(poll_s)


class Sink(Protocol):
    """Where the job's output goes; :class:`CassandraSink` in production, a fake in tests.

    ``write_rows`` must run an action on its rows: the job's batch metrics are collected
    by it.
    """

    def ensure_writable(self, spark: SparkSession, target: TableTarget) -> None:
        """Block until ``target`` (with its current columns) can be written."""
        ...

    def write_rows(self, rows: DataFrame) -> None: ...

    def write_dead_letters(self, dead_letters: DataFrame) -> None: ...

    def update_dead_letters(self, updates: DataFrame) -> None:
        """Upsert some columns of existing dead letters, keyed by (topic, partition, offset)."""
        ...


@dataclass(frozen=True)
class CassandraSink:
    target: TableTarget

    def ensure_writable(self, spark: SparkSession, target: TableTarget) -> None:
        await_columns(spark, target.keyspace, target.table, list(target.columns))
        await_columns(spark, target.keyspace, DEAD_LETTER_TABLE, list(DEAD_LETTER_COLUMNS))

    def write_rows(self, rows: DataFrame) -> None:
        write_table(rows, self.target.keyspace, self.target.table)

    def write_dead_letters(self, dead_letters: DataFrame) -> None:
        write_dead_letters(dead_letters, self.target.keyspace)

    def update_dead_letters(self, updates: DataFrame) -> None:
        unknown = [c for c in updates.columns if c not in DEAD_LETTER_COLUMNS]
        if unknown:
            raise ValueError(f"not dead-letter columns: {unknown}")
        write_table(updates, self.target.keyspace, DEAD_LETTER_TABLE)
