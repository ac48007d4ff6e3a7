"""Avro compatibility of a new schema against earlier versions, as the registry would judge it.

The verdict comes from Apache Avro's own ``ReaderWriterCompatibilityChecker``. Its location
pointers get lost inside unions (``["null", {record}]``), so the checker is run again field by
field to name the exact field path that breaks, and the rule (incompatibility type) is put in
words.

Directions: BACKWARD means the new schema reads data written with an earlier one (reader=new);
FORWARD means an earlier schema reads data written with the new one (reader=earlier); FULL both.
``*_TRANSITIVE`` checks every earlier version, the plain levels only the latest; NONE nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from avro.compatibility import (
    ReaderWriterCompatibilityChecker,
    SchemaCompatibilityResult,
    SchemaCompatibilityType,
    SchemaIncompatibilityType,
    lookup_writer_field,
)
from avro.schema import RecordSchema, Schema

from contract.avro_types import child, nullable_inner
from contract.catalog import COMPATIBILITY_LEVELS
from schematool.gate.findings import Finding

BACKWARD, FORWARD = "backward", "forward"
T = TypeVar("T")

_WORDS = {
    SchemaIncompatibilityType.name_mismatch: (
        "a named type was renamed (keep the name, or list the old one in aliases)"
    ),
    SchemaIncompatibilityType.fixed_size_mismatch: "the size of a fixed type changed",
    SchemaIncompatibilityType.missing_enum_symbols: (
        "enum symbols the writer may write are missing on the reading side, which has no "
        "default symbol"
    ),
    SchemaIncompatibilityType.reader_field_missing_default_value: (
        "the reading schema has this field without a default, and the writing schema lacks it"
    ),
    SchemaIncompatibilityType.type_mismatch: "the type changed in a way Avro cannot promote",
    SchemaIncompatibilityType.missing_union_branch: (
        "the reading union lacks a branch the writer may write"
    ),
}

# The same rule reads differently depending on which side is the reader.
_DIRECTED_WORDS = {
    (SchemaIncompatibilityType.reader_field_missing_default_value, BACKWARD): (
        "the field was added without a default, so records written before it cannot be read"
    ),
    (SchemaIncompatibilityType.reader_field_missing_default_value, FORWARD): (
        "the field was removed, and the earlier schema has no default to fill it with"
    ),
    (SchemaIncompatibilityType.missing_enum_symbols, BACKWARD): (
        "enum symbols were removed and the enum has no default symbol"
    ),
    (SchemaIncompatibilityType.missing_enum_symbols, FORWARD): (
        "enum symbols were added, and the earlier enum has no default symbol to read them as"
    ),
}


@dataclass(frozen=True)
class Incompatibility:
    """One field that breaks, with the checker's verdict on it."""

    path: str
    kinds: tuple[SchemaIncompatibilityType, ...]
    details: tuple[str, ...]  # the checker's messages, e.g. "reader type: int not compatible..."

    def describe(self, direction: str = BACKWARD) -> str:
        words = "; ".join(
            _DIRECTED_WORDS.get((k, direction), _WORDS[k]) for k in dict.fromkeys(self.kinds)
        )
        names = ", ".join(k.value for k in dict.fromkeys(self.kinds))
        details = "; ".join(sorted(self.details))
        return f"{words} [{names}: {details}]"


def directions(level: str) -> tuple[str, ...]:
    level = level.upper()
    if level not in COMPATIBILITY_LEVELS:
        raise ValueError(f"unknown compatibility level {level!r}")
    if level == "NONE":
        return ()
    if level.startswith("FULL"):
        return (BACKWARD, FORWARD)
    return (BACKWARD,) if level.startswith("BACKWARD") else (FORWARD,)


def versions_to_check(level: str, earlier: Sequence[T]) -> list[T]:
    """Every earlier version for a transitive level, the latest otherwise, none for NONE."""
    if not directions(level) or not earlier:
        return []
    return list(earlier) if level.upper().endswith("_TRANSITIVE") else [earlier[-1]]


def is_compatible(reader: Schema, writer: Schema) -> bool:
    result = ReaderWriterCompatibilityChecker().get_compatibility(reader, writer)
    return result.compatibility is SchemaCompatibilityType.compatible


def incompatibilities(reader: Schema, writer: Schema, path: str = "") -> list[Incompatibility]:
    """Why ``reader`` cannot read what ``writer`` wrote, one entry per breaking field."""
    result = ReaderWriterCompatibilityChecker().get_compatibility(reader, writer)
    if result.compatibility is SchemaCompatibilityType.compatible:
        return []
    narrowed = _narrow(reader, writer, path)
    return narrowed or [_from_result(path, result)]


def _narrow(reader: Schema, writer: Schema, path: str) -> list[Incompatibility]:
    """Descend into records, arrays and maps present on both sides to find the breaking field."""
    r, r_nullable = nullable_inner(reader)
    w, w_nullable = nullable_inner(writer)
    if w_nullable and not r_nullable:
        return []  # the null branch itself breaks: report at this level
    if r.type == w.type == "record" and is_compatible_name(r, w):
        found: list[Incompatibility] = []
        for field in r.fields:  # type: ignore[attr-defined]
            writer_field = lookup_writer_field(writer_schema=w, reader_field=field)  # type: ignore[arg-type]
            field_path = child(path, field.name)
            if writer_field is None:
                if not field.has_default:
                    kind = SchemaIncompatibilityType.reader_field_missing_default_value
                    found.append(Incompatibility(field_path, (kind,), (f"field {field.name}",)))
            else:
                found.extend(incompatibilities(field.type, writer_field.type, field_path))
        return found
    if r.type == w.type == "array":
        return incompatibilities(r.items, w.items, path + "[]")  # type: ignore[attr-defined]
    if r.type == w.type == "map":
        return incompatibilities(r.values, w.values, path + "{}")  # type: ignore[attr-defined]
    return []


def is_compatible_name(reader: Schema, writer: Schema) -> bool:
    aliases = reader.props.get("aliases")
    renamed_from = aliases if isinstance(aliases, list) else []
    return reader.name == writer.name or writer.fullname in renamed_from  # type: ignore[attr-defined]


def _from_result(path: str, result: SchemaCompatibilityResult) -> Incompatibility:
    return Incompatibility(path, tuple(result.incompatibilities), tuple(result.messages))


def check_compatibility(
    new: RecordSchema,
    earlier: Sequence[tuple[str, RecordSchema]],
    level: str,
    source: str,
) -> list[Finding]:
    """Findings for ``new`` against ``earlier`` ``(label, schema)`` pairs, oldest first."""
    findings: list[Finding] = []
    for label, old in versions_to_check(level, earlier):
        for direction in directions(level):
            if direction == BACKWARD:
                broken = incompatibilities(reader=new, writer=old)
                consequence = f"the new schema cannot read data written with {label}"
            else:
                broken = incompatibilities(reader=old, writer=new)
                consequence = f"consumers on {label} cannot read data written with the new schema"
            for item in broken:
                findings.append(
                    Finding(
                        source,
                        item.path,
                        f"avro-{direction}",
                        f"{level.upper()}: {consequence}: {item.describe(direction)}",
                    )
                )
    return findings
