"""The local randomuser API over HTTP: parameters, errors and failure injection."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from stack.randomuser import (
    ODD_KINDS,
    ODD_SECRET,
    FailurePlan,
    FailurePlanError,
    running_server,
    serve_in_thread,
)
from stack.randomuser.server import OUTAGE_MESSAGE


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    with serve_in_thread() as url:
        yield url


def get(url: str, **params: Any) -> requests.Response:
    return requests.get(url, params=params, timeout=10)


@pytest.mark.parametrize("suffix", ["", "1.4/", "1.4"])
def test_serves_api_and_pinned_version(api: str, suffix: str) -> None:
    body = get(api + suffix, results=2, seed="x").json()
    assert body["info"] == {"seed": "x", "results": 2, "page": 1, "version": "1.4"}
    assert len(body["results"]) == 2


def test_same_seed_and_page_same_users_other_page_other_users(api: str) -> None:
    first = get(api, results=10, seed="abc", page=1).json()["results"]
    assert first == get(api, results=10, seed="abc", page=1).json()["results"]
    second = get(api, results=10, seed="abc", page=2).json()["results"]
    assert not {u["login"]["uuid"] for u in first} & {u["login"]["uuid"] for u in second}


def test_without_seed_the_answer_names_a_seed_that_replays_it(api: str) -> None:
    body = get(api, results=3).json()
    seed = body["info"]["seed"]
    assert len(seed) == 16
    assert get(api, results=3, seed=seed).json()["results"] == body["results"]


@pytest.mark.parametrize("results", [0, -1, 5001, "many"])
def test_results_out_of_bounds_is_the_api_error_json(api: str, results: object) -> None:
    response = get(api, results=results)
    assert response.status_code == 400
    assert set(response.json()) == {"error"}


def test_results_upper_bound_is_served(api: str) -> None:
    assert len(get(api, results=5000, seed="big").json()["results"]) == 5000


def test_only_json_format(api: str) -> None:
    assert get(api, format="xml").status_code == 400


def test_other_paths_and_versions_are_404(api: str) -> None:
    assert get(api + "1.3/").status_code == 404
    assert "error" in get(api.replace("/api/", "/nope/")).json()


def test_inc_exc_nat_noinfo(api: str) -> None:
    body = get(api, results=5, seed="s", inc="name,nat", nat="fr").json()
    assert all(set(u) == {"name", "nat"} and u["nat"] == "FR" for u in body["results"])
    body = get(api, results=2, seed="s", exc="login,id", noinfo="").json()
    assert "info" not in body and all("login" not in u for u in body["results"])


def test_broken_query_param(api: str) -> None:
    users = get(api, results=4, seed="s", broken=2).json()["results"]
    assert "uuid" not in users[0]["login"] and users[1]["dob"]["date"] == "not-a-date"


@pytest.mark.parametrize(
    ("fail", "status"), [("429", 429), ("500", 500), ("502", 502), ("503", 503), ("error", 200)]
)
def test_injected_status_failures(api: str, fail: str, status: int) -> None:
    response = get(api, fail=fail, client=f"status-{fail}")
    assert response.status_code == status
    assert "error" in response.json()
    if status == 429:
        assert response.headers["Retry-After"] == "1"
    if fail == "error":
        assert response.json() == {"error": OUTAGE_MESSAGE}


def test_injected_malformed_json(api: str) -> None:
    response = get(api, fail="malformed", client="malformed")
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()


def test_injected_reset_hangs_up(api: str) -> None:
    with pytest.raises(requests.ConnectionError):
        get(api, fail="reset", client="reset")


def test_fail_first_is_counted_per_client(api: str) -> None:
    statuses = [get(api, fail="500", fail_first=2, client="a").status_code for _ in range(3)]
    assert statuses == [500, 500, 200]
    assert get(api, fail="500", fail_first=2, client="b").status_code == 500
    headers = {"X-Client-Id": "c"}
    answers = [requests.get(api, params={"fail": "503", "fail_first": "1"}, headers=headers,
                            timeout=10).status_code for _ in range(2)]
    assert answers == [503, 200]


def test_server_plan_applies_without_query_params() -> None:
    plan = FailurePlan(fail="429", fail_first=1, retry_after=3)
    with running_server(plan=plan) as server:
        first = get(server.base_url, results=1)
        assert first.status_code == 429 and first.headers["Retry-After"] == "3"
        assert get(server.base_url, results=1).status_code == 200
        assert server.requests.total() == 2


def test_slow_only_delays_the_failing_requests() -> None:
    with serve_in_thread(plan=FailurePlan(fail="slow", fail_first=1, delay_ms=300)) as url:
        started = time.monotonic()
        get(url)
        assert time.monotonic() - started >= 0.3
        started = time.monotonic()
        get(url)
        assert time.monotonic() - started < 0.3


def test_invalid_plans_are_refused(api: str) -> None:
    with pytest.raises(FailurePlanError):
        FailurePlan(fail="teapot")
    with pytest.raises(FailurePlanError):
        FailurePlan(broken=-1)
    assert get(api, fail="teapot").status_code == 400
    assert get(api, delay_ms="soon").status_code == 400


def test_odd_records_come_after_the_broken_ones_as_json_the_real_api_sends(api: str) -> None:
    response = get(api, results=9, seed="odd", broken=1, odd=6)
    assert b"\\ud800" in response.content  # escaped: UTF-8 cannot carry a lone surrogate
    users = response.json()["results"]
    assert "uuid" not in users[0]["login"]  # broken first
    assert "\ud800" in users[1]["name"]["first"]
    assert users[2]["login"] == [{**users[2]["login"][0], "password": ODD_SECRET}]
    assert users[3]["login"]["Password"] == ODD_SECRET and "uuid" not in users[3]["login"]
    assert users[4]["api_token"] == ODD_SECRET and users[4]["login"]["username"] == 42
    assert "name" not in users[5]
    assert isinstance(users[6]["registered"]["date"], int)
    assert users[7]["login"]["uuid"]  # then plain users again
    assert len(ODD_KINDS) == 6


def test_a_truncated_answer_promises_more_than_it_sends(api: str) -> None:
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        get(api, results=5, fail="truncated", client="truncated")


def test_a_dripped_answer_is_whole_and_valid() -> None:
    with serve_in_thread(plan=FailurePlan(fail="drip", delay_ms=1)) as url:
        body = get(url, results=3, seed="drip").json()
    assert len(body["results"]) == 3
