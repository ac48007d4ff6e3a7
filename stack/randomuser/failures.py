"""Failure injection for the local randomuser API, so retry paths can be tested.

Modes: an HTTP status (``429`` with Retry-After, ``500``, ``502``, ``503``); ``malformed``
(a 200 whose body is cut JSON, with a matching Content-Length) and ``truncated`` (a 200
that promises the whole answer's Content-Length and hangs up half-way); ``error`` (the
API's outage JSON); ``slow`` (the answer after ``delay_ms``); ``drip`` (the real answer,
64 bytes at a time, ``delay_ms`` apart: never idle long enough for a read timeout);
``reset`` (hang up without an answer). ``broken`` and ``odd`` make records that do not
fit the contract (see :mod:`stack.randomuser.generator`).

A :class:`FailurePlan` is set when the server starts and can be overridden per
request by query parameters of the same names (``?fail=429&fail_first=2``).
"Fail the first K requests" is counted per client (``X-Client-Id`` header,
else ``client`` query parameter, else the peer address), so a test owns its
counter and its retries are deterministic.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

FAIL_MODES = ("429", "500", "502", "503", "malformed", "truncated", "error", "slow", "drip",
              "reset")
SLOW_DEFAULT_MS = 2000
DRIP_DEFAULT_MS = 50  # between two pieces of a dripped answer
DRIP_BYTES = 64  # one piece


class FailurePlanError(ValueError):
    """A failure-injection parameter is invalid; the message names it."""


@dataclass(frozen=True)
class FailurePlan:
    fail: str | None = None  # one of FAIL_MODES
    fail_first: int | None = None  # fail only the first K requests of each client; None: all
    retry_after: int = 1  # seconds, sent as Retry-After with a 429
    delay_ms: int = 0  # added to every answer; with fail=slow, to the failing answers only;
    # with fail=drip, the pause between two 64-byte pieces of the failing answers
    broken: int = 0  # invalid records at the start of each page
    odd: int = 0  # records after those that do not fit in odd ways (generator.ODD_KINDS)

    def __post_init__(self) -> None:
        if self.fail is not None and self.fail not in FAIL_MODES:
            raise FailurePlanError(f"fail={self.fail!r}; expected one of {', '.join(FAIL_MODES)}")
        for name in ("fail_first", "retry_after", "delay_ms", "broken", "odd"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise FailurePlanError(f"{name}={value} must not be negative")

    def overridden_by(self, query: Mapping[str, str]) -> FailurePlan:
        """This plan with any of its fields given in ``query`` replacing it."""
        changes: dict[str, object] = {}
        for f in fields(self):
            if f.name not in query:
                continue
            raw = query[f.name]
            if f.name == "fail":
                changes["fail"] = raw or None
            else:
                try:
                    changes[f.name] = int(raw)
                except ValueError:
                    raise FailurePlanError(f"{f.name}={raw!r} is not an integer") from None
        return replace(self, **changes) if changes else self  # type: ignore[arg-type]

    def fails(self, request_number: int) -> bool:
        """Whether the client's ``request_number``-th request (1-based) must fail."""
        if self.fail is None:
            return False
        return self.fail_first is None or request_number <= self.fail_first

    def delay_seconds(self, failing: bool) -> float:
        """The pause before the answer (a dripped answer's pauses are between its pieces)."""
        if self.fail == "drip":
            return 0.0
        if self.fail == "slow":
            return (self.delay_ms or SLOW_DEFAULT_MS) / 1000 if failing else 0.0
        return self.delay_ms / 1000

    def drip_seconds(self) -> float:
        return (self.delay_ms or DRIP_DEFAULT_MS) / 1000


class RequestCounter:
    """Thread-safe count of requests per client key."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def next(self, key: str) -> int:
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + 1
            return self._counts[key]

    def count(self, key: str) -> int:
        with self._lock:
            return self._counts.get(key, 0)

    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())
