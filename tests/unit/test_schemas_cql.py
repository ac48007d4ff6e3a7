"""Avro -> CQL: every type and logical type, user types, table options, dead letters, migrations."""

from __future__ import annotations

from typing import Any

import pytest

from contract.avro_types import SchemaError, parse_schema
from contract.cql import (
    DEAD_LETTER_COLUMNS,
    LINEAGE_COLUMNS,
    cql_types_by_path,
    create_table_cql,
    create_type_cql,
    dead_letter_spec,
    dead_letter_table_cql,
    quote_identifier,
    table_spec_for,
    unquote_identifier,
)
from contract.migration import Migration, UnsafeMigrationError, normalize_cql_type, plan_migration


def record(*fields: dict[str, Any], name: str = "Thing") -> dict[str, Any]:
    return {"type": "record", "name": name, "namespace": "test", "fields": list(fields)}


def field(name: str, avro_type: Any, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": avro_type, "doc": name, **extra}


def spec(*fields: dict[str, Any], key: str = "id", **kwargs: Any):
    return table_spec_for(
        record(field("id", "string"), *fields),
        keyspace="ks",
        table="t",
        partition_key=[key],
        **kwargs,
    )


def column_type(avro_type: Any) -> str:
    return spec(field("value", avro_type)).column_map["value"]


INNER = {"type": "record", "name": "Inner", "fields": [field("x", "int")]}


@pytest.mark.parametrize(
    ("avro_type", "cql"),
    [
        ("string", "text"),
        ("int", "int"),
        ("long", "bigint"),
        ("float", "float"),
        ("double", "double"),
        ("boolean", "boolean"),
        ("bytes", "blob"),
        ({"type": "fixed", "name": "Hash16", "size": 16}, "blob"),
        ({"type": "enum", "name": "Colour", "symbols": ["RED", "GREEN"]}, "text"),
        ({"type": "string", "logicalType": "uuid"}, "uuid"),
        ({"type": "long", "logicalType": "timestamp-millis"}, "timestamp"),
        ({"type": "long", "logicalType": "timestamp-micros"}, "timestamp"),
        ({"type": "int", "logicalType": "date"}, "date"),
        ({"type": "int", "logicalType": "time-millis"}, "time"),
        ({"type": "long", "logicalType": "time-micros"}, "time"),
        ({"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2}, "decimal"),
        (
            {
                "type": "fixed",
                "name": "Money",
                "size": 8,
                "logicalType": "decimal",
                "precision": 12,
            },
            "decimal",
        ),
        ({"type": "array", "items": "string"}, "list<text>"),
        ({"type": "map", "values": "long"}, "map<text, bigint>"),
        (["null", "string"], "text"),
        (["string", "null"], "text"),
        (["null", {"type": "long", "logicalType": "timestamp-millis"}], "timestamp"),
        ({"type": "array", "items": ["null", "int"]}, "list<int>"),
        ({"type": "array", "items": {"type": "array", "items": "int"}}, "list<frozen<list<int>>>"),
        (
            {"type": "map", "values": {"type": "map", "values": "string"}},
            "map<text, frozen<map<text, text>>>",
        ),
        (INNER, "frozen<inner>"),
        (["null", INNER], "frozen<inner>"),
        ({"type": "array", "items": INNER}, "list<frozen<inner>>"),
        ({"type": "map", "values": INNER}, "map<text, frozen<inner>>"),
    ],
)
def test_avro_type_maps_to_cql(avro_type: Any, cql: str) -> None:
    assert column_type(avro_type) == cql


@pytest.mark.parametrize(
    "avro_type",
    [
        ["string", "int"],
        ["null", "string", "int"],
        "null",
    ],
)
def test_unmappable_type_is_a_clear_error(avro_type: Any) -> None:
    with pytest.raises(SchemaError, match="value") as error:
        column_type(avro_type)
    assert error.value.path == "value"


def test_unknown_logical_type_names_the_field() -> None:
    with pytest.raises(SchemaError, match=r"field 'value'.*unknown logical type 'duration-ish'"):
        column_type({"type": "long", "logicalType": "duration-ish"})


def test_misplaced_logical_type_is_refused() -> None:
    with pytest.raises(SchemaError, match="needs Avro type long"):
        column_type({"type": "string", "logicalType": "timestamp-millis"})


def test_nested_records_become_user_types_created_before_use() -> None:
    geo = {"type": "record", "name": "GeoPoint", "fields": [field("lat", "double")]}
    address = {
        "type": "record",
        "name": "HomeAddress",
        "fields": [
            field("city", "string"),
            field("geo", geo),
            field("lines", {"type": "array", "items": "string"}),
        ],
    }
    table = spec(field("home", address), field("work", ["null", "HomeAddress"]))
    assert [t.name for t in table.user_types] == ["geo_point", "home_address"]
    assert dict(table.user_types[1].fields) == {
        "city": "text",
        "geo": "frozen<geo_point>",
        "lines": "frozen<list<text>>",
    }
    assert table.column_map["home"] == table.column_map["work"] == "frozen<home_address>"
    assert create_type_cql("ks", table.user_types[0]) == (
        "CREATE TYPE IF NOT EXISTS ks.geo_point (\n    lat double\n);"
    )


def test_two_records_with_one_cql_name_are_refused() -> None:
    one = {"type": "record", "name": "Point", "namespace": "a", "fields": [field("x", "int")]}
    two = {"type": "record", "name": "Point", "namespace": "b", "fields": [field("y", "int")]}
    with pytest.raises(SchemaError, match="would both be CQL type 'point'"):
        spec(field("p", one), field("q", two))


def test_recursive_record_is_refused() -> None:
    node = {"type": "record", "name": "Node", "fields": [field("next", ["null", "Node"])]}
    with pytest.raises(SchemaError, match="recursive"):
        spec(field("head", node))


def test_table_has_fields_then_lineage_and_the_sidecar_key() -> None:
    table = spec(field("ts", "long"), clustering_key=["ts"], ttl_seconds=3600)
    assert list(table.column_map) == ["id", "ts", *LINEAGE_COLUMNS]
    assert dict(LINEAGE_COLUMNS) == {
        "writer_schema_id": "int",
        "writer_schema_version": "int",
        "ingested_at": "timestamp",
    }
    text = create_table_cql(table)
    assert text.startswith("CREATE TABLE IF NOT EXISTS ks.t (\n")
    assert "    PRIMARY KEY ((id), ts)\n) WITH default_time_to_live = 3600;" in text


def test_no_ttl_option_when_rows_never_expire() -> None:
    assert "default_time_to_live" not in create_table_cql(spec(ttl_seconds=0))


def test_composite_partition_key() -> None:
    table = table_spec_for(
        record(field("a", "string"), field("b", "int"), field("c", "long")),
        keyspace="ks",
        table="t",
        partition_key=["a", "b"],
        clustering_key=["c"],
    )
    assert "PRIMARY KEY ((a, b), c)" in create_table_cql(table)


@pytest.mark.parametrize("key", ["missing", "writer_schema_id"])
def test_bad_key_or_lineage_collision_is_refused(key: str) -> None:
    with pytest.raises(SchemaError):
        table_spec_for(
            record(field("id", "string"), field("writer_schema_id", "int")),
            keyspace="ks",
            table="t",
            partition_key=[key],
        )


def test_dead_letter_table_has_the_agreed_columns_and_key() -> None:
    text = dead_letter_table_cql("spark_streams")
    assert text.startswith("CREATE TABLE IF NOT EXISTS spark_streams.dead_letters (")
    # The offset alone names a record within one incarnation of a topic only: a recreated
    # topic starts again at 0, and its dead letters must not overwrite the first one's.
    assert "PRIMARY KEY ((topic, partition), offset, kafka_timestamp)" in text
    assert dict(DEAD_LETTER_COLUMNS) == {
        "topic": "text",
        "partition": "int",
        "offset": "bigint",
        "kafka_timestamp": "timestamp",
        "key": "blob",
        "value": "blob",
        "headers": "map<text, blob>",
        "schema_id": "int",
        "error": "text",
        "error_class": "text",
        "stage": "text",
        "dead_lettered_at": "timestamp",
        "replayed_at": "timestamp",
    }
    for name, cql in DEAD_LETTER_COLUMNS.items():
        assert f" {name} " in text and f" {cql}," in text


@pytest.mark.parametrize(
    ("name", "quoted"), [("city", "city"), ("order", '"order"'), ("Mixed", '"Mixed"')]
)
def test_identifiers_are_quoted_only_when_cql_needs_it(name: str, quoted: str) -> None:
    assert quote_identifier(name) == quoted


def test_cql_types_by_path_includes_user_type_fields() -> None:
    schema = parse_schema(record(field("id", "string"), field("inner", ["null", INNER])))
    assert cql_types_by_path(schema) == {"id": "text", "inner": "frozen<inner>", "inner.x": "int"}


# -- migrations ----------------------------------------------------------------------------


def test_migration_adds_missing_columns_in_schema_order() -> None:
    plan = plan_migration(
        {"id": "uuid", "email": "text", "age": "int"},
        {"id": "uuid"},
    )
    assert plan == Migration(adds=(("email", "text"), ("age", "int")), dropped=())
    assert plan.alter_statements("TABLE", "ks.t") == [
        "ALTER TABLE ks.t ADD email text",
        "ALTER TABLE ks.t ADD age int",
    ]
    assert plan.alter_statements("TYPE", "ks.address") == [
        "ALTER TYPE ks.address ADD email text",
        "ALTER TYPE ks.address ADD age int",
    ]


def test_migration_reports_dropped_columns_without_dropping_them() -> None:
    plan = plan_migration({"id": "uuid"}, {"id": "uuid", "legacy": "text"})
    assert plan.is_empty and plan.dropped == ("legacy",)
    assert plan.alter_statements("TABLE", "ks.t") == []


def test_migration_refuses_a_type_change() -> None:
    with pytest.raises(
        UnsafeMigrationError, match="age: the table has int, the schema wants bigint"
    ):
        plan_migration({"id": "uuid", "age": "bigint"}, {"id": "uuid", "age": "int"})


def test_migration_compares_types_as_cassandra_spells_them() -> None:
    desired = {"tags": "map<text, frozen<list<int>>>", "name": "text"}
    current = {"tags": "map<text,frozen<list<int>>>", "name": "varchar"}
    assert plan_migration(desired, current).is_empty
    assert normalize_cql_type("MAP<text, int>") == "map<text,int>"


@pytest.mark.parametrize(
    ("name", "stored"),
    [
        ("id", "id"),
        ("Name", "name"),  # unquoted: case-insensitive, stored lower-cased
        ('"Name"', "Name"),  # quoted: keeps its case
        ('"order"', "order"),  # a reserved word, quoted
        ('"a""b"', 'a"b'),  # "" inside quotes is one "
        ('"a"""', 'a"'),
        ('""""', '"'),
        ('"with space"', "with space"),
    ],
)
def test_unquote_identifier_follows_cql(name: str, stored: str) -> None:
    assert unquote_identifier(name) == stored


@pytest.mark.parametrize("name", ['"', '"abc', '"a"b"', '"a""'])
def test_unquote_identifier_refuses_unbalanced_quotes(name: str) -> None:
    with pytest.raises(ValueError, match="not a CQL identifier"):
        unquote_identifier(name)


@pytest.mark.parametrize(
    "name", ["id", "Name", "order", "a\"b", "with space", "ünïcode", "_x", "x1", '"', '""']
)
def test_unquote_identifier_inverts_quote_identifier(name: str) -> None:
    assert unquote_identifier(quote_identifier(name)) == name


def test_stored_columns_are_the_unquoted_names() -> None:
    table = spec(field("Name", "string"), field("order", "int"))
    assert list(table.stored_columns) == ["id", "Name", "order", *LINEAGE_COLUMNS]
    assert dead_letter_spec("ks").stored_columns == dict(DEAD_LETTER_COLUMNS)
