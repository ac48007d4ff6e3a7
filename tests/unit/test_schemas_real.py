"""Every committed contract in schemas/*.avsc passes the offline rules and has current CQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from contract.catalog import SCHEMAS_DIR, load_contract_file
from contract.cql import LINEAGE_COLUMNS, table_columns
from contract.spark_types import cql_column_names, spark_struct
from schematool.gate.generate import expected_files, find_drift
from schematool.gate.lint import lint_contract
from streaming.sql import struct_type

AVSC_FILES = sorted(SCHEMAS_DIR.glob("*.avsc"))
REPO = SCHEMAS_DIR.parent


def test_there_are_contracts() -> None:
    assert AVSC_FILES


@pytest.mark.parametrize("avsc", AVSC_FILES, ids=lambda p: p.name)
def test_contract_lints_clean(avsc: Path) -> None:
    assert lint_contract(load_contract_file(avsc)) == []


@pytest.mark.parametrize("avsc", AVSC_FILES, ids=lambda p: p.name)
def test_contract_maps_to_cql_and_spark(avsc: Path) -> None:
    contract = load_contract_file(avsc)
    columns = table_columns(contract)
    assert list(columns) == cql_column_names(contract)
    assert list(columns)[-len(LINEAGE_COLUMNS) :] == list(LINEAGE_COLUMNS)
    struct = struct_type(spark_struct(contract.schema))
    assert struct.fieldNames() == contract.field_names
    for key in contract.primary_key:
        assert not struct[key].nullable


@pytest.mark.parametrize("avsc", AVSC_FILES, ids=lambda p: p.name)
def test_committed_cql_is_current(avsc: Path) -> None:
    contract = load_contract_file(avsc)
    committed = REPO / "cql" / f"{contract.keyspace}.{contract.table}.cql"
    assert committed.exists(), "run make cql"
    assert find_drift(expected_files(REPO), REPO / "cql") == []
