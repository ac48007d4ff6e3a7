"""The gate's labelled diff: each change named, with the Avro and Cassandra verdicts of the
same checkers as ``make schemas-check``."""

from __future__ import annotations

from typing import Any

from contract.avro_types import parse_schema
from schematool.gate.changes import (
    ADDED_WITH_DEFAULT,
    ADDED_WITHOUT_DEFAULT,
    DEFAULT_CHANGED,
    DOC_ONLY,
    PROMOTED,
    REMOVED,
    RENAMED,
    TYPE_CHANGED,
    labelled_changes,
)


def schema(*fields: dict[str, Any], doc: str | None = None) -> Any:
    record: dict[str, Any] = {"type": "record", "name": "User", "fields": [ID, *fields]}
    if doc is not None:
        record["doc"] = doc
    return parse_schema(record)


def f(name: str, avro_type: Any, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": avro_type, **extra}


ID = f("id", "string")
OPTIONAL = ["null", "string"]


def labels(old: Any, new: Any, level: str = "BACKWARD") -> list[tuple[str, str, bool, bool]]:
    diff = labelled_changes(old, new, level)
    return [(c.path, c.label, c.avro.ok, c.cassandra.ok) for c in diff.changes]


def test_same_schema_has_no_change() -> None:
    diff = labelled_changes(schema(f("a", "int")), schema(f("a", "int")), "BACKWARD")
    assert diff.changes == () and diff.unmatched == ()
    assert diff.compatible and diff.cassandra_safe


def test_field_added_with_default_is_compatible_and_safe() -> None:
    new = schema(f("email", OPTIONAL, default=None))
    assert labels(schema(), new) == [("email", ADDED_WITH_DEFAULT, True, True)]


def test_field_added_without_default_breaks_backward_only() -> None:
    new = schema(f("email", "string"))
    assert labels(schema(), new) == [("email", ADDED_WITHOUT_DEFAULT, False, True)]
    assert labels(schema(), new, "FORWARD") == [("email", ADDED_WITHOUT_DEFAULT, True, True)]
    assert labels(schema(), new, "NONE") == [("email", ADDED_WITHOUT_DEFAULT, True, True)]


def test_removed_field_without_default_breaks_forward() -> None:
    old = schema(f("email", "string"))
    assert labels(old, schema()) == [("email", REMOVED, True, True)]
    assert labels(old, schema(), "FULL") == [("email", REMOVED, False, True)]


def test_promotion_is_avro_compatible_but_not_cassandra_safe() -> None:
    diff = labelled_changes(schema(f("age", "int")), schema(f("age", "long")), "BACKWARD")
    (change,) = diff.changes
    assert (change.path, change.label, change.avro.ok) == ("age", PROMOTED, True)
    assert not change.cassandra.ok and "type-promotion" in change.cassandra.text
    assert diff.compatible and not diff.cassandra_safe


def test_other_type_change_breaks_both() -> None:
    (change,) = labelled_changes(
        schema(f("age", "int")), schema(f("age", "string")), "BACKWARD"
    ).changes
    assert change.label == TYPE_CHANGED
    assert not change.avro.ok and "cannot promote" in change.avro.text
    assert not change.cassandra.ok


def test_rename_via_alias_is_one_change_flagged_by_cassandra() -> None:
    old = schema(f("mail", OPTIONAL, default=None))
    new = schema(f("email", OPTIONAL, default=None, aliases=["mail"]))
    (change,) = labelled_changes(old, new, "BACKWARD").changes
    assert (change.path, change.label, change.avro.ok) == ("email", RENAMED, True)
    assert not change.cassandra.ok and "rename-via-alias" in change.cassandra.text
    assert change.before.startswith("mail:")


def test_doc_only_and_default_changes() -> None:
    old = schema(f("a", OPTIONAL, default=None, doc="old"), doc="v1")
    new = schema(f("a", OPTIONAL, default=None, doc="new"), doc="v2")
    assert labels(old, new) == [("", DOC_ONLY, True, True), ("a", DOC_ONLY, True, True)]
    moved = schema(f("a", "string", default="x"))
    assert labels(schema(f("a", "string", default="y")), moved) == [
        ("a", DEFAULT_CHANGED, True, True)
    ]


def test_nested_record_fields_are_diffed_by_path() -> None:
    def address(*fields: dict[str, Any]) -> dict[str, Any]:
        return f("address", {"type": "record", "name": "Address", "fields": [f("city", "string"),
                                                                              *fields]})

    old, new = schema(address()), schema(address(f("zip", OPTIONAL, default=None)))
    assert labels(old, new) == [("address.zip", ADDED_WITH_DEFAULT, True, True)]


def test_safety_judges_against_the_whole_history() -> None:
    # v1 created the column as int; v2 dropped it; v3 re-adds it as string: unsafe.
    v1, v2 = schema(f("age", "int")), schema()
    v3 = schema(f("age", OPTIONAL, default=None))
    alone = labelled_changes(v2, v3, "BACKWARD")
    assert alone.cassandra_safe
    whole = labelled_changes(v2, v3, "BACKWARD", history=[("v1", v1), ("v2", v2)])
    (change,) = whole.changes
    assert not change.cassandra.ok and "readded-with-other-type" in change.cassandra.text
