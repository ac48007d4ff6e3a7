"""Refuse to start when the Cassandra tables do not have the columns the contract implies.

The expected columns come from :mod:`contract.cql` (the same mapping that generates the
CQL); the live ones from ``system_schema.columns``. Extra live columns are fine (a field
removed from the schema keeps its column); a missing column or a different type is not.
No Spark here: ``python -m streaming check-tables`` runs without a JVM.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from config.clients import cassandra_session
from config.settings import Settings
from contract.cql import DEAD_LETTER_TABLE, dead_letter_spec
from contract.migration import normalize_cql_type
from streaming.table_target import TableTarget

if TYPE_CHECKING:
    from cassandra.cluster import Session

COLUMNS_QUERY = (
    "SELECT column_name, type FROM system_schema.columns "
    "WHERE keyspace_name = %s AND table_name = %s"
)


class TableMismatch(RuntimeError):
    """A Cassandra table does not match its contract; the message says how and what to run."""


def column_problems(expected: Mapping[str, str], actual: Mapping[str, str]) -> list[str]:
    """What keeps ``actual`` (live columns) from serving ``expected``; empty when it can."""
    if not actual:
        return ["the table does not exist"]
    missing = [name for name in expected if name not in actual]
    problems = [f"missing columns {missing}"] if missing else []
    for name, cql in expected.items():
        if name in actual and normalize_cql_type(actual[name]) != normalize_cql_type(cql):
            problems.append(f"column {name} is {actual[name]}, expected {cql}")
    return problems


def require_columns(
    qualified_table: str, source: str, expected: Mapping[str, str], actual: Mapping[str, str]
) -> None:
    problems = column_problems(expected, actual)
    if problems:
        raise TableMismatch(
            f"table {qualified_table} does not match {source}: {'; '.join(problems)}; "
            "run `make schemas`"
        )


def live_columns(session: Session, keyspace: str, table: str) -> dict[str, str]:
    """``column -> CQL type`` of a live table (empty if the table does not exist)."""
    rows = session.execute(COLUMNS_QUERY, (keyspace, table))
    return {row.column_name: row.type for row in rows}


def check_tables(settings: Settings, target: TableTarget) -> None:
    """The contract's table and the keyspace's dead-letter table, against Cassandra."""
    with cassandra_session(settings) as session:
        require_columns(
            target.qualified_table,
            target.source,
            target.columns,
            live_columns(session, target.keyspace, target.table),
        )
        require_columns(
            f"{target.keyspace}.{DEAD_LETTER_TABLE}",
            "contract/cql.py (DEAD_LETTER_COLUMNS)",
            dead_letter_spec(target.keyspace).stored_columns,
            live_columns(session, target.keyspace, DEAD_LETTER_TABLE),
        )
