"""The streaming job against the real Kafka, registry (Apicurio ccompat) and Cassandra.

Each test module works on its own contract copy: a unique topic, subject and keyspace,
created here and removed at the end, so it neither needs nor disturbs ``users_created``.
"""

from __future__ import annotations

import io
import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fastavro
import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import NewTopic

from config.clients import cassandra_session, kafka_admin, schema_registry_client
from config.settings import Settings
from contract.catalog import Contract
from contract.cql import schema_statements
from contract.wire import MAGIC_BYTE_V1, frame
from streaming.job import Trigger, run
from streaming.replay import run_replay
from streaming.schema_check import TableMismatch
from tests.contract_support import contract_copy, stop_active_spark
from tests.support import unique_name, wait_for_topics, wait_until

pytestmark = pytest.mark.integration

UNKNOWN_ID = 2_000_000_000  # no registry hands out ids that high in a test run


@pytest.fixture(scope="module")
def contract(stack: Settings) -> Iterator[Contract]:
    """A registered copy of the users contract: its own topic, subject and keyspace."""
    with contract_copy(stack, "it_stream", partitions=2) as contract:
        yield contract


@pytest.fixture(scope="module", autouse=True)
def stop_spark() -> Iterator[None]:
    yield
    stop_active_spark()


def avro_user(contract: Contract, n: int) -> tuple[uuid.UUID, bytes]:
    user_id = uuid.uuid4()
    record = {
        "id": str(user_id), "first_name": "Ada", "last_name": f"L{n}", "gender": None,
        "address": None, "post_code": None, "email": None, "username": f"it_user_{n}",
        "dob": datetime(1990, 1, 2, tzinfo=UTC), "registered_date": None, "phone": None,
        "picture": None,
    }
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(contract.schema), record)
    return user_id, out.getvalue()


def produce(settings: Settings, topic: str, values: list[bytes]) -> None:
    producer = Producer(settings.kafka_client_config())
    for i, value in enumerate(values):
        producer.produce(topic, value=value, key=b"k%d" % i, partition=i % 2)
    assert producer.flush(30) == 0


def run_available_now(settings: Settings, contract: Contract, checkpoints: Path) -> None:
    run(replace(settings, spark_checkpoint_dir=str(checkpoints)), contract,
        Trigger.AVAILABLE_NOW, threading.Event())


def table(settings: Settings, cql: str, *params: Any) -> list[Any]:
    with cassandra_session(settings) as session:
        return list(session.execute(cql, params))


def test_the_job_writes_good_records_and_dead_letters_bad_ones(
    stack: Settings, contract: Contract, tmp_path: Path
) -> None:
    registry = schema_registry_client(stack)
    schema_id = registry.get_latest_version(contract.subject).schema_id
    users = [avro_user(contract, n) for n in range(5)]
    good = [frame(schema_id, payload) for _, payload in users]
    bad = {
        "random bytes": b"\x7f" + uuid.uuid4().bytes,
        "magic byte 1": bytes([MAGIC_BYTE_V1]) + uuid.uuid4().bytes + users[0][1],
        "unknown schema id": frame(UNKNOWN_ID, users[0][1]),
        "truncated avro": frame(schema_id, users[0][1][:9]),
    }
    produce(stack, contract.topic, [*good, *bad.values()])

    run_available_now(stack, contract, tmp_path)

    rows = table(stack, f"SELECT id, username, writer_schema_id, writer_schema_version, "
                        f"ingested_at FROM {contract.keyspace}.{contract.table}")
    assert sorted(r.id for r in rows) == sorted(u for u, _ in users)
    assert {(r.writer_schema_id, r.writer_schema_version) for r in rows} == {(schema_id, 1)}
    assert all(r.ingested_at is not None for r in rows)

    letters = table(stack, f"SELECT * FROM {contract.keyspace}.dead_letters")
    by_value = {bytes(r.value): r for r in letters}
    assert {case: (by_value[v].stage, by_value[v].error) for case, v in bad.items()} == {
        "random bytes": ("frame", "unknown magic byte 0x7f"),
        "magic byte 1": ("frame", "magic byte 1 (schema GUID framing): the registry "
                                  "cannot resolve schema GUIDs (no /schemas/guids/{guid})"),
        "unknown schema id": ("decode", f"unknown schema id {UNKNOWN_ID}"),
        "truncated avro": (
            "decode",
            f"avro payload does not decode with writer schema {schema_id}",
        ),
    }
    assert all(r.topic == contract.topic and r.replayed_at is None for r in letters)


def test_replay_writes_a_dead_letter_that_now_decodes(
    stack: Settings, contract: Contract
) -> None:
    """A record dead-lettered while its id was unknown, replayed once the id is known."""
    registry = schema_registry_client(stack)
    schema_id = registry.get_latest_version(contract.subject).schema_id
    user_id, payload = avro_user(contract, 99)
    insert = (
        f"INSERT INTO {contract.keyspace}.dead_letters (topic, partition, offset, "
        "kafka_timestamp, key, value, schema_id, error, error_class, stage, dead_lettered_at) "
        "VALUES (%s, 0, %s, toTimestamp(now()), null, %s, %s, %s, %s, %s, toTimestamp(now()))"
    )
    table(stack, insert, contract.topic, 999999, frame(schema_id, payload), schema_id,
          "unknown schema id", "unknown_schema_id", "decode")
    # Its own dead letter that still fails (this test must not need the previous test's).
    table(stack, insert, contract.topic, 999998, b"\x7f" + uuid.uuid4().bytes, None,
          "unknown magic byte 0x7f", "unknown_magic_byte", "frame")

    report = run_replay(stack, contract, stage=None, since=None)

    assert report.replayed >= 1
    assert table(stack, f"SELECT username FROM {contract.keyspace}.{contract.table} "
                        "WHERE id = %s", user_id)[0].username == "it_user_99"
    replayed = table(
        stack,
        f"SELECT replayed_at FROM {contract.keyspace}.dead_letters "
        "WHERE topic = %s AND partition = 0 AND offset = 999999",
        contract.topic,
    )
    assert replayed[0].replayed_at is not None
    # The frame-level dead letter still fails, and stays.
    [still] = table(stack, f"SELECT replayed_at FROM {contract.keyspace}.dead_letters "
                           "WHERE topic = %s AND partition = 0 AND offset = 999998",
                    contract.topic)
    assert still.replayed_at is None


def test_a_recreated_topics_dead_letter_does_not_overwrite_the_first_ones(
    stack: Settings, contract: Contract, tmp_path: Path
) -> None:
    """Offsets start again at 0 in a recreated topic: both records dead-lettered at
    offset 0 are kept, each with its own bytes (the key has the Kafka timestamp)."""
    admin = kafka_admin(stack)
    topic = unique_name("it_reborn")
    reborn = replace(contract, topic=topic)
    values = [b"\x7f first incarnation", b"\x7f second incarnation"]
    try:
        for i, value in enumerate(values):
            if i:
                for future in admin.delete_topics([topic]).values():
                    future.result(timeout=30)
                wait_until(lambda: topic not in admin.list_topics(timeout=5).topics,
                           timeout=60, interval=0.2, message=f"topic {topic} deleted")
            for future in admin.create_topics([NewTopic(topic, 1, 1)]).values():
                future.result(timeout=30)
            wait_for_topics(admin, [topic])
            producer = Producer(stack.kafka_client_config())
            producer.produce(topic, value=value, partition=0)
            assert producer.flush(30) == 0
            run_available_now(stack, reborn, tmp_path / f"incarnation{i}")
    finally:
        for future in admin.delete_topics([topic]).values():
            future.result(timeout=30)

    letters = table(stack, f"SELECT value, kafka_timestamp FROM {contract.keyspace}.dead_letters "
                           "WHERE topic = %s AND partition = 0 AND offset = 0", topic)
    assert sorted(bytes(r.value) for r in letters) == sorted(values)


def test_the_job_refuses_a_table_missing_a_column(stack: Settings, contract: Contract) -> None:
    broken = replace(contract, keyspace=unique_name("it_broken"))
    statements = schema_statements(broken)
    with cassandra_session(stack) as session:
        for statement in statements:
            session.execute(statement)
        session.execute(f"ALTER TABLE {broken.keyspace}.{broken.table} DROP picture")
        try:
            with pytest.raises(TableMismatch) as refused:
                run(stack, broken, Trigger.AVAILABLE_NOW, threading.Event())
        finally:
            session.execute(f"DROP KEYSPACE IF EXISTS {broken.keyspace}")
    assert str(refused.value).startswith(
        f"table {broken.keyspace}.created_users does not match "
        "schemas/users_created-value.avsc: missing columns ['picture']"
    )
