"""Each service of the native stack, proven with real requests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import NewTopic
from confluent_kafka.schema_registry import Schema
from confluent_kafka.schema_registry.error import SchemaRegistryError

from config.clients import cassandra_session, kafka_admin, schema_registry_client
from config.settings import PROJECT_ROOT, Settings
from stack import launcher, process
from stack.paths import StackPaths
from stack.services import Context, by_name
from stack.spark import spark_env
from tests.support import AIRFLOW, airflow_test_env, unique_name, wait_for_topics, wait_until

pytestmark = pytest.mark.integration


def _create_topic(settings: Settings, topic: str, partitions: int = 1) -> None:
    admin = kafka_admin(settings)  # keep the client alive until its futures resolve
    admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(timeout=30)
    wait_for_topics(admin, [topic])


def _delete_topic(settings: Settings, topic: str) -> None:
    admin = kafka_admin(settings)
    admin.delete_topics([topic])[topic].result(timeout=30)


def _record_schema(name: str, *fields: dict) -> Schema:
    return Schema(
        json.dumps({"type": "record", "name": name, "fields": list(fields)}), "AVRO"
    )


def test_kafka_produce_and_consume(stack: Settings) -> None:
    topic = unique_name("it_kafka")
    _create_topic(stack, topic)
    try:
        delivered: list[str] = []
        producer = Producer({**stack.kafka_client_config(), "enable.idempotence": True})
        producer.produce(topic, key=b"k1", value=b"hello",
                         on_delivery=lambda err, msg: delivered.append(str(err or "ok")))
        assert producer.flush(30) == 0
        assert delivered == ["ok"]

        consumer = Consumer({**stack.kafka_client_config(), "group.id": unique_name("g"),
                             "auto.offset.reset": "earliest"})
        try:
            consumer.subscribe([topic])
            msg = wait_until(lambda: consumer.poll(1.0), timeout=60, message="a message")
            assert msg.error() is None
            assert (msg.key(), msg.value()) == (b"k1", b"hello")
        finally:
            consumer.close()
    finally:
        _delete_topic(stack, topic)


def test_registry_registers_fetches_and_refuses_incompatible(stack: Settings) -> None:
    client = schema_registry_client(stack)
    subject = f"{unique_name('it_registry')}-value"
    v1 = _record_schema("User", {"name": "id", "type": "string"})
    try:
        schema_id = client.register_schema(subject, v1)
        assert json.loads(client.get_schema(schema_id).schema_str) == json.loads(v1.schema_str)
        assert client.register_schema(subject, v1) == schema_id  # idempotent

        # The global default is BACKWARD: a new field without a default is refused.
        assert client.get_compatibility() == "BACKWARD"
        breaking = _record_schema(
            "User", {"name": "id", "type": "string"}, {"name": "age", "type": "int"}
        )
        assert client.test_compatibility(subject, breaking) is False
        with pytest.raises(SchemaRegistryError) as refused:
            client.register_schema(subject, breaking)
        assert refused.value.http_status_code == 409
        assert client.get_versions(subject) == [1]

        compatible = _record_schema(
            "User", {"name": "id", "type": "string"},
            {"name": "age", "type": ["null", "int"], "default": None},
        )
        client.register_schema(subject, compatible)
        assert client.get_versions(subject) == [1, 2]
    finally:
        client.delete_subject(subject, permanent=False)


def test_cassandra_keyspace_table_row(stack: Settings) -> None:
    keyspace = unique_name("it_cassandra")
    with cassandra_session(stack) as session:
        session.execute(
            f"CREATE KEYSPACE {keyspace} WITH replication = "
            "{'class': 'SimpleStrategy', 'replication_factor': 1}"
        )
        try:
            session.execute(f"CREATE TABLE {keyspace}.t (id uuid PRIMARY KEY, name text)")
            session.execute(
                f"INSERT INTO {keyspace}.t (id, name) VALUES "
                "(6f1c2c5e-3a7e-4e0f-9d4e-6f2b1c0a9e11, 'ada')"
            )
            rows = list(session.execute(f"SELECT id, name FROM {keyspace}.t"))
            assert [(str(r.id), r.name) for r in rows] == [
                ("6f1c2c5e-3a7e-4e0f-9d4e-6f2b1c0a9e11", "ada")
            ]
        finally:
            session.execute(f"DROP KEYSPACE {keyspace}")


def test_spark_reads_kafka_and_writes_cassandra(stack: Settings, tmp_path: Path) -> None:
    """A small Spark job: Kafka source -> Cassandra connector, with local jars only."""
    topic = unique_name("it_spark")
    keyspace = unique_name("it_spark")
    _create_topic(stack, topic, partitions=2)
    producer = Producer(stack.kafka_client_config())
    for i in range(20):
        producer.produce(topic, key=f"k{i}".encode(), value=f"v{i}".encode())
    assert producer.flush(30) == 0
    with cassandra_session(stack) as session:
        session.execute(
            f"CREATE KEYSPACE {keyspace} WITH replication = "
            "{'class': 'SimpleStrategy', 'replication_factor': 1}"
        )
        session.execute(f"CREATE TABLE {keyspace}.kv (k text PRIMARY KEY, v text, p int)")
    job = textwrap.dedent(
        f"""
        from config.settings import load_settings
        from streaming.session import build_spark_session
        from pyspark.sql import functions as F
        settings = load_settings()
        spark = build_spark_session(settings, "it-spark-kafka-cassandra", master="local[2]")
        df = (spark.read.format("kafka").options(**settings.spark_kafka_options())
              .option("subscribe", "{topic}").option("startingOffsets", "earliest").load())
        out = df.select(F.col("key").cast("string").alias("k"),
                        F.col("value").cast("string").alias("v"),
                        F.col("partition").alias("p"))
        (out.write.format("org.apache.spark.sql.cassandra")
            .options(keyspace="{keyspace}", table="kv").mode("append").save())
        spark.stop()
        """
    )
    script = tmp_path / "job.py"
    script.write_text(job)
    try:
        result = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, timeout=600,
            cwd=PROJECT_ROOT,
            env={**os.environ, **spark_env(StackPaths.from_settings(stack)),
                 "PYTHONPATH": str(PROJECT_ROOT)},
        )
        assert result.returncode == 0, result.stderr[-4000:]
        with cassandra_session(stack) as session:
            rows = {r.k: r.v for r in session.execute(f"SELECT k, v FROM {keyspace}.kv")}
        assert rows == {f"k{i}": f"v{i}" for i in range(20)}
    finally:
        with cassandra_session(stack) as session:
            session.execute(f"DROP KEYSPACE {keyspace}")
        _delete_topic(stack, topic)


def test_airflow_is_healthy_and_runs_a_trivial_dag(stack: Settings, tmp_path: Path) -> None:
    import requests

    health = requests.get(f"{stack.airflow_url}/api/v2/monitor/health", timeout=10).json()
    assert health["metadatabase"]["status"] == "healthy"
    assert health["scheduler"]["status"] == "healthy"

    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "trivial.py").write_text(textwrap.dedent(
        """
        import pendulum
        from airflow.sdk import dag, task

        @dag(dag_id="trivial", schedule=None, start_date=pendulum.datetime(2025, 1, 1),
             catchup=False)
        def trivial():
            @task
            def one():
                return 1

            @task
            def double(x):
                assert x == 1
                return 2 * x

            double(one())

        trivial()
        """
    ))
    env = airflow_test_env(tmp_path / "airflow", dags)
    run = subprocess.run([AIRFLOW, "dags", "test", "trivial"], env=env, capture_output=True,
                         text=True, timeout=600)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-3000:]
    assert "state=success" in output or "success" in output.lower()


def test_restart_keeps_registry_schemas_and_cassandra_rows(
    stack: Settings, stack_context: Context
) -> None:
    """`make down` then `make up`: a registered schema and a Cassandra row survive."""
    client = schema_registry_client(stack)
    subject = f"{unique_name('it_restart')}-value"
    schema_id = client.register_schema(subject, _record_schema("R", {"name": "x", "type": "long"}))
    keyspace = unique_name("it_restart")
    with cassandra_session(stack) as session:
        session.execute(
            f"CREATE KEYSPACE {keyspace} WITH replication = "
            "{'class': 'SimpleStrategy', 'replication_factor': 1}"
        )
        session.execute(f"CREATE TABLE {keyspace}.t (k int PRIMARY KEY, v text)")
        session.execute(f"INSERT INTO {keyspace}.t (k, v) VALUES (1, 'kept')")

    services = [by_name("registry"), by_name("cassandra")]
    groups = [process.running(stack_context.paths.pidfile(s.name)) for s in services]
    launcher.down(stack_context, services)
    for record in groups:
        assert record is not None
        assert process.group_members(record.pid) == [], "a child of the stack survived down"
    launcher.up(stack_context, services)

    client = schema_registry_client(stack)  # a fresh client: no cached answers
    try:
        assert json.loads(client.get_schema(schema_id).schema_str)["name"] == "R"
        assert client.get_versions(subject) == [1]
        with cassandra_session(stack) as session:
            row = session.execute(f"SELECT v FROM {keyspace}.t WHERE k = 1").one()
            assert row.v == "kept"
            session.execute(f"DROP KEYSPACE {keyspace}")
    finally:
        client.delete_subject(subject, permanent=False)


def test_unknown_topic_is_not_auto_created(stack: Settings) -> None:
    """Topics come from `make schemas`; a typo must fail, not create a topic."""
    producer = Producer({**stack.kafka_client_config(), "message.timeout.ms": 3000})
    errors: list[KafkaException | None] = []
    producer.produce(unique_name("it_typo"), value=b"x",
                     on_delivery=lambda err, msg: errors.append(err))
    producer.flush(15)
    assert errors and errors[0] is not None
