"""Avro compatibility rules, each in both directions, and the transitive levels."""

from __future__ import annotations

from typing import Any

import pytest

from contract.avro_types import parse_schema
from schematool.gate.compat import check_compatibility, directions, versions_to_check


def schema(*fields: dict[str, Any], name: str = "User") -> Any:
    return parse_schema({"type": "record", "name": name, "namespace": "t", "fields": list(fields)})


def f(name: str, avro_type: Any, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": avro_type, **extra}


def enum(*symbols: str, **extra: Any) -> dict[str, Any]:
    return {"type": "enum", "name": "Colour", "symbols": list(symbols), **extra}


ID = f("id", "string")


def broken(old: Any, new: Any, level: str) -> list[tuple[str, str]]:
    return [
        (x.path, x.rule) for x in check_compatibility(new, [("version 1", old)], level, "s.avsc")
    ]


# (old fields, new fields, breaks BACKWARD at, breaks FORWARD at): None when compatible
CASES = {
    "add field with default": (
        [ID],
        [ID, f("email", ["null", "string"], default=None)],
        None,
        None,
    ),
    "add field without default": ([ID], [ID, f("age", "int")], "age", None),
    "remove field with default": ([ID, f("age", "int", default=0)], [ID], None, None),
    "remove field without default": ([ID, f("age", "int")], [ID], None, "age"),
    "type change int -> string": ([ID, f("age", "int")], [ID, f("age", "string")], "age", "age"),
    "promotion int -> long": ([ID, f("age", "int")], [ID, f("age", "long")], None, "age"),
    "promotion float -> double": ([ID, f("h", "float")], [ID, f("h", "double")], None, "h"),
    "string -> bytes": ([ID, f("b", "string")], [ID, f("b", "bytes")], None, None),
    "enum symbol added": ([ID, f("c", enum("RED"))], [ID, f("c", enum("RED", "BLUE"))], None, "c"),
    "enum symbol removed": (
        [ID, f("c", enum("RED", "BLUE"))],
        [ID, f("c", enum("RED"))],
        "c",
        None,
    ),
    "enum symbol added, old enum has a default": (
        [ID, f("c", enum("RED", "OTHER", default="OTHER"))],
        [ID, f("c", enum("RED", "OTHER", "BLUE", default="OTHER"))],
        None,
        None,
    ),
    "optional made required": (
        [ID, f("e", ["null", "string"], default=None)],
        [ID, f("e", "string")],
        "e",
        None,
    ),
    "required made optional": (
        [ID, f("e", "string")],
        [ID, f("e", ["null", "string"], default=None)],
        None,
        "e",
    ),
    "union branch removed": (
        [ID, f("v", ["null", "string", "int"], default=None)],
        [ID, f("v", ["null", "string"], default=None)],
        "v",
        None,
    ),
    "fixed size changed": (
        [ID, f("h", {"type": "fixed", "name": "Hash", "size": 16})],
        [ID, f("h", {"type": "fixed", "name": "Hash", "size": 32})],
        "h",
        "h",
    ),
    "nested field type changed inside a nullable record": (
        [ID, f("home", ["null", {"type": "record", "name": "Home", "fields": [f("zip", "int")]}])],
        [
            ID,
            f("home", ["null", {"type": "record", "name": "Home", "fields": [f("zip", "string")]}]),
        ],
        "home.zip",
        "home.zip",
    ),
    "array item type changed": (
        [ID, f("tags", {"type": "array", "items": "int"})],
        [ID, f("tags", {"type": "array", "items": "string"})],
        "tags[]",
        "tags[]",
    ),
    "rename with alias": (
        [ID, f("mail", "string")],
        [ID, f("email", "string", aliases=["mail"])],
        None,
        "mail",
    ),
}


@pytest.mark.parametrize(("old", "new", "backward", "forward"), CASES.values(), ids=CASES.keys())
def test_rule_in_both_directions(
    old: Any, new: Any, backward: str | None, forward: str | None
) -> None:
    old_schema, new_schema = schema(*old), schema(*new)
    expected_backward = [(backward, "avro-backward")] if backward else []
    expected_forward = [(forward, "avro-forward")] if forward else []
    assert broken(old_schema, new_schema, "BACKWARD") == expected_backward
    assert broken(old_schema, new_schema, "FORWARD") == expected_forward
    assert broken(old_schema, new_schema, "FULL") == expected_backward + expected_forward
    assert broken(old_schema, new_schema, "NONE") == []


def test_record_rename_breaks_unless_aliased() -> None:
    old = schema(ID, name="User")
    assert broken(old, schema(ID, name="Person"), "BACKWARD") == [("", "avro-backward")]
    assert broken(old, schema(ID, name="Person"), "BACKWARD")
    renamed = parse_schema(
        {
            "type": "record",
            "name": "Person",
            "namespace": "t",
            "aliases": ["t.User"],
            "fields": [ID],
        }
    )
    assert broken(old, renamed, "BACKWARD") == []


def test_message_names_the_rule_in_words_and_the_version() -> None:
    (finding,) = check_compatibility(
        schema(ID, f("age", "int")), [("version 3 (commit abc)", schema(ID))], "BACKWARD", "s.avsc"
    )
    assert finding.path == "age"
    assert "version 3 (commit abc)" in finding.message
    assert "added without a default" in finding.message
    assert "reader_field_missing_default_value" in finding.message


def test_transitive_levels_check_every_earlier_version() -> None:
    v1 = schema(ID, f("age", "int"))
    v2 = schema(ID)  # age removed
    v3 = schema(ID, f("age", "string", default=""))  # re-added with another type
    earlier = [("version 1", v1), ("version 2", v2)]
    assert check_compatibility(v3, earlier, "BACKWARD", "s.avsc") == []
    (finding,) = check_compatibility(v3, earlier, "BACKWARD_TRANSITIVE", "s.avsc")
    assert finding.path == "age" and "version 1" in finding.message
    assert "type_mismatch" in finding.message


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        ("BACKWARD", ("backward",)),
        ("BACKWARD_TRANSITIVE", ("backward",)),
        ("FORWARD", ("forward",)),
        ("FORWARD_TRANSITIVE", ("forward",)),
        ("FULL", ("backward", "forward")),
        ("FULL_TRANSITIVE", ("backward", "forward")),
        ("NONE", ()),
    ],
)
def test_directions(level: str, expected: tuple[str, ...]) -> None:
    assert directions(level) == expected


def test_versions_to_check() -> None:
    assert versions_to_check("FULL", [1, 2, 3]) == [3]
    assert versions_to_check("FULL_TRANSITIVE", [1, 2, 3]) == [1, 2, 3]
    assert versions_to_check("NONE", [1, 2, 3]) == []
    assert versions_to_check("BACKWARD", []) == []
    with pytest.raises(ValueError, match="unknown compatibility"):
        directions("SIDEWAYS")
