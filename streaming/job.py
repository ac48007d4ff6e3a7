"""The streaming query: Kafka -> one batch's triage -> Cassandra, one micro-batch at a time.

Delivery is at least once: a micro-batch that raises (registry down, Cassandra down) stops
the query before its offsets are committed, and the next start re-runs it from the
checkpoint. Every write is an upsert by primary key, so a re-run batch changes nothing
that the first attempt already wrote.

Several contracts run as several queries of one Spark application (:func:`run_all`): one
JVM instead of one per subject, and each query its own checkpoint, progress and dead
letters. A query that fails stops the others, and the job exits with its failure.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.streaming import StreamingQuery, StreamingQueryListener

from config.clients import cassandra_session, schema_registry_client
from config.settings import Settings
from contract.catalog import Contract
from streaming.cassandra_writer import CassandraSink, Sink, write_pass
from streaming.checkpoint import (
    DataLost,
    check_not_lost,
    checkpoint_location,
    query_name,
    verify_checkpoint,
)
from streaming.dead_letters import outdated_key
from streaming.decode import WriterResolution, current_reader, resolve_writers
from streaming.frames import parse_frames
from streaming.logs import log_event
from streaming.registry import ReaderSchema, RegistrySchemas, SchemaLookup
from streaming.report import BatchReport, lag_from
from streaming.schema_check import check_tables, live_columns
from streaming.session import build_spark_session
from streaming.table_target import TableTarget, columns_to_write
from streaming.triage import BatchMetrics, Triage, stage_counts, triage

# How stale the reader schema may get: a newly registered version is used within this time.
READER_SCHEMA_TTL_SECONDS = 30.0
STOP_POLL_SECONDS = 1  # awaitTermination takes whole seconds


EXIT_STUCK = 3  # a batch outlived its timeout; restart from the checkpoint


class Trigger(Enum):
    PROCESSING_TIME = "processing-time"  # a micro-batch every STREAM_TRIGGER_SECONDS
    ONCE = "once"  # one batch with everything available, then stop
    AVAILABLE_NOW = "available-now"  # everything available, in maxOffsetsPerTrigger batches


def kafka_source_options(
    settings: Settings, contract: Contract, *, accept_data_loss: bool = False
) -> dict[str, str]:
    """Spark's Kafka source: the contract's topic, from the earliest offset, headers kept."""
    return {
        **settings.spark_kafka_options(),
        "subscribe": contract.topic,
        "startingOffsets": "earliest",
        "maxOffsetsPerTrigger": str(settings.stream_max_offsets_per_trigger),
        # Offsets that vanished (retention, a recreated topic) stop the query loudly,
        # unless an operator said to go on past them (docs/troubleshooting.md).
        "failOnDataLoss": "false" if accept_data_loss else "true",
        "includeHeaders": "true",
    }


def trigger_options(trigger: Trigger, settings: Settings) -> dict[str, Any]:
    if trigger is Trigger.ONCE:
        return {"once": True}
    if trigger is Trigger.AVAILABLE_NOW:
        return {"availableNow": True}
    return {"processingTime": f"{settings.stream_trigger_seconds} seconds"}


# -- one micro-batch --------------------------------------------------------------------------


@dataclass(frozen=True)
class Pass:
    """One triage of a batch's records, once its rows are written."""

    triaged: Triage
    metrics: BatchMetrics  # collected by its write


@dataclass
class BatchProcessor:
    """``foreachBatch`` callback: parse -> decode -> check -> write, then one JSON log line."""

    schemas: SchemaLookup
    target: TableTarget
    sink: Sink
    wall_clock: Callable[[], float] = time.time
    monotonic: Callable[[], float] = time.monotonic
    reports: list[BatchReport] = field(default_factory=list)  # the last few, for callers
    keep_reports: int = 10
    # Reads the table's live columns; called when the reader version changes, so a
    # column added by `make schemas` is written without restarting the job.
    live_columns: Callable[[], Mapping[str, str]] | None = None
    # A batch running longer than this is stuck (seen: the Cassandra driver waiting
    # forever on a node that restarted). The process then exits, and its supervisor
    # restarts it from the checkpoint; upserts make the replayed batch harmless.
    batch_timeout_seconds: float | None = None
    on_stuck: Callable[[int], None] = field(default=lambda code: os._exit(code))
    # Named on every batch line: one job runs a query per contract, all into one log.
    subject: str | None = None
    _target_version: int | None = None
    _known_ids: set[int] = field(default_factory=set)  # frame ids seen by earlier batches
    # (writer id, reader id) -> how that writer's rows are read into that reader.
    _resolved: dict[tuple[int, int], WriterResolution] = field(default_factory=dict)

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        watchdog = None
        if self.batch_timeout_seconds:
            watchdog = threading.Timer(self.batch_timeout_seconds, self._stuck, (batch_id,))
            watchdog.daemon = True
            watchdog.start()
        try:
            report = self.process(batch, batch_id)
        finally:
            if watchdog is not None:
                watchdog.cancel()
        self.reports[:] = [*self.reports, report][-self.keep_reports :]
        log_event("batch", subject=self.subject, **report.as_log_fields())

    def _stuck(self, batch_id: int) -> None:
        log_event("batch_stuck", batch_id=batch_id, timeout_s=self.batch_timeout_seconds,
                  action="exiting so that the supervisor restarts from the checkpoint")
        self.on_stuck(EXIT_STUCK)

    def _follow_reader(self, reader_version: int, spark: SparkSession) -> None:
        if self.live_columns is None or reader_version == self._target_version:
            return
        self.target = self.target.with_columns(self.live_columns())
        self.sink.ensure_writable(spark, self.target)
        self._target_version = reader_version

    def process(self, batch: DataFrame, batch_id: int) -> BatchReport:
        """One pass that writes what it can; a second only for new ids; then dead letters.

        1. Decode with the writers already known (the reader's own id, the ids of earlier
           batches), check, write each key's latest record, and collect the metrics, in
           one Spark job.
        2. Ids this batch brought that the registry knows: the whole batch again, with
           them known (a writer with fields the reader lacks refreshes the reader first,
           so they are kept). Not their rows alone: a key's record with a new id may be
           older than one of the first pass, and must not be written after it. The
           second pass writes every key's latest record of the batch; what the first
           wrote of it is rewritten by the same upsert or superseded.
        3. Rows the last pass did not write: one job writing them as dead letters.
        """
        started = self.monotonic()
        framed = parse_frames(batch)
        reader = self.schemas.reader()  # refreshed here when stale, between batches
        done = self._pass(framed, reader)
        new_ids = [i for i in done.metrics.schema_ids if i not in done.triaged.writers]
        # Only ids the registry knows join the decoder's CASE: the ids of random bytes
        # would grow it batch after batch (their look-ups are cached as unknown anyway).
        retry = tuple(i for i in new_ids if self.schemas.writer(i) is not None)
        # The first pass's own ids too: its reader's id is not the next reader's.
        self._known_ids.update(done.triaged.writers, retry)
        if retry:
            reader = current_reader(retry, self.schemas)
            done = self._pass(framed, reader)

        by_stage = self._write_dead_letters(done.triaged) if done.metrics.not_written else {}
        completed_ms = int(self.wall_clock() * 1000)
        return BatchReport(
            batch_id=batch_id,
            input_rows=done.metrics.rows,
            rows_written=done.metrics.written,
            dead_lettered=sum(by_stage.values()),
            dead_lettered_by_stage=by_stage,
            schema_ids=list(done.metrics.schema_ids),
            reader_version=reader.version,
            reader_schema_id=reader.schema_id,
            duration_ms=self._elapsed_ms(started),
            lag=lag_from(done.metrics, completed_ms),
        )

    def _pass(self, framed: DataFrame, reader: ReaderSchema) -> Pass:
        """Triage ``framed`` with every writer known so far, and write its rows."""
        self._follow_reader(reader.version, framed.sparkSession)
        writers = self._writers(reader, self._known_ids | {reader.schema_id})
        triaged = triage(framed, reader, writers, self.target)
        return Pass(triaged, write_pass(self.sink, triaged))

    def _writers(self, reader: ReaderSchema, ids: set[int]) -> dict[int, WriterResolution]:
        """Each id resolved against ``reader`` once (registry look-ups are cached too)."""
        for schema_id in ids - {i for i, r in self._resolved if r == reader.schema_id}:
            resolution = resolve_writers([schema_id], self.schemas, reader)[schema_id]
            self._resolved[(schema_id, reader.schema_id)] = resolution
        return {i: w for (i, r), w in self._resolved.items() if r == reader.schema_id and i in ids}

    def _write_dead_letters(self, triaged: Triage) -> dict[str, int]:
        letters, observation = triaged.observed_dead_letters()
        self.sink.write_dead_letters(letters)
        return stage_counts(observation.get)

    def _elapsed_ms(self, started: float) -> int:
        return int((self.monotonic() - started) * 1000)


# -- the query ----------------------------------------------------------------------------------


class ProgressLogger(StreamingQueryListener):
    """Spark's own view of each query's progress, as JSON lines next to the batch reports."""

    def onQueryStarted(self, event: Any) -> None:  # noqa: N802 (Spark's names)
        log_event("query_started", name=event.name, id=str(event.id), run_id=str(event.runId))

    def onQueryProgress(self, event: Any) -> None:  # noqa: N802
        p = event.progress
        log_event(
            "query_progress",
            name=p.name,
            batch_id=p.batchId,
            input_rows=p.numInputRows,
            input_rows_per_second=p.inputRowsPerSecond,
            processed_rows_per_second=p.processedRowsPerSecond,
            duration_ms=dict(p.durationMs),
            sources=[
                {
                    "description": s.description,
                    "start_offset": _json_or_text(s.startOffset),
                    "end_offset": _json_or_text(s.endOffset),
                    "latest_offset": _json_or_text(s.latestOffset),
                    "input_rows": s.numInputRows,
                    # The Kafka source reports min/avg/maxOffsetsBehindLatest here.
                    "metrics": dict(s.metrics),
                }
                for s in p.sources
            ],
        )

    def onQueryIdle(self, event: Any) -> None:  # noqa: N802
        """Nothing new in Kafka: not worth a line per trigger."""

    def onQueryTerminated(self, event: Any) -> None:  # noqa: N802
        log_event(
            "query_terminated",
            id=str(event.id),
            run_id=str(event.runId),
            exception=event.exception,
            error_class=event.errorClassOnException,
        )


def _json_or_text(value: str | None) -> Any:
    """Offsets arrive as JSON text ("None" before the first batch)."""
    if value is None or value == "None":
        return None
    try:
        return json.loads(value)
    except ValueError:
        return value


def kafka_stream(
    spark: SparkSession, settings: Settings, contract: Contract, *, accept_data_loss: bool = False
) -> DataFrame:
    """The contract's topic as a streaming DataFrame (Spark's Kafka source columns)."""
    options = kafka_source_options(settings, contract, accept_data_loss=accept_data_loss)
    return spark.readStream.format("kafka").options(**options).load()


def start_query(
    records: DataFrame,
    settings: Settings,
    contract: Contract,
    processor: BatchProcessor,
    trigger: Trigger,
) -> StreamingQuery:
    """``foreachBatch(processor)`` over ``records`` (normally :func:`kafka_stream`)."""
    return (
        records.writeStream.queryName(query_name(contract))
        .option("checkpointLocation", str(checkpoint_location(settings, contract)))
        .foreachBatch(processor)
        .trigger(**trigger_options(trigger, settings))
        .start()
    )


class QueryFailed(Exception):
    """One contract's query failed (its ``cause``: Spark's StreamingQueryException); the
    other queries of the job were stopped."""

    def __init__(self, contract: Contract, cause: BaseException):
        self.contract, self.cause = contract, cause
        super().__init__(f"{query_name(contract)}: {cause}")


def await_queries(
    queries: Sequence[tuple[Contract, StreamingQuery]], stop: threading.Event
) -> None:
    """Until every query ends by itself or ``stop`` is set; the first to fail stops the
    others and is raised as :class:`QueryFailed`."""
    while True:
        for contract, query in queries:
            if query.isActive:
                continue
            try:
                query.awaitTermination()  # ended: returns at once, raises if it failed
            except Exception as exc:  # noqa: BLE001 - Spark's, re-raised typed below
                _stop_all(queries, reason=f"{query_name(contract)} failed")
                raise QueryFailed(contract, exc) from exc
        if not any(query.isActive for _, query in queries):
            return
        if stop.wait(STOP_POLL_SECONDS):
            _stop_all(queries, reason="stop requested")
            return


def _stop_all(queries: Sequence[tuple[Contract, StreamingQuery]], *, reason: str) -> None:
    for _, query in queries:
        if query.isActive:
            log_event("query_stopping", name=query.name, reason=reason)
            query.stop()


def run(
    settings: Settings, contract: Contract, trigger: Trigger, stop: threading.Event,
    *, accept_data_loss: bool = False,
) -> None:
    """:func:`run_all` for one contract; its query's failure raises as Spark raised it."""
    try:
        run_all(settings, [contract], trigger, stop, accept_data_loss=accept_data_loss)
    except QueryFailed as failed:
        raise failed.cause from None


@dataclass(frozen=True)
class _Prepared:
    contract: Contract
    processor: BatchProcessor
    reader: ReaderSchema


def run_all(
    settings: Settings, contracts: Sequence[Contract], trigger: Trigger,
    stop: threading.Event, *, accept_data_loss: bool = False,
) -> None:
    """Preflight checks of every contract, then one query per contract in one Spark
    application, until they end or ``stop`` is set.

    Refuses to start when a contract's tables do not match it, when its subject is not
    registered, or when the registry's latest version has fields the table lacks. Stops
    with :class:`DataLost` when Kafka deleted records a checkpoint has not read (unless
    ``accept_data_loss``: then the gap is logged and skipped), with
    :class:`CheckpointDamaged` when a checkpoint file is unreadable, and with
    :class:`QueryFailed` when a query fails.
    """
    prepared = [_prepare(settings, c, accept_data_loss) for c in contracts]
    app = f"userstream-{query_name(contracts[0])}" if len(contracts) == 1 else None
    spark = (build_spark_session(settings, app) if app else build_spark_session(settings))
    spark.streams.addListener(ProgressLogger())
    queries: list[tuple[Contract, StreamingQuery]] = []
    try:
        for item in prepared:
            records = kafka_stream(spark, settings, item.contract,
                                   accept_data_loss=accept_data_loss)
            query = start_query(records, settings, item.contract, item.processor, trigger)
            queries.append((item.contract, query))
            log_event(
                "job_started",
                query=query_name(item.contract),
                topic=item.contract.topic,
                table=item.processor.target.qualified_table,
                trigger=trigger.value,
                checkpoint=str(checkpoint_location(settings, item.contract)),
                reader_version=item.reader.version,
                reader_schema_id=item.reader.schema_id,
            )
    except BaseException:
        _stop_all(queries, reason="another query did not start")
        raise
    await_queries(queries, stop)


def _prepare(settings: Settings, contract: Contract, accept_data_loss: bool) -> _Prepared:
    """One contract's checks (checkpoint, Kafka, tables, registry) and its batch processor."""
    checkpoint = checkpoint_location(settings, contract)
    verify_checkpoint(checkpoint)
    try:
        check_not_lost(settings, contract)
    except DataLost as lost:
        if not accept_data_loss:
            raise
        log_event("data_loss_accepted", error=str(lost),
                  ranges=[str(r) for r in lost.ranges], action="continuing past the gap")
    target = TableTarget.from_contract(contract)
    check_tables(settings, target)  # the table holds at least what the contract asks
    with cassandra_session(settings) as session:
        if (problem := outdated_key(session, target.keyspace)) is not None:
            log_event("dead_letter_key_outdated", error=problem)  # works, but say it

    def table_columns() -> dict[str, str]:
        with cassandra_session(settings) as session:
            return live_columns(session, target.keyspace, target.table)

    schemas = RegistrySchemas(
        schema_registry_client(settings), contract.subject, ttl_seconds=READER_SCHEMA_TTL_SECONDS
    )
    reader = schemas.reader()
    # The registry may be ahead of this checkout (a newer version registered by
    # `make schemas` elsewhere): what matters is that the live table can hold it.
    target = target.with_columns(table_columns())
    columns_to_write(reader.field_names, target)
    processor = BatchProcessor(schemas=schemas, target=target, sink=CassandraSink(target),
                               live_columns=table_columns, subject=contract.subject,
                               batch_timeout_seconds=settings.stream_batch_timeout_seconds)
    return _Prepared(contract, processor, reader)
