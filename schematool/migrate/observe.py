"""Reading what the registry, Kafka and Cassandra hold for a contract (I/O only, no decisions).

:func:`connect` opens one client per service and proves each answers before anything is
planned, so a service that is down stops ``make schemas`` before it changes anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from cassandra import DriverException
from confluent_kafka import KafkaError, KafkaException

from config.clients import cassandra_session, kafka_admin, schema_registry_client
from config.registry import RegistryFailure, client_errors, public_url
from config.settings import Settings
from contract.catalog import Contract
from contract.cql import DEAD_LETTER_TABLE
from schematool.migrate.live import (
    KeyspaceState,
    LiveState,
    RegisteredVersion,
    RegistryState,
    RegistryVerdict,
    TableState,
    TopicState,
)

if TYPE_CHECKING:
    from cassandra.cluster import Session
    from confluent_kafka.admin import AdminClient
    from confluent_kafka.schema_registry import SchemaRegistryClient

REQUEST_TIMEOUT_S = 10.0
# Confluent API error codes that mean "not there" rather than "went wrong".
_ABSENT = frozenset({40401, 40402, 40403, 40408})


class ServiceUnavailable(RuntimeError):
    """A service does not answer; nothing was changed anywhere."""

    def __init__(self, service: str, address: str, reason: str) -> None:
        self.service = service
        super().__init__(f"{service} at {address} is unreachable: {reason}")


class ServiceRefused(RuntimeError):
    """A service answered with an error; the message names the service and the subject."""


@dataclass
class Services:
    settings: Settings
    registry: SchemaRegistryClient
    admin: AdminClient
    session: Session

    @property
    def registry_address(self) -> str:
        return public_url(self.settings.schema_registry_url)


@contextmanager
def connect(settings: Settings, timeout: float = REQUEST_TIMEOUT_S) -> Iterator[Services]:
    """Clients for the three services, each proven reachable (registry, Cassandra, Kafka)."""
    from cassandra.cluster import NoHostAvailable  # inner: 0.6 s the CLI's --help/check skip

    address = public_url(settings.schema_registry_url)
    with ExitStack() as stack:
        registry = stack.enter_context(schema_registry_client(settings, timeout=timeout))
        try:
            registry.get_compatibility()
        except client_errors() as exc:
            reason = _registry_reason(RegistryFailure.of(exc))
            raise ServiceUnavailable("registry", address, reason) from exc
        cassandra = f"{settings.cassandra_hosts}:{settings.cassandra_port}"
        try:
            session = stack.enter_context(cassandra_session(settings, timeout=timeout))
        except NoHostAvailable as exc:
            reasons = "; ".join(_one_line(e) for e in exc.errors.values()) or str(exc)
            raise ServiceUnavailable("cassandra", cassandra, reasons) from exc
        admin = kafka_admin(settings)
        try:
            admin.list_topics(timeout=timeout)
        except KafkaException as exc:
            raise ServiceUnavailable(
                "kafka", settings.kafka_bootstrap_servers, _one_line(exc)
            ) from exc
        yield Services(settings, registry, admin, session)


def _one_line(exc: BaseException) -> str:
    if exc.args and isinstance(exc.args[0], KafkaError):  # its text, not its repr
        return str(exc.args[0].str())
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _registry_reason(failure: RegistryFailure) -> str:
    if not failure.answered:
        return _one_line(failure.error)
    return f"HTTP {failure.status} (error {failure.code}): {failure.message}"


# -- the registry ----------------------------------------------------------------------


@contextmanager
def registry_errors(services: Services, subject: str) -> Iterator[None]:
    """Turn the client's exceptions into this module's typed errors."""
    try:
        yield
    except client_errors() as exc:
        failure = RegistryFailure.of(exc)
        reason = _registry_reason(failure)
        if not failure.answered:
            raise ServiceUnavailable("registry", services.registry_address, reason) from exc
        raise ServiceRefused(
            f"registry at {services.registry_address}, subject {subject}: {reason}"
        ) from exc


def registered_versions(client: SchemaRegistryClient, subject: str) -> list[RegisteredVersion]:
    """Every version of ``subject``, oldest first; none when the subject does not exist."""
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    try:
        numbers = client.get_versions(subject)
    except SchemaRegistryError as exc:
        if not registry_absent(exc):
            raise
        numbers = []
    versions = []
    for number in sorted(numbers):
        registered = client.get_version(subject, number)
        versions.append(
            RegisteredVersion(number, registered.schema_id, registered.schema.schema_str)
        )
    return versions


def registry_absent(exc: Any) -> bool:
    """The registry's error means "not there" (no such subject, version, level...)."""
    return exc.http_status_code == 404 and exc.error_code in _ABSENT


def _rest(client: SchemaRegistryClient) -> Any:
    # The public methods drop what is needed here (the verbose reasons of a compatibility
    # test; the level a subject inherits), so those two calls use the client's REST layer,
    # which keeps its authentication, TLS and timeout.
    return client._rest_client


def registry_state(
    services: Services, subject: str, schema_str: str, *, judge: bool = True
) -> RegistryState:
    """The subject's versions, which one is ``schema_str``, its levels and (``judge``) the
    registry's verdict on ``schema_str`` against the latest version."""
    # inner: 1.3 s of import (-X importtime) that the CLI's --help and check skip
    from confluent_kafka.schema_registry import Schema
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    client = services.registry
    path = quote(subject, safe="")
    with registry_errors(services, subject):
        versions = registered_versions(client, subject)
        match = None
        if versions:
            try:
                found = client.lookup_schema(subject, Schema(schema_str, "AVRO"))
                match = next(v for v in versions if v.version == found.version)
            except SchemaRegistryError as exc:
                if not registry_absent(exc):
                    raise
        try:
            subject_level: str | None = _rest(client).get(f"config/{path}")["compatibilityLevel"]
        except SchemaRegistryError as exc:
            if not registry_absent(exc):
                raise
            subject_level = None
        if subject_level is None:
            effective_level = client.get_compatibility().upper()  # the global level
        else:
            effective = _rest(client).get(f"config/{path}", {"defaultToGlobal": "true"})
            effective_level = str(effective["compatibilityLevel"]).upper()
        verdict = None
        if judge and versions and match is None:
            answer = _rest(client).post(
                f"compatibility/subjects/{path}/versions/latest?verbose=true",
                body=Schema(schema_str, "AVRO").to_dict(),
            )
            verdict = RegistryVerdict(
                bool(answer["is_compatible"]),
                effective_level,
                tuple(str(m) for m in answer.get("messages") or ()),
            )
    return RegistryState(
        subject=subject,
        versions=tuple(versions),
        match=match,
        subject_level=subject_level.upper() if subject_level else None,
        effective_level=effective_level,
        verdict=verdict,
    )


# -- Kafka -----------------------------------------------------------------------------


def topic_states(services: Services, names: Iterable[str]) -> dict[str, TopicState]:
    try:
        metadata = services.admin.list_topics(timeout=REQUEST_TIMEOUT_S)
    except KafkaException as exc:
        raise ServiceUnavailable(
            "kafka", services.settings.kafka_bootstrap_servers, _one_line(exc)
        ) from exc
    states = {}
    for name in names:
        topic = metadata.topics.get(name)
        if topic is None or topic.error is not None or not topic.partitions:
            states[name] = TopicState(name)
            continue
        first = topic.partitions[min(topic.partitions)]
        states[name] = TopicState(name, len(topic.partitions), len(first.replicas),
                                  _min_insync_replicas(services, name))
    return states


def _min_insync_replicas(services: Services, topic: str) -> int | None:
    """The topic's ``min.insync.replicas`` (its own or the broker's default)."""
    from confluent_kafka.admin import ConfigResource, ResourceType

    resource = ConfigResource(ResourceType.TOPIC, topic)
    try:
        configs = services.admin.describe_configs([resource])[resource].result(
            timeout=REQUEST_TIMEOUT_S)
    except KafkaException as exc:
        raise ServiceUnavailable(
            "kafka", services.settings.kafka_bootstrap_servers, _one_line(exc)
        ) from exc
    entry = configs.get("min.insync.replicas")
    return int(entry.value) if entry is not None and entry.value is not None else None


# -- Cassandra -------------------------------------------------------------------------

_KEYSPACE = (
    "SELECT keyspace_name, replication FROM system_schema.keyspaces WHERE keyspace_name = %s"
)
_TYPES = (
    "SELECT type_name, field_names, field_types FROM system_schema.types "
    "WHERE keyspace_name = %s"
)
_COLUMNS = (
    "SELECT column_name, type, kind, position FROM system_schema.columns "
    "WHERE keyspace_name = %s AND table_name = %s"
)
_TTL = (
    "SELECT default_time_to_live FROM system_schema.tables "
    "WHERE keyspace_name = %s AND table_name = %s"
)


@contextmanager
def cassandra_errors(services: Services) -> Iterator[None]:
    from cassandra.cluster import NoHostAvailable  # inner: 0.6 s the CLI's --help/check skip

    settings = services.settings
    try:
        yield
    except (DriverException, NoHostAvailable) as exc:
        address = f"{settings.cassandra_hosts}:{settings.cassandra_port}"
        raise ServiceUnavailable("cassandra", address, _one_line(exc)) from exc


def keyspace_state(services: Services, keyspace: str) -> KeyspaceState:
    session = services.session
    found = session.execute(_KEYSPACE, (keyspace,)).one()
    if found is None:
        return KeyspaceState(keyspace)
    types = {
        row.type_name: MappingProxyType(dict(zip(row.field_names, row.field_types, strict=True)))
        for row in session.execute(_TYPES, (keyspace,))
    }
    return KeyspaceState(keyspace, True, MappingProxyType(types),
                         replication_factor(found.replication))


def replication_factor(replication: dict[str, str] | None) -> int | None:
    """A keyspace's copies per data centre from its ``replication`` map: SimpleStrategy's
    ``replication_factor``, or NetworkTopologyStrategy's one per data centre (the largest)."""
    if not replication:
        return None
    if "replication_factor" in replication:
        value = replication["replication_factor"]
        return int(value) if value.isdigit() else None
    per_dc = [int(v) for k, v in replication.items() if k != "class" and v.isdigit()]
    return max(per_dc) if per_dc else None


def table_state(services: Services, keyspace: str, table: str) -> TableState:
    session = services.session
    rows = list(session.execute(_COLUMNS, (keyspace, table)))
    if not rows:
        return TableState(keyspace, table)

    def key(kind: str) -> tuple[str, ...]:
        part = sorted((r.position, r.column_name) for r in rows if r.kind == kind)
        return tuple(name for _, name in part)

    ttl_row = session.execute(_TTL, (keyspace, table)).one()
    return TableState(
        keyspace=keyspace,
        table=table,
        columns=MappingProxyType({r.column_name: r.type for r in rows}),
        partition_key=key("partition_key"),
        clustering_key=key("clustering"),
        ttl_seconds=int(ttl_row.default_time_to_live or 0) if ttl_row else 0,
    )


def live_state(services: Services, contract: Contract, *, judge: bool = True) -> LiveState:
    """Everything the plan and the drift report need about ``contract``."""
    registry = registry_state(services, contract.subject, contract.schema_str, judge=judge)
    topics = topic_states(services, (contract.topic, contract.rejects_topic))
    with cassandra_errors(services):
        return LiveState(
            registry=registry,
            topics=topics,
            keyspace=keyspace_state(services, contract.keyspace),
            table=table_state(services, contract.keyspace, contract.table),
            dead_letters=table_state(services, contract.keyspace, DEAD_LETTER_TABLE),
        )
