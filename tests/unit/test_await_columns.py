"""await_columns: how long it waits for the connector to see a table, on a fake clock."""

from __future__ import annotations

from typing import Any

import pytest

from streaming import cassandra_writer
from streaming.cassandra_writer import (
    MIN_REFRESH_S,
    SESSION_CHECK_TIMEOUT_S,
    TableNotVisible,
    await_columns,
)
from tests.fake_clock import FakeClock


class Table:
    def __init__(self, columns: list[str]) -> None:
        self.columns = columns


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock(1000.0)
    monkeypatch.setattr(cassandra_writer.time, "monotonic", fake.monotonic)
    monkeypatch.setattr(cassandra_writer.time, "sleep", fake.sleep)
    return fake


def test_returns_once_the_columns_are_seen(clock: FakeClock,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    seen = iter([["id"], ["id"], ["id", "nickname"]])
    refreshes: list[float] = []
    monkeypatch.setattr(cassandra_writer, "read_table", lambda *_: Table(next(seen)))
    monkeypatch.setattr(cassandra_writer, "ensure_session_answers",
                        lambda _spark, timeout_s: refreshes.append(timeout_s))
    await_columns(Any, "ks", "users", ["id", "nickname"])
    assert refreshes == [SESSION_CHECK_TIMEOUT_S, SESSION_CHECK_TIMEOUT_S]


def test_slow_refreshes_share_the_deadline(clock: FakeClock,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A session taking its whole refresh budget each time (Cassandra slow to answer)
    cannot stretch the wait much past ``timeout_s``: each refresh gets at most half of
    what is left, and none starts after the deadline."""
    refreshes: list[float] = []

    def slow_refresh(_spark: Any, timeout_s: float) -> None:
        refreshes.append(timeout_s)
        clock.now += 2 * timeout_s  # both attempts used up

    monkeypatch.setattr(cassandra_writer, "read_table", lambda *_: Table(["id"]))
    monkeypatch.setattr(cassandra_writer, "ensure_session_answers", slow_refresh)
    began = clock.now
    with pytest.raises(TableNotVisible, match="after 60s"):
        await_columns(Any, "ks", "users", ["id", "nickname"], timeout_s=60.0)
    assert clock.now - began <= 60.0 + 2 * MIN_REFRESH_S + 0.5
    assert all(t <= SESSION_CHECK_TIMEOUT_S for t in refreshes)
    assert refreshes[1] == pytest.approx((60.0 - 30.5) / 2)  # half of what was left
