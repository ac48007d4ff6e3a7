"""One schema change, field by field, each labelled and judged by the gate's own checkers.

:func:`labelled_changes` lists what differs between two versions of a record (a field added
with or without a default, removed, promoted, renamed through ``aliases``, retyped, given
another default, or only its ``doc``) and gives each change the verdict of
:func:`~schematool.gate.compat.check_compatibility` (Avro, at the subject's level) and of
:func:`~schematool.gate.safety.check_field_safety` (Cassandra): the same findings
``make schemas-check`` prints, matched to the change by field path. A finding no change
explains is kept in :attr:`SchemaDiff.unmatched`, so no verdict is lost. Pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from avro.schema import Field, RecordSchema, Schema

from contract.avro_types import child, nullable_inner
from schematool.gate.compat import check_compatibility, directions
from schematool.gate.findings import Finding
from schematool.gate.safety import AVRO_PROMOTIONS, check_field_safety

ADDED_WITH_DEFAULT = "added with default"
ADDED_WITHOUT_DEFAULT = "added without default"
REMOVED = "removed"
PROMOTED = "promoted"
RENAMED = "renamed via alias"
TYPE_CHANGED = "type changed"
DEFAULT_CHANGED = "default changed"
DOC_ONLY = "doc-only"
OTHER = "other attributes changed"  # order, aliases, custom properties


@dataclass(frozen=True)
class Verdict:
    ok: bool
    text: str


@dataclass(frozen=True)
class Change:
    path: str  # dotted field path; empty for the record itself
    label: str  # one of the constants above
    before: str  # the old field's type (and default), "" when added
    after: str  # the new field's type (and default), "" when removed
    avro: Verdict
    cassandra: Verdict


@dataclass(frozen=True)
class SchemaDiff:
    level: str
    changes: tuple[Change, ...]
    unmatched: tuple[Finding, ...]  # findings on paths no change names

    @property
    def compatible(self) -> bool:
        return all(c.avro.ok for c in self.changes) and not any(
            f.rule.startswith("avro-") for f in self.unmatched
        )

    @property
    def cassandra_safe(self) -> bool:
        return all(c.cassandra.ok for c in self.changes) and not any(
            not f.rule.startswith("avro-") for f in self.unmatched
        )


def labelled_changes(
    old: RecordSchema,
    new: RecordSchema,
    level: str,
    *,
    old_label: str = "the old version",
    history: Sequence[tuple[str, RecordSchema]] | None = None,
    source: str = "<new>",
) -> SchemaDiff:
    """The changes from ``old`` to ``new`` with their verdicts.

    Avro: ``new`` against ``old`` alone, in the directions ``level`` names (NONE checks
    nothing). Cassandra: against ``history`` (every version the table has followed, oldest
    first; default ``old`` alone), as the gate does, since a column keeps its first type.
    """
    raw = _diff_records(old, new, "")
    avro_findings = check_compatibility(new, [(old_label, old)], level, source)
    earlier = list(history) if history is not None else [(old_label, old)]
    safety_findings = check_field_safety(new, earlier, source)
    used: set[int] = set()
    changes = []
    for path, label, before, after in raw:
        avro = _matching(path, avro_findings, used)
        safety = _matching(path, safety_findings, used, offset=len(avro_findings))
        changes.append(
            Change(
                path,
                label,
                before,
                after,
                _avro_verdict(avro, level),
                _cassandra_verdict(safety, label),
            )
        )
    everything = [*avro_findings, *safety_findings]
    unmatched = tuple(f for i, f in enumerate(everything) if i not in used)
    return SchemaDiff(level.upper(), tuple(changes), unmatched)


def _matching(
    path: str, findings: list[Finding], used: set[int], offset: int = 0
) -> list[Finding]:
    found = []
    for i, finding in enumerate(findings):
        if _related(path, finding.path):
            found.append(finding)
            used.add(offset + i)
    return found


def _related(change: str, finding: str) -> bool:
    """The finding is about this change's field, a field inside it, or its parent union."""
    if not change or not finding:
        return change == finding
    return (
        finding == change
        or finding.startswith((change + ".", change + "[", change + "{"))
        or change.startswith(finding + ".")
    )


def _avro_verdict(findings: list[Finding], level: str) -> Verdict:
    if findings:
        return Verdict(False, "; ".join(f.message for f in findings))
    if not directions(level):
        return Verdict(True, "not checked (level NONE)")
    return Verdict(True, f"compatible ({level.upper()})")


_SAFE = {
    ADDED_WITH_DEFAULT: "safe: a new column (ALTER TABLE ... ADD)",
    ADDED_WITHOUT_DEFAULT: "safe: a new column (ALTER TABLE ... ADD)",
    REMOVED: "safe: the column stays, no longer written",
    DOC_ONLY: "safe: no CQL change",
    DEFAULT_CHANGED: "safe: no CQL change",
    OTHER: "safe: no CQL change",
}


def _cassandra_verdict(findings: list[Finding], label: str) -> Verdict:
    if findings:
        return Verdict(False, "; ".join(f"[{f.rule}] {f.message}" for f in findings))
    return Verdict(True, _SAFE.get(label, "safe: the column's CQL type is unchanged"))


# -- the raw diff ----------------------------------------------------------------------------


def _type_text(schema: Schema) -> str:
    return json.dumps(schema.to_json(), separators=(",", ":"), sort_keys=True)


def _short(field: Field) -> str:
    inner, nullable = nullable_inner(field.type)
    logical = inner.props.get("logicalType")
    name = f"{inner.type} ({logical})" if logical else str(inner.type)
    if inner.type == "record":
        name = f"record {inner.name}"  # type: ignore[attr-defined]
    text = f"{name} or null" if nullable else name
    if field.has_default:
        text += f", default {json.dumps(field.default)}"
    return text


def _record_of(schema: Schema) -> RecordSchema | None:
    inner, _ = nullable_inner(schema)
    return inner if isinstance(inner, RecordSchema) else None


def _props(field: Field) -> dict[str, Any]:
    return {k: v for k, v in field.props.items() if k not in ("name", "type", "default", "doc")}


def _diff_records(
    old: RecordSchema, new: RecordSchema, prefix: str
) -> list[tuple[str, str, str, str]]:
    found: list[tuple[str, str, str, str]] = []
    if not prefix and old.doc != new.doc:
        found.append(("", DOC_ONLY, old.doc or "", new.doc or ""))
    before = {f.name: f for f in old.fields}
    after = {f.name: f for f in new.fields}
    renamed_from: dict[str, str] = {}
    for name, field in after.items():
        if name in before:
            continue
        for alias in field.props.get("aliases") or ():
            if alias in before and alias not in after:
                renamed_from[alias] = name
                break
    for name, field in before.items():
        path = child(prefix, name)
        if name in after:
            found.extend(_diff_field(field, after[name], path))
        elif name in renamed_from:
            new_path = child(prefix, renamed_from[name])
            found.append(
                (new_path, RENAMED, f"{name}: {_short(field)}", _short(after[renamed_from[name]]))
            )
        else:
            found.append((path, REMOVED, _short(field), ""))
    for name, field in after.items():
        if name not in before and name not in renamed_from.values():
            label = ADDED_WITH_DEFAULT if field.has_default else ADDED_WITHOUT_DEFAULT
            found.append((child(prefix, name), label, "", _short(field)))
    return found


def _diff_field(old: Field, new: Field, path: str) -> list[tuple[str, str, str, str]]:
    found: list[tuple[str, str, str, str]] = []
    old_record, new_record = _record_of(old.type), _record_of(new.type)
    nested_same = old_record is not None and new_record is not None
    if nested_same:
        assert old_record is not None and new_record is not None
        found.extend(_diff_records(old_record, new_record, path))
    type_changed = not nested_same and _type_text(old.type) != _type_text(new.type)
    if type_changed:
        old_inner, _ = nullable_inner(old.type)
        new_inner, _ = nullable_inner(new.type)
        promoted = (old_inner.type, new_inner.type) in AVRO_PROMOTIONS
        found.append((path, PROMOTED if promoted else TYPE_CHANGED, _short(old), _short(new)))
        return found
    default_changed = (old.has_default, old.default if old.has_default else None) != (
        new.has_default,
        new.default if new.has_default else None,
    )
    if default_changed:
        found.append((path, DEFAULT_CHANGED, _short(old), _short(new)))
    elif _props(old) != _props(new):
        found.append((path, OTHER, _short(old), _short(new)))
    elif old.doc != new.doc:
        found.append((path, DOC_ONLY, old.doc or "", new.doc or ""))
    return found
