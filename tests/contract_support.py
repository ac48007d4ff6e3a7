"""Helpers of the stack-backed tiers for throw-away contracts: write framed records with
the registered schema, read the table back, remove everything a contract created."""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import fastavro
from confluent_kafka import Producer
from confluent_kafka.admin import NewTopic
from confluent_kafka.schema_registry import Schema

from config.clients import cassandra_session, kafka_admin, schema_registry_client
from config.settings import Settings
from contract.catalog import Contract, load_contract
from contract.cql import dead_letter_statements, schema_statements
from contract.wire import frame
from tests.support import unique_name, wait_for_topics


@contextmanager
def contract_copy(settings: Settings, prefix: str, partitions: int) -> Iterator[Contract]:
    """A registered copy of the users contract under a unique name: its own topic (one
    replica), subject, keyspace, table and dead letters, removed on exit."""
    name = unique_name(prefix)
    contract = replace(
        load_contract(), subject=f"{name}-value", topic=name, rejects_topic=f"{name}.rejected",
        keyspace=name, partitions=partitions,
    )
    admin = kafka_admin(settings)
    for future in admin.create_topics([NewTopic(contract.topic, partitions, 1)]).values():
        future.result(timeout=30)
    wait_for_topics(admin, [contract.topic])
    schema_registry_client(settings).register_schema(contract.subject,
                                                     Schema(contract.schema_str, "AVRO"))
    with cassandra_session(settings) as session:
        for statement in [*schema_statements(contract), *dead_letter_statements(contract.keyspace)]:
            session.execute(statement)
    try:
        yield contract
    finally:
        remove_contract(settings, contract)


def produce_framed(settings: Settings, contract: Contract,
                   records: Iterable[dict[str, Any]]) -> None:
    """Confluent-framed Avro written with the contract's registered schema (its own id),
    keyed by ``id``; every delivery acknowledged."""
    schema_id = schema_registry_client(settings).lookup_schema(
        contract.subject, Schema(contract.schema_str, "AVRO")).schema_id
    parsed = fastavro.parse_schema(contract.schema)
    producer = Producer(settings.kafka_client_config())
    for record in records:
        out = io.BytesIO()
        fastavro.schemaless_writer(out, parsed, record)
        producer.produce(contract.topic, key=record["id"].encode(),
                         value=frame(schema_id, out.getvalue()))
    assert producer.flush(30) == 0


def table_rows(settings: Settings, contract: Contract) -> dict[str, Any]:
    """The contract's table, by the row's ``id`` as text."""
    with cassandra_session(settings) as session:
        return {str(r.id): r for r in session.execute(f"SELECT * FROM {contract.qualified_table}")}


def remove_contract(settings: Settings, contract: Contract) -> None:
    """Its keyspace, subject (soft then hard deleted) and topics, those that exist."""
    with cassandra_session(settings) as session:
        session.execute(f"DROP KEYSPACE IF EXISTS {contract.keyspace}")
    registry = schema_registry_client(settings)
    if contract.subject in registry.get_subjects():
        registry.delete_subject(contract.subject)
        registry.delete_subject(contract.subject, permanent=True)
    admin = kafka_admin(settings)
    existing = [t for t in (contract.topic, contract.rejects_topic)
                if t in admin.list_topics(timeout=10).topics]
    for future in admin.delete_topics(existing).values() if existing else []:
        future.result(timeout=30)


def stop_active_spark() -> None:
    """Stop the in-process SparkSession a module's jobs left active, if any."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()
