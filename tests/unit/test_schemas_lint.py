"""Lint rules: one bad schema per rule, and a clean one."""

from __future__ import annotations

import json
from typing import Any

import pytest

from schematool.gate.findings import Finding, format_github, format_text, locate_line
from schematool.gate.lint import lint_schema


def record(*fields: dict[str, Any], name: str = "UserThing") -> dict[str, Any]:
    return {"type": "record", "name": name, "namespace": "test", "fields": list(fields)}


def field(name: str, avro_type: Any, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": avro_type, "doc": f"the {name}", **extra}


ID = field("id", {"type": "string", "logicalType": "uuid"})


def rules(schema: dict[str, Any], **keys: Any) -> set[tuple[str, str]]:
    keys.setdefault("partition_key", ["id"])
    return {(f.path, f.rule) for f in lint_schema(json.dumps(schema), "s.avsc", **keys)}


def test_a_clean_schema_has_no_findings() -> None:
    inner = {"type": "record", "name": "HomeAddress", "fields": [field("city", "string")]}
    schema = record(
        ID,
        field("email", ["null", "string"], default=None),
        field("home", ["null", inner], default=None),
    )
    assert rules(schema) == set()


@pytest.mark.parametrize(
    ("bad_field", "expected"),
    [
        ({"name": "email", "type": "string"}, ("email", "field-doc")),
        ({"name": "email", "type": "string", "doc": "  "}, ("email", "field-doc")),
        (field("email", ["null", "string"]), ("email", "nullable-default")),
        (field("email", ["null", "string"], default="x"), ("email", "nullable-default")),
        (field("email", ["string", "null"], default=None), ("email", "null-first")),
        (field("firstName", "string"), ("firstName", "field-name")),
        (field("password", "string"), ("password", "no-credentials")),
        (field("login_salt", "string"), ("login_salt", "no-credentials")),
        (field("sha256", "string"), ("sha256", "no-credentials")),
        (field("md5", "string"), ("md5", "no-credentials")),
        (field("ingested_at", "long"), ("ingested_at", "lineage-collision")),
        (field("v", ["string", "int"]), ("v", "cql-union")),
        (field("d", {"type": "long", "logicalType": "duration-ish"}), ("d", "logical-type")),
        (
            field("d", {"type": "long", "logicalType": "local-timestamp-millis"}),
            ("d", "logical-type"),
        ),
        (field("d", {"type": "string", "logicalType": "date"}), ("d", "logical-type")),
        (
            field("d", {"type": "bytes", "logicalType": "decimal", "precision": 0}),
            ("d", "logical-type"),
        ),
    ],
)
def test_each_field_rule(bad_field: dict[str, Any], expected: tuple[str, str]) -> None:
    assert expected in rules(record(ID, bad_field))


def test_nested_fields_are_linted_with_their_path() -> None:
    inner = {
        "type": "record",
        "name": "HomeAddress",
        "fields": [{"name": "cityName", "type": "int"}],
    }
    found = rules(record(ID, field("home", inner)))
    assert ("home.cityName", "field-doc") in found
    assert ("home.cityName", "field-name") in found


@pytest.mark.parametrize("name", ["userCreated", "user_created", "User_Created"])
def test_record_names_are_pascal_case(name: str) -> None:
    assert ("", "record-name") in rules(record(ID, name=name))


def test_nested_record_names_are_pascal_case() -> None:
    inner = {"type": "record", "name": "home_address", "fields": [field("city", "string")]}
    assert ("home", "record-name") in rules(record(ID, field("home", inner)))


@pytest.mark.parametrize(
    ("key_field", "keys"),
    [
        (field("id", "string"), {"partition_key": ["missing"]}),
        (field("id", ["null", "string"], default=None), {}),
        (field("id", {"type": "array", "items": "string"}), {}),
        (field("id", "string"), {"clustering_key": ["nope"]}),
    ],
)
def test_primary_key_rule(key_field: dict[str, Any], keys: dict[str, Any]) -> None:
    assert any(rule == "primary-key" for _, rule in rules(record(key_field), **keys))


def test_unparseable_schema_is_one_parse_finding() -> None:
    findings = lint_schema('{"type": "record", "name": "R", "fields": [{"name": 1}]}', "s.avsc")
    assert [f.rule for f in findings] == ["parse"]
    assert lint_schema("{not json", "s.avsc")[0].message.startswith("line 1: not valid JSON")


def test_finding_formats() -> None:
    finding = Finding("schemas/s.avsc", "home.city", "field-doc", "the field has no doc", 7)
    assert format_text(finding) == "schemas/s.avsc:7: [field-doc] home.city: the field has no doc"
    assert format_github(finding) == (
        "::error file=schemas/s.avsc,line=7,title=field-doc::home.city: the field has no doc"
    )
    assert "%0A" in format_github(Finding("f", "", "r", "two\nlines"))


def test_locate_line_follows_the_path() -> None:
    text = '{\n "fields": [\n  {"name": "city"},\n  {"name": "home", "type": {\n'
    text += '   "fields": [{"name": "city"}]}}]}'
    assert locate_line(text, "city") == 3
    assert locate_line(text, "home.city") == 5
    assert locate_line(text, "nowhere") is None
