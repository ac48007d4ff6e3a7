"""Where the console's data comes from: the registry, Kafka, Cassandra and ``schemas/``.

:class:`Sources` is what the pages need, as plain data (:mod:`schematool.migrate.live`'s
types); :class:`LiveSources` reads the real services through the project's clients and
observe functions, one service per call, so that one service's outage only touches the
panels that need it. A service that does not answer raises
:class:`~schematool.migrate.observe.ServiceUnavailable`; one that answers with an error,
:class:`~schematool.migrate.observe.ServiceRefused`. Unit tests use a fake.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from config.clients import cassandra_session, kafka_admin, schema_registry_client
from config.registry import RegistryFailure, client_errors, public_url
from config.settings import Settings
from contract.catalog import Contract, load_contracts
from contract.cql import DEAD_LETTER_TABLE
from schematool.migrate.live import KeyspaceState, RegisteredVersion, RegistryState, TableState
from schematool.migrate.live import TopicState as TopicState
from schematool.migrate.observe import (
    ServiceRefused,
    Services,
    ServiceUnavailable,
    cassandra_errors,
    keyspace_state,
    registered_versions,
    registry_absent,
    registry_state,
    table_state,
    topic_states,
)

if TYPE_CHECKING:
    from confluent_kafka.schema_registry import SchemaRegistryClient

# Short: a panel waits this long at most for a service that does not answer.
TIMEOUT_S = 5.0


@dataclass(frozen=True)
class SubjectHistory:
    subject: str
    level: str  # the level the registry applies (the subject's, else the global one)
    level_on_subject: bool
    versions: tuple[RegisteredVersion, ...]  # oldest first

    @property
    def latest(self) -> RegisteredVersion | None:
        return self.versions[-1] if self.versions else None

    def version(self, number: int) -> RegisteredVersion | None:
        return next((v for v in self.versions if v.version == number), None)


@dataclass(frozen=True)
class CassandraState:
    keyspace: KeyspaceState
    table: TableState
    dead_letters: TableState


class Sources(Protocol):
    def contracts(self) -> list[Contract]: ...
    def subject_names(self) -> list[str]: ...
    def subject(self, name: str) -> SubjectHistory: ...
    def registry_state(self, contract: Contract) -> RegistryState: ...
    def topics(self, names: tuple[str, ...]) -> Mapping[str, TopicState]: ...
    def cassandra(self, contract: Contract) -> CassandraState: ...


class LiveSources:
    """The real services, from the pipeline's :class:`Settings`; the contracts from ``repo``."""

    def __init__(self, settings: Settings, repo: Path) -> None:
        self.settings = settings
        self.repo = repo

    def contracts(self) -> list[Contract]:
        return load_contracts(self.repo / "schemas")

    @contextmanager
    def _registry(self, subject: str = "") -> Iterator[SchemaRegistryClient]:
        address = public_url(self.settings.schema_registry_url)
        try:
            yield schema_registry_client(self.settings, timeout=TIMEOUT_S)
        except client_errors() as exc:
            failure = RegistryFailure.of(exc)
            if not failure.answered:
                raise ServiceUnavailable("registry", address, failure.message) from exc
            about = f", subject {subject}" if subject else ""
            raise ServiceRefused(
                f"registry at {address}{about}: HTTP {failure.status} (error {failure.code}): "
                f"{failure.message}"
            ) from exc

    def subject_names(self) -> list[str]:
        with self._registry() as client:
            return sorted(client.get_subjects())

    def subject(self, name: str) -> SubjectHistory:
        from confluent_kafka.schema_registry.error import SchemaRegistryError

        with self._registry(name) as client:
            versions = registered_versions(client, name)
            try:
                level = client.get_compatibility(name)
                on_subject = True
            except SchemaRegistryError as exc:
                if not registry_absent(exc):
                    raise
                level, on_subject = client.get_compatibility(), False
        return SubjectHistory(name, str(level).upper(), on_subject, tuple(versions))

    def registry_state(self, contract: Contract) -> RegistryState:
        client = schema_registry_client(self.settings, timeout=TIMEOUT_S)
        services = one_service(self.settings, registry=client)
        return registry_state(services, contract.subject, contract.schema_str, judge=False)

    def topics(self, names: tuple[str, ...]) -> Mapping[str, TopicState]:
        services = one_service(self.settings, admin=kafka_admin(self.settings))
        return topic_states(services, names)

    def cassandra(self, contract: Contract) -> CassandraState:
        from cassandra.cluster import NoHostAvailable

        address = f"{self.settings.cassandra_hosts}:{self.settings.cassandra_port}"
        try:
            with cassandra_session(self.settings, timeout=TIMEOUT_S) as session:
                services = one_service(self.settings, session=session)
                with cassandra_errors(services):
                    return CassandraState(
                        keyspace_state(services, contract.keyspace),
                        table_state(services, contract.keyspace, contract.table),
                        table_state(services, contract.keyspace, DEAD_LETTER_TABLE),
                    )
        except NoHostAvailable as exc:
            reasons = "; ".join(str(e) for e in exc.errors.values()) or str(exc)
            raise ServiceUnavailable("cassandra", address, reasons) from exc


def one_service(settings: Settings, *, registry: Any = None, admin: Any = None,
              session: Any = None) -> Services:
    """observe's :class:`Services` with only the client a call uses: each observe function
    touches one service, and a panel must not wait for (or fail on) the others."""
    return Services(settings, cast(Any, registry), cast(Any, admin), cast(Any, session))

