"""What the running services hold for one contract: plain data, read by :mod:`.observe`.

The planner (:mod:`schematool.migrate.plan`) and the drift report
(:mod:`schematool.migrate.drift`) are pure
functions of a :class:`~contract.catalog.Contract` and a :class:`LiveState`, so both can be
tested without a registry, a broker or a Cassandra node.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True)
class RegisteredVersion:
    version: int
    schema_id: int
    schema_str: str


@dataclass(frozen=True)
class RegistryVerdict:
    """The registry's own compatibility test of the contract's schema against its latest."""

    compatible: bool
    level: str  # the level the registry judged at (the subject's, else the global one)
    messages: tuple[str, ...] = ()  # Confluent's verbose reasons; Apicurio sends none


@dataclass(frozen=True)
class RegistryState:
    subject: str
    versions: tuple[RegisteredVersion, ...] = ()  # oldest first; empty: the subject is unknown
    match: RegisteredVersion | None = None  # the version whose schema is the contract's
    subject_level: str | None = None  # set on the subject itself; None: not set
    effective_level: str = "BACKWARD"  # what the registry applies: the subject's or the global
    verdict: RegistryVerdict | None = None  # asked only when there is something to judge

    @property
    def latest(self) -> RegisteredVersion | None:
        return self.versions[-1] if self.versions else None


@dataclass(frozen=True)
class TopicState:
    name: str
    partitions: int | None = None  # None: the topic does not exist
    replication_factor: int | None = None
    min_insync_replicas: int | None = None  # the topic's config; None: not read

    @property
    def exists(self) -> bool:
        return self.partitions is not None


@dataclass(frozen=True)
class KeyspaceState:
    name: str
    exists: bool = False
    # user type name -> (field -> CQL type), as system_schema.types lists them
    types: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: MappingProxyType({}))
    replication_factor: int | None = None  # copies per data centre; None: not read


@dataclass(frozen=True)
class TableState:
    keyspace: str
    table: str
    columns: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    partition_key: tuple[str, ...] = ()
    clustering_key: tuple[str, ...] = ()
    ttl_seconds: int = 0

    @property
    def exists(self) -> bool:
        return bool(self.columns)


@dataclass(frozen=True)
class LiveState:
    """Everything :mod:`.plan` needs to know about one contract's live resources."""

    registry: RegistryState
    topics: Mapping[str, TopicState]
    keyspace: KeyspaceState
    table: TableState
    dead_letters: TableState
