"""The rich contract (schemas/users_profile-value): every shape the
generator maps, held to the CQL, the Spark reader type, the mapping rules and the
compiled encoder. No services: the e2e half is tests/e2e/test_rich_contract.py (issue 17).
"""

from __future__ import annotations

import io
import json
import logging
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import fastavro
import pytest
from pyspark.sql import types as T

from contract.catalog import Contract, load_contract_file
from contract.cql import cql_files, schema_statements, table_spec
from contract.spark_types import spark_struct
from contract.wire import frame
from producers import profile_mapping
from producers.avro_encoder import NotCompilable, compile_encoder
from producers.errors import MappingError
from producers.kafka_producer import ContractProducer
from producers.mapping import decimal_at, enum_at, map_users, to_record
from schematool.gate.lint import lint_contract
from stack.randomuser.generator import NATIONALITY_CODES, generate_page
from streaming.sql import struct_type
from tests.unit.test_producer_kafka import FAST_FAIL, settings_for

REPO = Path(__file__).resolve().parents[2]
AVSC = REPO / "schemas" / "users_profile-value.avsc"


@pytest.fixture(scope="module")
def contract() -> Contract:
    return load_contract_file(AVSC)


@pytest.fixture(scope="module")
def api_users() -> list[dict[str, Any]]:
    return generate_page("rich", 1, 200, NATIONALITY_CODES)


def reference(schema: dict[str, Any], schema_id: int, record: dict[str, Any]) -> bytes:
    """What AvroSerializer writes: fastavro's schemaless writer, Confluent-framed."""
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(schema), record)
    return frame(schema_id, out.getvalue())


def decode(schema: dict[str, Any], value: bytes) -> Any:
    return fastavro.schemaless_reader(io.BytesIO(value[5:]), fastavro.parse_schema(schema))


# -- the contract and the generator ------------------------------------------------------


def test_the_contract_passes_the_gate_and_is_one_of_the_pipeline_s(
        contract: Contract) -> None:
    assert lint_contract(contract) == []
    assert contract.rules_module == "producers.profile_mapping"
    assert AVSC in (REPO / "schemas").glob("*.avsc")


def test_rules_offering_later_fields_map_to_the_schema_s_shape_only() -> None:
    """The rules offer v3's Timezone.utc_offset_minutes; a v1 record has no such key,
    a v3 record has it (the mapping cuts nested records to the schema)."""
    v1 = load_contract_file(AVSC)
    v3 = replace(v1, schema_str=(REPO / "docs" / "examples" / "users_profile-value.v3.avsc")
                 .read_text(encoding="utf-8"))
    user = generate_page("shape", 1, 1, NATIONALITY_CODES)[0]
    assert set(to_record(user, v1)["location"]["timezone"]) == {"offset", "description"}
    v3_record = to_record(user, v3)
    assert set(v3_record["location"]["timezone"]) == {"offset", "description",
                                                      "utc_offset_minutes"}
    assert set(v3_record["registered"]) == {"date", "age"}


def test_cql_user_types_come_before_use_and_the_table_holds_every_shape(
        contract: Contract) -> None:
    spec = table_spec(contract)
    assert [u.name for u in spec.user_types] == [
        "street", "coordinates", "timezone", "location", "phone", "picture"]
    assert dict(spec.user_types[1].fields) == {"latitude": "decimal", "longitude": "decimal"}
    assert dict(spec.user_types[3].fields)["coordinates"] == "frozen<coordinates>"
    assert dict(spec.user_types[4].fields) == {"kind": "text", "number": "text"}
    columns = spec.column_map
    assert {k: columns[k] for k in contract.field_names} == {
        "id": "uuid",
        "gender": "text",  # enums are text: a new symbol needs no ALTER
        "nationality": "text",
        "dob": "date",
        "location": "frozen<location>",
        "phones": "list<frozen<phone>>",
        "ids": "map<text, text>",
        "login_digest": "blob",
        "picture": "frozen<picture>",
    }
    statements = schema_statements(contract)
    types = [s for s in statements if s.startswith("CREATE TYPE")]
    assert len(types) == 6 and statements[-1].startswith("CREATE TABLE")
    files = cql_files([contract])
    assert "spark_streams.user_profiles.cql" in files
    assert "CREATE TYPE IF NOT EXISTS spark_streams.location" in files[
        "spark_streams.user_profiles.cql"]


def test_the_spark_reader_type(contract: Contract) -> None:
    struct = struct_type(spark_struct(contract.schema))
    assert struct["gender"].dataType == T.StringType() and not struct["gender"].nullable
    assert struct["dob"].dataType == T.DateType() and struct["dob"].nullable
    assert struct["login_digest"].dataType == T.BinaryType()
    assert struct["ids"].dataType == T.MapType(T.StringType(), T.StringType(), False)
    phone = T.StructType([T.StructField("kind", T.StringType(), False),
                          T.StructField("number", T.StringType(), False)])
    assert struct["phones"].dataType == T.ArrayType(phone, False)
    location = struct["location"].dataType
    assert isinstance(location, T.StructType) and not struct["location"].nullable
    coordinates = location["coordinates"].dataType
    assert isinstance(coordinates, T.StructType)
    assert coordinates["latitude"].dataType == T.DecimalType(7, 4)
    assert location["state"].nullable and not location["city"].nullable
    assert struct["picture"].nullable
    assert isinstance(struct["picture"].dataType, T.StructType)


# -- the mapping rules ---------------------------------------------------------------------


def test_the_enums_of_the_rules_are_the_schemas(contract: Contract) -> None:
    by_name = {f["name"]: f["type"] for f in contract.fields}
    assert tuple(by_name["gender"]["symbols"]) == profile_mapping.GENDERS
    assert tuple(by_name["nationality"]["symbols"]) == profile_mapping.NATIONALITIES
    latitude = by_name["location"]["fields"][5]["type"]["fields"][0]["type"]
    assert latitude["scale"] == profile_mapping.COORDINATE_SCALE


def test_every_generated_user_maps_with_every_shape(contract: Contract,
                                                    api_users: list[dict[str, Any]]) -> None:
    page = map_users(api_users, contract)
    assert page.rejected == () and len(page.records) == len(api_users)
    user, record = api_users[0], page.records[0]
    assert record["gender"] == user["gender"].upper()
    assert record["nationality"] == user["nat"]
    assert isinstance(record["dob"], date) and record["dob"].isoformat() == user["dob"]["date"][:10]
    coordinates = record["location"]["coordinates"]
    assert coordinates["latitude"] == Decimal(user["location"]["coordinates"]["latitude"])
    assert coordinates["latitude"].as_tuple().exponent == -4
    assert record["location"]["street"] == user["location"]["street"]
    assert record["location"]["timezone"] == user["location"]["timezone"]
    assert record["phones"] == [{"kind": "PHONE", "number": user["phone"]},
                                {"kind": "CELL", "number": user["cell"]}]
    assert record["ids"]["username"] == user["login"]["username"]
    assert len(record["login_digest"]) == 16
    assert record["picture"] == user["picture"]
    assert "password" not in json.dumps(record, default=str)


def test_absent_optional_parts(contract: Contract, api_users: list[dict[str, Any]]) -> None:
    user = json.loads(json.dumps(api_users[1]))
    del user["picture"]["thumbnail"], user["cell"], user["nat"], user["dob"]
    user["gender"] = "nonbinary"
    user["id"] = {"name": "", "value": None}
    record = to_record(user, contract)
    assert record["picture"] is None and record["dob"] is None
    assert record["phones"] == [{"kind": "PHONE", "number": user["phone"]}]
    assert record["nationality"] == "UNKNOWN" and record["gender"] == "UNKNOWN"
    assert record["ids"] == {"username": user["login"]["username"]}


def test_a_missing_required_nested_value_names_its_field(
        contract: Contract, api_users: list[dict[str, Any]]) -> None:
    user = json.loads(json.dumps(api_users[2]))
    del user["location"]["city"]
    with pytest.raises(MappingError, match="city"):
        to_record(user, contract)


@pytest.mark.parametrize(("sent", "expected"), [
    ("-69.8246", Decimal("-69.8246")), ("12.5", Decimal("12.5000")), (7, Decimal("7.0000")),
    ("12.50000", Decimal("12.5000")),
])
def test_decimals_are_exact(sent: Any, expected: Decimal) -> None:
    value = decimal_at("c", 4)({"c": sent})
    assert value == expected and value.as_tuple().exponent == -4


@pytest.mark.parametrize("sent", ["12.34567", "NaN", "Infinity", "north", 1.5, True])
def test_a_decimal_that_is_not_exact_is_refused(sent: Any) -> None:
    with pytest.raises(MappingError):
        decimal_at("c", 4)({"c": sent})


def test_an_enum_default_must_be_a_symbol() -> None:
    with pytest.raises(ValueError, match="not one of the symbols"):
        enum_at("g", ["A"], "B")


# -- the compiled encoder -------------------------------------------------------------------


def test_mapped_users_compile_to_avro_serializers_bytes_and_decode_back(
        contract: Contract, api_users: list[dict[str, Any]]) -> None:
    encode = compile_encoder(contract.schema_str, 11)
    page = map_users(api_users, contract)
    for record in page.records:
        value = encode(record)
        assert value == reference(contract.schema, 11, record)
        back = decode(contract.schema, value)
        # exact decimals, dates, bytes, nested values, collections (the uuid as a UUID)
        assert {**back, "id": str(back["id"])} == record


def test_edge_shapes_compile_to_the_same_bytes(contract: Contract,
                                               api_users: list[dict[str, Any]]) -> None:
    encode = compile_encoder(contract.schema_str, 3)
    record = to_record(api_users[3], contract)
    long_ids = {f"k{i}": "ü" * i for i in range(70)}  # > 63 entries, long strings
    for variant in (
        {**record, "phones": [], "ids": {}, "picture": None, "dob": None},
        {**record, "phones": record["phones"] * 40, "ids": long_ids},
        {**record, "dob": 0, "gender": "MALE"},
    ):
        assert encode(variant) == reference(contract.schema, 3, variant)


@pytest.mark.parametrize("change", [
    {"gender": "OTHER"},  # not a symbol
    {"login_digest": b"short"},  # fixed of the wrong size
    {"picture": {"large": "x"}},  # nested record without its fields
])
def test_what_is_not_the_plain_case_raises_for_avro_serializer(
        contract: Contract, api_users: list[dict[str, Any]], change: dict[str, Any]) -> None:
    encode = compile_encoder(contract.schema_str, 3)
    record = to_record(api_users[4], contract)
    with pytest.raises((KeyError, ValueError, TypeError)):
        encode({**record, **change})


def test_fixed_decimals_and_named_references_compile() -> None:
    money = {"type": "fixed", "name": "Money", "size": 8, "logicalType": "decimal",
             "precision": 12, "scale": 2}
    inner = {"type": "record", "name": "Inner", "namespace": "n.s",
             "fields": [{"name": "amount", "type": money}]}
    schema = {"type": "record", "name": "Outer", "fields": [
        {"name": "first", "type": inner},
        {"name": "again", "type": ["null", "n.s.Inner"]},
        {"name": "by_key",
         "type": {"type": "map", "values": {"type": "array", "items": "n.s.Money"}}},
    ]}
    encode = compile_encoder(json.dumps(schema), 5)
    record = {"first": {"amount": Decimal("-1234.56")}, "again": {"amount": Decimal("0.01")},
              "by_key": {"a": [Decimal("1.00"), Decimal("99999.99")], "b": []}}
    assert encode(record) == reference(schema, 5, record)


def test_a_wider_union_is_refused_naming_the_nested_field() -> None:
    schema = {"type": "record", "name": "R", "fields": [
        {"name": "outer", "type": {"type": "record", "name": "O", "fields": [
            {"name": "choice", "type": ["null", "string", "long"]}]}}]}
    with pytest.raises(NotCompilable, match=r"outer\.choice"):
        compile_encoder(json.dumps(schema), 1)


def test_the_producer_keeps_the_compiled_encoder_after_its_first_record_check(
        registry: Any, contract: Contract, api_users: list[dict[str, Any]],
        caplog: pytest.LogCaptureFixture) -> None:
    url, fake = registry
    fake.registered[contract.subject] = contract.schema_str
    page = map_users(api_users[:20], contract)
    with caplog.at_level(logging.INFO), \
            ContractProducer(settings_for(url), contract, tuning=FAST_FAIL) as producer:
        # The first record is encoded both ways (AvroSerializer's bytes are the reference).
        values = [producer.encode(record) for record in page.records]
        assert producer._fast is not None  # agreed: every later record is the compiled one's
    assert values == [reference(contract.schema, 7, r) for r in page.records]
    assert "not compiled" not in caplog.text and "disagrees" not in caplog.text
