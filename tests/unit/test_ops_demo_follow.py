"""The demo's follower waits for a service that does not answer, with a deadline."""

from __future__ import annotations

from pathlib import Path

import pytest
from cassandra.cluster import NoHostAvailable

from config.settings import load_settings
from contract.catalog import load_contract
from ops.demo import DemoError, follow
from ops.reconcile import Reconciliation
from tests.fake_clock import FakeClock


def test_waits_for_cassandra_then_reconciles() -> None:
    clock = FakeClock()
    answers: list[Reconciliation | Exception] = [
        NoHostAvailable("Unable to connect to any servers", {"127.0.0.1:9042": "refused"}),
        NoHostAvailable("Unable to connect to any servers", {"127.0.0.1:9042": "refused"}),
        Reconciliation(produced=3, stored=3),
    ]

    def reconcile_span(*_: object) -> Reconciliation:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    lines: list[str] = []
    rec = follow(load_settings(), load_contract(), {0: 0}, {0: 3}, timeout=60,
                 progress=lines.append, stream_log=Path("stream.log"),
                 reconcile_span=reconcile_span, sleep=clock.sleep, clock=clock)
    assert rec.reconciles
    waits = [line for line in lines if "waiting for Cassandra" in line]
    assert len(waits) == 2, lines
    assert "127.0.0.1:9042" in waits[0]


def test_gives_up_at_the_deadline_naming_the_service() -> None:
    clock = FakeClock()

    def reconcile_span(*_: object) -> Reconciliation:
        raise NoHostAvailable("Unable to connect to any servers", {"127.0.0.1:9042": "refused"})

    with pytest.raises(DemoError, match=r"Cassandra .* did not answer within 30 s"):
        follow(load_settings(), load_contract(), {0: 0}, {0: 3}, timeout=30,
               progress=lambda _: None, stream_log=Path("stream.log"),
               reconcile_span=reconcile_span, sleep=clock.sleep, clock=clock)
