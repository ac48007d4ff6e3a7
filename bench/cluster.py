"""bench-cluster: end-to-end throughput on the cluster topology, 1 vs 2 Spark workers and
3 vs 6 partitions (issue "Scaling figure").

``python -m bench cluster`` (``make bench-cluster``) needs the cluster stack up (``make up
TOPOLOGY=cluster``). Each run is the end-to-end stage's own measurement (:func:`bench.e2e.run`,
its saturation phase only) in a sandbox contract of its own with the variant's partitions,
its job given the variant's ``spark.cores.max`` (:class:`bench.cluster_report.Variant`);
once the warm-up went through, the workers' ``/json/`` say which of them run the job's
executors. The variants run interleaved (:func:`bench.cluster_report.plan`); ``--add``
keeps the saved runs and adds rounds to them, so that the rounds can run apart (each
within a time slot of the shared stack). The result is saved beside the other stages'
(``cluster.json``) and written as its own section of docs/performance.md, with its plot.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench import e2e, plots
from bench import results as store
from bench.cluster_report import (
    PLACEMENT_NOTE,
    VARIANTS,
    SingleNode,
    Variant,
    measured_at,
    plan,
    section,
    series_key,
    single_node_from_doc,
    splice,
)
from bench.results import StageResult
from bench.sandbox import sandbox
from config.settings import Settings
from stack.paths import StackPaths
from stack.services.base import Context, ServiceError
from stack.services.spark_cluster import SparkWorker, master_state, spark_cluster
from streaming.checkpoint import query_name

log = logging.getLogger(__name__)
STAGE = "cluster"
PLOT_NAME = "cluster-scaling.png"
CPU_PER_RECORD_PREFIX = "e2e.cpu_per_record."


class ClusterBenchError(RuntimeError):
    """The scaling runs cannot start or one failed; the message says which and why."""


@dataclass(frozen=True)
class ClusterConfig:
    rounds: int = 2  # every variant once per round
    add: bool = False  # keep the saved runs and add these rounds to them
    # One run takes ~4 min on the 2-core machine (the job's start on the standalone
    # cluster, its first batches, the load, the drain), a round of four ~16 min.
    load_s: float = 30.0
    warm_up_s: float = 15.0
    # Reading every record back (LOCAL_QUORUM, ~500 records/s here) would double a run;
    # bench-e2e and the failover tests reconcile, this counts the job's own batch log.
    reconcile: bool = False


def e2e_config(config: ClusterConfig, variant: Variant) -> e2e.E2EConfig:
    """The end-to-end stage's settings for one run: its saturation phase only."""
    return e2e.E2EConfig(seconds=config.load_s, saturated_share=1.0,
                         warm_up_seconds=config.warm_up_s, drain_timeout_s=240.0,
                         spark_conf=variant.spark_conf, reconcile=config.reconcile)


def workers_running(settings: Settings, app_name: str) -> dict[str, int]:
    """Per worker of the stack's standalone cluster, the executors it runs for the
    application called ``app_name`` (as its own ``/json/`` lists them)."""
    apps = master_state(settings).get("activeapps")
    ids = {a.get("id") for a in apps if isinstance(a, dict) and a.get("name") == app_name} \
        if isinstance(apps, list) else set()
    if not ids:
        raise ClusterBenchError(f"the Spark master lists no running application {app_name!r}")
    ctx = Context(settings, StackPaths.from_settings(settings))
    return {worker.name: sum(1 for e in worker.executors(ctx) if e.get("appid") in ids)
            for worker in spark_cluster(settings) if isinstance(worker, SparkWorker)}


def run_variant(settings: Settings, config: ClusterConfig, number: int,
                variant: Variant, work_dir: Path) -> tuple[StageResult, int]:
    """One run; its e2e result and how many workers ran the job's executors."""
    stage = StageResult(f"{STAGE}-{variant.key}", datetime.now(UTC).isoformat(timespec="seconds"))
    used: list[int] = []
    with sandbox(settings, prefix=f"bench_cluster_{variant.key}",
                 partitions=variant.partitions) as box:
        app = f"userstream-{query_name(box.contract)}"

        def placement() -> list[str]:
            try:
                per_worker = workers_running(settings, app)
            except ServiceError as exc:
                raise ClusterBenchError(f"where the executors run is unknown: {exc}") from exc
            used.append(sum(1 for n in per_worker.values() if n))
            where = ", ".join(f"{w} {n}" for w, n in sorted(per_worker.items()))
            return [f"{PLACEMENT_NOTE}round {number}, {variant.label}: executors per worker: "
                    f"{where}"]

        log.info("==== round %d, %s (%s)", number, variant.label, box.contract.topic)
        e2e.run(settings, box, e2e_config(config, variant), work_dir, stage, on_warm=placement)
    return stage, used[0] if used else 0


def record(result: StageResult, variant: Variant, run: StageResult, workers_used: int) -> None:
    """One run's figures into the combined result's series (``<variant>:<measure>``)."""
    def put(measure: str, value: float) -> None:
        result.series.setdefault(series_key(variant, measure), []).append(value)

    for measure, key in (("throughput", "e2e.throughput"), ("produce_rate", "e2e.produce_rate"),
                         ("stream_rate", "e2e.stream_rate")):
        figure = run.figure(key)
        if figure is None:
            raise ClusterBenchError(f"the {variant.label} run has no {key} figure")
        put(measure, figure.value)
    for figure in run.figures:
        if figure.key.startswith(CPU_PER_RECORD_PREFIX):
            put(f"us_per_record:{figure.label.split(': ', 1)[1]}", figure.value)
    put("workers_used", float(workers_used))
    backlog = run.figure("e2e.backlog")
    if backlog is not None:
        put("backlog", backlog.value)
    lost = run.figure("e2e.lost_or_duplicated")
    if lost is not None and lost.value:
        result.notes.append(f"{variant.label}: {lost.value:,.0f} records lost or duplicated "
                            f"({lost.detail})")
    result.notes.extend(n for n in run.notes if n.startswith(PLACEMENT_NOTE))


def previous_rounds(result: StageResult) -> int:
    return int(result.series.get("config:rounds", [0.0])[0])


def run(settings: Settings, config: ClusterConfig, results: Path, work_dir: Path) -> StageResult:
    """Every variant, interleaved, ``config.rounds`` times; saved after each run."""
    if settings.stack_topology != "cluster":
        raise ClusterBenchError(
            f"run it on the cluster topology (STACK_TOPOLOGY={settings.stack_topology}): "
            "`make bench-cluster` with `make up TOPOLOGY=cluster` running")
    result = StageResult(STAGE, datetime.now(UTC).isoformat(timespec="seconds"))
    if config.add:
        try:
            result = store.load(results, STAGE)
        except store.ResultError as exc:
            raise ClusterBenchError(f"--add: {exc}") from exc
    done = previous_rounds(result)
    started = time.monotonic()
    load_at_start = os.getloadavg()[0]
    result.series["config:load_s"] = [config.load_s]
    result.series["config:warm_up_s"] = [config.warm_up_s]
    result.series["config:reconciled"] = [float(config.reconcile)]
    for number, variant in plan(config.rounds, first_round=done):
        one, used = run_variant(settings, config, number, variant, work_dir)
        record(result, variant, one, used)
        store.save(result, results)
    result.series["config:rounds"] = [float(done + config.rounds)]
    result.seconds += time.monotonic() - started
    rounds = ", ".join(str(n) for n in range(done + 1, done + config.rounds + 1))
    result.notes.append(f"round{'s' if config.rounds > 1 else ''} {rounds} ({len(VARIANTS)} runs "
                        f"each): the machine's load average (1 min) {load_at_start:.1f} at the "
                        f"start, {os.getloadavg()[0]:.1f} at the end, on {os.cpu_count()} cores")
    store.save(result, results)
    return result


def single_node(document: str, single_results: Path) -> SingleNode | None:
    """The single topology's end-to-end figure: its saved result, else the document's."""
    try:
        saved = store.load(single_results, "e2e")
    except store.ResultError:
        return single_node_from_doc(document)
    figure = saved.figure("e2e.throughput")
    if figure is None:
        return single_node_from_doc(document)
    return SingleNode(figure.value, measured_at(saved.started_at),
                      "`make bench`'s end-to-end stage")


def write_section(result: StageResult, doc: Path, plots_dir: Path,
                  single_results: Path) -> Path:
    """The plot, and the section spliced into ``doc``, every other line kept."""
    document = doc.read_text() if doc.exists() else ""
    single = single_node(document, single_results)
    bars = [(v.label, result.series.get(series_key(v, "throughput"), [])) for v in VARIANTS]
    made = plots.scaling_plot([(label, runs) for label, runs in bars if runs],
                              None if single is None else
                              (f"single topology ({single.measured})", single.value),
                              plots_dir / PLOT_NAME)
    lines = section(result, cores=os.cpu_count() or 0, single=single,
                    plot=os.path.relpath(made, doc.parent) if made else None)
    doc.write_text(splice(document, lines))
    return doc
