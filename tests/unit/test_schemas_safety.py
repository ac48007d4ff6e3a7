"""Cassandra-safety rules: changes Avro allows but a Cassandra table cannot follow."""

from __future__ import annotations

from typing import Any

import pytest

from contract.avro_types import parse_schema
from schematool.gate.safety import KeyLayout, check_field_safety, check_key_safety


def schema(*fields: dict[str, Any]) -> Any:
    return parse_schema({"type": "record", "name": "User", "fields": [ID, *fields]})


def f(name: str, avro_type: Any, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": avro_type, **extra}


ID = f("id", "string")
TS = {"type": "long", "logicalType": "timestamp-millis"}


def findings(*versions: Any) -> list[tuple[str, str]]:
    *earlier, new = versions
    labelled = [(f"version {i}", s) for i, s in enumerate(earlier, start=1)]
    return [(x.path, x.rule) for x in check_field_safety(new, labelled, "s.avsc")]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("int", "long"),
        ("int", "float"),
        ("int", "double"),
        ("long", "double"),
        ("float", "double"),
        ("string", "bytes"),
        ("bytes", "string"),
        (["null", "int"], ["null", "long"]),
    ],
)
def test_promotion_that_changes_the_cql_type(old: Any, new: Any) -> None:
    assert findings(schema(f("v", old)), schema(f("v", new))) == [("v", "type-promotion")]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("long", TS),
        (TS, "long"),
        (TS, {"type": "long", "logicalType": "timestamp-micros"}),
        ("string", {"type": "string", "logicalType": "uuid"}),
        ({"type": "int", "logicalType": "date"}, "int"),
    ],
)
def test_logical_type_change(old: Any, new: Any) -> None:
    assert findings(schema(f("v", old)), schema(f("v", new))) == [("v", "logical-type-changed")]


def test_other_cql_type_change() -> None:
    assert findings(schema(f("v", "int")), schema(f("v", "string"))) == [("v", "cql-type-changed")]


def test_field_dropped_and_readded_with_another_type_is_caught_against_all_versions() -> None:
    v1, v2 = schema(f("age", "int")), schema()
    v3 = schema(f("age", ["null", "string"], default=None))
    assert findings(v1, v2, v3) == [("age", "readded-with-other-type")]
    assert findings(v1, v2, schema(f("age", ["null", "int"], default=None))) == []


def test_column_type_is_the_first_versions_even_after_a_merged_change() -> None:
    # version 2 slipped through with long; the column is still int from version 1
    v1, v2 = schema(f("n", "int")), schema(f("n", "long"))
    assert findings(v1, v2, schema(f("n", "long"))) == [("n", "type-promotion")]
    assert findings(v1, v2, schema(f("n", "int"))) == []


def test_rename_through_aliases() -> None:
    old = schema(f("mail", "string"))
    new = schema(f("email", "string", aliases=["mail"]))
    assert findings(old, new) == [("email", "rename-via-alias")]


def test_alias_naming_no_earlier_field_is_fine() -> None:
    assert findings(schema(), schema(f("email", "string", aliases=["never_existed"]))) == []


def test_nested_record_field_change_is_reported_at_its_path() -> None:
    def home(zip_type: str) -> dict[str, Any]:
        return f("home", {"type": "record", "name": "Home", "fields": [f("zip", zip_type)]})

    assert findings(schema(home("int")), schema(home("long"))) == [("home.zip", "type-promotion")]


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ([], [f("email", ["null", "string"], default=None)]),  # a new optional field
        ([f("age", "int")], [f("age", "int", doc="now documented")]),  # doc only
        ([f("age", "int")], []),  # a dropped field: the column stays, nothing to refuse
    ],
)
def test_safe_changes_have_no_findings(before: list[Any], after: list[Any]) -> None:
    assert findings(schema(*before), schema(*after)) == []


def test_nullability_change_keeps_the_cql_type() -> None:
    assert (
        findings(schema(f("v", "string")), schema(f("v", ["null", "string"], default=None))) == []
    )


# -- the sidecar's primary key -----------------------------------------------------------


def layout(partition: tuple[str, ...], clustering: tuple[str, ...] = (), table: str = "ks.t"):
    return KeyLayout(table, partition, clustering)


@pytest.mark.parametrize(
    "current",
    [layout(("id", "day")), layout(("day",)), layout(("id",), ("ts",))],
)
def test_primary_key_change_is_refused(current: KeyLayout) -> None:
    (finding,) = check_key_safety(current, [("commit a", layout(("id",)))], "s.toml")
    assert finding.rule == "primary-key-changed" and "commit a" in finding.message


def test_same_key_or_another_table_is_fine() -> None:
    assert check_key_safety(layout(("id",)), [("a", layout(("id",)))], "s.toml") == []
    moved = layout(("day",), table="ks.t_v2")
    assert check_key_safety(moved, [("a", layout(("id",)))], "s.toml") == []


def test_key_layout_from_an_earlier_sidecar() -> None:
    text = (
        '[cassandra]\nkeyspace = "ks"\ntable = "t"\n'
        'partition_key = ["id"]\nclustering_key = ["ts"]\n'
    )
    assert KeyLayout.from_toml(text) == layout(("id",), ("ts",))
    assert KeyLayout.from_toml("not = [toml") is None
    assert KeyLayout.from_toml("[kafka]\npartitions = 3\n") is None
