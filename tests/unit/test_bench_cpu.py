"""bench.cpu: CPU per record of a stage alone, and the co-located limit built from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.comparisons import CPU_STAGES, colocated_limit, comparisons
from bench.cpu import CpuMeter, cpu_figure, per_record_us
from bench.narrative import sections
from bench.results import Figure, StageResult
from config.settings import Settings


def fig(key: str, value: float, unit: str = "records/s") -> Figure:
    return Figure(key, key, value, unit, "")


def results(e2e: float = 4000.0, cores: float = 2.0, fetch: float = 9000.0,
            cpu_us: tuple[float, float, float, float] = (100, 60, 90, 150)
            ) -> dict[str, StageResult]:
    costs = [fig(key, us, "µs") for key, us in zip(CPU_STAGES, cpu_us, strict=True)]
    produce = [f for f in costs if f.key.startswith("produce.")]
    stream = [f for f in costs if f.key.startswith("stream.")]
    return {
        "produce": StageResult("produce", "t", figures=[
            fig("produce.fetch", fetch), fig("produce.map_serialize", 20000),
            fig("produce.contract_producer", 30000), *produce]),
        "stream": StageResult("stream", "t", figures=[fig("stream.sink", 40000), *stream]),
        "e2e": StageResult("e2e", "t", figures=[
            fig("e2e.throughput", e2e), fig("e2e.cores", cores, "cores"),
            fig("e2e.cpu_per_record.producer", 200, "µs"),
            fig("e2e.cpu_per_record.machine", 999, "µs")]),
    }


def test_per_record_is_microseconds_and_needs_records() -> None:
    assert per_record_us(2.0, 10_000) == pytest.approx(200.0)
    with pytest.raises(ValueError, match="at least one record"):
        per_record_us(1.0, 0)


def test_a_cpu_figure_keeps_the_least_of_its_runs() -> None:
    figure = cpu_figure("stream.sink_cpu", "a batch", [3.0, 2.0], 10_000, ("kafka",))
    assert (figure.value, figure.unit) == (200.0, "µs")
    assert "this process group + kafka" in figure.detail and "300, 200" in figure.detail


def test_the_meter_names_a_service_that_is_not_running(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="cassandra not running"):
        CpuMeter(Settings(stack_home=str(tmp_path)), ("cassandra",))


def test_the_meter_reads_this_process_group(tmp_path: Path) -> None:
    with CpuMeter(Settings(stack_home=str(tmp_path))) as meter:
        sum(i * i for i in range(200_000))
    assert meter.seconds >= 0.0 and meter.services == ()


def test_the_limit_is_cores_over_the_stages_cpu_per_record() -> None:
    limit = colocated_limit(results())  # 2 cores / 400 µs
    assert limit is not None and limit.value == pytest.approx(5000.0)
    assert "100 + 60 + 90 + 150 = 400 µs" in limit.detail


def test_the_limit_is_never_above_the_slowest_stage_alone() -> None:
    limit = colocated_limit(results(fetch=3000.0))
    assert limit is not None and limit.value == 3000.0 and "capped" in limit.label


def test_no_limit_until_every_stage_s_cpu_was_measured() -> None:
    partial = results()
    partial["stream"].figures = [fig("stream.sink", 40000)]
    assert colocated_limit(partial) is None
    assert colocated_limit({}) is None


@pytest.mark.parametrize(("e2e", "met"), [(4000.01, True), (3999.0, False)])
def test_the_end_to_end_goal_is_the_co_located_limit(e2e: float, met: bool) -> None:
    rows = [c for c in comparisons(results(e2e=e2e)) if c.figure.key == "e2e.throughput"]
    goal, context = rows
    assert goal.limit is not None and goal.limit.key == "derived.colocated_limit"
    assert goal.met is met
    assert context.goal is None and context.limit is not None
    assert context.limit.key == "derived.slowest_stage"


def test_the_narrative_says_why_with_the_figures() -> None:
    rows = comparisons(results(e2e=3500.0))
    text = " ".join(sections(results(e2e=3500.0), rows)["e2e:after"])
    assert "co-located limit" in text and "400 µs in all" in text
    assert "5,000 records/s" in text and "0.70×" in text
    assert "Below 0.8× the co-located limit" in text
    assert "200 µs" in text  # the end-to-end run's own CPU per record, machine left out
