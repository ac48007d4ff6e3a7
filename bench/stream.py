"""bench-stream: Spark reading the topic, decoding it, writing Cassandra; beside their limits.

A sandbox topic is filled with real contract records (users from the local server, mapped
and serialized as the producer does, each with its own id). Then, on one SparkSession,
each variant reads the whole topic as a bounded batch (the same Kafka source the
streaming job uses, ``endingOffsets=latest``) into a sink:

* ``read``: the Kafka rows into Spark's ``noop`` sink (the plain read);
* ``decode``: frame parsing + our per-id ``from_avro`` decode, into ``noop``, and the two
  halves of it alone (frame parsing; ``from_avro`` of the payload); ``job_rows``: all the
  job does to a row before the connector (decode, row checks, batch metrics);
* ``cached_decode`` and ``udf``: the two decoders on the same frames held in Spark's
  memory cache, so that the comparison is the decoders' and not Kafka's: our per-id
  ``from_avro``, and a Python UDF decoding with fastavro;
* ``sink``: the job's own :class:`BatchProcessor` on the batch (parse, decode, row checks,
  the connector's write, dead letters, lag statistics): what one micro-batch costs. The
  topic holds as many records as the job's largest micro-batch (maxOffsetsPerTrigger);
* ``write``: decoded rows written by the connector alone, with a few connector settings;
  the best one is tried again on the whole micro-batch.

Kafka's ``ConsumerPerformance`` on the same topic is the raw read limit.
"""

from __future__ import annotations

import io
import json
import logging
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import fastavro
from confluent_kafka import Producer
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from bench import kafka_tools
from bench.cpu import CpuMeter, cpu_figure
from bench.results import Figure, StageResult
from bench.stats import best, rate
from config.clients import schema_registry_client
from config.settings import Settings
from contract.catalog import Contract
from contract.spark_types import spark_struct
from producers.kafka_producer import ProducerTuning
from producers.mapping import map_users
from producers.randomuser_client import RandomUserClient, base_url_for
from stack.paths import StackPaths
from stack.spark import spark_runtime
from streaming.registry import RegistrySchemas
from streaming.table_target import TableTarget

# pyspark and the streaming modules that load it are imported inside the functions that
# use Spark: bench.runner and bench.produce import this module, and pyspark would add
# 0.75 s (-X importtime) and its memory to every bench command, the produce stage's too.
if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from streaming.registry import ReaderSchema, WriterSchema

log = logging.getLogger(__name__)
SEED = "bench-stream"
POOL_SIZE = 5000


@dataclass(frozen=True)
class StreamConfig:
    # The job's largest micro-batch: STREAM_MAX_OFFSETS_PER_TRIGGER (100,000 by default).
    records: int = Settings.stream_max_offsets_per_trigger
    repeats: int = 5  # read and decode: ~1.5 s each and noisy, so the best of five
    sink_repeats: int = 2
    udf_records: int = 0  # 0: all; the UDF is slow, a prefix gives the same rate


# -- filling the topic ------------------------------------------------------------------------


def unique_records(pool: list[dict[str, Any]], count: int, namespace: str) -> Iterator[dict]:
    """``count`` records cycling through ``pool``, each with its own (deterministic) id."""
    base = uuid.uuid5(uuid.NAMESPACE_URL, namespace)
    for i in range(count):
        record = dict(pool[i % len(pool)])
        record["id"] = str(uuid.uuid5(base, str(i)))
        yield record


def fill_topic(settings: Settings, contract: Contract, count: int) -> float:
    """Produce ``count`` distinct contract records (Confluent-framed Avro); seconds taken."""
    started = time.perf_counter()
    with RandomUserClient(base_url_for(settings, "local")) as client:
        users = client.fetch_page(results=POOL_SIZE, page=1, seed=SEED).users
    pool = list(map_users(users, contract).records)
    serializer = AvroSerializer(schema_registry_client(settings), contract.schema_str,
                                conf={"auto.register.schemas": False,
                                      "use.latest.version": False})
    ctx = SerializationContext(contract.topic, MessageField.VALUE)
    producer = Producer({**settings.kafka_client_config(),
                         **ProducerTuning().librdkafka_config()})
    for record in unique_records(pool, count, contract.topic):
        value = serializer(record, ctx)
        while True:
            try:
                producer.produce(contract.topic, key=record["id"].encode(), value=value)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    if producer.flush(120):
        raise RuntimeError(f"filling {contract.topic}: not every record was acknowledged")
    return time.perf_counter() - started


# -- the Spark variants ---------------------------------------------------------------------


def batch_read(spark: SparkSession, settings: Settings, contract: Contract) -> DataFrame:
    """The whole topic as a bounded DataFrame: the streaming job's source, read once."""
    return (
        spark.read.format("kafka")
        .options(**settings.spark_kafka_options())
        .option("subscribe", contract.topic)
        .option("startingOffsets", "earliest")
        .option("endingOffsets", "latest")
        .option("includeHeaders", "true")
        .load()
    )


# Connector write settings tried; the first is the job's own (streaming.session).
JOB_CONNECTOR_SETTINGS: dict[str, str] = {}
CONNECTOR_DEFAULTS = {"spark.cassandra.output.concurrent.writes": "5",
                      "spark.cassandra.output.batch.grouping.key": "partition",
                      "spark.cassandra.output.batch.size.bytes": "1024"}
CONNECTOR_TUNINGS: tuple[dict[str, str], ...] = (
    JOB_CONNECTOR_SETTINGS,
    CONNECTOR_DEFAULTS,
    {**CONNECTOR_DEFAULTS, "spark.cassandra.output.concurrent.writes": "16"},
    {"spark.cassandra.output.concurrent.writes": "64"},
    {"spark.cassandra.output.concurrent.writes": "8"},
    {"spark.cassandra.output.batch.size.bytes": "2048"},
)


def describe_settings(settings: dict[str, str]) -> str:
    if not settings:
        from streaming.session import SINK_WRITE_TUNING  # loads pyspark: see the module note

        return "the job's ({})".format(", ".join(
            f"{k.removeprefix('spark.cassandra.output.')}={v}"
            for k, v in SINK_WRITE_TUNING.items()))
    if settings == CONNECTOR_DEFAULTS:
        return "the connector's defaults (concurrent.writes=5, partition, 1024)"
    changed = ", ".join(f"{k.removeprefix('spark.cassandra.output.')}={v}"
                        for k, v in settings.items() if v != CONNECTOR_DEFAULTS.get(k))
    base = "the defaults" if set(settings) == set(CONNECTOR_DEFAULTS) else "the job's"
    return f"{base} with {changed}"


@contextmanager
def connector_settings(spark: SparkSession, settings: dict[str, str]) -> Iterator[None]:
    """Session settings the connector reads at each write; restored afterwards."""
    for key, value in settings.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key in settings:
            spark.conf.unset(key)


def bare_from_avro(df: DataFrame, writer: WriterSchema) -> DataFrame:
    """``from_avro`` of the bytes after the 5-byte header, nothing else: its cost alone."""
    from pyspark.sql import functions as F  # Spark: see the module note
    from pyspark.sql.avro.functions import from_avro

    payload = F.expr("substr(value, 6)")
    return df.select(from_avro(payload, writer.schema_str).alias("d")).select("d.*")


def to_noop(df: DataFrame) -> None:
    """Run the plan to the end, keeping nothing (Spark's ``noop`` sink)."""
    df.write.format("noop").mode("overwrite").save()


def decoded_rows(df: DataFrame, reader: ReaderSchema,
                 writers: dict[int, WriterSchema]) -> DataFrame:
    """Our decode (frames -> per-id ``from_avro``), writers resolved beforehand.

    Shaped as the job shapes it (:mod:`streaming.triage`): only the decoded struct and
    the verdicts go through an ``observe`` node, then the "decoded?" filter. Without that
    node Spark's optimizer pushes the filter below the decoding and runs ``from_avro``
    twice a row.
    """
    from pyspark.sql import Observation  # Spark: see the module note
    from pyspark.sql import functions as F

    from streaming.decode import DECODE_ERROR, DECODED, decode_frames
    from streaming.frames import parse_frames

    outcome = decode_frames(parse_frames(df), reader, dict(writers))
    kept = outcome.select(DECODED, "frame_error", DECODE_ERROR, "writer_schema_id",
                          "writer_schema_version")
    barrier = kept.observe(Observation(), F.count(F.lit(1)).alias("rows"))
    decoded = barrier.where(F.col("frame_error").isNull() & F.col(DECODE_ERROR).isNull())
    return decoded.select(*[F.col(DECODED)[name].alias(name) for name in reader.field_names],
                          "writer_schema_id", "writer_schema_version")


def job_rows(df: DataFrame, reader: ReaderSchema, writers: dict[int, WriterSchema],
             target: Any) -> DataFrame:
    """All the job does to a row before the connector: decode, row checks, metrics."""
    from streaming.frames import parse_frames  # Spark: see the module note
    from streaming.triage import triage

    rows, _ = triage(parse_frames(df), reader, dict(writers), target).observed_rows()
    return rows


def fastavro_udf_rows(df: DataFrame, reader: ReaderSchema,
                      writers: dict[int, WriterSchema]) -> DataFrame:
    """The alternative: a row-at-a-time Python UDF decoding each payload with fastavro."""
    from pyspark.sql import functions as F  # Spark: see the module note

    from streaming.frames import parse_frames
    from streaming.sql import struct_type

    struct = struct_type(spark_struct(reader.schema_str))
    reader_schema = fastavro.parse_schema(json.loads(reader.schema_str))
    parsed = {sid: fastavro.parse_schema(json.loads(w.schema_str)) for sid, w in writers.items()}
    names = reader.field_names

    def decode_one(schema_id: int | None, payload: bytes | None) -> tuple | None:
        if schema_id is None or payload is None or schema_id not in parsed:
            return None
        try:
            record: Any = fastavro.schemaless_reader(io.BytesIO(payload), parsed[schema_id],
                                                     reader_schema)
        except (EOFError, ValueError, TypeError, IndexError):  # undecodable: a null row
            return None
        # fastavro turns uuid strings into UUID objects; Spark wants the string.
        return tuple(str(v) if isinstance(v, uuid.UUID) else v
                     for v in (record.get(n) for n in names))

    udf = F.udf(decode_one, struct)
    framed = parse_frames(df)
    return framed.select(udf("schema_id", "payload").alias("d")).select("d.*")


@contextmanager
def spark_session(settings: Settings) -> Iterator[SparkSession]:
    from streaming.session import build_spark_session  # Spark: see the module note

    # Python workers (the UDF variant) must run this interpreter: it has fastavro.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    runtime = spark_runtime(StackPaths.from_settings(settings))
    spark = build_spark_session(settings, "userstream-bench-stream", runtime=runtime)
    spark.sparkContext.setLogLevel("ERROR")  # per-task Kafka consumer warnings drown the log
    try:
        yield spark
    finally:
        spark.stop()


class TimedSink:
    """The job's sink, timing its table writes: how much of a micro-batch is Cassandra's."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.seconds = 0.0

    def ensure_writable(self, spark: SparkSession, target: Any) -> None:
        self.inner.ensure_writable(spark, target)

    def write_rows(self, rows: DataFrame) -> None:
        started = time.perf_counter()
        self.inner.write_rows(rows)
        self.seconds += time.perf_counter() - started

    def write_dead_letters(self, dead_letters: DataFrame) -> None:
        self.inner.write_dead_letters(dead_letters)

    def update_dead_letters(self, updates: DataFrame) -> None:
        self.inner.update_dead_letters(updates)


def timed_runs(action: Callable[[], Any], repeats: int) -> list[float]:
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        seconds.append(time.perf_counter() - started)
    return seconds


def interleaved(actions: Mapping[str, Callable[[], Any]], rounds: int) -> dict[str, list[float]]:
    """Seconds of each action per round: every action once a round, the order reversed
    every other round (so that none always runs first, after the same neighbour)."""
    seconds: dict[str, list[float]] = {key: [] for key in actions}
    keys = list(actions)
    for round_ in range(rounds):
        for key in keys if round_ % 2 == 0 else reversed(keys):
            seconds[key].extend(timed_runs(actions[key], 1))
    return seconds


def rates_detail(count: int, seconds: list[float]) -> str:
    runs = ", ".join(f"{count / s:,.0f}" for s in seconds)
    return f"{count:,} rows, best of {len(seconds)}: {runs}" if len(seconds) > 1 \
        else f"{count:,} rows in {seconds[0]:.1f} s"


# -- the stage --------------------------------------------------------------------------------


def run(settings: Settings, contract: Contract, config: StreamConfig,
        result: StageResult) -> StageResult:
    from streaming.cassandra_writer import CassandraSink, write_table  # Spark: module note
    from streaming.frames import parse_frames
    from streaming.job import BatchProcessor
    from streaming.triage import table_rows

    n = config.records
    fill_s = fill_topic(settings, contract, n)
    result.notes.append(f"topic filled with {n:,} distinct records in {fill_s:.1f} s")

    perf = kafka_tools.consumer_performance(settings, contract.topic, messages=n)
    result.add(Figure("stream.consumer_performance", "Kafka ConsumerPerformance (raw read)",
                      perf.records_per_s, "records/s",
                      f"{perf.messages:,} messages, {perf.mb:.0f} MB in "
                      f"{perf.fetch_seconds:.2f} s"))

    schemas = RegistrySchemas(schema_registry_client(settings), contract.subject)
    reader = schemas.reader()
    writers = {reader.schema_id: schemas.writer(reader.schema_id)}
    if writers[reader.schema_id] is None:
        raise RuntimeError(f"schema id {reader.schema_id} of {contract.subject} not found")
    target = TableTarget.from_contract(contract)

    with spark_session(settings) as spark:
        source = batch_read(spark, settings, contract)
        to_noop(source)  # warm-up: Kafka consumer pool, metadata

        def record(key: str, label: str, seconds: list[float], count: int = n) -> Figure:
            rates = [rate(count, s) for s in seconds]
            figure = result.add(Figure(key, label, best(rates), "rows/s",
                                       rates_detail(count, seconds), runs=tuple(rates)))
            log.info("%s: %.0f rows/s", key, figure.value)
            return figure

        def measure(key: str, label: str, action: Callable[[], Any], repeats: int,
                    count: int = n) -> Figure:
            return record(key, label, timed_runs(action, repeats), count)

        good = {k: v for k, v in writers.items() if v is not None}
        # Interleaved (round i runs each once), so that drift on the shared machine hits
        # the plain read and the decoders alike, and each goal is judged pair by pair.
        variants = {
            "stream.read": ("Spark Kafka batch read -> noop (no decoding)",
                            lambda: to_noop(source)),
            "stream.decode": ("read + frames + per-id from_avro decode -> noop",
                              lambda: to_noop(decoded_rows(source, reader, good))),
            "stream.frames": ("  of which: read + frame parsing only -> noop",
                              lambda: to_noop(parse_frames(source))),
            "stream.from_avro": ("  of which: read + from_avro of the payload only -> noop",
                                 lambda: to_noop(bare_from_avro(source,
                                                                good[reader.schema_id]))),
            "stream.job_rows": ("read + decode + row checks + batch metrics -> noop",
                                lambda: to_noop(job_rows(source, reader, good, target))),
        }
        # Each variant once before the clock: its generated code is compiled (Janino, then
        # the JIT) on first use, which otherwise lands on round one of every variant.
        for _, action in variants.values():
            action()
        runs = interleaved({key: action for key, (_, action) in variants.items()},
                           config.repeats)
        for key, (label, _) in variants.items():
            record(key, label, runs[key])

        # The decoders alone: the same frames from memory, so Kafka's cost is out of both.
        cached = source.persist()
        cached.count()
        measure("stream.cached_decode", "per-id from_avro decode of cached frames -> noop",
                lambda: to_noop(decoded_rows(cached, reader, good)),
                config.repeats)
        udf_n = config.udf_records or n
        udf_source = cached if udf_n >= n else cached.limit(udf_n)
        measure("stream.udf", "Python UDF (fastavro) decode of cached frames -> noop",
                lambda: to_noop(fastavro_udf_rows(udf_source, reader, good)), 1, udf_n)
        cached.unpersist(blocking=True)

        # The connector opens its Cassandra session on the first write: not a batch's cost.
        warm = table_rows(decoded_rows(source.limit(1000), reader, good), reader.field_names,
                          target)
        write_table(warm, target.keyspace, target.table)
        sink = TimedSink(CassandraSink(target))
        processor = BatchProcessor(schemas=schemas, target=target, sink=sink)
        reports: list[Any] = []
        sink_cpu: list[float] = []

        def one_batch() -> None:
            with CpuMeter(settings, ("kafka", "cassandra")) as meter:
                reports.append(processor.process(source, len(reports)))
            sink_cpu.append(meter.seconds)

        measure("stream.sink", "streaming micro-batch: BatchProcessor -> Cassandra (connector)",
                one_batch, config.sink_repeats)
        result.add(cpu_figure("stream.sink_cpu", "CPU per record: a micro-batch (Spark + "
                              "broker + Cassandra)", sink_cpu, n, ("kafka", "cassandra")))
        batch_s = sum(r.duration_ms for r in reports) / 1000 / len(reports)
        write_s = sink.seconds / len(reports)
        result.add(Figure("stream.sink_batch_seconds", "  one micro-batch of that size",
                          batch_s, "s", "BatchProcessor's own duration_ms, mean of the runs"))
        result.add(Figure("stream.sink_write_seconds", "  of which: the write pass",
                          write_s, "s", "one Spark job reading, decoding, checking and "
                          "writing the batch; the rest is registry look-ups and planning"))
        written = {r.rows_written for r in reports}
        if written != {n}:
            raise RuntimeError(f"the sink wrote {written} rows per batch, expected {n}")

        rows = table_rows(decoded_rows(source, reader, good), reader.field_names, target)
        rows.persist()
        rows.count()  # the tunings below time the connector's writes alone
        # One untimed write first, then every tuning twice, in order and in reverse order,
        # the best of each counting: the first write of a plan pays its code generation,
        # and Cassandra's flushes and compactions follow the writes before. Measured once
        # each in a fixed order, the first tuning lost in every run whatever it was.
        write_table(rows, target.keyspace, target.table)
        best_rate: dict[int, float] = {}
        order = [*range(len(CONNECTOR_TUNINGS)), *reversed(range(len(CONNECTOR_TUNINGS)))]
        for index in order:
            with connector_settings(spark, CONNECTOR_TUNINGS[index]):
                seconds = timed_runs(
                    lambda: write_table(rows, target.keyspace, target.table), 1)[0]
            best_rate[index] = max(best_rate.get(index, 0.0), rate(n, seconds))
        tried = [(CONNECTOR_TUNINGS[i], best_rate[i]) for i in range(len(CONNECTOR_TUNINGS))]
        for settings_tried, rows_per_s in tried:
            result.tunings.append({"connector settings (spark.cassandra.output.*)":
                                   describe_settings(settings_tried),
                                   "write rows/s": round(rows_per_s)})
            log.info("connector %s: %.0f rows/s", describe_settings(settings_tried), rows_per_s)
        rows.unpersist()
        default_rate = tried[0][1]
        result.add(Figure("stream.write", "connector write of decoded rows (the job's settings)",
                          default_rate, "rows/s", f"{n:,} rows, cached, no checks, best of 2"))
        chosen, chosen_rate = max(tried, key=lambda t: t[1])
        if chosen:
            with connector_settings(spark, chosen):
                measure("stream.sink_tuned", "micro-batch with the best connector settings ("
                        + describe_settings(chosen) + ")", one_batch, 1)
        result.notes.append(
            "Spark " + spark.version + f", master {settings.spark_master}, "
            f"{contract.partitions} Kafka partitions"
        )
    return result
