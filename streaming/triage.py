"""One batch's plan: each record gets its fate in one pass, a table row or a dead letter.

The job's hot path is a single Spark job per micro-batch: Kafka -> frames -> decode ->
row checks -> write the writable rows. What the batch report needs (how many rows, how
many written, dead letters by stage, the schema ids seen, the Kafka timestamps for the
lag) is collected *by that same job*, with Spark's ``observe``: no cached batch, no
extra counting actions. The ``observe`` node also keeps the optimizer from pushing the
"is it writable" filter below the decoding, which would run ``from_avro`` twice a row.

Dead letters are the rare case: they are selected by a second job over the same batch
(same offsets, same schemas, so the same verdicts), only when the metrics say there are
some.

One record per key is written: when a batch holds several records of one primary key,
only the one with the highest Kafka offset is (:func:`latest_per_key`). The connector
sends rows of one partition key in unlogged batches, whose statements share one write
time, and Cassandra breaks such a tie by the larger value, not the later statement: an
older record of a user could otherwise win over its newer one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import Column, DataFrame, Observation
from pyspark.sql import functions as F
from pyspark.sql.types import DataType, StructType

from contract.cql import LINEAGE_COLUMNS, DeadLetterStage
from streaming.dead_letters import KAFKA_COLUMN, dead_letter_rows
from streaming.decode import (
    DECODE_ERROR,
    DECODE_ERROR_CLASS,
    DECODED,
    DecodeErrorClass,
    WriterResolution,
    decode_frames,
    invalid_utf8,
)
from streaming.registry import ReaderSchema
from streaming.row_rules import row_problems
from streaming.sql import EXPRESSIONS, first_match
from streaming.table_target import TableTarget, columns_to_write

# Bookkeeping columns of the triaged batch; reserved: no contract field may use them.
STAGE = "__stage"  # null: the row is written; else where it was dead-lettered
ERROR = "__error"
ERROR_CLASS = "__error_class"
KAFKA_TIMESTAMP = "__kafka_timestamp"
KAFKA_PARTITION = "__kafka_partition"
KAFKA_OFFSET = "__kafka_offset"
_SINK_RULE = "_sink_rule"  # beside the decoder's columns, not the reader's fields
_UTF8_RULE = "_utf8_rule"
_LATEST = "__latest"
TRIAGE_COLUMNS = frozenset(
    {STAGE, ERROR, ERROR_CLASS, KAFKA_TIMESTAMP, KAFKA_PARTITION, KAFKA_OFFSET, _LATEST}
)
# The write's metrics come back as one JSON text: through Py4J, each value of a metrics
# row would be a round trip of its own (~85 of them per batch).
METRICS = "metrics"


@dataclass(frozen=True)
class BatchMetrics:
    """What one pass saw, collected while it wrote."""

    rows: int
    # Records applied: written, or superseded in the same write by a later record of
    # their key (see latest_per_key); rows - written are the dead letters.
    written: int
    schema_ids: Sequence[int]  # every frame id seen, readable or not
    oldest_ms: int | None  # the smallest Kafka timestamp, epoch milliseconds
    timestamp_p05_ms: int | None  # its 5th and 50th percentiles (approximate)
    timestamp_p50_ms: int | None

    @property
    def not_written(self) -> int:
        return self.rows - self.written

    @classmethod
    def from_observation(cls, observation: Observation) -> BatchMetrics:
        """From :meth:`Triage.observed_rows`' observation, once its write has run."""
        values = json.loads(_metrics_text(observation))
        ids = values.get("schema_ids") or ""
        return cls(
            rows=int(values["rows"]),
            written=int(values["written"]),
            schema_ids=sorted(int(i) for i in ids.split(",") if i),
            oldest_ms=_int(values.get("oldest_ms")),
            timestamp_p05_ms=_int(values.get("timestamp_p05_ms")),
            timestamp_p50_ms=_int(values.get("timestamp_p50_ms")),
        )


def stage_counts(values: Mapping[str, Any]) -> dict[str, int]:
    """Dead letters by stage (the non-zero ones), from a dead-letter write's metrics."""
    return {s: int(values[s]) for s in DeadLetterStage.ALL if values.get(s)}


@dataclass(frozen=True)
class Triage:
    """One row per record: the reader's fields, lineage, the Kafka struct and its fate."""

    outcome: DataFrame
    reader: ReaderSchema
    target: TableTarget
    writers: Mapping[int, WriterResolution] = field(default_factory=dict)
    lineage: tuple[str, ...] = ()  # the lineage columns the decoder provided

    def observed_rows(self) -> tuple[DataFrame, Observation]:
        """The writable rows in the table's shape, and the metrics their write collects.

        The metrics are ready once an action (the sink's write) has run on the rows
        (:meth:`BatchMetrics.from_observation`).
        """
        observation = Observation()
        needed, metrics, writable = EXPRESSIONS.get(
            ("observed_rows", tuple(self.reader.field_names), self.lineage),
            self._observed_columns,
        )
        observed = self.outcome.select(*needed).observe(observation, metrics)
        latest = latest_per_key(observed.where(writable), self.target)
        rows = table_rows(latest, self.reader.field_names, self.target)
        return rows, observation

    def _observed_columns(self) -> tuple[list[Column], Column, Column]:
        timestamp_ms = F.expr(f"unix_millis(`{KAFKA_TIMESTAMP}`)")
        stage = F.col(STAGE)
        quantiles = F.percentile_approx(timestamp_ms, [0.05, 0.5])
        # Only what the write and the metrics use goes through the observe node: the rest
        # (the Kafka struct, the reasons) is then never built for a writable row.
        needed = [F.col(c) for c in (*self.reader.field_names, *self.lineage, STAGE,
                                     KAFKA_TIMESTAMP, KAFKA_PARTITION, KAFKA_OFFSET)]
        metrics = F.to_json(F.struct(
            F.count(F.lit(1)).alias("rows"),
            F.count(F.when(stage.isNull(), 1)).alias("written"),
            F.array_join(F.array_sort(F.collect_set("writer_schema_id")), ",").alias(
                "schema_ids"
            ),
            F.min(timestamp_ms).alias("oldest_ms"),
            F.element_at(quantiles, 1).alias("timestamp_p05_ms"),
            F.element_at(quantiles, 2).alias("timestamp_p50_ms"),
        )).alias(METRICS)
        return needed, metrics, stage.isNull()

    def dead_letters(self) -> DataFrame:
        """The rows that are not written, as dead-letter rows."""
        dead = self.outcome.where(F.col(STAGE).isNotNull())
        return dead_letter_rows(
            dead,
            stage=F.col(STAGE),
            error=F.col(ERROR),
            error_class=F.col(ERROR_CLASS),
            schema_id=F.col("writer_schema_id"),
            kafka=F.col(KAFKA_COLUMN),
        )

    def observed_dead_letters(self) -> tuple[DataFrame, Observation]:
        """:meth:`dead_letters`, and their count by stage once they are written
        (:func:`stage_counts`): counting is off the hot path, where the rare rows are."""
        observation = Observation()
        letters = self.dead_letters()
        counts = [F.count(F.when(F.col("stage") == s, 1)).alias(s) for s in DeadLetterStage.ALL]
        counted = letters.observe(observation, *counts)
        return counted, observation


def triage(
    framed: DataFrame,
    reader: ReaderSchema,
    writers: Mapping[int, WriterResolution],
    target: TableTarget,
) -> Triage:
    """Decode ``framed`` (:func:`streaming.frames.parse_frames`' output), check each decoded
    row as the sink would, and give every row its stage (null: writable) and reason."""
    decoded = decode_frames(framed, reader, writers)
    names = reader.field_names
    clashes = sorted(TRIAGE_COLUMNS.intersection(names))
    if clashes:
        raise ValueError(f"reader schema fields {clashes} are reserved by the streaming job")
    lineage = tuple(c for c in LINEAGE_COLUMNS if c in decoded.columns)
    # The decoded struct's Spark types depend on the reader alone.
    struct_type = EXPRESSIONS.get(("decoded_types", reader), lambda: _decoded_type(decoded))
    spark_types = {f.name: f.dataType.simpleString() for f in struct_type.fields}
    columns = EXPRESSIONS.get(
        ("triage", reader, target.cache_key, lineage, tuple(spark_types.items())),
        lambda: _triage_columns(names, lineage, struct_type, target),
    )
    rule_step, outcome_columns = columns
    outcome = decoded.withColumns(rule_step).select(*outcome_columns)
    return Triage(outcome=outcome, reader=reader, target=target, writers=dict(writers),
                  lineage=lineage)


def _decoded_type(decoded: DataFrame) -> StructType:
    struct_type: StructType = decoded.schema[DECODED].dataType  # type: ignore[assignment]
    return struct_type


def _triage_columns(
    names: Sequence[str], lineage: Sequence[str], struct_type: StructType,
    target: TableTarget,
) -> tuple[dict[str, Column], list[Column]]:
    """:func:`triage`'s columns (built once, see ``streaming.sql.ExpressionCache``)."""

    def field_of(name: str) -> Column:
        return F.col(DECODED)[name]

    field_types: dict[str, DataType] = {f.name: f.dataType for f in struct_type.fields}
    spark_types = {name: t.simpleString() for name, t in field_types.items()}
    problems = row_problems(spark_types, target, column=field_of)
    not_utf8 = [(check, name) for name in names
                if (check := invalid_utf8(field_of(name), field_types[name])) is not None]
    frame_error, decode_error = F.col("frame_error"), F.col(DECODE_ERROR)
    decoded_ok = frame_error.isNull() & decode_error.isNull()
    # The checks run once, into the index of the first failed one (its own column, so
    # that the stage, the reason and the class below do not each run them again).
    rule, utf8_rule = F.col(_SINK_RULE), F.col(_UTF8_RULE)
    rule_step = {
        _UTF8_RULE: F.when(
            decoded_ok, first_match([(c, F.lit(i)) for i, (c, _) in enumerate(not_utf8)])
        ),
        _SINK_RULE: F.when(
            decoded_ok, first_match([(c, F.lit(i)) for i, (c, _, _) in enumerate(problems)])
        ),
    }
    utf8_error = first_match([
        (utf8_rule == i, F.lit(f"field {name} holds a string that is not valid UTF-8"))
        for i, (_, name) in enumerate(not_utf8)
    ])
    utf8_class = F.when(utf8_rule.isNotNull(), F.lit(DecodeErrorClass.INVALID_UTF8))
    sink_error = first_match([(rule == i, why) for i, (_, why, _) in enumerate(problems)])
    sink_class = first_match([(rule == i, F.lit(k)) for i, (_, _, k) in enumerate(problems)])
    stage = first_match([
        (frame_error.isNotNull(), F.lit(DeadLetterStage.FRAME)),
        (decode_error.isNotNull(), F.lit(DeadLetterStage.DECODE)),
        (utf8_rule.isNotNull(), F.lit(DeadLetterStage.DECODE)),
        (rule.isNotNull(), F.lit(DeadLetterStage.SINK)),
    ])
    outcome = [
        *[field_of(name).alias(name) for name in names],
        *[F.col(c) for c in lineage],
        F.col(KAFKA_COLUMN),
        # The source's own column, not the struct's field: then the write path never
        # builds the struct.
        F.col("timestamp").alias(KAFKA_TIMESTAMP),
        F.col("partition").alias(KAFKA_PARTITION),
        F.col("offset").alias(KAFKA_OFFSET),
        stage.alias(STAGE),
        F.coalesce(frame_error, decode_error, utf8_error, sink_error).alias(ERROR),
        F.coalesce(
            F.col("frame_error_class"), F.col(DECODE_ERROR_CLASS), utf8_class, sink_class
        ).alias(ERROR_CLASS),
    ]
    return rule_step, outcome


def latest_per_key(writable: DataFrame, target: TableTarget) -> DataFrame:
    """Of the rows of one primary key, the one with the highest Kafka offset.

    A key's records share a Kafka partition (the producer keys them by the user id), where
    the offset is their order; rows of one key from several partitions are ordered by
    offset, then partition. A ``uuid`` key column is compared case-insensitively, as
    Cassandra stores it. One aggregation, no sort: the write's only shuffle.
    """
    key, latest = EXPRESSIONS.get(
        ("latest_per_key", tuple(writable.columns), target.cache_key),
        lambda: _latest_columns(writable.columns, target),
    )
    return writable.groupBy(*key).agg(latest).select(f"{_LATEST}.*")


def _latest_columns(columns: Sequence[str], target: TableTarget) -> tuple[list[Column], Column]:
    key = [
        (F.lower(F.col(k)) if target.columns.get(k) == "uuid" else F.col(k)).alias(f"__key{i}")
        for i, k in enumerate(target.primary_key)
    ]
    latest = F.max_by(
        F.struct(*[F.col(c) for c in columns]),
        F.struct(F.col(KAFKA_OFFSET), F.col(KAFKA_PARTITION)),
    ).alias(_LATEST)
    return key, latest


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


def _metrics_text(observation: Observation) -> str:
    """The :data:`METRICS` value of ``observation``, in three Py4J round trips.

    The job's one use of a private PySpark attribute, kept here alone: the public
    ``Observation.get`` copies the whole Java map, and the end of that iteration (a Java
    exception, inspected through Py4J reflection) alone costs ~70 round trips a batch.
    """
    java = getattr(observation, "_jo", None)  # PySpark's JVM handle, set by observe()
    if java is None:
        return str(observation.get[METRICS])
    return str(java.getAsJava().get(METRICS))


def _int(value: Any) -> int | None:
    return None if value is None else int(value)
