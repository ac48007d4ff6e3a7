"""The dead-letter rows: a Kafka record the job could not use, with its raw bytes and why.

Their shape is the ``<keyspace>.dead_letters`` table of :mod:`contract.cql`
(PRIMARY KEY ((topic, partition), offset, kafka_timestamp)), so the same record
dead-lettered twice (a retried batch, a failed replay) is one row, updated, and a record
at the same offset of a recreated topic is a row of its own.
"""

from __future__ import annotations

from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from contract.cql import (
    DEAD_LETTER_CLUSTERING_KEY,
    DEAD_LETTER_COLUMNS,
    DEAD_LETTER_PARTITION_KEY,
    DEAD_LETTER_TABLE,
    DeadLetterStage,
)

KEY_QUERY = (
    "SELECT column_name, kind, position FROM system_schema.columns "
    "WHERE keyspace_name = %s AND table_name = %s"
)

# The Kafka source columns a record keeps through the job (``includeHeaders`` on).
KAFKA_SOURCE_COLUMNS = ("key", "value", "headers", "topic", "partition", "offset", "timestamp")
# Decoded rows carry them in one struct column, so no contract field can collide with them.
KAFKA_COLUMN = "kafka"


def kafka_struct(*, has_headers: bool) -> Column:
    """The Kafka source columns as one struct (null ``headers`` when the source has none)."""
    no_headers = F.lit(None).cast("array<struct<key:string,value:binary>>")
    parts = [
        F.col(name) if name != "headers" or has_headers else no_headers
        for name in KAFKA_SOURCE_COLUMNS
    ]
    return F.struct(*[p.alias(n) for p, n in zip(parts, KAFKA_SOURCE_COLUMNS, strict=True)])


def headers_to_map(headers: Column) -> Column:
    """Kafka's ``array<struct<key, value>>`` -> ``map<string, binary>`` for Cassandra.

    Kafka allows repeated keys (the last one wins here, as for most readers) and null
    values (stored as empty bytes: a Cassandra collection cannot hold a null).
    """
    keys = F.array_distinct(F.transform(headers, lambda h: h["key"]))
    values = F.transform(
        keys,
        lambda k: F.coalesce(
            F.element_at(F.filter(headers, lambda h: h["key"] == k), -1)["value"],
            F.unhex(F.lit("")),
        ),
    )
    return F.map_from_arrays(keys, values)


def map_to_headers(headers: Column) -> Column:
    """The inverse, for replay: ``map<string, binary>`` -> ``array<struct<key, value>>``."""
    return F.map_entries(headers)


def dead_letter_rows(
    df: DataFrame,
    *,
    stage: str | Column,
    error: Column,
    error_class: Column,
    schema_id: Column,
    kafka: Column | None = None,
) -> DataFrame:
    """``df``'s rows in the dead-letter table's shape.

    ``stage`` is one of :class:`DeadLetterStage`, or a column holding it for each row.

    ``kafka`` is the struct of the record's Kafka columns (default: built from ``df``'s
    own source columns).
    """
    if isinstance(stage, str):
        if stage not in DeadLetterStage.ALL:
            raise ValueError(
                f"unknown dead-letter stage {stage!r}; expected one of {DeadLetterStage.ALL}"
            )
        stage = F.lit(stage)
    k = kafka_struct(has_headers="headers" in df.columns) if kafka is None else kafka
    out = df.select(
        k["topic"].alias("topic"),
        k["partition"].cast("int").alias("partition"),
        k["offset"].cast("bigint").alias("offset"),
        k["timestamp"].alias("kafka_timestamp"),
        k["key"].alias("key"),
        k["value"].alias("value"),
        headers_to_map(k["headers"]).alias("headers"),
        schema_id.cast("int").alias("schema_id"),
        error.alias("error"),
        error_class.alias("error_class"),
        stage.alias("stage"),
        F.current_timestamp().alias("dead_lettered_at"),
        F.lit(None).cast("timestamp").alias("replayed_at"),
    )
    assert tuple(out.columns) == tuple(DEAD_LETTER_COLUMNS), "dead-letter shape drifted"
    return out


def as_kafka_records(dead_letters: DataFrame) -> DataFrame:
    """Dead letters back into the Kafka source's shape, to run them through the job again."""
    return dead_letters.select(
        F.col("key"),
        F.col("value"),
        map_to_headers(F.col("headers")).alias("headers"),
        F.col("topic"),
        F.col("partition"),
        F.col("offset"),
        F.col("kafka_timestamp").alias("timestamp"),
    )


def outdated_key(session: Any, keyspace: str) -> str | None:
    """Why the live dead-letter table's primary key is not the contract's, or None.

    A table created before the key gained ``kafka_timestamp`` still works (same columns),
    but a recreated topic's dead letter overwrites the first incarnation's at the same
    offset; a primary key cannot change in place (docs/schema-evolution.md, "The
    dead-letter table's key"). ``session`` is a cassandra-driver session.
    """
    rows = list(session.execute(KEY_QUERY, (keyspace, DEAD_LETTER_TABLE)))
    if not rows:
        return None  # no table: the start-up check refuses that already

    def key_of(kind: str) -> tuple[str, ...]:
        return tuple(r.column_name for r in sorted(
            (r for r in rows if r.kind == kind), key=lambda r: r.position))
    live = (key_of("partition_key"), key_of("clustering"))
    if live == (DEAD_LETTER_PARTITION_KEY, DEAD_LETTER_CLUSTERING_KEY):
        return None
    return (
        f"{keyspace}.{DEAD_LETTER_TABLE} has primary key (({', '.join(live[0])}), "
        f"{', '.join(live[1])}), not (({', '.join(DEAD_LETTER_PARTITION_KEY)}), "
        f"{', '.join(DEAD_LETTER_CLUSTERING_KEY)}): a dead letter of a recreated topic "
        "overwrites the earlier one at the same offset; migrate it once as "
        "docs/schema-evolution.md says (\"The dead-letter table's key\")"
    )
