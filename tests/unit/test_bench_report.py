"""bench.report and bench.comparisons: the ratio table and the document (pure)."""

from __future__ import annotations

import pytest

from bench.comparisons import comparisons, latency_budget, slowest_stage
from bench.report import comparison_table, format_value, render, table
from bench.results import Comparison, Figure, Goal, StageResult


def fig(key: str, value: float, unit: str = "records/s", label: str | None = None) -> Figure:
    return Figure(key, label or key, value, unit, "")


def stage(name: str, *figures: Figure) -> StageResult:
    return StageResult(name, "2026-11-26T07:00:00+00:00", figures=list(figures))


@pytest.mark.parametrize(("op", "target", "value", "ratio", "met"), [
    (">=", 0.5, 10.0, 0.6, True),
    (">=", 0.5, 10.0, 0.4, False),
    ("<=", 1.0, 10.0, 1.0, True),
    ("<=", 1.0, 10.0, 1.2, False),
    (">=", 0.5, 10.0, None, None),  # no limit measured: no verdict
])
def test_goal_on_the_ratio(op: str, target: float, value: float, ratio: float | None,
                           met: bool | None) -> None:
    assert Goal(op, target).met(value, ratio) is met  # type: ignore[arg-type]


def test_goal_on_the_value_ignores_the_ratio() -> None:
    assert Goal("<=", 0.0, on="value").met(0.0, None) is True
    assert Goal("<=", 0.0, on="value").met(3.0, None) is False


def test_comparison_ratio_is_figure_over_limit() -> None:
    c = Comparison(fig("a", 30.0), fig("b", 60.0), Goal(">=", 0.5))
    assert (c.ratio, c.met) == (0.5, True)
    assert Comparison(fig("a", 30.0), None, None).met is None


def test_ratio_table_row_says_whether_the_goal_is_met() -> None:
    rows = [Comparison(fig("a", 30000, label="ours"), fig("b", 120000, label="theirs"),
                       Goal(">=", 0.5, text="≥ 0.5× theirs"))]
    lines = comparison_table(rows)
    assert lines[0] == "| Figure | Value | Limit | Limit value | Ratio | Goal | Met |"
    assert lines[2] == ("| ours | 30,000 records/s | theirs | 120,000 records/s | 0.25× | "
                        "≥ 0.5× theirs | **no** |")


def test_table_escapes_pipes() -> None:
    assert table(["a"], [["x|y"]])[2] == "| x\\|y |"


@pytest.mark.parametrize(("value", "unit", "text"), [
    (1234.4, "records/s", "1,234 records/s"),
    (850.0, "ms", "850 ms"),
    (38412.0, "ms", "38.41 s"),
    (1640.2, "MiB", "1,640 MiB"),
    (0.123456, "x", "0.123 x"),
    (0.456, "cores", "0.46 cores"),
])
def test_format_value(value: float, unit: str, text: str) -> None:
    assert format_value(value, unit) == text


def test_the_slowest_stage_is_the_lowest_pipeline_rate() -> None:
    results = {
        "produce": stage("produce", fig("produce.fetch", 7000), fig("produce.map_serialize",
                                                                     23000)),
        "stream": stage("stream", fig("stream.sink", 6500), fig("stream.read", 100000)),
    }
    slowest = slowest_stage(results)
    assert slowest is not None and (slowest.value, slowest.detail) == (6500, "stream.sink")
    assert slowest_stage({}) is None


def test_comparisons_leave_out_what_was_not_measured() -> None:
    results = {"produce": stage("produce", fig("produce.contract_producer", 50000),
                                fig("produce.producer_performance", 150000))}
    rows = comparisons(results)
    assert [(c.figure.key, c.limit.key if c.limit else None) for c in rows] == [
        ("produce.contract_producer", "produce.producer_performance")]
    assert rows[0].met is False


@pytest.mark.parametrize(("p95", "met"), [(6000, True), (6001, False)])
def test_latency_goal_is_trigger_plus_one_second(p95: int, met: bool) -> None:
    results = {"e2e": stage("e2e", fig("e2e.trigger", 5000, "ms"),
                            fig("e2e.latency_p95", p95, "ms"),
                            fig("e2e.lost_or_duplicated", 0, "records"))}
    budget = latency_budget(results)
    assert budget is not None and budget.value == 6000
    by_key = {c.figure.key: c for c in comparisons(results)}
    assert by_key["e2e.latency_p95"].met is met
    assert by_key["e2e.lost_or_duplicated"].met is True


@pytest.mark.parametrize(("key", "limit_key", "share"), [
    ("produce.contract_producer", "produce.producer_performance", 0.8),
    ("stream.decode", "stream.read", 1 / 1.1),
])
def test_the_second_round_s_goals(key: str, limit_key: str, share: float) -> None:
    stage_name = key.split(".")[0]
    at = {stage_name: stage(stage_name, fig(key, share * 1000 + 0.01), fig(limit_key, 1000))}
    below = {stage_name: stage(stage_name, fig(key, share * 1000 - 1), fig(limit_key, 1000))}
    assert {c.figure.key: c for c in comparisons(at)}[key].met is True
    assert {c.figure.key: c for c in comparisons(below)}[key].met is False


def test_the_document_has_every_part() -> None:
    results = {"produce": stage("produce", fig("produce.contract_producer", 50000),
                                fig("produce.producer_performance", 150000))}
    results["produce"].tunings = [{"tuning": "linger.ms=5", "contract_producer": 41000}]
    results["produce"].notes = ["a note"]
    text = render(generated_at="today", machine={"CPU": "a CPU"}, results=results,
                  comparisons=comparisons(results), sections={"produce": ["Some prose."]},
                  plots={"stages": "performance/stages.png"}, commands=["make bench"])
    for part in ("# Performance", "| CPU | a CPU |", "## Producer (`make bench-produce`)",
                 "Some prose.", "| linger.ms=5 | 41,000 |", "- a note",
                 "![Each stage beside its limit](performance/stages.png)",
                 "```sh\nmake bench\n```"):
        assert part in text
    assert "## End to end" not in text  # a stage that did not run has no section


def test_cpu_shares_say_where_the_cores_went_per_record() -> None:
    from bench.narrative import _cpu_shares

    result = stage("e2e", fig("e2e.produce_rate", 5000.0),
                   fig("e2e.cpu.machine", 1.9, "cores"),
                   fig("e2e.cpu.stream_job", 0.5, "cores"),
                   fig("e2e.cpu.cassandra", 0.4, "cores"))
    text = _cpu_shares(result)
    assert text is not None and text.startswith("Cores busy at saturation: 1.90 in all")
    # Largest first, each with its CPU per record: 0.5 cores / 5000 records/s = 100 µs.
    assert "stream job 0.50 (100 µs of CPU a record), cassandra 0.40 (80 µs" in text
    assert _cpu_shares(stage("e2e", fig("e2e.produce_rate", 5000.0))) is None


def test_decoding_is_explained_when_its_worst_pair_misses_the_goal() -> None:
    """Best against best meets 10%, one interleaved pair does not: the goal row says no,
    and so must the text, with the pair that decided it."""
    from dataclasses import replace

    from bench.narrative import _stream_after

    read = replace(fig("stream.read", 80_000, "rows/s"), runs=(80_000, 78_000, 79_000))
    decode = replace(fig("stream.decode", 75_000, "rows/s"), runs=(75_000, 66_000, 72_000))
    text = "\n".join(_stream_after({"stream": stage("stream", read, decode)}))
    assert "Why decoding costs more than 10%" in text
    assert "worst interleaved pair: 0.85" in text
    met = replace(decode, runs=(75_000, 73_000, 74_000))
    assert not "\n".join(_stream_after({"stream": stage("stream", read, met)})).strip()
