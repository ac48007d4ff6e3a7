"""The fast subset of ``make chaos``: each scenario injects its fault into the real stack
and must end in the exact reconciliation (produced = stored + dead-lettered, nothing lost,
rows equal field by field) plus its own assertion. The full suite: ``make chaos``."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from chaos.scenario import ChaosContext, Scenario
from chaos.scenarios import fast
from chaos.scenarios.cassandra_restart import CassandraRestart
from chaos.scenarios.driver_kill import DriverKill
from config.settings import Settings
from stack.services import Context

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("scenario", fast(), ids=lambda s: s.name)
def test_scenario_reconciles(stack: Settings, stack_context: Context, scenario: Scenario) -> None:
    seed = random.randrange(2**31)
    ctx = ChaosContext(stack_context, print, seed, random.Random(seed))
    if isinstance(scenario, CassandraRestart):
        # One kill, just after a batch committed (the point that lost acknowledged rows),
        # keeps the subset under 5 minutes; make chaos kills at every point.
        scenario = replace(scenario, kill_points=(0.0,))
    if isinstance(scenario, DriverKill):
        scenario = replace(scenario, kills=2)  # make chaos kills 5 times
    outcome = scenario.run(ctx)
    details = "; ".join(outcome.notes)
    assert outcome.lost == 0, f"seed {seed}: {outcome.lost} records lost: {details}"
    assert outcome.produced == outcome.stored + outcome.dead_lettered, details
    assert outcome.passed, f"seed {seed}: {details}"
