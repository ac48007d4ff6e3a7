"""Reconcile a span of the topic with Cassandra: every record stored or dead-lettered.

A producer run appends to the topic between two sets of end offsets. Reading
that span back (keys are user ids) tells exactly what was produced; Cassandra
then says which of those records are stored, field by field, and the
dead-letter table which were kept with a reason. Used by ``make demo``, the
end-to-end test and the benchmarks.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from cassandra.util import Date as CassandraDate
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

from config.clients import cassandra_session, schema_registry_client
from config.settings import Settings
from contract.catalog import Contract
from contract.cql import quote_identifier

Offsets = dict[int, int]  # partition -> offset


@dataclass(frozen=True)
class Message:
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None


# Kafka's timestamp is the producer's clock at produce(), ingested_at the Spark driver's when
# it plans the batch's write: the same host's clock, but a row must not be stale for a clock
# step of a second.
INGEST_CLOCK_SLACK_MS = 1000
# When the row was written: Cassandra's write time of its ingested_at cell, which the
# connector's driver stamps (client side, in microseconds) as it sends that row. ingested_at
# is stamped once per batch, before any row is sent: latency measured to it would leave out
# the write itself.
WRITTEN_AT = "written_at_us"


@dataclass
class Reconciliation:
    produced: int = 0
    stored: int = 0
    dead_lettered: int = 0
    missing: list[str] = field(default_factory=list)  # "partition:offset" neither stored nor kept
    # Of the missing, those whose key has a row written before the record was produced:
    # "partition:offset id: ingested at ..., before it was produced at ..."
    stale: list[str] = field(default_factory=list)
    duplicate_keys: int = 0
    mismatches: list[str] = field(default_factory=list)  # "id.field: produced != stored"
    latencies_ms: list[float] = field(default_factory=list)  # Kafka timestamp -> row written

    @property
    def reconciles(self) -> bool:
        return (
            self.produced == self.stored + self.dead_lettered
            and not self.missing
            and not self.mismatches
        )


def _consumer(settings: Settings) -> Consumer:
    return Consumer(
        {
            **settings.kafka_client_config(),
            "group.id": f"userstream-reconcile-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )


def end_offsets(settings: Settings, topic: str, partitions: int) -> Offsets:
    """The high watermark of every partition of ``topic``."""
    consumer = _consumer(settings)
    try:
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in range(partitions)
        }
    finally:
        consumer.close()


def read_span(
    settings: Settings, topic: str, start: Offsets, end: Offsets, *, timeout: float = 120.0
) -> list[Message]:
    """Every message with ``start[p] <= offset < end[p]``, in partition order."""
    wanted = {p: (start.get(p, 0), end[p]) for p in end if end[p] > start.get(p, 0)}
    if not wanted:
        return []
    consumer = _consumer(settings)
    messages: list[Message] = []
    remaining = dict(wanted)
    try:
        consumer.assign([TopicPartition(topic, p, lo) for p, (lo, _) in wanted.items()])
        deadline = time.monotonic() + timeout
        while remaining:
            if time.monotonic() > deadline:
                raise TimeoutError(f"reading {topic} {wanted} timed out; still {remaining}")
            msg = consumer.poll(1.0)
            if msg is None or msg.error():
                continue
            p, off = msg.partition(), msg.offset()
            if p in remaining and off < wanted[p][1]:
                messages.append(Message(p, off, msg.timestamp()[1], msg.key(), msg.value()))
                if off + 1 >= wanted[p][1]:
                    del remaining[p]
    finally:
        consumer.close()
    return sorted(messages, key=lambda m: (m.partition, m.offset))


def decode(
    settings: Settings, topic: str, messages: Iterable[Message]
) -> dict[tuple[int, int], dict | None]:
    """Avro values decoded with their writer schema; None for those that do not decode."""
    deserializer = AvroDeserializer(schema_registry_client(settings))
    ctx = SerializationContext(topic, MessageField.VALUE)
    decoded: dict[tuple[int, int], dict | None] = {}
    for m in messages:
        try:
            decoded[(m.partition, m.offset)] = deserializer(m.value, ctx)
        except SchemaRegistryError as exc:
            if exc.http_status_code != 404:
                raise  # the registry is down or refuses us: not a property of the record
            decoded[(m.partition, m.offset)] = None  # an unknown schema id: poison
        except Exception:  # noqa: BLE001 - any other failure is the payload's: poison
            decoded[(m.partition, m.offset)] = None
    return decoded


def normalize(value: Any) -> Any:
    """One comparable form for Avro and Cassandra values, nested ones included: uuids as
    text, timestamps at ms, dates as dates, decimals with their scale, records and the
    driver's UDT objects as dicts, maps as dicts, and an empty collection as null
    (Cassandra stores no empty collection)."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return int(aware.timestamp() * 1000)
    if isinstance(value, CassandraDate):
        return value.date()
    if isinstance(value, Decimal):
        return str(value)  # '1.2300' != '1.23': the scale is part of the value
    if isinstance(value, Mapping):
        return {k: normalize(v) for k, v in value.items()} or None
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a UDT: a named tuple
        return {k: normalize(getattr(value, k)) for k in value._fields}
    if isinstance(value, list | tuple | set | frozenset):
        return [normalize(v) for v in value] or None
    return value


def compare(record: Mapping[str, Any], row: Mapping[str, Any], fields: Iterable[str]) -> list[str]:
    """Field-by-field differences between a produced record and its stored row."""
    diffs = []
    for name in fields:
        produced, stored = normalize(record.get(name)), normalize(row.get(name))
        if produced != stored:
            diffs.append(f"{record.get('id')}.{name}: produced {produced!r} != stored {stored!r}")
    return diffs


def stored_rows(settings: Settings, contract: Contract, ids: list[str]) -> dict[str, dict]:
    """The rows of ``ids``, every column the table has, and each row's :data:`WRITTEN_AT`."""
    rows: dict[str, dict] = {}
    key = contract.partition_key[0]
    with cassandra_session(settings) as session:
        session.row_factory = _dict_factory
        # CQL has no `*, WRITETIME(...)`: the live table's columns, by name.
        table = session.cluster.metadata.keyspaces[contract.keyspace].tables[contract.table]
        columns = ", ".join(quote_identifier(name) for name in table.columns)
        query = session.prepare(
            f"SELECT {columns}, WRITETIME(ingested_at) AS {WRITTEN_AT} "
            f"FROM {contract.qualified_table} WHERE {key} IN ?"
        )
        for i in range(0, len(ids), 100):
            chunk = [uuid.UUID(x) for x in ids[i : i + 100]]
            for row in session.execute(query, [chunk]):
                rows[str(row[key])] = row
    return rows


DeadLetterKey = tuple[int, int, int]  # partition, offset, Kafka timestamp (ms)


def dead_letters(
    settings: Settings, contract: Contract, start: Offsets, end: Offsets
) -> dict[DeadLetterKey, dict]:
    """The span's dead letters, by partition, offset and the record's Kafka timestamp.

    The timestamp tells a record from an earlier incarnation's at the same offset (a topic
    recreated, offsets reset): that one's dead letter says nothing about this record.
    """
    kept: dict[DeadLetterKey, dict] = {}
    with cassandra_session(settings) as session:
        session.row_factory = _dict_factory
        query = session.prepare(
            f"SELECT partition, offset, kafka_timestamp, error, stage "
            f"FROM {contract.keyspace}.dead_letters "
            "WHERE topic = ? AND partition = ? AND offset >= ? AND offset < ?"
        )
        for p, hi in end.items():
            for row in session.execute(query, [contract.topic, p, start.get(p, 0), hi]):
                stamp = row["kafka_timestamp"]
                kept[(row["partition"], row["offset"],
                      -1 if stamp is None else normalize(stamp))] = row
    return kept


def _dict_factory(colnames: list[str], rows: list[tuple]) -> list[dict]:
    return [dict(zip(colnames, row, strict=True)) for row in rows]


RowSource = Callable[[list[str]], Mapping[str, Mapping[str, Any]]]  # ids -> stored rows by id


def reconcile(
    settings: Settings, contract: Contract, start: Offsets, end: Offsets
) -> Reconciliation:
    """What happened to every message of the span: stored (and equal), kept, or missing."""
    messages = read_span(settings, contract.topic, start, end)
    return account(
        contract,
        messages,
        decode(settings, contract.topic, messages),
        dead_letters(settings, contract, start, end),
        lambda ids: stored_rows(settings, contract, ids),
    )


def account(
    contract: Contract,
    messages: Sequence[Message],
    values: Mapping[tuple[int, int], Mapping[str, Any] | None],
    kept: Mapping[DeadLetterKey, Any],
    rows_for: RowSource,
) -> Reconciliation:
    """The pure part of :func:`reconcile`: the span's messages, their decoded values, the
    dead letters and the stored rows (asked for by id) -> the reconciliation.

    A row counts as storing a record only if it was written for it: its ``ingested_at`` is
    not before the record's Kafka timestamp (:data:`INGEST_CLOCK_SLACK_MS` aside). Otherwise a
    cleared DAG run, which re-produces the same users, would reconcile against the rows of
    the first run while the stream is down. Such a record is missing, and named in ``stale``.
    """
    result = Reconciliation(produced=len(messages))
    key_field = contract.partition_key[0]
    latest: dict[str, tuple[Message, Mapping[str, Any]]] = {}  # the last record of a key wins
    earlier: dict[str, list[Message]] = {}  # the key's other records of the span
    for m in messages:
        record = values.get((m.partition, m.offset))
        if (m.partition, m.offset, m.timestamp_ms) in kept:
            result.dead_lettered += 1
        elif record is None:
            result.missing.append(f"{m.partition}:{m.offset}")
        else:
            k = str(record[key_field])
            if k in latest:
                result.duplicate_keys += 1
                earlier.setdefault(k, []).append(latest[k][0])
            latest[k] = (m, record)
    rows = rows_for(list(latest))
    for k, (m, record) in latest.items():
        row = rows.get(k)
        unproven = [*earlier.get(k, ()), m]
        if row is None:
            result.missing.extend(f"{u.partition}:{u.offset}" for u in unproven)
            continue
        ingested_ms = None if row.get("ingested_at") is None else normalize(row["ingested_at"])
        if ingested_ms is None or ingested_ms < m.timestamp_ms - INGEST_CLOCK_SLACK_MS:
            result.missing.extend(f"{u.partition}:{u.offset}" for u in unproven)
            result.stale.append(_stale(m, k, ingested_ms))
            continue
        # A key produced twice in the span is one row: every record of it counts as stored.
        result.stored += len(unproven)
        result.mismatches.extend(compare(record, row, contract.field_names))
        written_us = row.get(WRITTEN_AT)
        if written_us is not None:
            result.latencies_ms.append(written_us / 1000 - m.timestamp_ms)
    result.missing.sort(key=lambda po: tuple(int(x) for x in po.split(":")))
    return result


def _stale(m: Message, key: str, ingested_ms: int | None) -> str:
    produced = _iso(m.timestamp_ms)
    if ingested_ms is None:
        return f"{m.partition}:{m.offset} {key}: its row has no ingested_at (produced {produced})"
    return (f"{m.partition}:{m.offset} {key}: ingested at {_iso(ingested_ms)}, before it was "
            f"produced at {produced}: the row is an earlier record's")


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")
