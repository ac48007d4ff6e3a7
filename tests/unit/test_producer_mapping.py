"""API user -> contract record, including the API's awkward records."""

from __future__ import annotations

import copy
import io
import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import fastavro
import pytest
from fastavro import parse_schema
from fastavro.validation import validate

from contract.catalog import Contract, load_contract
from producers.errors import ContractDriftError, MappingError
from producers.mapping import FIELD_RULES, map_users, to_record
from stack.randomuser.generator import generate_page, normalize_nats

CONTRACT = load_contract()
UUID = "7a0eed16-9430-4d68-901f-c0d4c1c3bf00"
DROP = object()  # in api_user(): remove the key


def api_user(**overrides: Any) -> dict[str, Any]:
    """The documentation's example user; ``a__b=v`` sets user['a']['b'], ``a=DROP`` removes."""
    user: dict[str, Any] = {
        "gender": "female",
        "name": {"title": "Miss", "first": "Jennie", "last": "Nichols"},
        "location": {
            "street": {"number": 8929, "name": "Valwood Pkwy"},
            "city": "Billings", "state": "Michigan", "country": "United States",
            "postcode": "63104",
            "coordinates": {"latitude": "-69.8246", "longitude": "134.8719"},
            "timezone": {"offset": "+9:30", "description": "Adelaide, Darwin"},
        },
        "email": "jennie.nichols@example.com",
        "login": {"uuid": UUID, "username": "yellowpeacock117", "password": "addison",
                  "salt": "sld1yGtd", "md5": "x", "sha1": "y", "sha256": "z"},
        "dob": {"date": "1992-03-08T15:13:16.688Z", "age": 30},
        "registered": {"date": "2007-07-09T05:51:59.390Z", "age": 14},
        "phone": "(272) 790-0888", "cell": "(489) 330-2385",
        "id": {"name": "SSN", "value": "405-88-3636"},
        "picture": {"large": "https://randomuser.me/api/portraits/men/75.jpg",
                    "medium": "https://randomuser.me/api/portraits/med/men/75.jpg",
                    "thumbnail": "https://randomuser.me/api/portraits/thumb/men/75.jpg"},
        "nat": "US",
    }
    for key, value in overrides.items():
        *parents, last = key.split("__")
        node = user
        for p in parents:
            node = node[p]
        if value is DROP:
            node.pop(last, None)
        else:
            node[last] = value
    return user



def test_documentation_example_maps_field_by_field() -> None:
    assert to_record(api_user()) == {
        "id": UUID,
        "first_name": "Jennie",
        "last_name": "Nichols",
        "gender": "female",
        "address": "8929 Valwood Pkwy, Billings, Michigan, United States",
        "post_code": "63104",
        "email": "jennie.nichols@example.com",
        "username": "yellowpeacock117",
        "dob": datetime(1992, 3, 8, 15, 13, 16, 688000, tzinfo=UTC),
        "registered_date": datetime(2007, 7, 9, 5, 51, 59, 390000, tzinfo=UTC),
        "phone": "(272) 790-0888",
        "picture": "https://randomuser.me/api/portraits/med/men/75.jpg",
    }


def test_output_has_exactly_the_contract_fields_in_order() -> None:
    assert list(to_record(api_user())) == CONTRACT.field_names


@pytest.mark.parametrize(
    ("overrides", "field", "expected"),
    [
        ({"location__postcode": 63104}, "post_code", "63104"),  # US: a number
        ({"location__postcode": "CM1 4ZT"}, "post_code", "CM1 4ZT"),  # GB: a string
        ({"location__postcode": "0150"}, "post_code", "0150"),  # NO: leading zero kept
        ({"location__postcode": None}, "post_code", None),
        ({"name__first": "آرمین", "name__last": "کامروا"}, "first_name", "آرمین"),
        ({"name__first": "Олена"}, "first_name", "Олена"),
        ({"name__last": "शर्मा"}, "last_name", "शर्मा"),
        ({"location__street__name": "Кнеза Милоша"}, "address",
         "8929 Кнеза Милоша, Billings, Michigan, United States"),
        ({"id__value": None}, "id", UUID),  # the national id is not the record id
        ({"id": DROP}, "id", UUID),
        ({"login__uuid": UUID.upper()}, "id", UUID),  # canonical form
        ({"gender": DROP}, "gender", None),
        ({"email": None}, "email", None),
        ({"location": DROP}, "address", None),
        ({"location": DROP}, "post_code", None),
        ({"dob": DROP}, "dob", None),
        ({"picture": DROP}, "picture", None),
        ({"registered__date": "2007-07-09T07:51:59.390+02:00"}, "registered_date",
         datetime(2007, 7, 9, 5, 51, 59, 390000, tzinfo=UTC)),
        ({"dob__date": "1983-07-14 07:29:45"}, "dob",  # old API style: no zone means UTC
         datetime(1983, 7, 14, 7, 29, 45, tzinfo=UTC)),
    ],
)
def test_awkward_but_valid_records(overrides: dict[str, Any], field: str, expected: Any) -> None:
    assert to_record(api_user(**overrides))[field] == expected


@pytest.mark.parametrize(
    ("user", "field_path", "reason"),
    [
        (api_user(login__uuid=DROP), "login.uuid", "missing"),
        (api_user(login=DROP), "login.uuid", "missing"),
        (api_user(login__uuid="not-a-uuid"), "login.uuid", "not a UUID"),
        (api_user(login__uuid=42), "login.uuid", "expected a string"),
        (api_user(login__username=DROP), "login.username", "missing"),
        (api_user(name__first=12345), "name.first", "expected a string, got int"),
        (api_user(name=DROP), "name.first", "missing"),
        (api_user(name="Jennie"), "name", "expected an object"),
        (api_user(dob__date="not-a-date"), "dob.date", "not an ISO-8601 date"),
        (api_user(registered__date=1183960319), "registered.date", "expected a string"),
        (api_user(location__postcode=63104.5), "location.postcode", "got float"),
        (api_user(location__postcode=True), "location.postcode", "got bool"),
        (api_user(location__city=DROP), "location.city", "needed for the address"),
        (api_user(location__street=["1", "x"]), "location.street", "expected an object"),
        ({"error": "Uh oh, something has gone wrong."}, "login.uuid", "missing"),
        ("not an object", "$", "expected a JSON object"),
        (None, "$", "expected a JSON object"),
        # JSON's "\ud800" (a lone surrogate): accepted by fastavro's validate, refused by
        # every UTF-8 encoder, so the whole page failed at serialization on every retry.
        (api_user(name__first=json.loads('"J\\ud800nnie"')), "name.first", "lone surrogate"),
        (api_user(email=json.loads('"\\udfff@example.com"')), "email", "not valid UTF-8"),
        (api_user(location__city=json.loads('"Bil\\udc80lings"')), "location.city",
         "lone surrogate U+DC80 at character 3"),
        (api_user(location__street__name=json.loads('"\\ud83d"')), "location.street.name",
         "lone surrogate"),
        (api_user(location__postcode=json.loads('"6\\ud8003"')), "location.postcode",
         "lone surrogate"),
    ],
)
def test_records_that_do_not_fit_raise_mapping_error(
    user: Any, field_path: str, reason: str
) -> None:
    with pytest.raises(MappingError) as caught:
        to_record(user)
    assert caught.value.field_path == field_path
    assert reason in caught.value.reason


def test_id_is_never_invented() -> None:
    user = api_user(login__uuid=DROP)
    with pytest.raises(MappingError):
        to_record(user)
    assert to_record(api_user())["id"] == to_record(api_user())["id"] == UUID


def test_every_output_validates_against_the_parsed_schema() -> None:
    schema = parse_schema(CONTRACT.schema)
    users = generate_page("mapping", 1, 500, normalize_nats(None))
    records = [to_record(u) for u in users]
    assert all(validate(r, schema, raise_errors=True) for r in records)
    assert all(str(uuid.UUID(r["id"])) == r["id"] for r in records)
    assert {type(r["post_code"]) for r in records} == {str}


def test_input_is_not_mutated() -> None:
    user = api_user()
    before = copy.deepcopy(user)
    to_record(user)
    assert user == before


def test_map_users_splits_records_and_rejects() -> None:
    users = generate_page("mapping", 1, 10, normalize_nats(None), broken=3)
    page = map_users(users)
    assert len(page.records) == 7
    assert [e.field_path for _, e in page.rejected] == ["login.uuid", "dob.date", "name.first"]
    assert page.rejected[0][0] is users[0]


def test_a_lone_surrogate_is_one_reject_and_the_rest_of_the_page_encodes() -> None:
    users = generate_page("mapping", 1, 5, normalize_nats(None))
    users[2]["name"]["last"] = json.loads('"O\\ud800Brien"')
    page = map_users(users)
    assert len(page.records) == 4
    [(user, error)] = page.rejected
    assert user is users[2] and error.field_path == "name.last"
    assert error.reason == "not valid UTF-8: lone surrogate U+D800 at character 1"
    schema = parse_schema(CONTRACT.schema)
    for record in page.records:  # what failed the whole page before: Avro's UTF-8 encoding
        fastavro.schemaless_writer(io.BytesIO(), schema, record)


def _with_fields(field_names: list[str]) -> Contract:
    schema = dict(CONTRACT.schema)
    by_name = {f["name"]: f for f in CONTRACT.fields}
    schema["fields"] = [by_name.get(n, {"name": n, "type": ["null", "string"], "default": None})
                        for n in field_names]
    return replace(CONTRACT, schema_str=json.dumps(schema))


def test_a_schema_field_without_a_rule_is_contract_drift() -> None:
    drifted = _with_fields([*CONTRACT.field_names, "nickname"])
    with pytest.raises(ContractDriftError, match="nickname"):
        to_record(api_user(), drifted)


def test_a_field_the_schema_does_not_ask_for_is_not_produced() -> None:
    smaller = _with_fields([n for n in CONTRACT.field_names if n != "phone"])
    assert "phone" not in to_record(api_user(), smaller)


def test_an_optional_field_from_the_catalogue_needs_only_a_schema_change() -> None:
    evolved = _with_fields([*CONTRACT.field_names, "nationality"])
    assert to_record(api_user(), evolved)["nationality"] == api_user()["nat"]


def test_required_fields_come_from_the_contract() -> None:
    # Make 'email' required in a copy of the contract: a missing email is now a reject.
    schema = json.loads(CONTRACT.schema_str)
    for f in schema["fields"]:
        if f["name"] == "email":
            f["type"] = "string"
            del f["default"]
    strict = replace(CONTRACT, schema_str=json.dumps(schema))
    with pytest.raises(MappingError) as caught:
        to_record(api_user(email=DROP), strict)
    assert caught.value.field_path == "email"
    assert set(CONTRACT.field_names) <= set(FIELD_RULES)
