"""The rich contract's v2 and v3 (issue 17): the Cassandra-safe changes of nested shapes
pass the gate and plan only additions: an optional field inside the nested record
(``ALTER TYPE ... ADD``), a new enum symbol (nothing: enums are text), an optional array
(``ALTER TABLE ... ADD``); v3, an optional field inside a record nested two levels deep
and an optional record of a new type (``CREATE TYPE``, then ``ALTER TABLE ... ADD``).
The live half (the stream running through it) is
tests/e2e/test_rich_contract.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from contract.avro_types import parse_schema
from contract.catalog import Contract, load_contract_file
from contract.cql import table_spec
from schematool.gate.compat import check_compatibility
from schematool.gate.lint import lint_contract
from schematool.gate.safety import check_field_safety
from schematool.migrate.live import KeyspaceState, TableState
from schematool.migrate.plan import RunCql, plan_cassandra

EXAMPLE = Path(__file__).resolve().parents[2] / "schemas" / "users_profile-value"
# v2: an optional field inside the nested Location, a Nationality symbol, an optional array.
V2 = Path(__file__).resolve().parents[2] / "docs" / "examples" / "users_profile-value.v2.avsc"
# v3: an optional field inside Timezone (in Location), an optional record of a new type.
V3 = V2.with_name("users_profile-value.v3.avsc")


@pytest.fixture
def versions(tmp_path: Path) -> tuple[Contract, Contract]:
    v1 = load_contract_file(EXAMPLE.with_suffix(".avsc"))
    shutil.copy(EXAMPLE.with_suffix(".toml"), tmp_path / "users_profile-value.toml")
    path = tmp_path / "users_profile-value.avsc"
    shutil.copy(V2, path)
    return v1, load_contract_file(path)


def test_v2_passes_the_gate(versions: tuple[Contract, Contract]) -> None:
    v1, v2 = versions
    assert lint_contract(v2) == []
    earlier = [("v1", parse_schema(v1.schema_str))]
    new = parse_schema(v2.schema_str)
    assert check_compatibility(new, earlier, "BACKWARD", "v2") == []
    assert check_compatibility(new, earlier, "FULL", "v2") == []  # the enum has a default
    assert check_field_safety(new, earlier, "v2") == []


def _planned(applied: Contract, new: Contract) -> list[str]:
    """The CQL plan_cassandra runs for ``new`` over the keyspace ``applied`` left; it
    refuses nothing."""
    live = table_spec(applied)
    keyspace = KeyspaceState(live.keyspace, exists=True, replication_factor=1,
                             types={u.name: dict(u.fields) for u in live.user_types})
    table = TableState(live.keyspace, live.table, live.stored_columns,
                       live.partition_key, live.clustering_key)
    dead = TableState(live.keyspace, "dead_letters", {"topic": "text"})
    plan = plan_cassandra(new, keyspace, table, dead)
    assert plan.refusals == ()
    return [action.statement for action in plan.actions if isinstance(action, RunCql)]


def test_v2_plans_only_additions_to_the_type_and_the_table(
        versions: tuple[Contract, Contract]) -> None:
    v1, v2 = versions
    statements = _planned(v1, v2)  # over what v1's apply created
    assert [s for s in statements if "user_profiles" in s or "location" in s] == [
        "ALTER TYPE spark_streams.location ADD IF NOT EXISTS neighbourhood text",
        "ALTER TABLE spark_streams.user_profiles ADD IF NOT EXISTS emails list<text>",
    ]


def test_v3_passes_the_gate_against_v1_and_v2(versions: tuple[Contract, Contract],
                                               tmp_path: Path) -> None:
    v1, v2 = versions
    shutil.copy(V3, tmp_path / "users_profile-value.avsc")
    v3 = load_contract_file(tmp_path / "users_profile-value.avsc")
    assert lint_contract(v3) == []
    earlier = [("v1", parse_schema(v1.schema_str)), ("v2", parse_schema(v2.schema_str))]
    new = parse_schema(v3.schema_str)
    assert check_compatibility(new, earlier, "BACKWARD", "v3") == []
    assert check_field_safety(new, earlier, "v3") == []


def test_v3_plans_a_nested_type_addition_a_new_type_and_a_column(
        versions: tuple[Contract, Contract], tmp_path: Path) -> None:
    _, v2 = versions
    shutil.copy(V3, tmp_path / "users_profile-value.avsc")
    v3 = load_contract_file(tmp_path / "users_profile-value.avsc")
    statements = _planned(v2, v3)  # over what v2's apply left
    assert [" ".join(s.split()) for s in statements if "dead_letters" not in s] == [
        "ALTER TYPE spark_streams.timezone ADD IF NOT EXISTS utc_offset_minutes int",
        "CREATE TYPE IF NOT EXISTS spark_streams.registered ( date timestamp, age int );",
        "ALTER TABLE spark_streams.user_profiles ADD IF NOT EXISTS registered "
        "frozen<registered>",
    ]
