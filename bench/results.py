"""What a benchmark stage measured, kept as JSON so that ``bench all`` can report every stage.

A :class:`Figure` is one measured number (the best run), with every run's value when it
was measured more than once. A :class:`Comparison` puts a figure beside its limit (a
tool's figure, or another stage's) with a :class:`Goal` on their ratio or on the value
itself; when both were measured in interleaved runs, the goal is met only if the worst
pair of runs meets it (noise on a shared machine must not make a goal look met). Each
stage writes a :class:`StageResult` to ``<stack home>/bench/<stage>.json``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

GoalOn = Literal["ratio", "value"]
GoalOp = Literal[">=", "<="]


class ResultError(RuntimeError):
    """A result file is missing or unreadable; the message names it."""


@dataclass(frozen=True)
class Figure:
    key: str  # stable id, e.g. "produce.contract_producer"
    label: str  # what was measured, for people
    value: float
    unit: str  # "records/s", "ms", "MiB", ...
    detail: str = ""  # how: "50,000 records in 2.1 s, best of 3"
    # Each run's value, in the order run; interleaved with the limit's runs when both
    # have them (run i of the figure beside run i of its limit).
    runs: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "runs", tuple(float(v) for v in self.runs))  # from JSON


@dataclass(frozen=True)
class Goal:
    op: GoalOp
    target: float
    on: GoalOn = "ratio"
    text: str = ""  # e.g. "≥ 0.5× Kafka's ProducerPerformance"

    def met(self, value: float, ratio: float | None) -> bool | None:
        measured = ratio if self.on == "ratio" else value
        if measured is None or math.isnan(measured):
            return None
        return measured >= self.target if self.op == ">=" else measured <= self.target


@dataclass(frozen=True)
class Comparison:
    figure: Figure
    limit: Figure | None
    goal: Goal | None  # None: shown for context only

    @property
    def ratio(self) -> float | None:
        if self.limit is None or self.limit.value == 0:
            return None
        return self.figure.value / self.limit.value

    @property
    def pair_ratios(self) -> tuple[float, ...]:
        """Run i of the figure over run i of its limit, when both ran the same times."""
        mine, theirs = self.figure.runs, self.limit.runs if self.limit else ()
        if len(mine) < 2 or len(mine) != len(theirs) or 0 in theirs:
            return ()
        return tuple(a / b for a, b in zip(mine, theirs, strict=True))

    @property
    def worst_ratio(self) -> float | None:
        """The interleaved pair furthest from the goal (None: no pairs)."""
        pairs = self.pair_ratios
        if not pairs:
            return None
        return max(pairs) if self.goal is not None and self.goal.op == "<=" else min(pairs)

    @property
    def met(self) -> bool | None:
        if self.goal is None:
            return None
        worst = self.worst_ratio
        ratio = worst if worst is not None and self.goal.on == "ratio" else self.ratio
        return self.goal.met(self.figure.value, ratio)


@dataclass
class StageResult:
    stage: str
    started_at: str
    seconds: float = 0.0
    figures: list[Figure] = field(default_factory=list)
    tunings: list[dict[str, Any]] = field(default_factory=list)  # rows of a tunings table
    notes: list[str] = field(default_factory=list)
    series: dict[str, list[float]] = field(default_factory=dict)  # for plots (e2e)

    def add(self, figure: Figure) -> Figure:
        self.figures = [f for f in self.figures if f.key != figure.key] + [figure]
        return figure

    def figure(self, key: str) -> Figure | None:
        return next((f for f in self.figures if f.key == key), None)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StageResult:
        return cls(
            stage=data["stage"],
            started_at=data["started_at"],
            seconds=float(data.get("seconds", 0.0)),
            figures=[Figure(**f) for f in data.get("figures", [])],
            tunings=list(data.get("tunings", [])),
            notes=list(data.get("notes", [])),
            series={k: list(v) for k, v in data.get("series", {}).items()},
        )


def result_path(results_dir: Path, stage: str) -> Path:
    return results_dir / f"{stage}.json"


def save(result: StageResult, results_dir: Path) -> Path:
    results_dir.mkdir(parents=True, exist_ok=True)
    path = result_path(results_dir, result.stage)
    partial = path.with_suffix(".partial")
    partial.write_text(result.to_json())
    partial.replace(path)
    return path


def load(results_dir: Path, stage: str) -> StageResult:
    path = result_path(results_dir, stage)
    try:
        return StageResult.from_dict(json.loads(path.read_text()))
    except OSError as exc:
        raise ResultError(f"{path}: no result of stage {stage!r} ({exc.strerror}); "
                          f"run `python -m bench {stage}` first") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise ResultError(f"{path}: unreadable result: {exc}") from exc


def find(results: Mapping[str, StageResult], key: str) -> Figure | None:
    """The figure ``key`` (``stage.name``) among the stages' results."""
    stage = key.split(".", 1)[0]
    result = results.get(stage)
    return result.figure(key) if result else None
