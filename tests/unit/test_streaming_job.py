"""One micro-batch end to end on local Spark, with a fake sink in place of Cassandra."""

from __future__ import annotations

import io
import json
import logging
import threading
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from pyspark.sql import DataFrame, SparkSession

from config.settings import load_settings
from contract.catalog import load_contract
from streaming.__main__ import build_parser, parse_since
from streaming.checkpoint import checkpoint_location, query_name
from streaming.job import (
    BatchProcessor,
    ProgressLogger,
    QueryFailed,
    Trigger,
    await_queries,
    kafka_source_options,
    start_query,
    trigger_options,
)
from streaming.logs import LOGGER_NAME
from streaming.registry import ReaderSchema, RegistryUnavailable, StaticSchemas, WriterSchema
from streaming.report import BatchReport, LagStats
from streaming.table_target import TableTarget
from tests.support import wait_until

if TYPE_CHECKING:
    from tests.unit.conftest import FakeSink, UserValue

CONTRACT = load_contract()
SCHEMA: dict[str, Any] = json.loads(CONTRACT.schema_str)
TARGET = TableTarget.from_contract(CONTRACT)
TS = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
KAFKA_SCHEMA = (
    "key binary, value binary, headers array<struct<key:string,value:binary>>, "
    "topic string, partition int, offset long, timestamp timestamp"
)


def batch(spark: SparkSession, values: list[bytes], lags_ms: list[int]) -> DataFrame:
    now = TS + timedelta(seconds=10)
    rows = [
        (None, v, None, CONTRACT.topic, 0, i, now - timedelta(milliseconds=lag))
        for i, (v, lag) in enumerate(zip(values, lags_ms, strict=True))
    ]
    return spark.createDataFrame(rows, KAFKA_SCHEMA)


def processor(sink: FakeSink) -> BatchProcessor:
    ticks = iter([100.0, 100.25])
    return BatchProcessor(
        schemas=StaticSchemas({1: SCHEMA}, SCHEMA, reader_id=1, reader_version=3),
        target=TARGET,
        sink=sink,
        wall_clock=lambda: (TS + timedelta(seconds=10)).timestamp(),
        monotonic=lambda: next(ticks),
    )


def test_a_batch_writes_good_rows_dead_letters_the_rest_and_reports(
    spark: SparkSession, fake_sink: FakeSink, user_value: UserValue
) -> None:
    sink = fake_sink
    values = [user_value(1), user_value(2), b"\x7fjunk", user_value(3, schema_id=99999)]
    report = processor(sink).process(batch(spark, values, [100, 200, 300, 1000]), batch_id=4)

    assert sorted(r["username"] for r in sink.rows) == ["u1", "u2"]
    assert sink.row_columns == list(TARGET.columns)
    assert {r["writer_schema_id"] for r in sink.rows} == {1}
    assert sorted((r["offset"], r["stage"], r["error"]) for r in sink.dead_letters) == [
        (2, "frame", "unknown magic byte 0x7f"),
        (3, "decode", "unknown schema id 99999"),
    ]
    assert report.batch_id == 4
    assert (report.input_rows, report.rows_written, report.dead_lettered) == (4, 2, 2)
    assert report.dead_lettered_by_stage == {"frame": 1, "decode": 1}
    assert report.schema_ids == [1, 99999]
    assert (report.reader_version, report.reader_schema_id) == (3, 1)
    assert report.duration_ms == 250
    assert report.lag.max_ms == 1000
    assert report.lag.p50_ms in (200, 300)
    assert report.lag.p95_ms == 1000


def test_an_empty_batch_writes_nothing(spark: SparkSession, fake_sink: FakeSink) -> None:
    sink = fake_sink
    report = processor(sink).process(batch(spark, [], []), batch_id=0)
    assert (report.input_rows, report.rows_written, report.dead_lettered) == (0, 0, 0)
    assert sink.rows == [] and sink.dead_letters == []


def test_the_batch_report_is_one_flat_json_object() -> None:
    report = BatchReport(1, 10, 9, 1, {"decode": 1}, [5], 2, 5, 1234, LagStats(900, 300, 800))
    fields = report.as_log_fields()
    assert fields["lag_max_ms"] == 900 and fields["lag_p95_ms"] == 800
    assert json.loads(json.dumps(fields))["dead_lettered_by_stage"] == {"decode": 1}


def test_kafka_source_options() -> None:
    settings = load_settings({"STREAM_MAX_OFFSETS_PER_TRIGGER": "500"})
    options = kafka_source_options(settings, CONTRACT)
    assert options["subscribe"] == "users_created"
    assert options["startingOffsets"] == "earliest"
    assert options["maxOffsetsPerTrigger"] == "500"
    assert options["failOnDataLoss"] == "true"
    assert options["includeHeaders"] == "true"
    assert options["kafka.bootstrap.servers"] == settings.kafka_bootstrap_servers


def test_checkpoint_and_triggers() -> None:
    settings = load_settings({"SPARK_CHECKPOINT_DIR": "/tmp/ckpt", "STREAM_TRIGGER_SECONDS": "7"})
    assert query_name(CONTRACT) == "users_created_to_spark_streams_created_users"
    assert str(checkpoint_location(settings, CONTRACT)) == f"/tmp/ckpt/{query_name(CONTRACT)}"
    assert trigger_options(Trigger.PROCESSING_TIME, settings) == {"processingTime": "7 seconds"}
    assert trigger_options(Trigger.ONCE, settings) == {"once": True}
    assert trigger_options(Trigger.AVAILABLE_NOW, settings) == {"availableNow": True}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-06-01", datetime(2024, 6, 1, tzinfo=UTC)),
        ("2024-06-01T14:00:00+02:00", datetime(2024, 6, 1, 12, tzinfo=UTC)),
        ("90m", TS - timedelta(minutes=90)),
        ("2d", TS - timedelta(days=2)),
    ],
)
def test_parse_since(text: str, expected: datetime) -> None:
    assert parse_since(text, now=TS) == expected


def test_cli() -> None:
    parser = build_parser()
    assert parser.parse_args(["run", "--available-now"]).available_now
    args = parser.parse_args(["replay-dead-letters", "--stage", "decode", "--since", "1h"])
    assert args.stage == "decode" and args.since.tzinfo is not None
    assert args.error_class is None
    args = parser.parse_args(["replay-dead-letters", "--error-class", "invalid_uuid"])
    assert args.error_class == "invalid_uuid"
    with pytest.raises(SystemExit):
        parser.parse_args(["run", "--once", "--available-now"])
    with pytest.raises(SystemExit):
        parser.parse_args(["replay-dead-letters", "--since", "yesterday"])


def test_the_processor_runs_as_a_streaming_query(
    spark: SparkSession,
    tmp_path: Path,
    fake_sink: FakeSink,
    user_value: UserValue,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """foreachBatch + availableNow + the progress listener, on a file source instead of Kafka."""
    source = tmp_path / "records"
    batch(spark, [user_value(1), user_value(2), b"", user_value(3)], [0, 0, 0, 0]).write.parquet(
        str(source)
    )
    records = spark.readStream.schema(KAFKA_SCHEMA).parquet(str(source))
    settings = load_settings({"SPARK_CHECKPOINT_DIR": str(tmp_path / "checkpoints")})
    processor = BatchProcessor(
        schemas=StaticSchemas({1: SCHEMA}, SCHEMA), target=TARGET, sink=fake_sink
    )
    listener = ProgressLogger()
    spark.streams.addListener(listener)
    caplog.set_level(logging.INFO, logger=LOGGER_NAME)
    try:
        query = start_query(records, settings, CONTRACT, processor, Trigger.AVAILABLE_NOW)
        assert query.awaitTermination(120)
        # Listener events arrive asynchronously, on Spark's listener bus.
        wait_until(lambda: "query_terminated" in _events(caplog), timeout=30, message="events")
    finally:
        spark.streams.removeListener(listener)
    events = _events(caplog)
    assert {"query_started", "batch", "query_progress", "query_terminated"} <= set(events)
    progress = events["query_progress"]
    # Spark counts the rows each action of the batch read (here the write and the
    # dead-letter pass); the job's own batch line has the exact count.
    assert progress["name"] == query_name(CONTRACT) and progress["input_rows"] >= 4
    assert events["batch"]["input_rows"] == 4
    assert query.exception() is None
    assert sorted(r["username"] for r in fake_sink.rows) == ["u1", "u2", "u3"]
    assert [r["error"] for r in fake_sink.dead_letters] == ["empty value"]
    assert sum(r.input_rows for r in processor.reports) == 4
    assert (tmp_path / "checkpoints" / query_name(CONTRACT) / "commits").is_dir()


def _events(caplog: pytest.LogCaptureFixture) -> dict[str, dict[str, Any]]:
    """The job's JSON log lines by event name (the last of each)."""
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == LOGGER_NAME]
    return {line["event"]: line for line in lines}


class RegistryDown:
    """A SchemaLookup whose registry is unreachable (after the reader was cached)."""

    def __init__(self) -> None:
        self._reader = StaticSchemas({1: SCHEMA}, SCHEMA).reader()

    def reader(self) -> ReaderSchema:
        return self._reader

    def writer(self, schema_id: int) -> WriterSchema | None:
        raise RegistryUnavailable(f"schema registry: cannot fetch schema id {schema_id}: down")


def test_a_registry_outage_fails_the_batch_and_dead_letters_nothing(
    spark: SparkSession, fake_sink: FakeSink, user_value: UserValue
) -> None:
    processor = BatchProcessor(schemas=RegistryDown(), target=TARGET, sink=fake_sink)
    with pytest.raises(RegistryUnavailable, match=r"schema id \d+"):
        processor.process(batch(spark, [user_value(1), b"\x7f"], [0, 0]), batch_id=9)
    assert fake_sink.rows == [] and fake_sink.dead_letters == []


def test_a_stop_request_stops_a_running_query(
    spark: SparkSession, tmp_path: Path, fake_sink: FakeSink
) -> None:
    source = tmp_path / "records"
    source.mkdir()
    records = spark.readStream.schema(KAFKA_SCHEMA).parquet(str(source))
    settings = load_settings({"SPARK_CHECKPOINT_DIR": str(tmp_path / "checkpoints")})
    processor = BatchProcessor(
        schemas=StaticSchemas({1: SCHEMA}, SCHEMA), target=TARGET, sink=fake_sink
    )
    query = start_query(records, settings, CONTRACT, processor, Trigger.PROCESSING_TIME)
    stop = threading.Event()
    stop.set()  # as the SIGTERM handler of `python -m streaming run` does
    await_queries([(CONTRACT, query)], stop)
    assert not query.isActive


def test_a_failing_query_stops_the_others_of_the_job(
    spark: SparkSession, tmp_path: Path, fake_sink: FakeSink
) -> None:
    # One Spark application, one query per contract: the first failure ends the job.
    quiet, failing = tmp_path / "quiet", tmp_path / "failing"
    quiet.mkdir()
    batch(spark, [b"x"], [0]).write.parquet(str(failing))
    settings = load_settings({"SPARK_CHECKPOINT_DIR": str(tmp_path / "checkpoints")})
    processor = BatchProcessor(
        schemas=StaticSchemas({1: SCHEMA}, SCHEMA), target=TARGET, sink=fake_sink
    )

    def fail(batch: Any, batch_id: int) -> None:
        raise RuntimeError("this batch fails")

    other = replace(CONTRACT, topic="other_topic")
    running = start_query(spark.readStream.schema(KAFKA_SCHEMA).parquet(str(quiet)), settings,
                          CONTRACT, processor, Trigger.PROCESSING_TIME)
    broken = start_query(spark.readStream.schema(KAFKA_SCHEMA).parquet(str(failing)), settings,
                         other, fail, Trigger.PROCESSING_TIME)  # type: ignore[arg-type]
    with pytest.raises(QueryFailed, match="other_topic") as caught:
        await_queries([(CONTRACT, running), (other, broken)], threading.Event())
    assert caught.value.contract == other and "this batch fails" in str(caught.value.cause)
    assert not running.isActive and not broken.isActive


class Evolving:
    """A registry where version 2 (id 2, one more field) is registered while the job runs."""

    def __init__(self) -> None:
        v2 = {**SCHEMA, "fields": [*SCHEMA["fields"],
                                   {"name": "nickname", "type": ["null", "string"],
                                    "default": None}]}
        self.v2_schema = v2
        self.registered = False
        self._v1 = ReaderSchema(CONTRACT.subject, 1, 1, json.dumps(SCHEMA))
        self._v2 = ReaderSchema(CONTRACT.subject, 2, 2, json.dumps(v2))
        self.current = self._v1
        self.writer_calls: list[int] = []

    def reader(self) -> ReaderSchema:
        return self.current

    def refresh_reader(self) -> ReaderSchema:
        self.current = self._v2 if self.registered else self._v1
        return self.current

    def writer(self, schema_id: int) -> WriterSchema | None:
        self.writer_calls.append(schema_id)
        if schema_id == 1:
            return WriterSchema(1, self._v1.schema_str, 1)
        if schema_id == 2 and self.registered:
            return WriterSchema(2, self._v2.schema_str, 2)
        return None


def test_a_writer_registered_while_running_gets_its_own_pass_and_keeps_its_field(
    spark: SparkSession, fake_sink: FakeSink, user_value: UserValue
) -> None:
    import fastavro

    from contract.wire import frame

    registry = Evolving()
    columns = {**TARGET.columns, "nickname": "text"}
    job = BatchProcessor(schemas=registry, target=TARGET, sink=fake_sink,
                         live_columns=lambda: columns)
    first = job.process(batch(spark, [user_value(1), user_value(2)], [0, 0]), batch_id=0)
    assert (first.rows_written, first.reader_version) == (2, 1)

    registry.registered = True
    out = io.BytesIO()
    record = {"id": str(uuid.UUID(int=3)), "first_name": "A", "last_name": "B", "gender": None,
              "address": None, "post_code": None, "email": None, "username": "u3",
              "dob": None, "registered_date": None, "phone": None, "picture": None,
              "nickname": "Tri"}
    fastavro.schemaless_writer(out, fastavro.parse_schema(registry.v2_schema), record)
    values = [user_value(4), frame(2, out.getvalue()), user_value(5, schema_id=77)]
    report = job.process(batch(spark, values, [0, 0, 0]), batch_id=1)

    assert (report.input_rows, report.rows_written, report.dead_lettered) == (3, 2, 1)
    assert report.dead_lettered_by_stage == {"decode": 1}
    assert report.schema_ids == [1, 2, 77] and report.reader_version == 2
    rows = {r["username"]: r for r in fake_sink.rows}
    assert rows["u3"]["nickname"] == "Tri" and rows["u3"]["writer_schema_version"] == 2
    assert rows["u4"]["writer_schema_version"] == 1
    assert [(r["offset"], r["error"]) for r in fake_sink.dead_letters] == [
        (2, "unknown schema id 77")
    ]
    # Each id is looked up once: 1 before the first batch, 2 and 77 when they appear.
    assert sorted(set(registry.writer_calls)) == [1, 2, 77]
    # The sink was asked to be ready for each table shape before writing it.
    assert fake_sink.ensured == [list(columns), list(columns)]  # at versions 1 and 2


def _framed(schema: dict[str, Any], schema_id: int, n: int | str, username: str,
            **extra: Any) -> bytes:
    import fastavro

    from contract.wire import frame

    record = {"id": n if isinstance(n, str) else str(uuid.UUID(int=n)),
              "first_name": "A", "last_name": "B",
              "gender": None, "address": None, "post_code": None, "email": None,
              "username": username, "dob": None, "registered_date": None, "phone": None,
              "picture": None, **extra}
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(schema), record)
    return frame(schema_id, out.getvalue())


def _stored(sink: FakeSink) -> dict[str, dict[str, Any]]:
    """What the table holds after the sink's writes, in their order (upserts by id)."""
    return {str(r["id"]): r for r in sink.rows}


def test_a_new_field_is_kept_when_the_registry_cannot_tell_the_writer_version(
    spark: SparkSession, fake_sink: FakeSink, user_value: UserValue
) -> None:
    """v2 is registered after the job read v1 as its reader, and the registry answers 4xx
    for the id's versions (version None): the reader must still be refreshed."""

    class NoVersions(Evolving):
        def writer(self, schema_id: int) -> WriterSchema | None:
            found = super().writer(schema_id)
            return None if found is None else WriterSchema(found.schema_id, found.schema_str,
                                                           None)

    registry = NoVersions()
    columns = {**TARGET.columns, "nickname": "text"}
    job = BatchProcessor(schemas=registry, target=TARGET, sink=fake_sink,
                         live_columns=lambda: columns)
    job.process(batch(spark, [user_value(1)], [0]), batch_id=0)
    registry.registered = True
    v2 = _framed(registry.v2_schema, 2, 3, "u3", nickname="Tri")
    report = job.process(batch(spark, [v2], [0]), batch_id=1)
    assert report.reader_version == 2
    assert _stored(fake_sink)[str(uuid.UUID(int=3))]["nickname"] == "Tri"


def test_a_key_keeps_its_latest_record_when_a_new_writer_id_comes_first(
    spark: SparkSession, fake_sink: FakeSink
) -> None:
    """Offset 0: user 7 with the new schema (an id new to the job); offset 1: user 7 again
    with the old one. The second pass must not write offset 0 after offset 1."""
    registry = Evolving()
    registry.registered = True
    job = BatchProcessor(schemas=registry, target=TARGET, sink=fake_sink,
                         live_columns=lambda: {**TARGET.columns, "nickname": "text"})
    values = [_framed(registry.v2_schema, 2, 7, "older", nickname="N"),
              _framed(SCHEMA, 1, 7, "newer"),
              _framed(registry.v2_schema, 2, 8, "other", nickname="M")]
    report = job.process(batch(spark, values, [0, 0, 0]), batch_id=0)
    stored = _stored(fake_sink)
    assert stored[str(uuid.UUID(int=7))]["username"] == "newer"
    assert (stored[str(uuid.UUID(int=8))]["username"],
            stored[str(uuid.UUID(int=8))]["nickname"]) == ("other", "M")
    assert (report.input_rows, report.rows_written, report.dead_lettered) == (3, 3, 0)


def test_the_highest_offset_of_a_key_in_a_batch_is_the_one_written(
    spark: SparkSession, fake_sink: FakeSink
) -> None:
    """Rows of one key in one write would go out in one unlogged batch, with no order
    between them: only the key's last record of the batch is written."""
    values = [_framed(SCHEMA, 1, 7, f"v{i}") for i in range(3)]
    values.insert(1, _framed(SCHEMA, 1, 8, "only"))
    values.append(b"\x7fjunk")  # offset 4: not a user, a dead letter
    report = processor(fake_sink).process(batch(spark, values, [0] * 5), batch_id=0)
    user7 = [r for r in fake_sink.rows if r["id"] == str(uuid.UUID(int=7))]
    assert [r["username"] for r in user7] == ["v2"]  # offset 3, the last of user 7
    assert _stored(fake_sink)[str(uuid.UUID(int=8))]["username"] == "only"
    # Every record is accounted for: applied (written or superseded) or dead-lettered.
    assert (report.input_rows, report.rows_written, report.dead_lettered) == (5, 4, 1)


def test_one_uuid_spelt_in_two_cases_is_one_key(spark: SparkSession, fake_sink: FakeSink) -> None:
    """Cassandra stores a uuid, not its text: both spellings are one row, the later wins."""
    user = str(uuid.UUID(int=0xABCDEF))
    values = [_framed(SCHEMA, 1, user.upper(), "first"), _framed(SCHEMA, 1, user, "second")]
    processor(fake_sink).process(batch(spark, values, [0, 0]), batch_id=0)
    assert [(r["id"].lower(), r["username"]) for r in fake_sink.rows] == [(user, "second")]
