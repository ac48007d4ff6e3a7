"""The dead letters the console browses: a filter, its CQL, and the rows as plain data.

A contract's dead letters are the partitions ``(topic, partition)`` of
``<keyspace>.dead_letters`` (:mod:`contract.cql`), as ``make status`` and the
reconciliation read them. A page asks each of the contract's partitions for its newest
``limit`` matching rows (``ORDER BY offset DESC``, the filters as bound parameters, ``ALLOW
FILTERING`` within one partition only) and keeps the newest ``limit`` of those: never more
than ``partitions x limit`` rows are read, whatever the table holds.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, cast

from config.clients import cassandra_session, schema_registry_client
from config.registry import RegistryFailure, client_errors, public_url
from config.settings import Settings
from contract.catalog import Contract
from contract.cql import DEAD_LETTER_COLUMNS, DEAD_LETTER_TABLE, DeadLetterStage
from schematool.migrate.observe import (
    ServiceRefused,
    Services,
    ServiceUnavailable,
    cassandra_errors,
    registry_absent,
)

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
TIMEOUT_S = 5.0  # as the other panels: a service that does not answer is a banner, fast
COUNT_PAGE_SIZE = 1000  # the replay count pages through the matches, never holds them


class FilterError(ValueError):
    """A filter the page cannot run (an unknown stage, a bad limit); the message says why."""


@dataclass(frozen=True)
class DeadLetterFilter:
    stage: str | None = None
    error_class: str | None = None
    since: datetime | None = None  # aware UTC; dead_lettered_at >= since
    limit: int = DEFAULT_LIMIT

    def __post_init__(self) -> None:
        if self.stage is not None and self.stage not in DeadLetterStage.ALL:
            raise FilterError(
                f"unknown stage {self.stage!r}; expected one of {', '.join(DeadLetterStage.ALL)}"
            )
        if not 1 <= self.limit <= MAX_LIMIT:
            raise FilterError(f"limit {self.limit}: expected 1 to {MAX_LIMIT}")


@dataclass(frozen=True)
class Statement:
    """CQL with ``?`` markers and the values bound to them, in order (never formatted in)."""

    cql: str
    params: tuple[Any, ...]


def _where(contract: Contract, partition: int, chosen: DeadLetterFilter) -> tuple[str, list[Any]]:
    clauses, params = ["topic = ?", "partition = ?"], [contract.topic, partition]
    for column, value, op in (("stage", chosen.stage, "="),
                              ("error_class", chosen.error_class, "="),
                              ("dead_lettered_at", chosen.since, ">=")):
        if value is not None:
            clauses.append(f"{column} {op} ?")
            params.append(value)
    return " AND ".join(clauses), params


def _table(contract: Contract) -> str:
    # Identifiers come from the contract (validated by the catalog), never from the request.
    return f"{contract.keyspace}.{DEAD_LETTER_TABLE}"


def browse_statement(contract: Contract, partition: int, chosen: DeadLetterFilter) -> Statement:
    """One partition's newest ``limit`` dead letters that match ``chosen``."""
    where, params = _where(contract, partition, chosen)
    cql = (f"SELECT {', '.join(DEAD_LETTER_COLUMNS)} FROM {_table(contract)} WHERE {where} "
           "ORDER BY offset DESC LIMIT ? ALLOW FILTERING")
    return Statement(cql, (*params, chosen.limit))


def count_statement(contract: Contract, partition: int, chosen: DeadLetterFilter) -> Statement:
    """One partition's matches, only their ``replayed_at`` (replay takes the null ones)."""
    where, params = _where(contract, partition, chosen)
    return Statement(f"SELECT replayed_at FROM {_table(contract)} WHERE {where} ALLOW FILTERING",
                     tuple(params))


def one_statement(contract: Contract, key: DeadLetterKey) -> Statement:
    # ALLOW FILTERING for a table made before kafka_timestamp joined the key (still
    # read by the stream, see streaming.dead_letters.outdated_key): one row either way.
    cql = (f"SELECT {', '.join(DEAD_LETTER_COLUMNS)} FROM {_table(contract)} "
           "WHERE topic = ? AND partition = ? AND offset = ? AND kafka_timestamp = ? "
           "ALLOW FILTERING")
    return Statement(cql, (contract.topic, key.partition, key.offset,
                           datetime.fromtimestamp(key.timestamp_ms / 1000, tz=UTC)))


@dataclass(frozen=True)
class DeadLetterKey:
    """A dead letter's row within its contract: the primary key without the topic."""

    partition: int
    offset: int
    timestamp_ms: int  # the record's Kafka timestamp, as stored (ms since the epoch)

    @property
    def path(self) -> str:
        return f"{self.partition}/{self.offset}/{self.timestamp_ms}"


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    kafka_timestamp: datetime
    key: bytes | None
    value: bytes | None
    headers: Mapping[str, bytes] = field(default_factory=dict)
    schema_id: int | None = None
    error: str = ""
    error_class: str = ""
    stage: str = ""
    dead_lettered_at: datetime | None = None
    replayed_at: datetime | None = None

    @property
    def ref(self) -> DeadLetterKey:
        return DeadLetterKey(self.partition, self.offset, _millis(self.kafka_timestamp))


def _millis(when: datetime) -> int:
    if when.tzinfo is None:  # the driver's timestamps are naive UTC
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


def from_row(row: Mapping[str, Any]) -> DeadLetter:
    return DeadLetter(
        topic=row["topic"], partition=row["partition"], offset=row["offset"],
        kafka_timestamp=row["kafka_timestamp"],
        key=None if row["key"] is None else bytes(row["key"]),
        value=None if row["value"] is None else bytes(row["value"]),
        headers={k: bytes(v) for k, v in (row["headers"] or {}).items()},
        schema_id=row["schema_id"], error=row["error"] or "",
        error_class=row["error_class"] or "", stage=row["stage"] or "",
        dead_lettered_at=row["dead_lettered_at"], replayed_at=row["replayed_at"],
    )


def newest(rows: Sequence[DeadLetter], limit: int) -> list[DeadLetter]:
    """The ``limit`` newest of the partitions' answers (by when they were dead-lettered)."""
    def when(letter: DeadLetter) -> tuple[float, int]:
        at = letter.dead_lettered_at or letter.kafka_timestamp
        return (_millis(at), letter.offset)

    return sorted(rows, key=when, reverse=True)[:limit]


class DeadLetterStore(Protocol):
    def browse(self, contract: Contract, chosen: DeadLetterFilter) -> list[DeadLetter]: ...
    def one(self, contract: Contract, key: DeadLetterKey) -> DeadLetter | None: ...
    def replayable(self, contract: Contract, chosen: DeadLetterFilter) -> int: ...
    def writer_schema(self, schema_id: int) -> str | None: ...


class LiveDeadLetterStore:
    """Cassandra and the registry of the pipeline's :class:`Settings`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @contextmanager
    def _session(self) -> Iterator[Any]:
        from cassandra.cluster import NoHostAvailable

        address = f"{self.settings.cassandra_hosts}:{self.settings.cassandra_port}"
        try:
            with cassandra_session(self.settings, timeout=TIMEOUT_S) as session:
                services = Services(self.settings, cast(Any, None), cast(Any, None), session)
                with cassandra_errors(services):
                    session.row_factory = _dict_rows
                    yield session
        except NoHostAvailable as exc:
            reasons = "; ".join(str(e) for e in exc.errors.values()) or str(exc)
            raise ServiceUnavailable("cassandra", address, reasons) from exc

    def browse(self, contract: Contract, chosen: DeadLetterFilter) -> list[DeadLetter]:
        rows: list[DeadLetter] = []
        with self._session() as session:
            for partition in range(contract.partitions):
                statement = browse_statement(contract, partition, chosen)
                prepared = session.prepare(statement.cql)
                rows += [from_row(r) for r in session.execute(prepared, statement.params)]
        return newest(rows, chosen.limit)

    def one(self, contract: Contract, key: DeadLetterKey) -> DeadLetter | None:
        statement = one_statement(contract, key)
        with self._session() as session:
            row = session.execute(session.prepare(statement.cql), statement.params).one()
        return None if row is None else from_row(row)

    def replayable(self, contract: Contract, chosen: DeadLetterFilter) -> int:
        count = 0
        with self._session() as session:
            for partition in range(contract.partitions):
                statement = count_statement(contract, partition, chosen)
                prepared = session.prepare(statement.cql)
                prepared.fetch_size = COUNT_PAGE_SIZE
                count += sum(1 for r in session.execute(prepared, statement.params)
                             if r["replayed_at"] is None)
        return count

    def writer_schema(self, schema_id: int) -> str | None:
        """The registered schema of ``schema_id``; None when the registry has no such id."""
        from confluent_kafka.schema_registry.error import SchemaRegistryError

        address = public_url(self.settings.schema_registry_url)
        try:
            client = schema_registry_client(self.settings, timeout=TIMEOUT_S)
            try:
                return str(client.get_schema(schema_id).schema_str)
            except SchemaRegistryError as exc:
                if registry_absent(exc):
                    return None
                raise
        except client_errors() as exc:
            failure = RegistryFailure.of(exc)
            if not failure.answered:
                raise ServiceUnavailable("registry", address, failure.message) from exc
            raise ServiceRefused(
                f"registry at {address}, schema id {schema_id}: HTTP {failure.status} "
                f"(error {failure.code}): {failure.message}"
            ) from exc


def _dict_rows(colnames: list[str], rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    return [dict(zip(colnames, row, strict=True)) for row in rows]
