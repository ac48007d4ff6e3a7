"""View models: what each page shows, as pure functions of observed data (no I/O).

The templates only lay these out; the decisions (which changes, which verdicts, which
drift) are made here, by the gate's and the migration planner's own functions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from avro.schema import RecordSchema

from console.sources import CassandraState, SubjectHistory
from contract.avro_types import SchemaError, load_avro
from contract.catalog import Contract
from contract.cql import create_table_cql, create_type_cql, table_spec
from schematool.gate.changes import SchemaDiff, labelled_changes
from schematool.gate.compat import check_compatibility, versions_to_check
from schematool.gate.findings import Finding, format_text
from schematool.gate.lint import lint_schema
from schematool.gate.safety import check_field_safety
from schematool.migrate.drift import cassandra_drift, registry_drift, topic_drift
from schematool.migrate.live import RegisteredVersion, RegistryState, TopicState
from schematool.migrate.plan import RunCql, plan_cassandra


@dataclass(frozen=True)
class FieldRow:
    name: str
    type: str
    default: str  # JSON, or "" when the field has none
    doc: str


@dataclass(frozen=True)
class SubjectView:
    name: str
    level: str
    level_on_subject: bool
    versions: tuple[RegisteredVersion, ...]
    fields: tuple[FieldRow, ...]
    in_git: bool  # schemas/ has a contract for it

    @property
    def last_pair(self) -> tuple[int, int] | None:
        if len(self.versions) < 2:
            return None
        return self.versions[-2].version, self.versions[-1].version


def field_rows(schema_str: str) -> tuple[FieldRow, ...]:
    parsed = json.loads(schema_str)
    rows = []
    for field in parsed.get("fields", []) if isinstance(parsed, dict) else []:
        default = json.dumps(field["default"]) if "default" in field else ""
        rows.append(
            FieldRow(field["name"], _type_text(field["type"]), default, field.get("doc", ""))
        )
    return tuple(rows)


def _type_text(avro_type: Any) -> str:
    if isinstance(avro_type, list):
        return " | ".join(_type_text(t) for t in avro_type)
    if isinstance(avro_type, dict):
        logical = avro_type.get("logicalType")
        base = avro_type.get("name") if avro_type.get("type") == "record" else avro_type["type"]
        return f"{base} ({logical})" if logical else str(base)
    return str(avro_type)


def subject_view(history: SubjectHistory, contract_subjects: Sequence[str]) -> SubjectView:
    latest = history.latest
    fields = field_rows(latest.schema_str) if latest else ()
    return SubjectView(
        history.subject,
        history.level,
        history.level_on_subject,
        history.versions,
        fields,
        history.subject in contract_subjects,
    )


# -- a diff of two registered versions -------------------------------------------------------


@dataclass(frozen=True)
class DiffView:
    subject: str
    level: str
    left: RegisteredVersion
    right: RegisteredVersion
    left_text: str  # pretty JSON
    right_text: str
    diff: SchemaDiff | None
    problem: str = ""  # why no diff could be made (a version that is not an Avro record)


def pretty(schema_str: str) -> str:
    try:
        return json.dumps(json.loads(schema_str), indent=2)
    except json.JSONDecodeError:
        return schema_str


def diff_view(history: SubjectHistory, a: int, b: int) -> DiffView:
    """Version ``a`` to version ``b``, judged as the gate judges ``b`` after ``a``.

    Cassandra safety looks at every version up to the older of the two (the table has
    followed them all), as ``make schemas-check`` looks at the whole history.
    """
    left, right = history.version(a), history.version(b)
    if left is None or right is None:
        missing = a if left is None else b
        raise LookupError(f"{history.subject} has no version {missing}")
    try:
        old = load_avro(left.schema_str, f"{history.subject} v{a}")
        new = load_avro(right.schema_str, f"{history.subject} v{b}")
        history_schemas = _parsed(history, upto=min(a, b))
    except SchemaError as exc:
        return DiffView(history.subject, history.level, left, right, pretty(left.schema_str),
                        pretty(right.schema_str), None, str(exc))
    diff = labelled_changes(
        old, new, history.level, old_label=f"v{a}", history=history_schemas,
        source=f"v{b}",
    )
    return DiffView(history.subject, history.level, left, right, pretty(left.schema_str),
                    pretty(right.schema_str), diff)


def _parsed(history: SubjectHistory, upto: int | None = None) -> list[tuple[str, RecordSchema]]:
    parsed = []
    for version in history.versions:
        if upto is not None and version.version > upto:
            break
        label = f"registry v{version.version}"
        try:
            parsed.append((label, load_avro(version.schema_str, f"{history.subject} {label}")))
        except SchemaError:
            continue  # not an Avro record: nothing the gate could compare with
    return parsed


# -- a candidate -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CandidateReport:
    subject: str
    level: str
    checked_against: tuple[str, ...]  # labels of the versions the level checks
    lint: tuple[Finding, ...]
    compatibility: tuple[Finding, ...]
    safety: tuple[Finding, ...]
    changes: SchemaDiff | None  # against the latest version; None: the subject is new
    problem: str = ""  # the candidate does not parse: nothing else was checked

    @property
    def compatible(self) -> bool:
        return not self.problem and not self.compatibility

    @property
    def cassandra_safe(self) -> bool:
        return not self.problem and not self.safety

    @property
    def lint_text(self) -> tuple[str, ...]:
        return tuple(format_text(f) for f in self.lint)


def check_candidate(
    text: str, history: SubjectHistory, contract: Contract | None
) -> CandidateReport:
    """The PR gate's verdicts on ``text`` as the next version of ``history``'s subject."""
    source = "candidate"
    keys: Mapping[str, Any] = {}
    if contract is not None:
        keys = {"partition_key": contract.partition_key, "clustering_key": contract.clustering_key}
    lint = tuple(lint_schema(text, source, **keys))
    try:
        new = load_avro(text, source)
    except SchemaError as exc:
        return CandidateReport(history.subject, history.level, (), lint, (), (), None, str(exc))
    earlier = _parsed(history)
    level = history.level
    compat = check_compatibility(new, earlier, level, source)
    safety = check_field_safety(new, earlier, source)
    changes = None
    if earlier:
        latest_label, latest = earlier[-1]
        changes = labelled_changes(latest, new, level, old_label=latest_label, history=earlier,
                                   source=source)
    checked = tuple(label for label, _ in versions_to_check(level, earlier))
    return CandidateReport(history.subject, level, checked, lint, tuple(compat), tuple(safety),
                           changes)


@dataclass(frozen=True)
class CqlView:
    create: tuple[str, ...]  # the CQL the candidate generates (types, then the table)
    alters: tuple[str, ...]  # what make schemas would run on the live table
    refusals: tuple[str, ...]
    notes: tuple[str, ...]


def candidate_contract(contract: Contract, text: str) -> Contract:
    return replace(contract, schema_str=text)


def candidate_cql(contract: Contract, text: str) -> tuple[str, ...]:
    """The CREATE statements the candidate generates; SchemaError when it has no table."""
    spec = table_spec(candidate_contract(contract, text))
    return (
        *(create_type_cql(spec.keyspace, udt) for udt in spec.user_types),
        create_table_cql(spec),
    )


def candidate_alters(contract: Contract, text: str, live: CassandraState) -> CqlView:
    candidate = candidate_contract(contract, text)
    step = plan_cassandra(candidate, live.keyspace, live.table, live.dead_letters,
                          contract.replication_factor)
    return CqlView(
        candidate_cql(contract, text),
        tuple(a.statement for a in step.actions if isinstance(a, RunCql)),
        step.refusals,
        step.notes,
    )


# -- drift -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DriftItem:
    service: str  # registry, kafka, cassandra
    what: str  # e.g. the subject, the topics, the table
    found: tuple[str, ...]  # empty: in sync

    @property
    def ok(self) -> bool:
        return not self.found


def registry_item(contract: Contract, state: RegistryState) -> DriftItem:
    return DriftItem("registry", contract.subject, tuple(registry_drift(contract, state)))


def kafka_item(contract: Contract, topics: Mapping[str, TopicState]) -> DriftItem:
    names = ", ".join(dict.fromkeys((contract.topic, contract.rejects_topic)))
    return DriftItem("kafka", names, tuple(topic_drift(contract, topics)))


def cassandra_item(contract: Contract, live: CassandraState) -> DriftItem:
    found = cassandra_drift(contract, live.keyspace, live.table, live.dead_letters)
    return DriftItem("cassandra", contract.qualified_table, tuple(found))
