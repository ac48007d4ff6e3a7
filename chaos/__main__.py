"""``python -m chaos [--scenario NAME ...] [--report]`` (``make chaos [SCENARIO=<name>]``).

Runs the scenarios against the running native stack (``make up``; it is started if it
is not), one after the other, and prints one line per scenario. ``--report`` writes
docs/reliability.md. Exit status 0 when every scenario passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import traceback

from chaos import report
from chaos.scenario import ChaosContext, Outcome, Scenario
from chaos.scenarios import SCENARIOS, by_name, for_topology, topology_of
from config.settings import SettingsError, load_settings
from stack import launcher
from stack.paths import StackPaths
from stack.services import Context

T0 = time.monotonic()


def progress(message: str) -> None:
    print(f"[{time.monotonic() - T0:6.1f}s] {message}", flush=True)


def run_scenario(ctx: ChaosContext, scenario: Scenario) -> Outcome:
    """One scenario; a failure to run it is a failed outcome, and the stack is healed."""
    started = time.monotonic()
    progress(f"{scenario.name}: {scenario.fault}")
    try:
        outcome = scenario.run(ctx)
    except Exception as exc:  # noqa: BLE001 - reported as the scenario's failure, not lost
        traceback.print_exc()
        outcome = Outcome.error(scenario, exc, started)
    finally:
        launcher.up(ctx.stack)  # whatever the scenario left down comes back up
    verdict = "passed" if outcome.passed else "FAILED"
    progress(f"{scenario.name}: {verdict}: produced {outcome.produced}, stored "
             f"{outcome.stored}, dead-lettered {outcome.dead_lettered}, lost {outcome.lost}, "
             f"duplicated {outcome.duplicated}, recovery "
             f"{'-' if outcome.recovery_seconds is None else f'{outcome.recovery_seconds:.0f} s'}"
             f" ({outcome.seconds:.0f} s)")
    for note in outcome.notes:
        progress(f"  {note}")
    return outcome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__)
    parser.add_argument("--scenario", action="append", default=[],
                        help="a scenario to run (repeatable; default: all): "
                        + ", ".join(s.name for s in SCENARIOS))
    parser.add_argument("--report", action="store_true", help="write docs/reliability.md")
    parser.add_argument("--seed", type=int, default=None, help="the fault timings' seed")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        chosen = ([by_name(n) for n in args.scenario] if args.scenario
                  else list(for_topology(settings.stack_topology)))
        wrong = [s.name for s in chosen if topology_of(s) != settings.stack_topology]
        if wrong:
            raise KeyError(f"{', '.join(wrong)} need(s) another topology than "
                           f"STACK_TOPOLOGY={settings.stack_topology} (TOPOLOGY=...)")
    except (KeyError, SettingsError) as exc:
        print(f"chaos: {exc}", file=sys.stderr)
        return 2
    seed = args.seed if args.seed is not None else random.randrange(2**31)
    stack = Context(settings, StackPaths.from_settings(settings))
    ctx = ChaosContext(stack, progress, seed, random.Random(seed))
    progress(f"chaos: {len(chosen)} scenario(s), seed {seed}")
    try:
        launcher.up(stack)
    except launcher.StackError as exc:
        print(f"chaos: the stack is not healthy: {exc}", file=sys.stderr)
        return 1
    outcomes = [run_scenario(ctx, scenario) for scenario in chosen]
    if args.report:
        progress(f"report: {report.write(settings, outcomes)}")
    return 0 if all(o.passed for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
