"""House rules for a contract, beyond what Avro itself requires.

Each rule has an id (used in the output and in docs/schema-evolution.md):

- ``field-doc``: every field says what it holds.
- ``nullable-default`` / ``null-first``: an optional field is ``["null", T]`` with
  ``"default": null``, so that adding it is backward compatible and old records read as null.
- ``field-name`` / ``record-name``: snake_case fields (they are the CQL column names),
  PascalCase records, enums and fixed types.
- ``no-credentials``: no password, salt, hash, token, secret or API key ever enters the
  contract: a field (nested ones too) with such a word as a whole ``_``-separated segment
  of its name (``password_hash``, ``auth_token``, ``api_key``; not ``hashtag``), or with
  "password" anywhere in a segment (``userpassword``).
- ``lineage-collision``: no field named like a column the Spark sink adds.
- ``primary-key``: the sidecar's key fields exist, are not nullable, and are scalars.
- ``logical-type``: only logical types the pipeline maps end to end.
- ``cql-union``: unions other than ``["null", T]`` have no Cassandra type.
- ``cql-mapping``: any other reason the schema has no CQL table (recursive records...).
"""

from __future__ import annotations

from collections.abc import Sequence

from avro.schema import RecordSchema

from contract.avro_types import (
    PASCAL_CASE,
    SNAKE_CASE,
    SchemaError,
    contains_null,
    iter_nodes,
    load_avro,
    logical_type_problems,
    nullable_inner,
)
from contract.catalog import Contract
from contract.cql import LINEAGE_COLUMNS, table_spec_for
from schematool.gate.findings import Finding

CREDENTIAL_WORDS = frozenset({
    "password", "passwd", "salt", "hash", "sha1", "sha256", "md5", "token", "secret", "apikey",
})
# Credentials named by two segments, neither one on its own (a "key" column is fine).
CREDENTIAL_PHRASES = (("api", "key"), ("private", "key"))
NAMED_TYPES = ("record", "enum", "fixed")
SCALAR_TYPES = frozenset(
    {"string", "int", "long", "float", "double", "boolean", "bytes", "fixed", "enum"}
)


def lint_contract(contract: Contract, source: str | None = None) -> list[Finding]:
    source = source or f"schemas/{contract.avsc_path.name}"
    return lint_schema(
        contract.schema_str,
        source,
        partition_key=contract.partition_key,
        clustering_key=contract.clustering_key,
    )


def lint_schema(
    schema: str | dict,
    source: str,
    *,
    partition_key: Sequence[str] = (),
    clustering_key: Sequence[str] = (),
) -> list[Finding]:
    """Every rule broken by ``schema``; a schema Avro cannot parse yields one ``parse`` finding."""
    try:
        record = load_avro(schema, source)
    except SchemaError as exc:
        return [Finding(source, exc.path, "parse", exc.reason)]
    findings = [
        *_field_rules(record, source),
        *_name_rules(record, source),
        *(
            Finding(source, path, "logical-type", msg)
            for path, msg in logical_type_problems(record)
        ),
        *_primary_key_rules(record, source, partition_key, clustering_key),
    ]
    if not any(f.rule in ("logical-type", "cql-union") for f in findings):
        findings.extend(_cql_rules(record, source, partition_key, clustering_key))
    return findings


def _field_rules(record: RecordSchema, source: str) -> list[Finding]:
    findings: list[Finding] = []
    for node in iter_nodes(record):
        field = node.field
        if node.schema.type == "union":
            inner, nullable = nullable_inner(node.schema)
            if not nullable:
                kinds = ", ".join(b.type for b in node.schema.schemas)  # type: ignore[attr-defined]
                findings.append(
                    Finding(
                        source,
                        node.path,
                        "cql-union",
                        f'union [{kinds}] has no CQL type; use ["null", T] or a record',
                    )
                )
        if field is None:
            continue
        if not (isinstance(field.doc, str) and field.doc.strip()):
            findings.append(Finding(source, node.path, "field-doc", "the field has no doc"))
        if contains_null(field.type):
            if field.type.schemas[0].type != "null":
                findings.append(
                    Finding(source, node.path, "null-first", '"null" must be the first branch')
                )
            if not field.has_default or field.default is not None:
                findings.append(
                    Finding(
                        source,
                        node.path,
                        "nullable-default",
                        'an optional field needs "default": null (else adding it breaks readers)',
                    )
                )
        if not SNAKE_CASE.match(field.name):
            findings.append(
                Finding(source, node.path, "field-name", f"{field.name!r} is not snake_case")
            )
        leaked = credential_words(field.name)
        if leaked:
            findings.append(
                Finding(
                    source,
                    node.path,
                    "no-credentials",
                    f"credential-like field ({', '.join(leaked)}): credentials never enter "
                    "the contract",
                )
            )
    for field in record.fields:
        if field.name in LINEAGE_COLUMNS:
            findings.append(
                Finding(
                    source,
                    field.name,
                    "lineage-collision",
                    "the Spark sink fills this column itself (lineage); rename the field",
                )
            )
    return findings


def credential_words(name: str) -> list[str]:
    """The credential-like words of a field name (empty: none), matched on whole segments."""
    segments = name.lower().split("_")
    words = {w for w in segments if w in CREDENTIAL_WORDS or "password" in w}
    pairs = set(zip(segments, segments[1:], strict=False))
    words |= {"_".join(phrase) for phrase in CREDENTIAL_PHRASES if phrase in pairs}
    return sorted(words)


def _name_rules(record: RecordSchema, source: str) -> list[Finding]:
    findings: list[Finding] = []
    named = [("", record)] + [
        (node.path, node.schema) for node in iter_nodes(record) if node.schema.type in NAMED_TYPES
    ]
    seen: set[str] = set()
    for path, schema in named:
        name = schema.name  # type: ignore[attr-defined]
        if schema.fullname in seen:  # type: ignore[attr-defined]
            continue
        seen.add(schema.fullname)  # type: ignore[attr-defined]
        if not PASCAL_CASE.match(name):
            findings.append(
                Finding(
                    source, path, "record-name", f"{schema.type} name {name!r} is not PascalCase"
                )
            )
    return findings


def _primary_key_rules(
    record: RecordSchema, source: str, partition_key: Sequence[str], clustering_key: Sequence[str]
) -> list[Finding]:
    findings: list[Finding] = []
    fields = record.fields_dict
    for key in (*partition_key, *clustering_key):
        field = fields.get(key)
        if field is None:
            findings.append(
                Finding(
                    source, key, "primary-key", "the sidecar names a key field the schema lacks"
                )
            )
            continue
        if contains_null(field.type):
            findings.append(
                Finding(source, key, "primary-key", "a primary key field cannot be nullable")
            )
        inner, _ = nullable_inner(field.type)
        if inner.type not in SCALAR_TYPES:
            findings.append(
                Finding(
                    source,
                    key,
                    "primary-key",
                    f"a primary key field must be a scalar, not {inner.type}",
                )
            )
    return findings


def _cql_rules(
    record: RecordSchema, source: str, partition_key: Sequence[str], clustering_key: Sequence[str]
) -> list[Finding]:
    if not record.fields:
        return [Finding(source, "", "cql-mapping", "a record without fields has no table")]
    known = set(record.fields_dict)
    try:
        table_spec_for(
            record,
            keyspace="lint",
            table="lint",
            # Missing key fields are the primary-key rule's finding, not this one's.
            partition_key=[k for k in partition_key if k in known] or [record.fields[0].name],
            clustering_key=[k for k in clustering_key if k in known],
            source=source,
        )
    except SchemaError as exc:
        if "lineage column" in exc.reason:
            return []
        return [Finding(source, exc.path, "cql-mapping", exc.reason)]
    return []
