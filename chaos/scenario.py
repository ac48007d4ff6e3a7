"""What a chaos scenario is, and what it reports."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from config.settings import Settings
from ops.reconcile import Reconciliation
from stack.services import Context

Progress = Callable[[str], None]


class ChaosError(RuntimeError):
    """A scenario could not run as designed (a fault not injected, a service not healed);
    the message names the scenario and the step."""


@dataclass(frozen=True)
class ChaosContext:
    """What every scenario is handed: the settings, the native stack, a seeded RNG."""

    stack: Context
    progress: Progress
    seed: int = 0
    rng: random.Random = field(default_factory=random.Random)

    @property
    def settings(self) -> Settings:
        return self.stack.settings


@dataclass(frozen=True)
class Outcome:
    """One scenario's result: the reconciliation's counts, the recovery time, the verdict."""

    scenario: str
    fault: str
    produced: int
    stored: int
    dead_lettered: int
    lost: int
    duplicated: int  # keys produced more than once in the span (one row each after upsert)
    recovery_seconds: float | None  # fault healed -> pipeline writing again
    passed: bool
    notes: tuple[str, ...] = ()
    seconds: float = 0.0  # the whole scenario, set-up and reconciliation included

    @classmethod
    def from_reconciliation(
        cls, scenario: Scenario, rec: Reconciliation, *, recovery_seconds: float | None,
        checks: dict[str, bool], notes: list[str], started: float,
    ) -> Outcome:
        """The verdict: the exact reconciliation plus the scenario's own ``checks``."""
        failed = [name for name, ok in checks.items() if not ok]
        exact = rec.reconciles and not rec.missing
        all_notes = list(notes)
        if not exact:
            all_notes.append(
                f"reconciliation failed: {len(rec.missing)} missing "
                f"(first {rec.missing[:5]}), {len(rec.mismatches)} mismatches "
                f"(first {rec.mismatches[:3]})"
            )
        all_notes += [f"check failed: {name}" for name in failed]
        return cls(
            scenario=scenario.name, fault=scenario.fault, produced=rec.produced,
            stored=rec.stored, dead_lettered=rec.dead_lettered, lost=len(rec.missing),
            duplicated=rec.duplicate_keys, recovery_seconds=recovery_seconds,
            passed=exact and not failed, notes=tuple(all_notes),
            seconds=time.monotonic() - started,
        )

    @classmethod
    def error(cls, scenario: Scenario, exc: BaseException, started: float) -> Outcome:
        """A scenario that could not finish: failed, with the reason."""
        return cls(scenario=scenario.name, fault=scenario.fault, produced=0, stored=0,
                   dead_lettered=0, lost=0, duplicated=0, recovery_seconds=None,
                   passed=False, notes=(f"{type(exc).__name__}: {exc}",),
                   seconds=time.monotonic() - started)


class Scenario(Protocol):
    """One fault, injected into a real run and healed; ``run`` ends in the reconciliation."""

    @property
    def name(self) -> str:  # `make chaos SCENARIO=<name>`
        ...

    @property
    def fault(self) -> str:  # one line for the report: what is done to which process
        ...

    @property
    def fast(self) -> bool:  # part of the subset `make test` runs (under 5 minutes for 3)
        ...

    def run(self, ctx: ChaosContext) -> Outcome: ...
