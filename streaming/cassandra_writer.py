"""Writing a batch's outcome: rows to the contract's table, dead letters to ``dead_letters``.

Writes go through spark-cassandra-connector in append mode, which in Cassandra is an
upsert by primary key: a retried batch writes the same rows again, harmlessly.

Failure policy. A row Cassandra would refuse never gets here (:mod:`streaming.row_rules`
dead-letters it). Whatever still fails is the cluster itself (down, timeouts, auth): the
exception propagates, the micro-batch fails and Spark retries it from the checkpoint. No
row is lost and none is dead-lettered because Cassandra was unavailable.

A stuck session. Before each write the connector's cached driver session must refresh
its schema within :data:`SESSION_CHECK_TIMEOUT_S` (:func:`ensure_session_answers`); one
that does not is evicted and a fresh one tried. The Java driver (4.18, the connector's)
never clears a schema refresh that failed while its control connection was down
(``MetadataManager.startSchemaRequest``: ``currentSchemaRefresh`` stays set when the
system-table queries fail), so every later ``refreshSchema()`` of that session waits
forever, and the connector calls it to plan every write (``CassandraTable.tableDef``).
After a Cassandra restart the stream sat there until the 300 s batch watchdog.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from py4j.protocol import Py4JJavaError
from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession

from contract.cql import DEAD_LETTER_COLUMNS, DEAD_LETTER_TABLE
from streaming.logs import log_event
from streaming.table_target import TableTarget
from streaming.triage import BatchMetrics, Triage

CASSANDRA_FORMAT = "org.apache.spark.sql.cassandra"
# A schema refresh of a healthy single node takes well under a second; a session that
# has not refreshed in this long is stuck (or the node is), not slow.
SESSION_CHECK_TIMEOUT_S = 15.0
MIN_REFRESH_S = 2.0  # a schema refresh given less than this would fail a live session


class CassandraUnavailable(RuntimeError):
    """The connector's session could not refresh the schema, even a fresh one: the
    cluster is down or not answering. The batch fails and is retried from the checkpoint."""


class TableNotVisible(RuntimeError):
    """The connector's view of the cluster does not show the table (or its columns) yet."""


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


def write_pass(sink: Sink, triaged: Triage) -> BatchMetrics:
    """Write ``triaged``'s writable rows: the one action that decodes, checks, writes and
    counts; the metrics it collected."""
    rows, observation = triaged.observed_rows()
    sink.write_rows(rows)
    return BatchMetrics.from_observation(observation)


@dataclass(frozen=True)
class CassandraSink:
    target: TableTarget

    def ensure_writable(self, spark: SparkSession, target: TableTarget) -> None:
        await_columns(spark, target.keyspace, target.table, list(target.columns))
        await_columns(spark, target.keyspace, DEAD_LETTER_TABLE, list(DEAD_LETTER_COLUMNS))

    def write_rows(self, rows: DataFrame) -> None:
        ensure_session_answers(rows.sparkSession)
        write_table(rows, self.target.keyspace, self.target.table)

    def write_dead_letters(self, dead_letters: DataFrame) -> None:
        ensure_session_answers(dead_letters.sparkSession)
        write_dead_letters(dead_letters, self.target.keyspace)

    def update_dead_letters(self, updates: DataFrame) -> None:
        unknown = [c for c in updates.columns if c not in DEAD_LETTER_COLUMNS]
        if unknown:
            raise ValueError(f"not dead-letter columns: {unknown}")
        write_table(updates, self.target.keyspace, DEAD_LETTER_TABLE)


def ensure_session_answers(
    spark: SparkSession, timeout_s: float = SESSION_CHECK_TIMEOUT_S
) -> None:
    """The connector's cached session refreshes its schema within ``timeout_s``, or is
    evicted (every cached session closed) and one fresh session must; else
    :class:`CassandraUnavailable`. Runs on the driver, before a write plans its table."""
    problem = ""
    for attempt in (1, 2):
        try:
            _refresh_schema(spark, timeout_s)
            if attempt > 1:
                log_event("cassandra_session_replaced", stuck=problem,
                          action="evicted the connector's cached session; a fresh one answers")
            return
        except Py4JJavaError as exc:
            problem = _java_error(exc)
            jvm = _jvm(spark)
            jvm.com.datastax.spark.connector.cql.CassandraConnector.evictCache()
    raise CassandraUnavailable(
        f"the Cassandra session did not refresh its schema within {timeout_s:.0f} s, even "
        f"a fresh one: {problem}. The batch is retried from the checkpoint; check the "
        "cluster (make status)"
    )


def _jvm(spark: SparkSession) -> Any:
    jvm = spark.sparkContext._jvm
    if jvm is None:
        raise RuntimeError("the SparkContext has no JVM gateway (stopped?)")
    return jvm


def _refresh_schema(spark: SparkSession, timeout_s: float) -> None:
    jvm = _jvm(spark)
    connector = jvm.com.datastax.spark.connector.cql.CassandraConnector.apply(
        spark.sparkContext._jsc.sc()
    )
    session = connector.openSession()  # the cached one, reference-counted
    try:
        session.refreshSchemaAsync().toCompletableFuture().get(
            int(timeout_s * 1000), jvm.java.util.concurrent.TimeUnit.MILLISECONDS
        )
    finally:
        session.close()  # releases our reference; the cache keeps it for the write


def _java_error(exc: Py4JJavaError) -> str:
    """``Class: message`` of a Java exception, on one line (a TimeoutException has none)."""
    java: Any = exc.java_exception
    return f"{java.getClass().getName()}: {java.getMessage()}"


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
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TableNotVisible(
                f"after {timeout_s:.0f}s spark-cassandra-connector still cannot write "
                f"{keyspace}.{table}: {problem}; run `make schemas` and check the cluster"
            )
        # Ask for the schema instead of waiting for its events: a session whose control
        # connection is down (Cassandra restarted, the driver's reconnection delay grown
        # to a minute) hears none, and one that cannot refresh is replaced. Its two
        # attempts share what is left of the deadline, so the wait stays ~timeout_s.
        ensure_session_answers(spark, timeout_s=min(SESSION_CHECK_TIMEOUT_S,
                                                    max(remaining / 2, MIN_REFRESH_S)))
        time.sleep(poll_s)
