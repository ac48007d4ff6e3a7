"""Cassandra-safety: changes Avro accepts but the Cassandra table cannot follow.

A Cassandra column keeps the type it was created with (the first version that had the field):
CQL has no ALTER ... TYPE, and a dropped Avro field leaves its column behind. So every field
is compared with its *first* appearance across all earlier versions. Rule ids:

- ``type-promotion``: an Avro promotion (int->long, float->double, string<->bytes...) that
  changes the field's CQL type.
- ``logical-type-changed``: a logical type added, removed or changed on an existing field.
- ``cql-type-changed``: any other change of an existing field's CQL type.
- ``readded-with-other-type``: a field dropped and re-added with another CQL type.
- ``rename-via-alias``: a field renamed through ``aliases``: Avro maps old data to the new
  name, but the old Cassandra column keeps the old rows and the new one starts empty.
- ``primary-key-changed``: the sidecar's partition or clustering key differs from an earlier
  sidecar of the same table; a primary key is fixed when the table is created.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass

from avro.schema import RecordSchema

from contract.avro_types import SchemaError, child, logical_type, nullable_inner
from contract.catalog import Contract
from contract.cql import cql_types_by_path
from schematool.gate.findings import Finding

# Writer type -> reader types Avro resolves it to (the specification's promotions).
AVRO_PROMOTIONS = frozenset(
    {
        ("int", "long"),
        ("int", "float"),
        ("int", "double"),
        ("long", "float"),
        ("long", "double"),
        ("float", "double"),
        ("string", "bytes"),
        ("bytes", "string"),
    }
)


@dataclass(frozen=True)
class FieldType:
    avro: str  # the base Avro type, nullable union unwrapped
    logical: str | None
    cql: str
    aliases: tuple[str, ...] = ()

    def avro_label(self) -> str:
        return f"{self.avro} ({self.logical})" if self.logical else self.avro


def field_types(record: RecordSchema, source: str = "<schema>") -> dict[str, FieldType]:
    """Every field path (nested record fields included) with its Avro, logical and CQL type."""
    cql = cql_types_by_path(record, source)
    types: dict[str, FieldType] = {}

    def visit(rec: RecordSchema, prefix: str, stack: tuple[str, ...]) -> None:
        for field in rec.fields:
            path = child(prefix, field.name)
            inner, _ = nullable_inner(field.type)
            aliases = tuple(field.props.get("aliases") or ())
            types[path] = FieldType(inner.type, logical_type(inner), cql[path], aliases)
            if inner.type == "record" and inner.fullname not in stack:  # type: ignore[attr-defined]
                visit(inner, path, (*stack, inner.fullname))  # type: ignore[arg-type, attr-defined]

    visit(record, "", (record.fullname,))
    return types


def check_field_safety(
    new: RecordSchema,
    earlier: Sequence[tuple[str, RecordSchema]],
    source: str,
) -> list[Finding]:
    """Findings for ``new`` against every earlier ``(label, schema)``, oldest first."""
    try:
        current = field_types(new, source)
    except SchemaError:
        return []  # no CQL table at all: lint's cql-* rules report why
    history: list[tuple[str, dict[str, FieldType]]] = []
    for label, schema in earlier:
        try:
            history.append((label, field_types(schema, label)))
        except SchemaError:
            continue  # an old version that never had a table cannot constrain one
    if not history:
        return []
    findings = [
        *_type_findings(current, history, source),
        *_alias_findings(current, history, source),
    ]
    return findings


def _type_findings(
    current: dict[str, FieldType],
    history: list[tuple[str, dict[str, FieldType]]],
    source: str,
) -> list[Finding]:
    findings: list[Finding] = []
    previous = history[-1][1]
    for path, now in current.items():
        first = next(((label, types[path]) for label, types in history if path in types), None)
        if first is None:
            continue  # a new field: a new column
        label, then = first
        if then.cql == now.cql and then.logical == now.logical:
            continue
        change = f"{then.avro_label()} -> {now.avro_label()}"
        column = f"the Cassandra {_kind(path)} was created as {then.cql} by {label}"
        if path not in previous:
            rule = "readded-with-other-type"
            why = f"the field was dropped and re-added as {now.cql}; {column} and still exists"
        elif then.logical != now.logical:
            rule = "logical-type-changed"
            effect = (
                f"{column}"
                if then.cql != now.cql
                else f"old and new values would mix in one {then.cql} {_kind(path)}"
            )
            why = f"logical type change {change}: values change meaning; {effect}"
        elif (then.avro, now.avro) in AVRO_PROMOTIONS:
            rule = "type-promotion"
            why = f"{change} is an Avro promotion, but {column}; CQL cannot change a column's type"
        else:
            rule = "cql-type-changed"
            why = f"{change} changes the CQL type to {now.cql}, but {column}"
        findings.append(
            Finding(
                source, path, rule, f"{why}; add a new field instead (docs/schema-evolution.md)"
            )
        )
    return findings


def _alias_findings(
    current: dict[str, FieldType],
    history: list[tuple[str, dict[str, FieldType]]],
    source: str,
) -> list[Finding]:
    findings: list[Finding] = []
    for path, now in current.items():
        parent = path.rpartition(".")[0]
        for alias in now.aliases:
            old_path = child(parent, alias)
            label = next((label for label, types in history if old_path in types), None)
            if label is not None and old_path != path:
                findings.append(
                    Finding(
                        source,
                        path,
                        "rename-via-alias",
                        f"renamed from {alias!r} (in {label}) through aliases: Avro reads old "
                        f"records under the new name, but Cassandra keeps them in column "
                        f"{alias!r} and starts {_leaf(path)!r} empty; keep the old name",
                    )
                )
    return findings


def _leaf(path: str) -> str:
    return path.rpartition(".")[2]


def _kind(path: str) -> str:
    return "user-type field" if "." in path else "column"


# -- the sidecar's primary key -------------------------------------------------------------


@dataclass(frozen=True)
class KeyLayout:
    qualified_table: str
    partition_key: tuple[str, ...]
    clustering_key: tuple[str, ...]

    @classmethod
    def from_contract(cls, contract: Contract) -> KeyLayout:
        return cls(contract.qualified_table, contract.partition_key, contract.clustering_key)

    @classmethod
    def from_toml(cls, text: str) -> KeyLayout | None:
        """The layout an earlier sidecar declared; None when it declared none readable."""
        try:
            cassandra = tomllib.loads(text).get("cassandra", {})
        except tomllib.TOMLDecodeError:
            return None
        keyspace, table = cassandra.get("keyspace"), cassandra.get("table")
        partition = cassandra.get("partition_key")
        if not (isinstance(keyspace, str) and isinstance(table, str) and partition):
            return None
        return cls(
            f"{keyspace}.{table}",
            tuple(partition),
            tuple(cassandra.get("clustering_key", ())),
        )

    def describe(self) -> str:
        clustering = f", clustering {list(self.clustering_key)}" if self.clustering_key else ""
        return f"partition {list(self.partition_key)}{clustering}"


def check_key_safety(
    current: KeyLayout,
    earlier: Sequence[tuple[str, KeyLayout]],
    source: str,
) -> list[Finding]:
    """A finding when the sidecar that created the same table gave it another primary key.

    ``earlier`` is oldest first; sidecars of other tables (a contract moved to a new table)
    do not bind this one.
    """
    creator = next(
        ((label, old) for label, old in earlier if old.qualified_table == current.qualified_table),
        None,
    )
    if creator is not None:
        label, old = creator
        if (old.partition_key, old.clustering_key) != (
            current.partition_key,
            current.clustering_key,
        ):
            return [
                Finding(
                    source,
                    "",
                    "primary-key-changed",
                    f"{current.qualified_table} was created with {old.describe()} ({label}); "
                    f"now {current.describe()}: a primary key cannot change, use a new table",
                )
            ]
    return []
