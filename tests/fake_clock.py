"""A clock the test moves by hand: ``clock()`` (or ``clock.monotonic()``) reads it,
``clock.sleep(s)`` advances it, as code under test that takes a clock and a sleep does."""

from __future__ import annotations


class FakeClock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
