"""The start-up table check, on column maps (the Cassandra query itself is integration)."""

from __future__ import annotations

import pytest

from contract.catalog import load_contract
from streaming.schema_check import TableMismatch, column_problems, require_columns
from streaming.table_target import TableTarget

TARGET = TableTarget.from_contract(load_contract())


def test_a_matching_table_passes_and_extra_columns_are_fine() -> None:
    live = {**TARGET.columns, "old_field": "text"}
    assert column_problems(TARGET.columns, live) == []


def test_types_are_compared_as_cassandra_means_them() -> None:
    expected = {"tags": "map<text, int>", "name": "text"}
    assert column_problems(expected, {"tags": "MAP<text,int>", "name": "varchar"}) == []


def test_missing_columns_and_type_changes_are_reported() -> None:
    live = {k: v for k, v in TARGET.columns.items() if k not in ("phone", "ingested_at")}
    live["email"] = "int"
    assert column_problems(TARGET.columns, live) == [
        "missing columns ['phone', 'ingested_at']",
        "column email is int, expected text",
    ]


def test_the_refusal_names_the_table_the_contract_and_the_fix() -> None:
    live = {k: v for k, v in TARGET.columns.items() if k != "picture"}
    with pytest.raises(TableMismatch) as error:
        require_columns(TARGET.qualified_table, TARGET.source, TARGET.columns, live)
    assert str(error.value) == (
        "table spark_streams.created_users does not match schemas/users_created-value.avsc: "
        "missing columns ['picture']; run `make schemas`"
    )


def test_a_missing_table() -> None:
    with pytest.raises(TableMismatch, match="does not exist; run `make schemas`"):
        require_columns("ks.t", "schemas/x.avsc", {"id": "uuid"}, {})
