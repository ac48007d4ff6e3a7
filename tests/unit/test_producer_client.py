"""The randomuser client against the local server's injected failures."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from config.settings import load_settings
from producers.errors import RandomUserError, RandomUserUnavailable
from producers.randomuser_client import (
    RandomUserClient,
    RetryPolicy,
    base_url_for,
    choose_source,
    parse_page,
    versioned_endpoint,
)
from stack.randomuser import FailurePlan, running_server, serve_in_thread


class Sleeps:
    """Records the client's back-off waits instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    with serve_in_thread() as url:
        yield url


def client(url: str, sleeps: Sleeps, attempts: int = 4, read_timeout_s: float = 5.0,
           **extra: str) -> RandomUserClient:
    return RandomUserClient(
        url, retry=RetryPolicy(max_attempts=attempts, backoff_base_s=0.2, backoff_max_s=1.0),
        read_timeout_s=read_timeout_s, sleep=sleeps, rng=random.Random(0),
        extra_params=extra or None,
    )


@pytest.mark.parametrize(
    ("base", "endpoint"),
    [
        ("https://randomuser.me/api/", "https://randomuser.me/api/1.4/"),
        ("https://randomuser.me/api", "https://randomuser.me/api/1.4/"),
        ("https://randomuser.me/api/1.4/", "https://randomuser.me/api/1.4/"),
        ("http://127.0.0.1:8765/api/?x=1", "http://127.0.0.1:8765/api/1.4/"),
    ],
)
def test_endpoint_is_pinned_to_1_4(base: str, endpoint: str) -> None:
    assert versioned_endpoint(base) == endpoint


def test_other_pinned_version_is_refused() -> None:
    with pytest.raises(RandomUserError, match="1.3"):
        versioned_endpoint("https://randomuser.me/api/1.3/")


def test_fetch_page_is_deterministic_and_validated(api: str) -> None:
    with client(api, Sleeps()) as c:
        page = c.fetch_page(results=25, page=2, seed="fixed", nat=["US", "GB"])
        assert len(page.users) == 25 and page.version == "1.4" and page.seed == "fixed"
        assert {u["nat"] for u in page.users} <= {"US", "GB"}
        assert c.fetch_page(results=25, page=2, seed="fixed", nat="US,GB") == page
        slim = c.fetch_page(results=3, seed="fixed", inc=["name", "login"])
        assert all(set(u) == {"name", "login"} for u in slim.users)


@pytest.mark.parametrize("results", [0, 5001])
def test_results_bounds_are_checked_before_any_request(api: str, results: int) -> None:
    with client(api, Sleeps()) as c, pytest.raises(ValueError, match="results"):
        c.fetch_page(results=results)


def test_unknown_inc_field_is_refused(api: str) -> None:
    with client(api, Sleeps()) as c, pytest.raises(ValueError, match="bogus"):
        c.fetch_page(results=1, inc=["name", "bogus"])


@pytest.mark.parametrize("fail", ["500", "502", "503", "error", "malformed", "reset"])
def test_transient_failures_are_retried_then_succeed(fail: str) -> None:
    sleeps = Sleeps()
    with running_server(plan=FailurePlan(fail=fail, fail_first=2)) as server, \
            client(server.base_url, sleeps) as c:
        page = c.fetch_page(results=5, seed="r")
        assert len(page.users) == 5
        assert server.requests.total() == 3
    assert len(sleeps.waits) == 2
    # equal jitter: within [ceiling/2, ceiling] of 0.2 * 2**(n-1)
    assert 0.1 <= sleeps.waits[0] <= 0.2 and 0.2 <= sleeps.waits[1] <= 0.4


def test_429_honours_retry_after() -> None:
    sleeps = Sleeps()
    with serve_in_thread(plan=FailurePlan(fail="429", fail_first=1, retry_after=7)) as url, \
            client(url, sleeps) as c:
        c.fetch_page(results=1)
    assert sleeps.waits == [7.0]


def test_a_retry_after_beyond_the_cap_gives_up_instead_of_asking_too_early() -> None:
    sleeps = Sleeps()
    plan = FailurePlan(fail="429", fail_first=1, retry_after=3600)
    with running_server(plan=plan) as server:
        c = RandomUserClient(server.base_url, retry=RetryPolicy(retry_after_max_s=5),
                             sleep=sleeps)
        with c, pytest.raises(RandomUserUnavailable) as caught:
            c.fetch_page(results=1)
        assert server.requests.total() == 1  # not asked again before the hour is up
    assert sleeps.waits == []
    assert caught.value.status == 429 and "retry after 3600 s" in str(caught.value)


def test_a_dripping_answer_is_cut_at_the_attempt_deadline_and_retried() -> None:
    # 20 users dripped 64 bytes every 50 ms take ~20 s, and no single read waits long
    # enough for the read timeout: only a deadline for the whole answer ends the attempt.
    # 3 s, not less: the good second attempt must fit it on a loaded 2-core machine.
    sleeps = Sleeps()
    plan = FailurePlan(fail="drip", fail_first=1, delay_ms=50)
    with running_server(plan=plan) as server:
        c = RandomUserClient(server.base_url, read_timeout_s=5, sleep=sleeps,
                             retry=RetryPolicy(attempt_timeout_s=3), rng=random.Random(0))
        with c:
            assert len(c.fetch_page(results=20, seed="drip").users) == 20
        assert server.requests.total() == 2
    assert len(sleeps.waits) == 1


def test_an_answer_cut_short_is_retried() -> None:
    sleeps = Sleeps()
    with running_server(plan=FailurePlan(fail="truncated", fail_first=1)) as server, \
            client(server.base_url, sleeps) as c:
        assert len(c.fetch_page(results=5).users) == 5
        assert server.requests.total() == 2


def test_all_attempts_of_a_page_share_one_time_budget() -> None:
    sleeps = Sleeps()
    policy = RetryPolicy(max_attempts=10, backoff_base_s=1.0, backoff_max_s=1.0,
                         total_timeout_s=2.5)
    with running_server(plan=FailurePlan(fail="503")) as server:
        c = RandomUserClient(server.base_url, retry=policy, sleep=sleeps, rng=random.Random(0))
        with c, pytest.raises(RandomUserUnavailable, match="budget") as caught:
            c.fetch_page(results=1)
        assert server.requests.total() == caught.value.attempts < 10
    assert sum(sleeps.waits) <= 2.5


def test_slow_answer_times_out_and_is_retried() -> None:
    sleeps = Sleeps()
    plan = FailurePlan(fail="slow", fail_first=1, delay_ms=2000)
    with running_server(plan=plan) as server, \
            client(server.base_url, sleeps, read_timeout_s=0.2) as c:
        assert len(c.fetch_page(results=2).users) == 2
        assert server.requests.total() == 2
    assert len(sleeps.waits) == 1


def test_gives_up_after_max_attempts_with_a_typed_error() -> None:
    sleeps = Sleeps()
    with running_server(plan=FailurePlan(fail="503")) as server, \
            client(server.base_url, sleeps, attempts=3) as c:
        with pytest.raises(RandomUserUnavailable) as caught:
            c.fetch_page(results=1)
        assert server.requests.total() == 3
    err = caught.value
    assert err.attempts == 3 and err.status == 503 and str(err.url).endswith("/api/1.4/")
    assert "gave up after 3 attempts" in str(err)
    assert len(sleeps.waits) == 2


def test_connection_refused_gives_up_with_status_none() -> None:
    with serve_in_thread() as url:
        pass  # the port is closed now
    with client(url, Sleeps(), attempts=2) as c, pytest.raises(RandomUserUnavailable) as caught:
        c.fetch_page(results=1)
    assert caught.value.status is None and caught.value.attempts == 2


def test_client_errors_are_not_retried(api: str) -> None:
    sleeps = Sleeps()
    with client(api, sleeps, format="xml") as c, pytest.raises(RandomUserError) as caught:
        c.fetch_page(results=1)
    assert caught.value.status == 400 and not isinstance(caught.value, RandomUserUnavailable)
    assert sleeps.waits == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "JSON object"),
        ({"results": []}, "'info'"),
        ({"results": [{}], "info": {"version": "1.3", "page": 1}}, "version"),
        ({"results": [], "info": {"version": "1.4", "page": 1}}, "asked for 1 users, got 0"),
        ({"results": [{}], "info": {"version": "1.4", "page": 2}}, "page"),
        ({"results": ["x"], "info": {"version": "1.4", "page": 1}}, "results\\[0\\]"),
    ],
)
def test_wrong_shapes_are_typed_errors(body: object, message: str) -> None:
    with pytest.raises(RandomUserError, match=message):
        parse_page(body, results=1, page=1, url="http://x/api/1.4/")


def test_source_selection(api: str) -> None:
    local = load_settings({"RANDOMUSER_SOURCE": "local", "RANDOMUSER_LOCAL_URL": api})
    assert choose_source(local) == "local"
    assert base_url_for(local, "local") == api
    with serve_in_thread(plan=FailurePlan(fail="503")) as down:
        auto = load_settings({"RANDOMUSER_SOURCE": "auto", "RANDOMUSER_URL": down})
        assert choose_source(auto, probe_timeout_s=2) == "local"
    auto = load_settings({"RANDOMUSER_SOURCE": "auto", "RANDOMUSER_URL": api})
    assert choose_source(auto) == "live"
    with RandomUserClient.from_settings(local) as c:
        assert c.endpoint == api + "1.4/"
