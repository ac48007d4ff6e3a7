"""docs/reliability.md's table, and the stack's commit-log setting (pure parts)."""

from __future__ import annotations

import pytest

from chaos.report import render
from chaos.scenario import Outcome
from stack.services import ServiceError, commitlog_sync_spec


def outcome(name: str, passed: bool, recovery: float | None) -> Outcome:
    return Outcome(scenario=name, fault="kill -9 x", produced=10, stored=9, dead_lettered=1,
                   lost=0, duplicated=2, recovery_seconds=recovery, passed=passed,
                   notes=("a note",), seconds=60)


def test_report_has_one_row_per_scenario_and_the_verdict() -> None:
    text = render([outcome("broker-kill", True, 3.4), outcome("driver-kill", False, None)],
                  {"cores (nproc)": "2"}, "2026-01-01 00:00 UTC")
    assert "| `broker-kill` | kill -9 x | 10 | 9 | 1 | 0 | 2 | 3 s | yes |" in text
    assert "| `driver-kill` | kill -9 x | 10 | 9 | 1 | 0 | 2 | - | **NO** |" in text
    assert "DID NOT pass" in text
    assert "- cores (nproc): 2" in text
    assert "- `broker-kill`: a note" in text


def test_commitlog_sync_defaults_to_batch_and_refuses_nonsense() -> None:
    assert commitlog_sync_spec(None) == ("commitlog_sync: batch", "batch")
    assert commitlog_sync_spec("group:10ms") == (
        "commitlog_sync: group\ncommitlog_sync_group_window: 10ms", "group (10ms)")
    assert commitlog_sync_spec("periodic:10000ms")[0].endswith("commitlog_sync_period: 10000ms")
    with pytest.raises(ServiceError, match="STACK_CASSANDRA_COMMITLOG_SYNC"):
        commitlog_sync_spec("sometimes")
