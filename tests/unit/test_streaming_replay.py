"""Replaying dead letters once the cause is gone (here: the schema id got registered)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from contract.catalog import load_contract
from streaming.registry import StaticSchemas
from streaming.replay import replay, select_dead_letters
from streaming.table_target import TableTarget

if TYPE_CHECKING:
    from tests.unit.conftest import FakeSink, TriageBatch, UserValue

CONTRACT = load_contract()
SCHEMA: dict[str, Any] = json.loads(CONTRACT.schema_str)
KAFKA_SCHEMA = (
    "key binary, value binary, headers array<struct<key:string,value:binary>>, "
    "topic string, partition int, offset long, timestamp timestamp"
)
TARGET = TableTarget.from_contract(CONTRACT)
LATE_ID = 42
TS = datetime(2024, 6, 1, tzinfo=UTC)


def dead_letters(
    spark: SparkSession, user_value: UserValue, triage_batch: TriageBatch
) -> DataFrame:
    """What the stream dead-lettered while schema id 42 was unknown, plus one random value."""
    values = [user_value(1, LATE_ID), user_value(2, LATE_ID), b"\x7f-not-a-frame"]
    rows = [
        (b"k", v, [{"key": "h", "value": b"v"}], CONTRACT.topic, 1, 10 + i, TS)
        for i, v in enumerate(values)
    ]
    kafka = spark.createDataFrame(rows, KAFKA_SCHEMA)
    letters = triage_batch(kafka, StaticSchemas({}, SCHEMA), TARGET).dead_letters()
    return letters.localCheckpoint()  # fix dead_lettered_at, as a table read would


def test_replay_writes_what_now_decodes_and_keeps_the_rest(
    spark: SparkSession, fake_sink: FakeSink, user_value: UserValue, triage_batch: TriageBatch
) -> None:
    letters = dead_letters(spark, user_value, triage_batch)
    assert sorted(r["error"] for r in letters.collect()) == [
        "unknown magic byte 0x7f",
        f"unknown schema id {LATE_ID}",
        f"unknown schema id {LATE_ID}",
    ]
    sink = fake_sink
    report = replay(letters, StaticSchemas({LATE_ID: SCHEMA}, SCHEMA), TARGET, sink)

    assert (report.selected, report.replayed, report.still_failing) == (3, 2, 1)
    assert sorted(r["username"] for r in sink.rows) == ["u1", "u2"]
    assert {r["writer_schema_id"] for r in sink.rows} == {LATE_ID}
    marked = [u for u in sink.updates if "replayed_at" in u]
    assert sorted((u["offset"], u["replayed_at"] is not None) for u in marked) == [
        (10, True),
        (11, True),
    ]
    failed = [u for u in sink.updates if "error" in u]
    assert [(u["offset"], u["stage"], u["error"]) for u in failed] == [
        (12, "frame", "unknown magic byte 0x7f")
    ]
    # Each update names its dead letter by the whole key, the record's Kafka time included.
    assert {u["kafka_timestamp"] for u in [*marked, *failed]} == {TS.replace(tzinfo=None)}
    assert "value" not in failed[0] and "dead_lettered_at" not in failed[0]  # kept as they were


def test_select_dead_letters(
    spark: SparkSession, user_value: UserValue, triage_batch: TriageBatch
) -> None:
    letters = dead_letters(spark, user_value, triage_batch).withColumn(
        "replayed_at", F.when(F.col("offset") == 11, F.current_timestamp())
    )
    assert select_dead_letters(letters, topic=CONTRACT.topic).count() == 2
    assert select_dead_letters(letters, topic="other").count() == 0
    assert select_dead_letters(letters, topic=CONTRACT.topic, stage="frame").count() == 1
    future = datetime.now(UTC) + timedelta(hours=1)
    assert select_dead_letters(letters, topic=CONTRACT.topic, since=future).count() == 0
    by_class = select_dead_letters(letters, topic=CONTRACT.topic, error_class="unknown_magic_byte")
    assert [r["offset"] for r in by_class.collect()] == [12]
    assert select_dead_letters(letters, topic=CONTRACT.topic, stage="decode",
                               error_class="unknown_magic_byte").count() == 0
    with pytest.raises(ValueError, match="unknown stage"):
        select_dead_letters(letters, topic=CONTRACT.topic, stage="sinks")


def test_replaying_nothing(
    spark: SparkSession, fake_sink: FakeSink, user_value: UserValue, triage_batch: TriageBatch
) -> None:
    empty = dead_letters(spark, user_value, triage_batch).limit(0)
    sink = fake_sink
    assert replay(empty, StaticSchemas({}, SCHEMA), TARGET, sink).selected == 0
    assert sink.rows == [] and sink.updates == []


def test_replay_writes_into_the_live_table_when_the_registry_is_ahead_of_the_checkout(
    spark: SparkSession, fake_sink: FakeSink, monkeypatch: pytest.MonkeyPatch,
    user_value: UserValue, triage_batch: TriageBatch,
) -> None:
    """The registry's latest has a field this checkout's contract lacks, and `make schemas`
    (run elsewhere) added its column: replay writes it, as the stream does."""
    from contextlib import nullcontext

    import streaming.replay as replay_module
    from config.settings import load_settings

    v2 = {**SCHEMA, "fields": [*SCHEMA["fields"],
                               {"name": "nickname", "type": ["null", "string"], "default": None}]}
    live = {**TARGET.columns, "nickname": "text"}
    letters = dead_letters(spark, user_value, triage_batch)
    monkeypatch.setattr(replay_module, "check_tables", lambda settings, target: None)
    monkeypatch.setattr(replay_module, "schema_registry_client", lambda settings: None)
    monkeypatch.setattr(replay_module, "RegistrySchemas",
                        lambda client, subject: StaticSchemas({LATE_ID: SCHEMA}, v2))
    monkeypatch.setattr(replay_module, "build_spark_session", lambda settings, name: spark)
    monkeypatch.setattr(replay_module, "read_table", lambda spark, keyspace, table: letters)
    monkeypatch.setattr(replay_module, "CassandraSink", lambda target: fake_sink)
    monkeypatch.setattr(replay_module, "cassandra_session", lambda settings: nullcontext(),
                        raising=False)
    monkeypatch.setattr(replay_module, "live_columns",
                        lambda session, keyspace, table: live, raising=False)
    monkeypatch.setattr(replay_module, "outdated_key", lambda session, keyspace: None,
                        raising=False)

    report = replay_module.run_replay(load_settings(), CONTRACT, stage=None, since=None)

    assert (report.replayed, report.still_failing) == (2, 1)
    assert "nickname" in fake_sink.row_columns


def test_a_dead_letter_table_with_the_old_key_is_named_with_its_migration() -> None:
    from types import SimpleNamespace

    from streaming.dead_letters import outdated_key

    def session(*clustering: str) -> Any:
        rows = [SimpleNamespace(column_name=c, kind="partition_key", position=i)
                for i, c in enumerate(("topic", "partition"))]
        rows += [SimpleNamespace(column_name=c, kind="clustering", position=i)
                 for i, c in reversed(list(enumerate(clustering)))]
        rows.append(SimpleNamespace(column_name="error", kind="regular", position=-1))
        return SimpleNamespace(execute=lambda query, args: rows)

    assert outdated_key(session("offset", "kafka_timestamp"), "ks") is None
    problem = outdated_key(session("offset"), "ks")
    assert problem is not None
    assert "ks.dead_letters has primary key ((topic, partition), offset)" in problem
    assert "docs/schema-evolution.md" in problem
    assert outdated_key(SimpleNamespace(execute=lambda query, args: []), "ks") is None
