"""Interleaved runs: a goal is met only when the worst pair of runs meets it. No service."""

from __future__ import annotations

import json

from bench.report import format_ratio
from bench.results import Comparison, Figure, Goal, StageResult
from bench.stream import interleaved

GOAL = Goal(">=", 0.8, text="≥ 0.8×")


def figure(value: float, runs: tuple[float, ...] = ()) -> Figure:
    return Figure("s.ours", "ours", value, "records/s", "", runs)


def test_the_best_pair_alone_does_not_meet_a_goal() -> None:
    # Best against best is 0.9x; one interleaved pair was 0.5x: not met.
    ours = figure(90, (90, 40))
    tool = Figure("s.tool", "tool", 100, "records/s", "", (100, 80))
    comparison = Comparison(ours, tool, GOAL)
    assert comparison.ratio == 0.9
    assert comparison.pair_ratios == (0.9, 0.5)
    assert comparison.worst_ratio == 0.5 and comparison.met is False
    assert format_ratio(comparison) == "0.90× (worst of 2 interleaved pairs 0.50×)"


def test_every_pair_meeting_it_meets_it() -> None:
    comparison = Comparison(figure(90, (90, 85)), Figure("t", "t", 100, "x", "", (100, 100)),
                            GOAL)
    assert comparison.met is True


def test_without_pairs_the_best_ratio_decides() -> None:
    one_run = Comparison(figure(90, (90,)), Figure("t", "t", 100, "x", "", (100,)), GOAL)
    uneven = Comparison(figure(90, (90, 10, 10)), Figure("t", "t", 100, "x", "", (100,)), GOAL)
    for comparison in (one_run, uneven, Comparison(figure(90), figure(100), GOAL)):
        assert comparison.worst_ratio is None and comparison.met is True
        assert format_ratio(comparison) == "0.90×"


def test_a_goal_on_at_most_takes_the_largest_pair() -> None:
    at_most = Goal("<=", 1.0)
    comparison = Comparison(figure(5, (5, 7)), Figure("b", "b", 6, "ms", "", (6, 6)), at_most)
    assert comparison.worst_ratio == 7 / 6 and comparison.met is False


def test_runs_survive_the_result_file() -> None:
    result = StageResult("s", "2026-12-02T00:00:00+00:00", figures=[figure(90, (90, 40))])
    again = StageResult.from_dict(json.loads(result.to_json()))
    assert again.figures[0].runs == (90.0, 40.0)
    old = json.loads(result.to_json())
    del old["figures"][0]["runs"]  # a result saved before runs existed
    assert StageResult.from_dict(old).figures[0].runs == ()


def test_interleaved_runs_each_action_once_a_round_reversing_the_order() -> None:
    order: list[str] = []
    seconds = interleaved({"a": lambda: order.append("a"), "b": lambda: order.append("b")}, 3)
    assert order == ["a", "b", "b", "a", "a", "b"]
    assert [len(v) for v in seconds.values()] == [3, 3]
