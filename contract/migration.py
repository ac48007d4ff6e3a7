"""Bringing a live Cassandra table (or user type) up to the columns a contract wants.

Cassandra can add a column but cannot change a column's type, and dropping one loses data.
So the plan only ever adds; a type difference is refused, a column the schema no longer has
is reported and kept. ``current`` is read by the caller from ``system_schema.columns``
(``column_name -> type``) or ``system_schema.types`` for a user type.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class TypeConflict:
    column: str
    current: str
    desired: str

    def __str__(self) -> str:
        return f"{self.column}: the table has {self.current}, the schema wants {self.desired}"


class UnsafeMigrationError(ValueError):
    """Cassandra cannot follow the schema: an existing column would change type."""

    def __init__(self, conflicts: list[TypeConflict]) -> None:
        self.conflicts = tuple(conflicts)
        listed = "; ".join(str(c) for c in conflicts)
        super().__init__(
            f"refusing to migrate, Cassandra cannot change a column's type ({listed}); "
            "add a new field instead (see docs/schema-evolution.md)"
        )


@dataclass(frozen=True)
class Migration:
    adds: tuple[tuple[str, str], ...]  # (column, CQL type), in the schema's order
    dropped: tuple[str, ...]  # columns the schema no longer has: reported, never dropped

    @property
    def is_empty(self) -> bool:
        return not self.adds

    # ``if_not_exists`` writes ``ADD IF NOT EXISTS`` (Cassandra 4.1+): two ``make schemas``
    # at once plan the same ADD from the same live state, and the second must find it done
    # instead of failing half-way. ``make schemas``' plan always asks for it.

    def alter_statements(
        self, kind: Literal["TABLE", "TYPE"], qualified_name: str, *, if_not_exists: bool = False
    ) -> list[str]:
        """``ALTER TABLE ks.t ADD c type`` (or ``ALTER TYPE ks.udt ADD f type``), one per add."""
        add = "ADD IF NOT EXISTS" if if_not_exists else "ADD"
        return [f"ALTER {kind} {qualified_name} {add} {name} {cql}" for name, cql in self.adds]


def normalize_cql_type(cql_type: str) -> str:
    """Compare types as Cassandra means them: ``map<text, int>`` == ``MAP<text,int>``."""
    compact = re.sub(r"\s+", "", cql_type.lower())
    return re.sub(r"\bvarchar\b", "text", compact)


def plan_migration(desired: Mapping[str, str], current: Mapping[str, str]) -> Migration:
    """The columns to add so that ``current`` covers ``desired``.

    Raises :class:`UnsafeMigrationError` listing every column whose type differs.
    """
    current_types = {name.lower(): normalize_cql_type(t) for name, t in current.items()}
    adds: list[tuple[str, str]] = []
    conflicts: list[TypeConflict] = []
    for name, cql in desired.items():
        existing = current_types.get(name.lower())
        if existing is None:
            adds.append((name, cql))
        elif existing != normalize_cql_type(cql):
            conflicts.append(TypeConflict(name, current[_original(current, name)], cql))
    if conflicts:
        raise UnsafeMigrationError(conflicts)
    wanted = {name.lower() for name in desired}
    dropped = tuple(name for name in current if name.lower() not in wanted)
    return Migration(adds=tuple(adds), dropped=dropped)


def _original(current: Mapping[str, str], name: str) -> str:
    return next(key for key in current if key.lower() == name.lower())
