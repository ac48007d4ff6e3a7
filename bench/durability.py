"""bench-durability: what an acknowledged write costs, per Cassandra ``commitlog_sync`` mode.

Cassandra acknowledges a write once it is in the memtable and appended to the commit log.
When the commit log is made durable depends on ``commitlog_sync`` (docs/best-practices.md,
"Durability"): ``periodic`` acknowledges at once and syncs every 10 s, writing a replay
marker every 100 ms without syncing, so a killed process loses up to ~100 ms of
acknowledged writes and a machine crash up to 10 s; ``group`` and ``batch`` acknowledge only
after the fsync. Cassandra is restarted once per mode (a graceful stop, by its pid file),
the same decoded rows are written by the connector with the job's settings (the
``stream.write`` figure of bench-stream), best of two; then Cassandra is restarted with the
stack's own setting.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable

from bench.results import Figure, StageResult
from bench.stats import best, rate
from bench.stream import batch_read, decoded_rows, fill_topic, spark_session, timed_runs
from config.clients import schema_registry_client
from config.settings import Settings
from contract.catalog import Contract
from stack import launcher, process
from stack.paths import StackPaths
from stack.services import COMMITLOG_SYNC_ENV, Cassandra, Context, commitlog_sync_spec
from streaming.registry import RegistrySchemas
from streaming.table_target import TableTarget

log = logging.getLogger(__name__)
MODES = ("periodic:10000ms", "group:10ms", "batch")
RECORDS = 50_000
# After a restart the connector's session answers a schema refresh (its control connection
# is back) before its request pool has reconnected: a write can still find no node then.
RECONNECT_TIMEOUT_S = 120.0
RECONNECT_POLL_S = 2.0


def restart_cassandra(ctx: Context, mode: str | None) -> None:
    """Stop the stack's Cassandra gracefully (by its pid file) and start it with ``mode``
    (None: the stack's default)."""
    service = Cassandra()
    process.stop(ctx.paths.pidfile(service.name), grace_seconds=120)
    if mode is None:
        os.environ.pop(COMMITLOG_SYNC_ENV, None)
    else:
        os.environ[COMMITLOG_SYNC_ENV] = mode
    launcher.up(ctx, [service])


def write_when_reconnected(write: Callable[[], None], timeout_s: float = RECONNECT_TIMEOUT_S,
                           poll_s: float = RECONNECT_POLL_S) -> None:
    """``write()`` once Cassandra takes it: retried while the driver reconnects to the
    restarted node, at most ``timeout_s``; then its last error propagates."""
    from py4j.protocol import Py4JJavaError  # Spark: see the module note of bench.stream

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            write()
            return
        except Py4JJavaError as exc:
            if time.monotonic() > deadline:
                raise
            log.info("the restarted node does not take writes yet (%s); retrying",
                     exc.java_exception.getClass().getName())
            time.sleep(poll_s)


def run(settings: Settings, contract: Contract, result: StageResult,
        records: int = RECORDS) -> StageResult:
    from streaming.cassandra_writer import ensure_session_answers, write_table  # Spark
    from streaming.triage import table_rows

    ctx = Context(settings, StackPaths.from_settings(settings))
    fill_topic(settings, contract, records)
    schemas = RegistrySchemas(schema_registry_client(settings), contract.subject)
    reader = schemas.reader()
    writer = schemas.writer(reader.schema_id)
    if writer is None:
        raise RuntimeError(f"schema id {reader.schema_id} of {contract.subject} not found")
    target = TableTarget.from_contract(contract)
    try:
        with spark_session(settings) as spark:
            rows = table_rows(decoded_rows(batch_read(spark, settings, contract), reader,
                                           {reader.schema_id: writer}),
                              reader.field_names, target).persist()
            rows.count()
            for mode in MODES:
                restart_cassandra(ctx, mode)
                ensure_session_answers(spark)  # the connector's session outlived the node
                # untimed: the pool reconnected, the plan and the JIT warmed
                write_when_reconnected(lambda: write_table(rows, target.keyspace, target.table))
                seconds = timed_runs(lambda: write_table(rows, target.keyspace,
                                                         target.table), 2)
                figure = result.add(Figure(
                    f"durability.write_{mode.split(':')[0]}",
                    f"connector write, commitlog_sync {commitlog_sync_spec(mode)[1]}",
                    best([rate(records, s) for s in seconds]), "rows/s",
                    f"{records:,} rows, cached, the job's connector settings, best of 2"))
                log.info("%s: %.0f rows/s", mode, figure.value)
            rows.unpersist()
    finally:
        restart_cassandra(ctx, None)
    result.notes.append(f"the stack's setting: commitlog_sync {commitlog_sync_spec(None)[1]}")
    return result
