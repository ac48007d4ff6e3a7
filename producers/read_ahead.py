"""Fetch page n+1 while page n is mapped and produced.

A page task used to fetch, map and produce one after the other, so the API's latency and
the producer's work added up. :class:`PageReadAhead` keeps at most one page in flight on
one background thread: the API client sees the same calls, in the same order, one at a
time; a fetch's error is raised where its page is taken, as if it had been fetched there.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Generic, TypeVar

__all__ = ["PageReadAhead"]

PageT = TypeVar("PageT")


class PageReadAhead(Generic[PageT]):
    """``fetch(number)`` for the page asked next, started before it is needed."""

    def __init__(self, fetch: Callable[[int], PageT]) -> None:
        self._fetch = fetch
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="page-read-ahead")
        self._pending: tuple[int, Future[PageT]] | None = None

    def request(self, number: int) -> None:
        """Start fetching page ``number`` now (one page ahead at most)."""
        if self._pending is not None:
            raise RuntimeError(f"page {self._pending[0]} is still pending; take it first")
        self._pending = (number, self._pool.submit(self._fetch, number))

    def take(self, number: int) -> PageT:
        """Page ``number``: the one requested ahead, or fetched now if none was."""
        if self._pending is None:
            return self._fetch(number)
        pending, future = self._pending
        if pending != number:
            raise RuntimeError(f"page {pending} was requested ahead, page {number} taken")
        self._pending = None
        return future.result()

    def __enter__(self) -> PageReadAhead[PageT]:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        # Wait for a fetch still in flight (the client has timeouts): the caller closes
        # the client next, and no thread may be left using it.
        self._pool.shutdown(wait=True, cancel_futures=True)
