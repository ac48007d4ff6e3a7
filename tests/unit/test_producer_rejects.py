"""Reject records: the raw API JSON with its reason, credentials redacted."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from producers.errors import MappingError
from producers.rejects import REDACTED, make_reject, redact
from stack.randomuser.generator import generate_page, normalize_nats

NOW = datetime(2025, 5, 1, 12, 0, 0, 123000, tzinfo=UTC)


def broken_user() -> dict:
    return generate_page("rejects", 1, 2, normalize_nats(None), broken=2)[1]  # dob not a date


def test_reject_json_carries_raw_reason_path_run_and_time() -> None:
    user = broken_user()
    reject = make_reject(user, MappingError("not an ISO-8601 date", "dob.date"),
                         subject="users_created-value", run_id="run-1", now=NOW)
    body = json.loads(reject.to_json())
    assert body["reason"] == "not an ISO-8601 date" and body["field_path"] == "dob.date"
    assert body["run_id"] == "run-1" and body["subject"] == "users_created-value"
    assert body["rejected_at"] == "2025-05-01T12:00:00.123+00:00"
    assert body["raw"]["dob"]["date"] == "not-a-date"
    assert body["raw"]["name"] == user["name"]
    assert reject.key == user["login"]["uuid"]


def test_credentials_are_redacted_and_the_input_left_alone() -> None:
    user = broken_user()
    clean = redact(user)
    assert {clean["login"][k] for k in ("password", "salt", "md5", "sha1", "sha256")} == \
        {REDACTED}
    assert clean["login"]["username"] == user["login"]["username"]
    assert user["login"]["password"] != REDACTED


@pytest.mark.parametrize("raw", [{"error": "Uh oh"}, "text", None, {"login": "x"},
                                 {"login": {"uuid": 5}}])
def test_any_raw_value_can_be_rejected(raw: object) -> None:
    reject = make_reject(raw, MappingError("missing", "login.uuid"), subject="s", run_id="r",
                         now=NOW)
    assert json.loads(reject.to_json())["raw"] == raw
    assert reject.key is None


def test_non_ascii_is_kept_readable() -> None:
    reject = make_reject({"name": {"first": "آرمین"}}, MappingError("missing", "login.uuid"),
                         subject="s", run_id="r", now=NOW)
    assert "آرمین" in reject.to_json().decode("utf-8")


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        make_reject({}, MappingError("m", "x"), subject="s", run_id="r",
                    now=datetime(2025, 1, 1))


# -- credentials in awkward shapes: the malformed records are the ones that become rejects --

SECRET = "hunter2"


def _leaks(value: object) -> bool:
    return SECRET in json.dumps(value)


@pytest.mark.parametrize(
    "raw",
    [
        {"login": [{"password": SECRET}]},  # login a list of objects
        {"login": {"Password": SECRET}},  # another case
        {"login": {"PASSWORD": SECRET, "SHA-256": SECRET, "Salt": SECRET}},
        {"password": SECRET},  # at the top
        {"credentials": {"user": {"passwordHash": SECRET}}},  # deeper, a compound name
        {"login": {"uuid": "x", "extra": [[{"api_token": SECRET}]]}},  # lists in lists
        [{"login": {"client_secret": SECRET}}],  # the raw value itself a list
        {"login": {"password": {"value": SECRET}}},  # a credential that is an object
        {"login": {"md5": [SECRET]}},  # ... or a list
        {"LOGIN": {"Sha1": SECRET, "hash": SECRET, "token": SECRET}},
    ],
)
def test_credentials_are_redacted_at_any_depth_and_in_any_case(raw: object) -> None:
    reject = make_reject(raw, MappingError("m", "login.uuid"), subject="s", run_id="r", now=NOW)
    assert not _leaks(reject.raw)
    assert SECRET not in reject.to_json().decode("utf-8")
    assert REDACTED in reject.to_json().decode("utf-8")
    assert _leaks(raw)  # the input is left alone


def test_redaction_keeps_everything_else_in_place() -> None:
    raw = {"name": {"first": "A"}, "login": [{"username": "u", "password": SECRET}, 3, None],
           "nums": (1, 2)}
    assert redact(raw) == {"name": {"first": "A"},
                           "login": [{"username": "u", "password": REDACTED}, 3, None],
                           "nums": [1, 2]}


def test_a_deeply_nested_record_does_not_exhaust_the_stack() -> None:
    raw: object = {"password": SECRET}
    for _ in range(5000):
        raw = {"a": [raw]}
    clean = redact(raw)
    for _ in range(5000):
        clean = clean["a"][0]  # type: ignore[index]
    assert clean == {"password": REDACTED}


# -- a lone surrogate: JSON's "\ud800", which UTF-8 cannot spell ------------------------


def test_a_lone_surrogate_is_escaped_and_reads_back_as_the_same_string() -> None:
    name = json.loads('"Ann\\ud800e"')  # what the API client's json.loads hands over
    reject = make_reject({"name": {"first": name, "last": "é"}, "login": {"uuid": name}},
                         MappingError("not valid UTF-8: lone surrogate U+D800 at character 3",
                                      "name.first"), subject="s", run_id="r", now=NOW)
    body = reject.to_json()
    text = body.decode("utf-8")  # valid UTF-8, so the rejects topic takes it
    assert "\\ud800" in text and "é" in text  # escaped; the rest stays readable
    assert json.loads(body)["raw"]["name"]["first"] == name
    assert reject.key is None  # a key UTF-8 cannot spell is no key
