"""Avro -> CQL: the Cassandra table (and user types) each contract's schema implies.

Pure functions: a contract in, CQL text out. The mapping keeps logical types (uuid stays
uuid, timestamp-millis becomes timestamp), turns ``["null", T]`` into a plain ``T`` column
(every Cassandra column is nullable) and nested records into frozen user types.
The Spark sink adds the :data:`LINEAGE_COLUMNS`; rejected records go to the table of
:func:`dead_letter_table_cql`, one per keyspace.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from avro.schema import RecordSchema, Schema

from contract.avro_types import (
    SchemaError,
    child,
    logical_type,
    nullable_inner,
    parse_schema,
    snake_case,
)
from contract.catalog import Contract
from contract.migration import Migration, UnsafeMigrationError, plan_migration

__all__ = [
    "DEAD_LETTER_CLUSTERING_KEY",
    "DEAD_LETTER_COLUMNS",
    "DEAD_LETTER_PARTITION_KEY",
    "DEAD_LETTER_TABLE",
    "DeadLetterStage",
    "LINEAGE_COLUMNS",
    "Migration",
    "TableSpec",
    "UnsafeMigrationError",
    "UserType",
    "cql_files",
    "cql_file_name",
    "cql_types_by_path",
    "dead_letter_statements",
    "plan_migration",
    "schema_statements",
    "table_columns",
    "table_spec",
    "unquote_identifier",
]

# Written by the Spark sink next to the Avro fields: which registered schema wrote the row.
LINEAGE_COLUMNS: Mapping[str, str] = MappingProxyType(
    {
        "writer_schema_id": "int",
        "writer_schema_version": "int",
        "ingested_at": "timestamp",
    }
)

# Records the streaming job could not decode or write, kept with their raw bytes for replay.
# One row per Kafka record: its position and its Kafka timestamp. The offset alone names a
# record only within one incarnation of a topic: offsets start again at 0 in a recreated
# topic (or after a Kafka-only reset), and that record's dead letter must not overwrite
# the first one's. The same record dead-lettered twice (a retried batch, a failed replay)
# has the same timestamp, so it stays one row, updated.
DEAD_LETTER_TABLE = "dead_letters"
DEAD_LETTER_PARTITION_KEY = ("topic", "partition")
DEAD_LETTER_CLUSTERING_KEY = ("offset", "kafka_timestamp")
DEAD_LETTER_COLUMNS: Mapping[str, str] = MappingProxyType(
    {
        "topic": "text",
        "partition": "int",
        "offset": "bigint",
        "kafka_timestamp": "timestamp",
        "key": "blob",
        "value": "blob",
        "headers": "map<text, blob>",
        "schema_id": "int",
        "error": "text",
        "error_class": "text",
        "stage": "text",
        "dead_lettered_at": "timestamp",
        "replayed_at": "timestamp",
    }
)



class DeadLetterStage:
    """The values of the dead letters' ``stage`` column: where in the streaming job a
    record was dead-lettered (its frame, its decoding, the row checks before the sink)."""

    FRAME = "frame"
    DECODE = "decode"
    SINK = "sink"

    ALL = (FRAME, DECODE, SINK)


PRIMITIVE_CQL: Mapping[str, str] = MappingProxyType(
    {
        "string": "text",
        "int": "int",
        "long": "bigint",
        "float": "float",
        "double": "double",
        "boolean": "boolean",
        "bytes": "blob",
        "fixed": "blob",
        "enum": "text",
    }
)

LOGICAL_CQL: Mapping[str, str] = MappingProxyType(
    {
        "uuid": "uuid",
        "date": "date",
        "time-millis": "time",
        "time-micros": "time",
        "timestamp-millis": "timestamp",
        "timestamp-micros": "timestamp",
        "decimal": "decimal",
    }
)

# Cassandra 5.0's reserved keywords (cql3/reserved_keywords.txt): such a name must be quoted.
RESERVED_KEYWORDS = frozenset(
    (  # noqa: SIM905 - the list as Cassandra ships it, easy to diff against a new release
        "ADD ALLOW ALTER AND APPLY ASC AUTHORIZE BATCH BEGIN BY COLUMNFAMILY CREATE DELETE "
        "DESC DESCRIBE DROP ENTRIES EXECUTE FROM FULL GRANT IF IN INDEX INFINITY INSERT INTO "
        "IS KEYSPACE LIMIT MATERIALIZED MODIFY NAN NORECURSIVE NOT NULL OF ON OR ORDER PRIMARY "
        "RENAME REVOKE SCHEMA SELECT SET TABLE TO TOKEN TRUNCATE UNLOGGED UPDATE USE USING "
        "VIEW WHERE WITH"
    ).split()
)


def quote_identifier(name: str) -> str:
    """Unquoted CQL names are lower-cased; quote any name that would not survive that."""
    simple = name.isidentifier() and name == name.lower() and name.isascii()
    if simple and name.upper() not in RESERVED_KEYWORDS:
        return name
    return '"' + name.replace('"', '""') + '"'


def unquote_identifier(name: str) -> str:
    """A CQL identifier as Cassandra stores it (``system_schema`` lists it so).

    A double-quoted identifier keeps its case and ``""`` in it is one ``"``
    (``"Name"`` -> ``Name``, ``"a""b"`` -> ``a"b``); an unquoted one is case-insensitive,
    stored lower-cased (``Name`` -> ``name``). The inverse of :func:`quote_identifier`
    for every name that one spells.
    """
    if name.startswith('"'):
        inner = name[1:-1]
        if len(name) < 2 or not name.endswith('"') or inner.replace('""', "").count('"'):
            raise ValueError(f"not a CQL identifier: {name!r} (unbalanced double quotes)")
        return inner.replace('""', '"')
    return name.lower()


@dataclass(frozen=True)
class UserType:
    name: str
    fields: tuple[tuple[str, str], ...]
    record: str  # the Avro record's full name it comes from


@dataclass(frozen=True)
class TableSpec:
    """A table and its columns: the one model of it (CQL, migrations, the streaming sink)."""

    keyspace: str
    table: str
    columns: tuple[tuple[str, str], ...]  # Avro fields first, then lineage; CQL-quoted names
    partition_key: tuple[str, ...]  # the key columns' names as stored (Avro field names)
    clustering_key: tuple[str, ...] = ()
    ttl_seconds: int = 0
    user_types: tuple[UserType, ...] = ()  # dependencies first

    @property
    def qualified_table(self) -> str:
        return f"{self.keyspace}.{self.table}"

    @property
    def column_map(self) -> dict[str, str]:
        return dict(self.columns)

    @property
    def stored_columns(self) -> dict[str, str]:
        """``column -> CQL type``, the names as Cassandra stores them (unquoted)."""
        return {unquote_identifier(name): cql for name, cql in self.columns}

    @property
    def primary_key(self) -> tuple[str, ...]:
        return self.partition_key + self.clustering_key


@dataclass
class _TypeMapper:
    """Maps Avro types to CQL, collecting the user types nested records need."""

    source: str
    user_types: dict[str, UserType] = field(default_factory=dict)  # by UDT name, in creation order
    _in_progress: list[str] = field(default_factory=list)

    def column_type(self, schema: Schema, path: str) -> str:
        return self._map(schema, path, nested=False)

    def _map(self, schema: Schema, path: str, nested: bool) -> str:
        inner, _nullable = nullable_inner(schema)
        if inner.type == "union":
            branches = ", ".join(b.type for b in inner.schemas)  # type: ignore[attr-defined]
            raise SchemaError(
                self.source,
                f'union [{branches}] has no CQL type; only ["null", T] is supported',
                path,
            )
        if inner.type == "null":
            raise SchemaError(self.source, "a field of type null has no CQL type", path)
        logical = logical_type(inner)
        if logical is not None:
            if logical not in LOGICAL_CQL:
                raise SchemaError(self.source, f"unknown logical type {logical!r}", path)
            return LOGICAL_CQL[logical]
        if inner.type in PRIMITIVE_CQL:
            return PRIMITIVE_CQL[inner.type]
        if inner.type == "array":
            item = self._map(inner.items, path + "[]", nested=True)  # type: ignore[attr-defined]
            return _frozen_if(nested, f"list<{item}>")
        if inner.type == "map":
            value = self._map(inner.values, path + "{}", nested=True)  # type: ignore[attr-defined]
            return _frozen_if(nested, f"map<text, {value}>")
        if inner.type == "record":
            return f"frozen<{self._user_type(inner, path)}>"  # type: ignore[arg-type]
        raise SchemaError(self.source, f"Avro type {inner.type!r} has no CQL mapping", path)

    def _user_type(self, record: RecordSchema, path: str) -> str:
        name = snake_case(record.name)
        existing = self.user_types.get(name)
        if existing is not None:
            if existing.record != record.fullname:
                raise SchemaError(
                    self.source,
                    f"records {existing.record} and {record.fullname} would both be "
                    f"CQL type {name!r}; rename one",
                    path,
                )
            return quote_identifier(name)
        if record.fullname in self._in_progress:
            raise SchemaError(
                self.source, f"record {record.fullname} is recursive; CQL types cannot be", path
            )
        self._in_progress.append(record.fullname)
        fields = tuple(
            (quote_identifier(f.name), self._map(f.type, child(path, f.name), nested=True))
            for f in record.fields
        )
        self._in_progress.pop()
        # Inserted after its own nested types: the dict's order is a valid creation order.
        self.user_types[name] = UserType(name, fields, record.fullname)
        return quote_identifier(name)


def _frozen_if(nested: bool, cql_type: str) -> str:
    # CQL needs a collection inside a collection or inside a user type to be frozen.
    return f"frozen<{cql_type}>" if nested else cql_type


def table_spec_for(
    schema: Mapping[str, Any] | RecordSchema,
    *,
    keyspace: str,
    table: str,
    partition_key: Sequence[str],
    clustering_key: Sequence[str] = (),
    ttl_seconds: int = 0,
    source: str = "<schema>",
) -> TableSpec:
    """The table a record schema implies, lineage columns included."""
    record = schema if isinstance(schema, RecordSchema) else parse_schema(schema, source)
    mapper = _TypeMapper(source)
    columns = [
        (quote_identifier(f.name), mapper.column_type(f.type, f.name)) for f in record.fields
    ]
    names = {f.name for f in record.fields}
    for key in (*partition_key, *clustering_key):
        if key not in names:
            raise SchemaError(source, f"primary key column {key!r} is not a field of the schema")
    for name in LINEAGE_COLUMNS:
        if name in names:
            raise SchemaError(source, "collides with a lineage column the sink fills", name)
    columns.extend(LINEAGE_COLUMNS.items())
    return TableSpec(
        keyspace=keyspace,
        table=table,
        columns=tuple(columns),
        partition_key=tuple(partition_key),
        clustering_key=tuple(clustering_key),
        ttl_seconds=ttl_seconds,
        user_types=tuple(mapper.user_types.values()),
    )


def table_spec(contract: Contract) -> TableSpec:
    return table_spec_for(
        contract.schema,
        keyspace=contract.keyspace,
        table=contract.table,
        partition_key=contract.partition_key,
        clustering_key=contract.clustering_key,
        ttl_seconds=contract.ttl_seconds,
        source=contract.source,
    )


def table_columns(contract: Contract) -> dict[str, str]:
    """``column -> CQL type`` the table must have: the ``desired`` of :func:`plan_migration`."""
    return table_spec(contract).column_map


def cql_types_by_path(record: RecordSchema, source: str = "<schema>") -> dict[str, str]:
    """The CQL type behind every field path, user-type fields included (``address.city``)."""
    mapper = _TypeMapper(source)
    types: dict[str, str] = {}

    def visit(rec: RecordSchema, prefix: str, stack: tuple[str, ...]) -> None:
        for f in rec.fields:
            path = child(prefix, f.name)
            types[path] = mapper.column_type(f.type, path)
            inner, _ = nullable_inner(f.type)
            if inner.type == "record" and inner.fullname not in stack:  # type: ignore[attr-defined]
                visit(inner, path, (*stack, inner.fullname))  # type: ignore[arg-type, attr-defined]

    visit(record, "", (record.fullname,))
    return types


# -- statements ------------------------------------------------------------------------


def create_keyspace_cql(keyspace: str, replication_factor: int = 1) -> str:
    return (
        f"CREATE KEYSPACE IF NOT EXISTS {quote_identifier(keyspace)}\n"
        f"    WITH replication = {{'class': 'SimpleStrategy', "
        f"'replication_factor': {replication_factor}}};"
    )


def create_type_cql(keyspace: str, user_type: UserType) -> str:
    return (
        f"CREATE TYPE IF NOT EXISTS {quote_identifier(keyspace)}.{quote_identifier(user_type.name)}"
        f" (\n{_column_lines(user_type.fields, trailing=False)}\n);"
    )


def create_table_cql(spec: TableSpec) -> str:
    key = ", ".join(quote_identifier(k) for k in spec.partition_key)
    primary = ", ".join([f"({key})", *(quote_identifier(k) for k in spec.clustering_key)])
    options = f" WITH default_time_to_live = {spec.ttl_seconds}" if spec.ttl_seconds > 0 else ""
    name = f"{quote_identifier(spec.keyspace)}.{quote_identifier(spec.table)}"
    return (
        f"CREATE TABLE IF NOT EXISTS {name} (\n"
        f"{_column_lines(spec.columns, trailing=True)}\n"
        f"    PRIMARY KEY ({primary})\n"
        f"){options};"
    )


def _column_lines(columns: Iterable[tuple[str, str]], trailing: bool) -> str:
    columns = list(columns)
    width = max(len(name) for name, _ in columns)
    lines = [f"    {name.ljust(width)} {cql}" for name, cql in columns]
    return ",\n".join(lines) + ("," if trailing else "")


def dead_letter_spec(keyspace: str) -> TableSpec:
    return TableSpec(
        keyspace=keyspace,
        table=DEAD_LETTER_TABLE,
        columns=tuple(DEAD_LETTER_COLUMNS.items()),
        partition_key=DEAD_LETTER_PARTITION_KEY,
        clustering_key=DEAD_LETTER_CLUSTERING_KEY,
    )


def dead_letter_table_cql(keyspace: str) -> str:
    """``CREATE TABLE <keyspace>.dead_letters``:
    PRIMARY KEY ((topic, partition), offset, kafka_timestamp)."""
    return create_table_cql(dead_letter_spec(keyspace))


def schema_statements(contract: Contract, replication_factor: int = 1) -> list[str]:
    """Keyspace, user types, table: every statement idempotent, in execution order."""
    spec = table_spec(contract)
    return [
        create_keyspace_cql(spec.keyspace, replication_factor),
        *(create_type_cql(spec.keyspace, udt) for udt in spec.user_types),
        create_table_cql(spec),
    ]


def dead_letter_statements(keyspace: str, replication_factor: int = 1) -> list[str]:
    return [create_keyspace_cql(keyspace, replication_factor), dead_letter_table_cql(keyspace)]


# -- committed files -------------------------------------------------------------------


def cql_file_name(keyspace: str, table: str) -> str:
    return f"{keyspace}.{table}.cql"


def _render(header: str, statements: list[str]) -> str:
    return f"-- {header}\n\n" + "\n\n".join(statements) + "\n"


def cql_files(contracts: Iterable[Contract], replication_factor: int = 1) -> dict[str, str]:
    """Every file ``cql/`` must hold: ``file name -> text``, sorted by name."""
    files: dict[str, str] = {}
    keyspaces: dict[str, list[str]] = {}
    for contract in contracts:
        source = contract.source
        header = f"generated from {source} and its .toml sidecar, do not edit; run make cql"
        files[cql_file_name(contract.keyspace, contract.table)] = _render(
            header, schema_statements(contract, replication_factor)
        )
        keyspaces.setdefault(contract.keyspace, []).append(source)
    for keyspace, sources in keyspaces.items():
        header = (
            f"generated from schemas/ (the dead-letter table of keyspace {keyspace}, "
            f"used by {', '.join(sources)}), do not edit; run make cql"
        )
        name = cql_file_name(keyspace, DEAD_LETTER_TABLE)
        if name in files:
            raise SchemaError(sources[0], f"table {keyspace}.{DEAD_LETTER_TABLE} is reserved")
        files[name] = _render(header, dead_letter_statements(keyspace, replication_factor))
    return dict(sorted(files.items()))
