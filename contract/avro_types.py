"""Parsing an Avro schema and the few questions every generator and check asks of it.

The schema is parsed with the Apache Avro library (the same checker the compatibility rules
use), so named-type references are resolved once here. Logical types are validated here too:
the Avro library only warns about an unknown or misplaced one and falls back to the base
type, which would silently change the generated CQL.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import avro.errors
import avro.schema
from avro.schema import Field, RecordSchema, Schema

# Logical types the pipeline maps end to end (Avro -> Spark -> CQL), with the Avro types
# they may annotate. Anything else (duration, local-timestamp-*, timestamp-nanos...) is refused:
# it would reach Cassandra as a bare number.
KNOWN_LOGICAL_TYPES: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "uuid": frozenset({"string"}),
        "date": frozenset({"int"}),
        "time-millis": frozenset({"int"}),
        "time-micros": frozenset({"long"}),
        "timestamp-millis": frozenset({"long"}),
        "timestamp-micros": frozenset({"long"}),
        "decimal": frozenset({"bytes", "fixed"}),
    }
)

SNAKE_CASE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
PASCAL_CASE = re.compile(r"^[A-Z][a-zA-Z0-9]*$")


class SchemaError(ValueError):
    """A schema cannot be parsed or used; the message names the file and the field."""

    def __init__(self, source: str, message: str, path: str = "") -> None:
        self.source = source
        self.path = path
        self.reason = message
        where = f"{source}: field {path!r}: " if path else f"{source}: "
        super().__init__(where + message)


def load_avro(schema: Mapping[str, Any] | str, source: str = "<schema>") -> RecordSchema:
    """Parse with the Avro library only: logical types are left to :func:`parse_schema`."""
    try:
        if isinstance(schema, str):
            json.loads(schema)  # for the JSON error's line number, which Avro's message lacks
        text = schema if isinstance(schema, str) else json.dumps(schema)
        with warnings.catch_warnings():
            # Unknown logical types are reported by logical_type_problems instead.
            warnings.simplefilter("ignore", avro.errors.IgnoredLogicalType)
            parsed = avro.schema.parse(text)
    except json.JSONDecodeError as exc:
        raise SchemaError(source, f"line {exc.lineno}: not valid JSON: {exc.msg}") from exc
    except (avro.errors.AvroException, TypeError, ValueError) as exc:
        raise SchemaError(source, f"not a valid Avro schema: {exc}") from exc
    if not isinstance(parsed, RecordSchema) or parsed.type != "record":
        raise SchemaError(source, "the top-level schema must be a record")
    return parsed


def parse_schema(schema: Mapping[str, Any] | str, source: str = "<schema>") -> RecordSchema:
    """Parse and validate: raise :class:`SchemaError` on the first malformed part."""
    parsed = load_avro(schema, source)
    problems = logical_type_problems(parsed)
    if problems:
        path, message = problems[0]
        raise SchemaError(source, message, path)
    return parsed


def logical_type(schema: Schema) -> str | None:
    value = schema.props.get("logicalType")
    return value if isinstance(value, str) else None


def nullable_inner(schema: Schema) -> tuple[Schema, bool]:
    """``["null", T]`` (either order) -> ``(T, True)``; any other schema -> ``(schema, False)``."""
    if schema.type == "union":
        branches = schema.schemas  # type: ignore[attr-defined]
        others = [b for b in branches if b.type != "null"]
        if len(branches) == 2 and len(others) == 1:
            return others[0], True
    return schema, False


def contains_null(schema: Schema) -> bool:
    return schema.type == "union" and any(
        b.type == "null"
        for b in schema.schemas  # type: ignore[attr-defined]
    )


def child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


@dataclass(frozen=True)
class Node:
    """One type in the tree, at the field path that owns it."""

    path: str
    schema: Schema
    field: Field | None  # set when this node is a field's declared type


def iter_nodes(record: RecordSchema, path: str = "") -> Iterator[Node]:
    """Every field type, union branch, array item and map value, depth first.

    A record already being walked higher up (a recursive type) is not entered again.
    """
    yield from _walk_record(record, path, frozenset())


def _walk_record(record: RecordSchema, path: str, seen: frozenset[str]) -> Iterator[Node]:
    seen = seen | {record.fullname}
    for field in record.fields:
        field_path = child(path, field.name)
        yield Node(field_path, field.type, field)
        yield from _walk_type(field.type, field_path, seen)


def _walk_type(schema: Schema, path: str, seen: frozenset[str]) -> Iterator[Node]:
    if schema.type == "union":
        for branch in schema.schemas:  # type: ignore[attr-defined]
            yield Node(path, branch, None)
            yield from _walk_type(branch, path, seen)
    elif schema.type == "array":
        items = schema.items  # type: ignore[attr-defined]
        yield Node(path + "[]", items, None)
        yield from _walk_type(items, path + "[]", seen)
    elif schema.type == "map":
        values = schema.values  # type: ignore[attr-defined]
        yield Node(path + "{}", values, None)
        yield from _walk_type(values, path + "{}", seen)
    elif schema.type == "record" and schema.fullname not in seen:  # type: ignore[attr-defined]
        yield from _walk_record(schema, path, seen)  # type: ignore[arg-type]


def logical_type_problems(record: RecordSchema) -> list[tuple[str, str]]:
    """``(field path, message)`` for every unknown, misplaced or malformed logical type."""
    problems: list[tuple[str, str]] = []
    for node in iter_nodes(record):
        name = logical_type(node.schema)
        if name is None:
            continue
        allowed = KNOWN_LOGICAL_TYPES.get(name)
        if allowed is None:
            known = ", ".join(sorted(KNOWN_LOGICAL_TYPES))
            problems.append((node.path, f"unknown logical type {name!r} (known: {known})"))
        elif node.schema.type not in allowed:
            need = " or ".join(sorted(allowed))
            problems.append(
                (node.path, f"logical type {name!r} needs Avro type {need}, not {node.schema.type}")
            )
        elif name == "decimal":
            problem = _decimal_problem(node.schema.props)
            if problem:
                problems.append((node.path, problem))
    return problems


def _decimal_problem(props: Mapping[str, Any]) -> str | None:
    precision, scale = props.get("precision"), props.get("scale", 0)
    if not isinstance(precision, int) or isinstance(precision, bool) or precision <= 0:
        return f"decimal needs a positive integer precision, got {precision!r}"
    if not isinstance(scale, int) or isinstance(scale, bool) or not 0 <= scale <= precision:
        return f"decimal scale must be an integer between 0 and the precision, got {scale!r}"
    return None


def snake_case(name: str) -> str:
    """``UserCreated`` -> ``user_created``; ``HTTPHeader`` -> ``http_header``."""
    step = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", step).lower()
