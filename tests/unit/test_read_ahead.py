"""PageReadAhead: the next page is fetched while the current one is produced. No service."""

from __future__ import annotations

import threading

import pytest

from producers.read_ahead import PageReadAhead


def test_a_page_not_requested_ahead_is_fetched_when_taken() -> None:
    calls: list[int] = []

    def fetch(number: int) -> int:
        calls.append(number)
        return number * 10

    with PageReadAhead(fetch) as reader:
        assert reader.take(3) == 30
    assert calls == [3]


def test_a_requested_page_is_fetched_on_another_thread_before_it_is_taken() -> None:
    started = threading.Event()
    threads: list[str] = []

    def fetch(number: int) -> int:
        threads.append(threading.current_thread().name)
        started.set()
        return number

    with PageReadAhead(fetch) as reader:
        reader.request(2)
        assert started.wait(timeout=10), "the fetch did not start before the take"
        assert reader.take(2) == 2
    assert threads[0].startswith("page-read-ahead")


def test_a_fetch_error_is_raised_where_the_page_is_taken() -> None:
    def fetch(number: int) -> int:
        raise ConnectionError(f"page {number}: refused")

    with PageReadAhead(fetch) as reader:
        reader.request(4)
        with pytest.raises(ConnectionError, match="page 4: refused"):
            reader.take(4)


def test_pages_are_taken_in_the_order_they_were_requested() -> None:
    with PageReadAhead(lambda n: n) as reader:
        reader.request(1)
        with pytest.raises(RuntimeError, match="page 1 is still pending"):
            reader.request(2)
        with pytest.raises(RuntimeError, match="page 1 was requested ahead, page 2 taken"):
            reader.take(2)
        assert reader.take(1) == 1


def test_leaving_waits_for_a_fetch_in_flight() -> None:
    release, done = threading.Event(), threading.Event()

    def fetch(number: int) -> int:
        release.wait(timeout=10)
        done.set()
        return number

    with PageReadAhead(fetch) as reader:
        reader.request(1)
        threading.Timer(0.05, release.set).start()
    assert done.is_set(), "the fetch was still running after the block"
