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
