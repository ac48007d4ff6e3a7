"""make bench-cluster's pure parts: the variant plan, the combined result, the section."""

from __future__ import annotations

import pytest

from bench import report
from bench.cluster import record
from bench.cluster_report import (
    MACHINE,
    OTHER,
    PLACEMENT_NOTE,
    TITLE,
    VARIANTS,
    SingleNode,
    Variant,
    carry,
    cpu_per_record,
    pipeline_cost,
    plan,
    section,
    series_key,
    single_node_from_doc,
    splice,
    stage_cores,
)
from bench.results import Figure, StageResult


def test_every_variant_once_per_round_the_order_reversed_every_other_round() -> None:
    order = plan(2)
    assert [n for n, _ in order] == [1] * 4 + [2] * 4
    first, second = [v for _, v in order[:4]], [v for _, v in order[4:]]
    assert sorted(first, key=lambda v: v.key) == sorted(VARIANTS, key=lambda v: v.key)
    assert second == list(reversed(first))


def test_added_rounds_continue_the_numbering_and_the_alternation() -> None:
    assert plan(1, first_round=1) == plan(2)[4:]
    with pytest.raises(ValueError, match="rounds"):
        plan(0)


def test_the_variants_cover_1_and_2_workers_by_3_and_6_partitions() -> None:
    assert {(v.workers, v.partitions) for v in VARIANTS} == {(1, 3), (2, 3), (1, 6), (2, 6)}


def test_a_variants_executors_have_one_core_each_and_as_many_cores_as_workers() -> None:
    assert dict(Variant(1, 3).spark_conf) == {"spark.executor.cores": "1", "spark.cores.max": "1"}
    assert dict(Variant(2, 6).spark_conf)["spark.cores.max"] == "2"


def _run(throughput: float, cpu: dict[str, float], placement: str = "") -> StageResult:
    run = StageResult("cluster-x", "2026-12-02T14:00:00+00:00")
    run.add(Figure("e2e.throughput", "end to end", throughput, "records/s"))
    run.add(Figure("e2e.produce_rate", "producer", throughput * 1.05, "records/s"))
    run.add(Figure("e2e.stream_rate", "job", throughput, "rows/s"))
    run.add(Figure("e2e.lost_or_duplicated", "lost", 0, "records", "all stored"))
    for name, cores in cpu.items():
        key = "machine" if name == MACHINE else name.replace(" ", "_")
        run.add(Figure(f"e2e.cpu.{key}", f"CPU at saturation: {name}", cores, "cores"))
        run.add(Figure(f"e2e.cpu_per_record.{key}", f"CPU per record: {name}",
                       cores / throughput * 1e6, "µs"))
    if placement:
        run.notes.append(PLACEMENT_NOTE + placement)
    return run


CPU = {"kafka-1": 0.1, "kafka-2": 0.1, "kafka-3": 0.1, "cassandra-1": 0.2, "cassandra-2": 0.2,
       "cassandra-3": 0.2, "spark-worker-1": 0.4, "stream job": 0.3, "producer": 0.3,
       MACHINE: 1.95}


def _combined() -> StageResult:
    result = StageResult("cluster", "2026-12-02T14:00:00+00:00", seconds=1500)
    for n, (_, variant) in enumerate(plan(2)):
        rate = 2000.0 + 100 * variant.workers + n
        record(result, variant, _run(rate, CPU, f"round {n // 4 + 1}, {variant.label}"),
               variant.workers)
    result.series.update({"config:load_s": [45.0], "config:warm_up_s": [20.0],
                          "config:rounds": [2.0]})
    return result


def test_record_keeps_every_run_keyed_by_variant_and_measure() -> None:
    result = _combined()
    variant = Variant(2, 6)
    assert len(result.series[series_key(variant, "throughput")]) == 2
    assert result.series[series_key(variant, "workers_used")] == [2.0, 2.0]
    assert result.series[series_key(variant, "us_per_record:kafka-2")] == pytest.approx(
        [0.1 / r * 1e6 for r in result.series[series_key(variant, "throughput")]])
    assert sum(n.startswith(PLACEMENT_NOTE) for n in result.notes) == 8


def test_a_stage_sums_its_processes_and_costs_cpu_per_record() -> None:
    result = _combined()
    cores = stage_cores(result, Variant(1, 3))
    assert cores["Kafka (3 brokers)"] == pytest.approx([0.3, 0.3])
    assert cores["Cassandra (3 nodes)"] == pytest.approx([0.6, 0.6])
    assert cores[MACHINE] == pytest.approx([1.95, 1.95])
    costs = cpu_per_record(result)
    assert costs[MACHINE] == pytest.approx(1.95 / 2150 * 1e6, rel=0.05)
    assert costs["Kafka (3 brokers)"] == pytest.approx(0.3 / 2150 * 1e6, rel=0.05)
    # The machine's rest: 1.95 cores busy, 1.9 of them the pipeline's.
    assert stage_cores(result, Variant(2, 6))[OTHER] == pytest.approx([0.05, 0.05])
    assert pipeline_cost(costs) == pytest.approx(1.9 / 2150 * 1e6, rel=0.05)


def test_the_section_shows_each_variant_the_single_figure_and_why() -> None:
    single = SingleNode(4717, "2026-11-26 13:17 UTC", "the End to end section above")
    text = "\n".join(section(_combined(), cores=2, single=single, plot="performance/x.png"))
    assert text.startswith(TITLE)
    for variant in VARIANTS:
        assert f"| {variant.label} |" in text
    assert "4,717 records/s end to end, measured on 2026-11-26 13:17 UTC" in text
    assert "cores, not design" in text
    assert "2 workers against 1: 1.05× with 3 partitions (every run apart)" in text
    assert OTHER in text
    assert "![Scaling" in text and "performance/x.png" in text
    assert "2 rounds" in text


def test_without_a_single_figure_the_section_says_so() -> None:
    text = "\n".join(section(_combined(), cores=2, single=None, plot=None))
    assert "not measured in this run" in text
    assert "![" not in text


def test_the_single_figure_is_read_from_make_benchs_rendering() -> None:
    doc = ("# Performance\n\nGenerated by `make bench` (`python -m bench all`) on "
           "2026-11-26 13:17 UTC; do not edit.\n\n## End to end\n\n| Figure | Value | How |\n"
           "|---|---|---|\n| end to end: stored rows / (first produce -> last write) | "
           "4,717 records/s | 740,000 stored |\n")
    assert single_node_from_doc(doc) == SingleNode(4717, "2026-11-26 13:17 UTC",
                                                   "the End to end section above, "
                                                   "`make bench`'s")
    assert single_node_from_doc("# Performance\n") is None


def test_the_section_is_spliced_in_and_carried_over_a_fresh_rendering() -> None:
    doc = "# Performance\n\n## End to end\n\nold\n\n## Reproduce\n\nmake bench\n"
    lines = [TITLE, "", "scaling figures", ""]
    spliced = splice(doc, lines)
    assert spliced.index(TITLE) < spliced.index("## Reproduce")
    assert splice(spliced, [TITLE, "", "new figures"]).count(TITLE) == 1
    fresh = "# Performance\n\n## End to end\n\nnew\n\n## Reproduce\n\nmake bench\n"
    carried = carry(spliced, fresh)
    assert "scaling figures" in carried and "new" in carried
    assert carry(doc, fresh) == fresh
    # One mechanism: the security section's carry and this one's compose.
    assert report.carry(spliced, fresh, TITLE) == carried


def test_e2e_monitors_the_topologys_own_services() -> None:
    from bench.e2e import pipeline_services
    from bench.monitor import PIPELINE_SERVICES
    from config.settings import load_settings

    single = pipeline_services(load_settings({}, check_profile=False))
    assert sorted(single) == sorted(PIPELINE_SERVICES)
    cluster = pipeline_services(load_settings({"STACK_TOPOLOGY": "cluster"},
                                              check_profile=False))
    assert {"kafka-3", "cassandra-3", "spark-worker-2", "registry"} <= set(cluster)
    assert "airflow" not in cluster and "console" not in cluster


def test_without_reconciliation_the_job_counts_what_it_stored() -> None:
    from bench.e2e import counted_by_job
    from streaming.batch_log import BatchEvent

    events = [BatchEvent(at=1.0, input_rows=10, rows_written=9, dead_lettered=1,
                         duration_ms=5, lag_p50_ms=None, lag_p95_ms=None, lag_max_ms=None)] * 3
    totals = counted_by_job(events, produced=30)
    assert (totals.produced, totals.stored, totals.dead_lettered, totals.missing) == (30, 27, 3, 0)
