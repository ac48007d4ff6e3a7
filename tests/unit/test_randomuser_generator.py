"""The local randomuser API's users: deterministic, and as awkward as the real ones."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest

from stack.randomuser.generator import (
    BROKEN_KINDS,
    FIELDS,
    generate_page,
    generate_user,
    normalize_nats,
    select_fields,
)
from stack.randomuser.nationalities import NATIONALITY_CODES

ALL = normalize_nats(None)
EXPECTED_NATS = {"AU", "BR", "CA", "CH", "DE", "DK", "ES", "FI", "FR", "GB", "IE", "IN", "IR",
                 "MX", "NL", "NO", "NZ", "RS", "TR", "UA", "US"}


def test_every_nationality_of_the_real_api_is_served() -> None:
    assert set(NATIONALITY_CODES) == EXPECTED_NATS


def test_same_key_same_user_different_page_different_users() -> None:
    page1 = generate_page("s", 1, 20, ALL)
    assert page1 == generate_page("s", 1, 20, ALL)
    page2 = generate_page("s", 2, 20, ALL)
    ids1 = {u["login"]["uuid"] for u in page1}
    ids2 = {u["login"]["uuid"] for u in page2}
    assert len(ids1) == 20 and not ids1 & ids2
    assert {u["login"]["uuid"] for u in generate_page("other", 1, 20, ALL)}.isdisjoint(ids1)


def test_uuid_is_a_uuid5_of_the_request_key() -> None:
    user = generate_user("s", 3, 7, ALL)
    assert uuid.UUID(user["login"]["uuid"]).version == 5


@pytest.mark.parametrize("nat", ["US", "gb", "ir,UA", "RS,IN,TR"])
def test_nat_restricts_nationalities(nat: str) -> None:
    wanted = {n.strip().upper() for n in nat.split(",")}
    assert {u["nat"] for u in generate_page("s", 1, 60, normalize_nats(nat))} <= wanted


def test_unknown_nationalities_are_ignored() -> None:
    assert normalize_nats("xx,de") == ("DE",)
    assert normalize_nats("xx") == ALL


def test_user_has_the_api_1_4_shape() -> None:
    user = generate_user("s", 1, 0, ALL)
    assert tuple(user) == FIELDS
    assert set(user["name"]) == {"title", "first", "last"}
    assert set(user["location"]) == {"street", "city", "state", "country", "postcode",
                                     "coordinates", "timezone"}
    assert set(user["login"]) == {"uuid", "username", "password", "salt", "md5", "sha1",
                                  "sha256"}
    assert set(user["picture"]) == {"large", "medium", "thumbnail"}
    for field in ("dob", "registered"):
        date = user[field]["date"]
        assert date.endswith("Z") and len(date) == len("1992-03-08T15:13:16.688Z")
        assert datetime.fromisoformat(date).tzinfo is not None
        assert isinstance(user[field]["age"], int)


def _by_nat(nat: str, n: int = 40) -> list[dict]:
    return generate_page("awkward", 1, n, normalize_nats(nat))


@pytest.mark.parametrize("nat", ["US", "DE", "FR", "AU", "IR"])
def test_numeric_postcodes(nat: str) -> None:
    assert all(isinstance(u["location"]["postcode"], int) for u in _by_nat(nat))


@pytest.mark.parametrize("nat", ["GB", "CA", "NL", "NO", "IE"])
def test_string_postcodes(nat: str) -> None:
    assert all(isinstance(u["location"]["postcode"], str) for u in _by_nat(nat))


@pytest.mark.parametrize(
    ("nat", "script_range"),
    [("IR", (0x0600, 0x06FF)), ("UA", (0x0400, 0x04FF)), ("RS", (0x0400, 0x04FF))],
)
def test_non_latin_names(nat: str, script_range: tuple[int, int]) -> None:
    low, high = script_range
    for user in _by_nat(nat):
        assert any(low <= ord(c) <= high for c in user["name"]["first"])


def test_null_id_values_occur() -> None:
    assert all(u["id"]["value"] is None for u in _by_nat("IR"))
    assert any(u["id"]["value"] is None for u in _by_nat("US", 200))
    assert any(u["id"]["value"] is not None for u in _by_nat("US", 200))


def test_broken_records_are_the_first_n_and_cycle_through_the_kinds() -> None:
    users = generate_page("s", 1, 5, ALL, broken=4)
    assert "uuid" not in users[0]["login"]
    assert users[1]["dob"]["date"] == "not-a-date"
    assert users[2]["name"]["first"] == 12345
    assert "uuid" not in users[3]["login"]
    assert users[4] == generate_user("s", 1, 4, ALL)
    assert len(BROKEN_KINDS) == 3


@pytest.mark.parametrize(
    ("inc", "exc", "expected"),
    [
        (["gender", "name", "nat"], [], {"gender", "name", "nat"}),
        ([], ["login"], set(FIELDS) - {"login"}),
        (["name", "login"], ["login"], {"name"}),
        (["bogus"], [], set(FIELDS)),
    ],
)
def test_select_fields(inc: list[str], exc: list[str], expected: set[str]) -> None:
    assert set(select_fields(generate_user("s", 1, 0, ALL), inc, exc)) == expected


def test_gender_filter() -> None:
    assert {u["gender"] for u in generate_page("s", 1, 30, ALL, gender="female")} == {"female"}
