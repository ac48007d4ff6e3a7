"""The run's orchestration with the local API and an in-memory sink (no Kafka)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from config.settings import Settings, load_settings
from contract.catalog import load_contract
from producers.errors import RandomUserUnavailable, TooManyRejects
from producers.randomuser_client import RandomUserClient, RetryPolicy
from producers.run import (
    RejectPolicy,
    RunConfig,
    RunSummary,
    fetch_and_produce,
    merge_summaries,
    pages_needed,
    seed_for_run,
)
from stack.randomuser import FailurePlan, serve_in_thread
from tests.memory_sink import MemorySink

CONTRACT = load_contract()


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    with serve_in_thread() as url:
        yield url


def settings(url: str) -> Settings:
    return load_settings({"RANDOMUSER_SOURCE": "local", "RANDOMUSER_LOCAL_URL": url})


def run_config(**kwargs: Any) -> RunConfig:
    args: dict[str, Any] = {"seed": "run-seed", "pages": 3, "batch_size": 10, "run_id": "r1"}
    return RunConfig(**{**args, **kwargs})


def run(url: str, sink: MemorySink, client: RandomUserClient | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC), **kwargs: Any) -> RunSummary:
    return fetch_and_produce(settings(url), CONTRACT, run_config(**kwargs), sink=sink,
                             client=client, clock=clock)


def test_pages_are_fetched_mapped_and_produced(api: str) -> None:
    sink = MemorySink()
    summary = run(api, sink)
    assert (summary.fetched, summary.produced, summary.rejected, summary.pages) == (30, 30, 0, 3)
    assert len({r["id"] for r in sink.records}) == 30 and sink.finished == 1
    assert summary.total_seconds >= summary.fetch_seconds > 0


def test_same_seed_same_records(api: str) -> None:
    first, second = MemorySink(), MemorySink()
    run(api, first)
    run(api, second)
    assert first.records == second.records
    other = MemorySink()
    run(api, other, seed="another")
    assert {r["id"] for r in other.records}.isdisjoint({r["id"] for r in first.records})


def test_limit_cuts_the_last_page_and_keeps_page_boundaries(api: str) -> None:
    cut, whole = MemorySink(), MemorySink()
    summary = run(api, cut, limit=25)
    run(api, whole)
    assert (summary.fetched, summary.pages) == (25, 3)
    assert cut.records == whole.records[:25]


def test_a_single_page_task_equals_the_same_page_of_a_whole_run(api: str) -> None:
    whole, page2 = MemorySink(), MemorySink()
    run(api, whole)
    run(api, page2, pages=1, first_page=2)
    assert page2.records == whole.records[10:20]


def test_the_page_tasks_of_a_run_are_the_whole_run(api: str) -> None:
    whole = MemorySink()
    run(api, whole, limit=25)
    config = run_config(limit=25)
    tasks = [MemorySink() for _ in range(config.pages)]
    for number, sink in enumerate(tasks, start=1):
        page = config.page(number)
        assert (page.first_page, page.pages) == (number, 1)
        fetch_and_produce(settings(api), CONTRACT, page, sink=sink)
    assert [len(t.records) for t in tasks] == [10, 10, 5]
    assert [r for t in tasks for r in t.records] == whole.records
    with pytest.raises(ValueError, match="page 4"):
        config.page(4)


def test_bad_records_go_to_rejects_with_the_run_id(api: str) -> None:
    sink = MemorySink()
    fixed = datetime(2025, 1, 2, tzinfo=UTC)
    client = RandomUserClient(api, extra_params={"broken": "3"})  # 3 bad users per page
    summary = run(api, sink, client=client, clock=lambda: fixed)
    assert (summary.fetched, summary.produced, summary.rejected) == (30, 21, 9)
    assert {r.field_path for r in sink.rejects} == {"login.uuid", "dob.date", "name.first"}
    assert {r.run_id for r in sink.rejects} == {"r1"}
    assert all(r.rejected_at == fixed for r in sink.rejects)
    assert json.loads(sink.rejects[0].to_json())["raw"]["login"]["password"] == "***"


def test_too_many_rejects_stop_the_run(api: str) -> None:
    client = RandomUserClient(api, extra_params={"broken": "6"})
    with pytest.raises(TooManyRejects, match="page 1: 6 of 10"):
        run(api, MemorySink(), client=client, reject_policy=RejectPolicy(max_ratio=0.5))


def test_too_many_rejects_follow_the_run_s_policy(api: str) -> None:
    client = RandomUserClient(api, extra_params={"broken": "6"})
    summary = run(api, MemorySink(), client=client, reject_policy=RejectPolicy(max_ratio=0.7))
    assert (summary.fetched, summary.rejected) == (30, 18)


def test_an_unavailable_api_fails_the_run_with_a_typed_error() -> None:
    with serve_in_thread(plan=FailurePlan(fail="500")) as url:
        client = RandomUserClient(url, retry=RetryPolicy(max_attempts=2), sleep=lambda s: None)
        with pytest.raises(RandomUserUnavailable):
            run(url, MemorySink(), client=client)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"pages": 0}, "pages and first_page must be at least 1"),
    ({"first_page": 0}, "pages and first_page must be at least 1"),
    ({"batch_size": 5001}, "batch_size must be between 1 and 5000"),
    ({"limit": -1}, "count must be at least 1"),
])
def test_invalid_bounds_are_refused(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        run_config(**kwargs)


def test_seed_for_run_is_deterministic() -> None:
    moment = datetime(2025, 3, 1, tzinfo=UTC)
    assert seed_for_run("user_automation", moment) == seed_for_run("user_automation", moment)
    assert seed_for_run("user_automation", moment) == \
        seed_for_run("user_automation", datetime(2025, 3, 1))  # naive means UTC
    assert seed_for_run("user_automation", "manual__1") != seed_for_run("other", "manual__1")
    assert len(seed_for_run("d", "r")) == 16


@pytest.mark.parametrize(("count", "batch", "pages"), [(1, 500, 1), (500, 500, 1),
                                                       (501, 500, 2), (10_000, 5000, 2)])
def test_pages_needed(count: int, batch: int, pages: int) -> None:
    assert pages_needed(count, batch) == pages


def test_merge_summaries_adds_counts_and_accepts_xcom_dicts() -> None:
    a = RunSummary(fetched=10, produced=9, rejected=1, pages=1, fetch_seconds=0.5)
    b = RunSummary(fetched=5, produced=5, rejected=0, pages=1, fetch_seconds=0.25)
    total = merge_summaries([a, b.to_dict()])
    assert (total.fetched, total.produced, total.rejected, total.pages) == (15, 14, 1, 2)
    assert total.fetch_seconds == pytest.approx(0.75)
    assert merge_summaries([]) == RunSummary()
    assert all(isinstance(v, int | float) for v in total.to_dict().values())


class CountingClient(RandomUserClient):
    """The local API, recording which pages were asked for."""

    def __init__(self, url: str, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self.pages: list[int] = []

    def fetch_page(self, **kwargs: Any) -> Any:
        self.pages.append(kwargs["page"])
        return super().fetch_page(**kwargs)


@pytest.mark.parametrize(("limit", "pages"), [(None, [1, 2, 3]), (25, [1, 2, 3]),
                                              (20, [1, 2]), (5, [1])])
def test_reading_ahead_asks_for_the_pages_a_run_needs_once_each(
        api: str, limit: int | None, pages: list[int]) -> None:
    client = CountingClient(api)
    summary = run(api, MemorySink(), client=client, limit=limit)
    assert client.pages == pages
    assert summary.fetched == (limit or 30)


def test_a_page_over_the_reject_policy_leaves_no_fetch_running(api: str) -> None:
    client = CountingClient(api, extra_params={"broken": "6"})
    with pytest.raises(TooManyRejects, match="page 1"):
        run(api, MemorySink(), client=client, reject_policy=RejectPolicy(max_ratio=0.5))
    assert client.pages == [1, 2]  # page 2 was already asked for; it is dropped unproduced
