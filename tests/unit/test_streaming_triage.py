"""One pass per batch: every record's fate, and the metrics the write itself collects."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import fastavro
import pytest
from pyspark.sql import DataFrame, SparkSession

from contract.wire import frame
from streaming.frames import parse_frames
from streaming.registry import StaticSchemas
from streaming.report import lag_from
from streaming.triage import STAGE, BatchMetrics, stage_counts, triage
from tests.unit.test_streaming_row_rules import KAFKA_SCHEMA, SCHEMA, TARGET

GOOD_ID = str(uuid.UUID(int=7))
TS = datetime(2024, 6, 1, tzinfo=UTC)


def encoded(record: dict[str, Any], schema_id: int = 1) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(SCHEMA), record)
    return frame(schema_id, out.getvalue())


def kafka_batch(spark: SparkSession, values: list[bytes]) -> DataFrame:
    rows = [(None, v, None, "things", 0, i, TS + timedelta(seconds=i))
            for i, v in enumerate(values)]
    return spark.createDataFrame(rows, KAFKA_SCHEMA)


VALUES = [
    encoded({"id": GOOD_ID, "name": "ok", "tags": ["a"]}),
    encoded({"id": str(uuid.UUID(int=8)), "name": "ok too", "tags": []}),
    b"\x7fjunk",  # frame
    encoded({"id": GOOD_ID, "name": "unknown id", "tags": []}, schema_id=99),  # decode
    frame(1, b"\x02"),  # decode: truncated Avro
    encoded({"id": "not-a-uuid", "name": "bad uuid", "tags": []}),  # sink
]


def triaged(spark: SparkSession, values: list[bytes] = VALUES) -> Any:
    schemas = StaticSchemas({1: SCHEMA}, SCHEMA, reader_id=1)
    return triage(parse_frames(kafka_batch(spark, values)), schemas.reader(),
                  {1: schemas.writer(1)}, TARGET)


def test_every_record_gets_one_stage_and_a_reason(spark: SparkSession) -> None:
    rows = triaged(spark).outcome.select(STAGE, "__error", "__error_class", "name").collect()
    assert [(r[STAGE], r["__error_class"]) for r in rows] == [
        (None, None),
        (None, None),
        ("frame", "unknown_magic_byte"),
        ("decode", "unknown_schema_id"),
        ("decode", "undecodable_payload"),
        ("sink", "invalid_uuid"),
    ]
    assert rows[3]["__error"] == "unknown schema id 99"
    assert rows[5]["__error"] == "column id is not a uuid: 'not-a-uuid'"


def test_the_write_collects_the_batch_metrics(spark: SparkSession) -> None:
    rows, observation = triaged(spark).observed_rows()
    written = rows.collect()  # the sink's action
    metrics = BatchMetrics.from_observation(observation)

    assert sorted(r["name"] for r in written) == ["ok", "ok too"]
    assert list(rows.columns) == list(TARGET.columns)
    assert (metrics.rows, metrics.written, metrics.not_written) == (6, 2, 4)
    assert metrics.schema_ids == [1, 99]
    assert metrics.oldest_ms == int(TS.timestamp() * 1000)
    lag = lag_from(metrics, int(TS.timestamp() * 1000) + 10_000)
    assert lag.max_ms == 10_000 and lag.p95_ms == 10_000 and lag.p50_ms in (7_000, 8_000)


def test_dead_letters_are_the_rows_not_written(spark: SparkSession) -> None:
    letters = triaged(spark).dead_letters().collect()
    assert sorted((r["offset"], r["stage"], r["schema_id"]) for r in letters) == [
        (2, "frame", None), (3, "decode", 99), (4, "decode", 1), (5, "sink", 1),
    ]
    assert {bytes(r["value"]) for r in letters} == set(VALUES[2:])
    kept, observation = triaged(spark).observed_dead_letters()
    assert sorted(r["offset"] for r in kept.collect()) == [2, 3, 4, 5]
    assert stage_counts(observation.get) == {"frame": 1, "decode": 2, "sink": 1}


def test_an_empty_batch_has_empty_metrics(spark: SparkSession) -> None:
    rows, observation = triaged(spark, []).observed_rows()
    assert rows.collect() == []
    metrics = BatchMetrics.from_observation(observation)
    assert (metrics.rows, metrics.written, metrics.schema_ids) == (0, 0, [])
    assert lag_from(metrics, 1).max_ms is None


def test_a_reader_field_named_like_a_bookkeeping_column_is_refused(spark: SparkSession) -> None:
    schema = {**SCHEMA, "fields": [*SCHEMA["fields"], {"name": STAGE, "type": "int"}]}
    schemas = StaticSchemas({1: schema}, schema)
    target = TARGET.with_columns({**TARGET.columns, STAGE: "int"})
    with pytest.raises(ValueError, match="reserved"):
        triage(parse_frames(kafka_batch(spark, [])), schemas.reader(), {}, target)
