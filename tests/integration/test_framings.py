"""Every framing a Confluent producer writes, through the real job (issue 17).

The records are written by confluent-kafka's own ``AvroSerializer`` with its
``schema.id.serializer`` option (the schema id in the value's prefix, or in the
``__value_schema_id`` header before a bare payload) and, where this registry cannot give a
serializer what it needs (a schema GUID: Apicurio's Confluent API has none), with
confluent-kafka's own ``SchemaId`` bytes. One available-now run of the streaming job must
store every record the registry can resolve, dead-letter every other one with the reason
that names its framing, and account for each record exactly once. A dead letter written
before header ids were decoded decodes when replayed.

The test works on its own contract copy (topic, subject, keyspace), removed at the end.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.schema_registry import header_schema_id_serializer
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.common.serde import SchemaId
from confluent_kafka.serialization import MessageField, SerializationContext, SerializationError

from config.clients import cassandra_session, schema_registry_client
from config.settings import Settings
from contract.catalog import Contract
from contract.wire import (
    GUID_REASON,
    HEADER_GUID_REASON,
    VALUE_SCHEMA_ID_HEADER,
    FrameErrorClass,
    apicurio_frame,
    apicurio_reason,
)
from streaming.job import Trigger, run
from streaming.replay import run_replay
from tests.contract_support import contract_copy, stop_active_spark
from tests.support import unique_name, wait_until

pytestmark = pytest.mark.integration

PER_FRAMING = 5


@pytest.fixture(scope="module")
def contract(stack: Settings) -> Iterator[Contract]:
    with contract_copy(stack, "it_framings", partitions=1) as contract:
        yield contract


@pytest.fixture(scope="module", autouse=True)
def stop_spark() -> Iterator[None]:
    yield
    stop_active_spark()


def user(n: int) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()), "first_name": "Ada", "last_name": f"L{n}", "gender": None,
        "address": None, "post_code": None, "email": None, "username": f"it_framing_{n}",
        "dob": datetime(1990, 1, 2, tzinfo=UTC), "registered_date": None, "phone": None,
        "picture": None,
    }


def header_int_id_serializer(payload: bytes, ctx: SerializationContext | None,
                             schema_id: SchemaId) -> bytes:
    """The int id in the ``__value_schema_id`` header (confluent's ``SchemaId.id_to_bytes``)
    before a bare payload: ``header_schema_id_serializer`` with the id where it puts the
    GUID, which a registry without GUIDs can give."""
    assert ctx is not None and isinstance(ctx.headers, list)
    ctx.headers.append((VALUE_SCHEMA_ID_HEADER, schema_id.id_to_bytes()))
    return payload


def serializer(settings: Settings, id_serializer: Any = None) -> AvroSerializer:
    conf: dict[str, Any] = {"auto.register.schemas": False, "use.latest.version": True}
    if id_serializer is not None:
        conf["schema.id.serializer"] = id_serializer
    return AvroSerializer(schema_registry_client(settings), None, conf=conf)


def serialized(contract: Contract, avro: AvroSerializer,
               record: dict[str, Any]) -> tuple[bytes, list[tuple[str, bytes]]]:
    ctx = SerializationContext(contract.topic, MessageField.VALUE, [])
    value = avro(record, ctx)
    assert value is not None
    return value, ctx.headers


def table(settings: Settings, cql: str, *params: Any) -> list[Any]:
    with cassandra_session(settings) as session:
        return list(session.execute(cql, params))


def test_guid_serializer_needs_a_guid_this_registry_does_not_give(
    stack: Settings, contract: Contract
) -> None:
    """If this fails, the registry now returns schema GUIDs: decode the GUID framings
    (docs/architecture.md, "The newer framings and this registry")."""
    avro = serializer(stack, header_schema_id_serializer)
    with pytest.raises(SerializationError, match="GUID is not set"):
        serialized(contract, avro, user(0))


def test_each_framing_is_stored_or_dead_lettered_with_its_reason(
    stack: Settings, contract: Contract, tmp_path: Path
) -> None:
    registry = schema_registry_client(stack)
    schema_id = registry.get_latest_version(contract.subject).schema_id
    prefix, in_header = serializer(stack), serializer(stack, header_int_id_serializer)

    stored: dict[str, str] = {}  # key -> framing
    refused: dict[str, tuple[str, str]] = {}  # key -> (error_class, error)
    messages: list[tuple[str, bytes, list[tuple[str, bytes]]]] = []
    n = 0
    for framing, avro in (("prefix", prefix), ("header id", in_header)):
        for _ in range(PER_FRAMING):
            record = user(n := n + 1)
            value, headers = serialized(contract, avro, record)
            messages.append((record["id"], value, headers))
            stored[record["id"]] = framing
    # What a producer with a GUID-serving registry writes: confluent's own SchemaId bytes.
    guid = SchemaId("AVRO", guid=str(uuid.uuid4())).guid_to_bytes()
    for _ in range(PER_FRAMING):
        record = user(n := n + 1)
        bare, headers = serialized(contract, in_header, record)
        messages.append((record["id"], bare, [(VALUE_SCHEMA_ID_HEADER, guid)]))
        refused[record["id"]] = (FrameErrorClass.HEADER_GUID_FRAMING, HEADER_GUID_REASON)
        key = str(uuid.uuid4())
        messages.append((key, guid + bare, []))
        refused[key] = (FrameErrorClass.GUID_FRAMING, GUID_REASON)
        key = str(uuid.uuid4())
        value = apicurio_frame(schema_id, bare)  # what Apicurio's native serdes write
        messages.append((key, value, []))
        refused[key] = (FrameErrorClass.APICURIO_CONTENT_ID, apicurio_reason(value))

    producer = Producer(stack.kafka_client_config())
    for key, value, headers in messages:
        producer.produce(contract.topic, key=key.encode(), value=value, headers=headers)
    assert producer.flush(30) == 0

    # confluent-kafka's own deserializer reads what it wrote, header first.
    deserializer = AvroDeserializer(registry)
    consumer = Consumer({**stack.kafka_client_config(), "group.id": unique_name("it_read"),
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    read: dict[str, str] = {}
    try:
        consumer.subscribe([contract.topic])

        def read_all() -> bool:
            msg = consumer.poll(1)
            if msg is not None and msg.error() is None and msg.key().decode() in stored:
                ctx = SerializationContext(contract.topic, MessageField.VALUE, msg.headers())
                read[msg.key().decode()] = deserializer(msg.value(), ctx)["username"]
            return len(read) == len(stored)

        wait_until(read_all, timeout=60, interval=0, message="confluent's deserializer reads all")
    finally:
        consumer.close()

    run(replace(stack, spark_checkpoint_dir=str(tmp_path)), contract, Trigger.AVAILABLE_NOW,
        threading.Event())

    rows = table(stack, f"SELECT id, username, writer_schema_id FROM "
                        f"{contract.keyspace}.{contract.table}")
    letters = table(stack, f"SELECT key, error_class, error, stage FROM "
                           f"{contract.keyspace}.dead_letters")
    assert {str(r.id): (r.username, r.writer_schema_id) for r in rows} == {
        key: (read[key], schema_id) for key in stored}
    assert {bytes(r.key).decode(): (r.error_class, r.error) for r in letters} == refused
    assert {r.stage for r in letters} == {"frame"}
    # Every record produced is in exactly one place.
    assert len(messages) == len(rows) + len(letters)


def test_replay_decodes_a_header_dead_letter_written_before_header_ids_decoded(
    stack: Settings, contract: Contract
) -> None:
    """Earlier versions dead-lettered every record with a ``__value_schema_id`` header as
    ``unsupported_header_schema_id``; its headers were kept, so replay decodes it now."""
    record = user(1000)
    bare, headers = serialized(contract, serializer(stack, header_int_id_serializer), record)
    schema_id = schema_registry_client(stack).get_latest_version(contract.subject).schema_id
    table(stack,
          f"INSERT INTO {contract.keyspace}.dead_letters (topic, partition, offset, "
          "kafka_timestamp, key, value, headers, schema_id, error, error_class, stage, "
          "dead_lettered_at) VALUES (%s, 0, 888888, toTimestamp(now()), %s, %s, %s, null, "
          "%s, %s, 'frame', toTimestamp(now()))",
          contract.topic, record["id"].encode(), bare, dict(headers),
          "__value_schema_id header (schema id outside the value) is not supported",
          FrameErrorClass.LEGACY_HEADER_SCHEMA_ID)

    report = run_replay(stack, contract, stage=None, since=None,
                        error_class=FrameErrorClass.LEGACY_HEADER_SCHEMA_ID)

    assert report.replayed == 1
    [row] = table(stack, f"SELECT username, writer_schema_id FROM "
                         f"{contract.keyspace}.{contract.table} WHERE id = %s",
                  uuid.UUID(record["id"]))
    assert (row.username, row.writer_schema_id) == ("it_framing_1000", schema_id)
    [letter] = table(stack, f"SELECT replayed_at FROM {contract.keyspace}.dead_letters "
                            "WHERE topic = %s AND partition = 0 AND offset = 888888",
                     contract.topic)
    assert letter.replayed_at is not None
