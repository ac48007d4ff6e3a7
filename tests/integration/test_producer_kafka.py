"""The producer against the real Kafka and Schema Registry (Apicurio, ccompat API).

Each test works on its own contract copy (unique subject and topics, created
and removed here), so it neither needs nor disturbs `users_created`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pytest
from confluent_kafka import Consumer
from confluent_kafka.admin import NewTopic
from confluent_kafka.schema_registry import Schema
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from config.clients import kafka_admin, schema_registry_client
from config.settings import Settings
from contract.catalog import Contract, load_contract
from producers.errors import PartitionMismatch, SchemaNotRegistered, TopicMissing
from producers.mapping import map_users
from producers.run import RunConfig, fetch_and_produce, preflight
from stack.randomuser import FailurePlan, serve_in_thread
from stack.randomuser.generator import generate_page, normalize_nats
from tests.support import unique_name, wait_for_topics, wait_until

pytestmark = pytest.mark.integration


@contextmanager
def isolated_contract(
    settings: Settings, *, partitions: int = 3, topic_partitions: int | None = None,
    register: bool = True, create_topics: bool = True,
) -> Iterator[Contract]:
    name = unique_name("it_users")
    contract = replace(load_contract(), subject=f"{name}-value", topic=name,
                       rejects_topic=f"{name}.rejected", partitions=partitions)
    admin = kafka_admin(settings)
    registry = schema_registry_client(settings)
    topics = [NewTopic(contract.topic, topic_partitions or partitions, 1),
              NewTopic(contract.rejects_topic, 1, 1)]
    if create_topics:
        for future in admin.create_topics(topics).values():
            future.result(timeout=30)
        wait_for_topics(admin, [t.topic for t in topics])
    if register:
        registry.register_schema(contract.subject, Schema(contract.schema_str, "AVRO"))
    try:
        yield contract
    finally:
        if create_topics:
            for future in admin.delete_topics([t.topic for t in topics]).values():
                future.result(timeout=30)
        if register:
            registry.delete_subject(contract.subject)
            registry.delete_subject(contract.subject, permanent=True)


def consume(settings: Settings, topic: str, expected: int) -> list[Any]:
    consumer = Consumer({**settings.kafka_client_config(), "group.id": unique_name("it_g"),
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    messages: list[Any] = []
    try:
        consumer.subscribe([topic])

        def enough() -> bool:
            batch = consumer.consume(num_messages=500, timeout=1.0)
            assert all(m.error() is None for m in batch)
            messages.extend(batch)
            return len(messages) >= expected

        wait_until(enough, timeout=90, interval=0.0, message=f"{expected} messages on {topic}")
    finally:
        consumer.close()
    return messages


def local_settings(settings: Settings, url: str) -> Settings:
    return replace(settings, randomuser_source="local", randomuser_local_url=url)


def test_preflight_passes_for_a_ready_contract(stack: Settings) -> None:
    with isolated_contract(stack) as contract:
        report = preflight(stack, contract)
        assert report.partitions == 3 and report.schema_id > 0


def test_preflight_names_what_is_missing(stack: Settings) -> None:
    with isolated_contract(stack, register=False) as contract, \
            pytest.raises(SchemaNotRegistered, match=contract.subject):
        preflight(stack, contract)
    with isolated_contract(stack, create_topics=False) as contract, \
            pytest.raises(TopicMissing, match=contract.topic):
        preflight(stack, contract)
    with isolated_contract(stack, topic_partitions=1) as contract, \
            pytest.raises(PartitionMismatch):
        preflight(stack, contract)


def test_round_trip_records_and_rejects(stack: Settings) -> None:
    with isolated_contract(stack) as contract, \
            serve_in_thread(plan=FailurePlan(broken=2)) as url:
        run = RunConfig(seed="it-seed", pages=2, batch_size=50, run_id="it-run", source="local")
        summary = fetch_and_produce(local_settings(stack, url), contract, run)
        assert (summary.fetched, summary.produced, summary.rejected) == (100, 96, 4)

        expected: list[dict[str, Any]] = []
        for page in (1, 2):
            users = generate_page("it-seed", page, 50, normalize_nats(None), broken=2)
            expected.extend(map_users(users, contract).records)
        deserialize = AvroDeserializer(schema_registry_client(stack))
        ctx = SerializationContext(contract.topic, MessageField.VALUE)
        messages = consume(stack, contract.topic, 96)
        decoded = {}
        for msg in messages:
            value = deserialize(msg.value(), ctx)
            assert msg.key().decode() == str(value["id"])
            decoded[str(value["id"])] = value
        assert set(decoded) == {r["id"] for r in expected}
        sample = expected[0]
        assert decoded[sample["id"]]["first_name"] == sample["first_name"]
        assert decoded[sample["id"]]["dob"] == sample["dob"]

        rejects = [json.loads(m.value()) for m in consume(stack, contract.rejects_topic, 4)]
        assert sorted(r["field_path"] for r in rejects) == \
            ["dob.date", "dob.date", "login.uuid", "login.uuid"]
        assert {r["run_id"] for r in rejects} == {"it-run"}


def test_a_rerun_with_the_same_seed_produces_the_same_ids(stack: Settings) -> None:
    with isolated_contract(stack) as contract, serve_in_thread() as url:
        settings = local_settings(stack, url)
        for _ in range(2):
            fetch_and_produce(settings, contract, RunConfig(seed="rerun", pages=1, batch_size=20,
                                                            run_id="r", source="local"))
        ids = [m.key() for m in consume(stack, contract.topic, 40)]
        assert len(ids) == 40 and len(set(ids)) == 20
