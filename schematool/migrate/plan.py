"""What ``make schemas`` would change for one contract: pure, from the contract and live state.

A :class:`SubjectPlan` has three steps, in the order they are applied to a running stream:

1. **topics**: the topic and its rejects topic, created when absent, with the partitions,
   replication factor and ``min.insync.replicas`` of the sidecar for the stack's topology
   (``[kafka]``, or ``[kafka.cluster]``: :meth:`~contract.catalog.Contract.for_topology`).
   A different partition count is refused: Kafka cannot remove partitions, and adding some
   moves keys to other partitions, which breaks per-key order for every consumer. Another
   replication factor or ``min.insync.replicas`` is a note (Kafka's tools change them).
2. **cassandra**: keyspace, user types, table and the keyspace's dead-letter table, created
   when absent (the keyspace with the topology's replication factor: ``[cassandra]``'s, or
   ``[cassandra.cluster]``'s; the committed ``cql/`` is the single topology's), otherwise only
   ``ALTER ... ADD`` (new nullable columns are harmless to the
   running writer). A type change or another primary key is refused. Every statement is
   idempotent (``CREATE ... IF NOT EXISTS``, ``ADD IF NOT EXISTS``), so two ``make schemas``
   that planned from the same state can both apply.
3. **registry**: the subject's compatibility level, then the schema, registered only when
   both the registry and the local checker (field paths) find it compatible with the
   registry's versions at the sidecar's level.

A plan with any refusal is never applied, not even its harmless parts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from avro.schema import RecordSchema

from contract.avro_types import SchemaError, load_avro, parse_schema
from contract.catalog import Contract
from contract.cql import (
    DEAD_LETTER_COLUMNS,
    create_keyspace_cql,
    create_table_cql,
    create_type_cql,
    dead_letter_spec,
    quote_identifier,
    table_spec,
)
from contract.migration import UnsafeMigrationError, plan_migration
from schematool.gate.compat import check_compatibility
from schematool.gate.findings import format_text
from schematool.migrate.live import KeyspaceState, LiveState, RegistryState, TableState, TopicState

TOPICS, CASSANDRA, REGISTRY = "topics", "cassandra", "registry"


# -- actions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateTopic:
    name: str
    partitions: int
    replication_factor: int
    min_insync_replicas: int = 1

    def describe(self) -> str:
        if self.replication_factor == 1:
            return f"create {self.name} ({self.partitions} partitions)"
        return (f"create {self.name} ({self.partitions} partitions, {self.replication_factor} "
                f"replicas, min.insync.replicas {self.min_insync_replicas})")

    @property
    def config(self) -> dict[str, str]:
        """The topic's own configuration: acks=all needs this many replicas in sync."""
        return {"min.insync.replicas": str(self.min_insync_replicas)}


@dataclass(frozen=True)
class RunCql:
    statement: str

    def describe(self) -> str:
        """The statement's head: ``CREATE TABLE ks.t``, or a whole (one-line) ``ALTER``."""
        first = self.statement.splitlines()[0].rstrip(" (;")
        return first.replace(" IF NOT EXISTS", "")


@dataclass(frozen=True)
class SetCompatibility:
    subject: str
    level: str

    def describe(self) -> str:
        return f"set compatibility {self.level}"


@dataclass(frozen=True)
class RegisterSchema:
    subject: str
    schema_str: str
    next_version: int

    def describe(self) -> str:
        return f"register v{self.next_version}"


Action = CreateTopic | RunCql | SetCompatibility | RegisterSchema


@dataclass(frozen=True)
class StepPlan:
    service: str
    actions: tuple[Action, ...] = ()
    notes: tuple[str, ...] = ()  # worth knowing, not blocking (columns kept, older match...)
    refusals: tuple[str, ...] = ()
    current: str = ""  # the state when there is nothing to do, e.g. "v2 (id 7)"


@dataclass(frozen=True)
class SubjectPlan:
    subject: str
    topics: StepPlan
    cassandra: StepPlan
    registry: StepPlan

    @property
    def steps(self) -> tuple[StepPlan, StepPlan, StepPlan]:
        """In apply order."""
        return (self.topics, self.cassandra, self.registry)

    @property
    def refusals(self) -> list[str]:
        return [f"{s.service}: {r}" for s in self.steps for r in s.refusals]

    @property
    def actions(self) -> list[Action]:
        return [a for s in self.steps for a in s.actions]


def source_of(contract: Contract) -> str:
    return f"schemas/{contract.avsc_path.name}"


def validate_contracts(contracts: Sequence[Contract]) -> None:
    """Raise :class:`SchemaError` (naming the file) for a contract no service could take:
    checked before any service is contacted."""
    for contract in contracts:
        parse_schema(contract.schema_str, source_of(contract))
        table_spec(contract)


def plan_subject(
    contract: Contract, live: LiveState, replication_factor: int | None = None
) -> SubjectPlan:
    """The whole plan; raises :class:`SchemaError` when the contract itself is unusable.

    ``replication_factor``: the keyspace's, when given; None: the contract's
    (``keyspace_replication_factor``, of the topology it was loaded for).
    """
    return SubjectPlan(
        subject=contract.subject,
        topics=plan_topics(contract, live.topics),
        cassandra=plan_cassandra(
            contract, live.keyspace, live.table, live.dead_letters, replication_factor
        ),
        registry=plan_registry(contract, live.registry),
    )


# -- topics ----------------------------------------------------------------------------


def plan_topics(contract: Contract, topics: Mapping[str, TopicState]) -> StepPlan:
    actions: list[Action] = []
    notes: list[str] = []
    refusals: list[str] = []
    for name in dict.fromkeys((contract.topic, contract.rejects_topic)):
        state = topics.get(name, TopicState(name))
        if not state.exists:
            actions.append(CreateTopic(name, contract.partitions, contract.replication_factor,
                                       contract.min_insync_replicas))
            continue
        if state.partitions != contract.partitions:
            refusals.append(
                f"topic {name} has {state.partitions} partitions, the sidecar says "
                f"{contract.partitions}: Kafka cannot remove partitions, and adding some moves "
                "keys to other partitions (per-key order breaks); keep the count or use a new "
                "topic"
            )
        if state.replication_factor != contract.replication_factor:
            notes.append(
                f"topic {name} has replication factor {state.replication_factor}, the sidecar "
                f"says {contract.replication_factor}: reassign its partitions with Kafka's tools"
            )
        if state.min_insync_replicas not in (None, contract.min_insync_replicas):
            notes.append(
                f"topic {name} has min.insync.replicas {state.min_insync_replicas}, the sidecar "
                f"says {contract.min_insync_replicas}: kafka-configs --alter --add-config "
                f"min.insync.replicas={contract.min_insync_replicas}"
            )
    return StepPlan(TOPICS, tuple(actions), tuple(notes), tuple(refusals))


# -- cassandra -------------------------------------------------------------------------


def _quoted(columns: Mapping[str, str]) -> dict[str, str]:
    """Live names as the generator spells them, so that ``"order"`` meets ``"order"``."""
    return {quote_identifier(name): cql for name, cql in columns.items()}


def _qualified(keyspace: str, name: str) -> str:
    return f"{quote_identifier(keyspace)}.{quote_identifier(name)}"


def plan_cassandra(
    contract: Contract,
    keyspace: KeyspaceState,
    table: TableState,
    dead_letters: TableState,
    replication_factor: int | None = None,
) -> StepPlan:
    spec = table_spec(contract)  # SchemaError: the contract has no CQL table at all
    statements: list[str] = []
    notes: list[str] = []
    refusals: list[str] = []
    factor = replication_factor or contract.keyspace_replication_factor
    if not keyspace.exists:
        statements.append(create_keyspace_cql(spec.keyspace, factor))
    elif keyspace.replication_factor not in (None, factor):
        notes.append(
            f"keyspace {spec.keyspace} has replication factor {keyspace.replication_factor}, "
            f"the sidecar says {factor}: ALTER KEYSPACE, then nodetool repair on every node"
        )
    for udt in spec.user_types:  # dependencies first
        current = keyspace.types.get(udt.name)
        if current is None:
            statements.append(create_type_cql(spec.keyspace, udt))
            continue
        statements.extend(_follow(
            "TYPE", _qualified(spec.keyspace, udt.name), dict(udt.fields), current, notes, refusals,
            what=f"type {spec.keyspace}.{udt.name}", noun="fields",
        ))

    qualified = _qualified(spec.keyspace, spec.table)
    if not table.exists:
        statements.append(create_table_cql(spec))
    else:
        wanted_key = (spec.partition_key, spec.clustering_key)  # names as stored
        if (table.partition_key, table.clustering_key) != wanted_key:
            refusals.append(
                f"{spec.qualified_table} has primary key "
                f"{key_text(table.partition_key, table.clustering_key)}, the "
                f"sidecar says {key_text(*wanted_key)}: a primary key is fixed at CREATE TABLE; "
                "use a new table"
            )
        statements.extend(_follow(
            "TABLE", qualified, spec.column_map, table.columns, notes, refusals,
            what=spec.qualified_table, noun="columns",
        ))
        if table.ttl_seconds != spec.ttl_seconds:
            # Only rows written from now on get the new TTL: harmless to existing data.
            statements.append(
                f"ALTER TABLE {qualified} WITH default_time_to_live = {spec.ttl_seconds}"
            )

    statements.extend(_dead_letter_statements(dead_letters, notes, refusals))
    actions = tuple(RunCql(s) for s in statements)
    return StepPlan(
        CASSANDRA, actions, tuple(notes), tuple(refusals), current=spec.qualified_table
    )


def _dead_letter_statements(
    dead_letters: TableState, notes: list[str], refusals: list[str]
) -> list[str]:
    spec = dead_letter_spec(dead_letters.keyspace)
    if not dead_letters.exists:
        return [create_table_cql(spec)]
    live_key = (dead_letters.partition_key, dead_letters.clustering_key)
    wanted_key = (spec.partition_key, spec.clustering_key)
    if dead_letters.partition_key and live_key != wanted_key:
        # Not a refusal: the stream and replay keep working with the older key; only a
        # recreated topic's dead letter can then overwrite an earlier one at its offset.
        notes.append(
            f"{spec.qualified_table} has primary key {key_text(*live_key)}, the generated one "
            f"is {key_text(*wanted_key)}: a key is fixed at CREATE TABLE; see "
            "docs/schema-evolution.md, 'The dead-letter table's key', for the one-time migration"
        )
    return _follow(
        "TABLE", _qualified(spec.keyspace, spec.table), dict(DEAD_LETTER_COLUMNS),
        dead_letters.columns, notes, refusals, what=spec.qualified_table, noun="columns",
    )


def _follow(
    kind: Literal["TABLE", "TYPE"],
    qualified: str,
    desired: Mapping[str, str],
    live: Mapping[str, str],
    notes: list[str],
    refusals: list[str],
    *,
    what: str,
    noun: str,
) -> list[str]:
    """The ALTERs that bring a live table or type up to ``desired``; a type change is a
    refusal, what the schema no longer has a note (never dropped)."""
    try:
        migration = plan_migration(desired, _quoted(live))
    except UnsafeMigrationError as exc:
        refusals.append(f"{what}: {exc}")
        return []
    if migration.dropped:
        notes.append(f"{what} keeps {noun} the schema no longer has: "
                     f"{', '.join(migration.dropped)}")
    return migration.alter_statements(kind, qualified, if_not_exists=True)


def key_text(partition: tuple[str, ...], clustering: tuple[str, ...]) -> str:
    """``((id), created_at)``, as in CREATE TABLE."""
    key = ", ".join([f"({', '.join(partition)})", *clustering])
    return f"({key})"


# -- registry --------------------------------------------------------------------------


def plan_registry(contract: Contract, state: RegistryState) -> StepPlan:
    source = source_of(contract)
    new = parse_schema(contract.schema_str, source)  # SchemaError: malformed, unknown logical type
    level = contract.compatibility
    actions: list[Action] = []
    notes: list[str] = []
    refusals: list[str] = []
    if state.subject_level != level or state.effective_level != level:
        actions.append(SetCompatibility(contract.subject, level))
    latest = state.latest
    if state.match is not None:
        current = f"v{state.match.version} (id {state.match.schema_id})"
        if latest is not None and latest.version != state.match.version:
            notes.append(
                f"{source} is registered as v{state.match.version}, but the subject's latest is "
                f"v{latest.version}: producers and the streaming job read the latest; "
                "see python -m schematool diff"
            )
        return StepPlan(REGISTRY, tuple(actions), tuple(notes), (), current=current)
    if latest is not None:
        refusals.extend(_compatibility_refusals(contract, new, state, source))
    if not refusals:
        next_version = latest.version + 1 if latest is not None else 1
        actions.append(RegisterSchema(contract.subject, contract.schema_str, next_version))
    return StepPlan(REGISTRY, tuple(actions), tuple(notes), tuple(refusals), current="")


def _compatibility_refusals(
    contract: Contract, new: RecordSchema, state: RegistryState, source: str
) -> list[str]:
    """Why the registry or the local checker refuses the schema; empty when both accept."""
    level = contract.compatibility
    earlier = []
    for version in state.versions:
        label = f"registry v{version.version}"
        try:
            earlier.append((label, load_avro(version.schema_str, f"{contract.subject} {label}")))
        except SchemaError:
            continue  # not an Avro record (another schema type): nothing to compare with
    findings = check_compatibility(new, earlier, level, source)
    verdict = state.verdict
    registry_refuses = verdict is not None and not verdict.compatible
    if not findings and not registry_refuses:
        return []
    latest = state.latest
    assert latest is not None  # only called when the subject has versions
    parts: list[str] = []
    if registry_refuses and verdict is not None:
        reason = f": {'; '.join(verdict.messages)}" if verdict.messages else ""
        parts.append(
            f"the registry refuses {source} against v{latest.version} at level "
            f"{verdict.level}{reason}"
        )
        if verdict.level != level:
            parts.append(
                f"the registry judged at {verdict.level} but the sidecar asks {level}: apply "
                "the level change on its own first (sidecar only, schema unchanged)"
            )
    else:
        parts.append(
            f"{source} is not {level} compatible with the registry's versions "
            f"(the registry's own test at {state.effective_level} passed)"
        )
    if registry_refuses and not findings:
        parts.append("the local checker found no breaking field; compare with the registry's v"
                     f"{latest.version} (python -m schematool diff)")
    # The verdict first, then one line per breaking field path.
    return ["; ".join(parts), *(format_text(f) for f in findings)]
