"""Re-run dead letters through the job's triage and sink, e.g. after a schema was registered.

A dead letter that now goes through is written to the table and marked ``replayed_at``;
one that still fails stays, with the new error, class and stage (its raw bytes and its
first ``dead_lettered_at`` are kept). Replaying twice is harmless: writes are upserts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from config.clients import cassandra_session, schema_registry_client
from config.settings import Settings
from contract.catalog import Contract
from contract.cql import DEAD_LETTER_TABLE, DeadLetterStage
from streaming.cassandra_writer import CassandraSink, Sink, read_table, write_pass
from streaming.dead_letters import KAFKA_COLUMN, as_kafka_records, outdated_key
from streaming.decode import batch_writers
from streaming.frames import parse_frames
from streaming.logs import log_event
from streaming.registry import RegistrySchemas, SchemaLookup
from streaming.schema_check import check_tables, live_columns
from streaming.session import build_spark_session
from streaming.table_target import TableTarget
from streaming.triage import STAGE, stage_counts, triage

# The dead letter's primary key (contract.cql): what an update names its row by.
DEAD_LETTER_KEY = ("topic", "partition", "offset", "kafka_timestamp")
# What a failed replay updates in its dead letter: everything but the bytes and first time.
FAILURE_UPDATE_COLUMNS = (*DEAD_LETTER_KEY, "schema_id", "error", "error_class", "stage")


@dataclass(frozen=True)
class ReplayReport:
    selected: int
    replayed: int
    still_failing: int
    still_failing_by_stage: dict[str, int] = field(default_factory=dict)
    reader_version: int | None = None


def select_dead_letters(
    letters: DataFrame,
    *,
    topic: str,
    stage: str | None = None,
    since: datetime | None = None,
    error_class: str | None = None,
) -> DataFrame:
    """The not-yet-replayed dead letters of ``topic``, optionally of one stage, since a time,
    of one error class."""
    if stage is not None and stage not in DeadLetterStage.ALL:
        expected = ", ".join(DeadLetterStage.ALL)
        raise ValueError(f"unknown stage {stage!r}; expected one of {expected}")
    selected = letters.where((F.col("topic") == topic) & F.col("replayed_at").isNull())
    if stage is not None:
        selected = selected.where(F.col("stage") == stage)
    if since is not None:
        selected = selected.where(F.col("dead_lettered_at") >= F.lit(since))
    if error_class is not None:
        selected = selected.where(F.col("error_class") == error_class)
    return selected


def replay(
    letters: DataFrame, schemas: SchemaLookup, target: TableTarget, sink: Sink
) -> ReplayReport:
    """Run ``letters`` (rows of the dead-letter table) through the job's triage again.

    The same one-pass triage as a micro-batch (:func:`streaming.triage.triage`): rows
    that now decode and pass the checks are written, and their dead letters marked
    replayed; the others get their new reason. ``letters`` is cached, so the passes
    (rows, marks, failures) see the same records and reach the same verdicts.
    """
    letters.persist()
    try:
        selected = letters.count()
        if selected == 0:
            return ReplayReport(0, 0, 0)
        framed = parse_frames(as_kafka_records(letters))
        reader, writers = batch_writers(framed, schemas)
        triaged = triage(framed, reader, writers, target)

        metrics = write_pass(sink, triaged)
        if metrics.written:
            kafka = F.col(KAFKA_COLUMN)
            sink.update_dead_letters(
                triaged.outcome.where(F.col(STAGE).isNull()).select(
                    kafka["topic"].alias("topic"),
                    kafka["partition"].alias("partition"),
                    kafka["offset"].alias("offset"),
                    kafka["timestamp"].alias("kafka_timestamp"),
                    F.current_timestamp().alias("replayed_at"),
                )
            )
        by_stage: dict[str, int] = {}
        if metrics.not_written:
            failures, counts = triaged.observed_dead_letters()
            sink.update_dead_letters(failures.select(*FAILURE_UPDATE_COLUMNS))
            by_stage = stage_counts(counts.get)
        report = ReplayReport(
            selected=selected,
            replayed=metrics.written,
            still_failing=sum(by_stage.values()),
            still_failing_by_stage=by_stage,
            reader_version=reader.version,
        )
        log_event("replay", **report.__dict__)
        return report
    finally:
        letters.unpersist()


def live_target(settings: Settings, contract: Contract) -> TableTarget:
    """The contract's table with the columns it has now, as the streaming job writes it.

    The registry may be ahead of this checkout (a version registered by `make schemas`
    elsewhere): what replay can write is what the live table holds, not what this
    checkout's contract lists.
    """
    target = TableTarget.from_contract(contract)
    check_tables(settings, target)  # the table holds at least what the contract asks
    with cassandra_session(settings) as session:
        if (problem := outdated_key(session, target.keyspace)) is not None:
            log_event("dead_letter_key_outdated", error=problem)
        return target.with_columns(live_columns(session, target.keyspace, target.table))


def run_replay(
    settings: Settings, contract: Contract, *, stage: str | None, since: datetime | None,
    error_class: str | None = None,
) -> ReplayReport:
    """Read the dead letters from Cassandra, replay them, write the outcome back."""
    target = live_target(settings, contract)
    schemas = RegistrySchemas(schema_registry_client(settings), contract.subject)
    spark = build_spark_session(settings, f"userstream-replay-{contract.table}")
    letters = select_dead_letters(
        read_table(spark, target.keyspace, DEAD_LETTER_TABLE),
        topic=contract.topic,
        stage=stage,
        since=since,
        error_class=error_class,
    )
    return replay(letters, schemas, target, CassandraSink(target))
