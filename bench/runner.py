"""Run a benchmark stage in its sandbox and keep its result; render the report.

Every stage gets a sandbox of its own (topic, subject, keyspace), removed afterwards.
``all`` runs each stage in a child process, one after the other, so a stage's JVMs and
memory are gone before the next starts, then writes docs/performance.md and its plots.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench import (
    cassandra_limit,
    cluster_report,
    durability,
    e2e,
    plots,
    produce,
    security_report,
    stream,
)
from bench import results as store
from bench.comparisons import comparisons, latency_budget
from bench.narrative import commands, sections
from bench.report import render
from bench.results import StageResult
from bench.sandbox import Sandbox, sandbox
from config.contracts import deployed_contracts
from config.settings import PROJECT_ROOT, Settings
from contract.catalog import DEFAULT_SUBJECT

log = logging.getLogger(__name__)
STAGES = ("produce", "stream", "cassandra", "durability", "e2e")
DOC = PROJECT_ROOT / "docs" / "performance.md"
PLOTS_DIR = PROJECT_ROOT / "docs" / "performance"


def results_dir(settings: Settings) -> Path:
    return Path(settings.stack_home) / "bench" / "results"


def work_dir(settings: Settings) -> Path:
    return Path(settings.stack_home) / "bench" / "work"


@dataclass(frozen=True)
class StageOptions:
    records: int | None = None  # produce / stream: records to measure with
    seconds: float | None = None  # cassandra / e2e: how long the load runs
    rate: float | None = None  # e2e: records/s offered (0 = unpaced)


def run_stage(settings: Settings, stage: str, options: StageOptions) -> StageResult:
    """One stage, in its own sandbox; its result saved under <stack home>/bench/results."""
    result = StageResult(stage, datetime.now(UTC).isoformat(timespec="seconds"))
    started = time.monotonic()
    with sandbox(settings, prefix=f"bench_{stage}") as box:
        log.info("stage %s: sandbox topic/keyspace %s", stage, box.contract.topic)
        _STAGE_RUNNERS[stage](settings, box, options, result)
    result.seconds = time.monotonic() - started
    path = store.save(result, results_dir(settings))
    log.info("stage %s done in %.0f s: %s", stage, result.seconds, path)
    return result


def _produce(settings: Settings, box: Sandbox, options: StageOptions,
             result: StageResult) -> None:
    config = produce.ProduceConfig()
    if options.records:
        config = produce.ProduceConfig(records=options.records)
    produce.run(settings, box.contract, config, result)
    # The other contracts the pipeline carries: fewer records, each in a sandbox of its own.
    for other in deployed_contracts(settings):
        if other.subject != DEFAULT_SUBJECT:
            with sandbox(settings, prefix="bench_produce", base_subject=other.subject) as copy:
                produce.run_contract(settings, copy.contract, other.subject,
                                     config.records // 5, config.tool_records, result)


def _stream(settings: Settings, box: Sandbox, options: StageOptions,
            result: StageResult) -> None:
    records = options.records or settings.stream_max_offsets_per_trigger
    config = stream.StreamConfig(records=records)
    stream.run(settings, box.contract, config, result)


def _cassandra(settings: Settings, box: Sandbox, options: StageOptions,
               result: StageResult) -> None:
    config = cassandra_limit.CassandraConfig(seconds=int(options.seconds)) if options.seconds \
        else cassandra_limit.CassandraConfig()
    cassandra_limit.run(settings, box.contract, config, result)


def _e2e(settings: Settings, box: Sandbox, options: StageOptions,
         result: StageResult) -> None:
    offered = options.rate or 0.0
    share = e2e.E2EConfig.paced_share_of_capacity
    result.notes.append(
        f"paced phase: {offered:,.0f} records/s (BENCH_E2E_RATE / --rate)" if offered
        else f"paced phase: {share:.0%} of the saturation phase's end-to-end rate (rows "
        "stored a second; the producers' own rate when lower)")
    config = e2e.E2EConfig(
        seconds=options.seconds if options.seconds is not None else e2e.E2EConfig.seconds,
        rate=offered,
    )
    e2e.run(settings, box, config, work_dir(settings), result)


def _durability(settings: Settings, box: Sandbox, options: StageOptions,
                result: StageResult) -> None:
    durability.run(settings, box.contract, result,
                   records=options.records or durability.RECORDS)


_STAGE_RUNNERS: dict[str, Callable[..., None]] = {
    "produce": _produce, "stream": _stream, "cassandra": _cassandra,
    "durability": _durability, "e2e": _e2e,
}


def cold_start_compare(settings: Settings, rounds: int) -> dict[str, list[e2e.ColdStart]]:
    """Each cold-start variant once a round, the order reversed every other round, each
    run in a sandbox of its own; one run of each first, not counted (it writes the class
    data sharing archive, and warms the page cache for both)."""
    variants = e2e.cold_start_variants()
    runs: dict[str, list[e2e.ColdStart]] = {name: [] for name in variants}
    names = list(variants)
    for round_ in range(-1, rounds):
        for name in names if (round_ + 1) % 2 == 0 else reversed(names):
            with sandbox(settings, prefix="bench_cold") as box:
                measured = e2e.measure_cold_start(settings, box, work_dir(settings),
                                                  variants[name])
            log.info("cold start, %s%s: first row %.1f s (query started %.1f s, first "
                     "batch %.1f s)", name, " (not counted)" if round_ < 0 else "",
                     measured.first_row_s, measured.started_s, measured.first_batch_ms / 1000)
            if round_ >= 0:
                runs[name].append(measured)
    return runs


def run_all(settings: Settings, stages: Sequence[str], extra_args: Sequence[str]) -> list[str]:
    """Each stage in a child process (fresh JVMs, fresh memory); returns the stages that failed."""
    directory = results_dir(settings)
    for stage in STAGES:
        store.result_path(directory, stage).unlink(missing_ok=True)
    failed = []
    for stage in stages:
        log.info("==== stage %s", stage)
        env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
        code = subprocess.call([sys.executable, "-m", "bench", stage, *extra_args],
                               cwd=PROJECT_ROOT, env=env)
        if code != 0:
            log.error("stage %s failed (exit %d); the report will lack it", stage, code)
            failed.append(stage)
    return failed


def load_results(settings: Settings) -> dict[str, StageResult]:
    found = {}
    for stage in STAGES:
        try:
            found[stage] = store.load(results_dir(settings), stage)
        except store.ResultError as exc:
            log.warning("%s", exc)
    return found


def write_report(results: dict[str, StageResult], machine: dict[str, str]) -> Path:
    rows = comparisons(results)
    made: dict[str, str] = {}

    def keep(name: str, path: Path | None) -> None:
        if path is not None:
            made[name] = os.path.relpath(path, DOC.parent)

    keep("stages", plots.stages_plot(rows, PLOTS_DIR / "stages.png"))
    if "e2e" in results:
        budget = latency_budget(results)
        keep("e2e-throughput", plots.e2e_throughput_plot(results["e2e"],
                                                          PLOTS_DIR / "e2e-throughput.png"))
        keep("e2e-latency", plots.e2e_latency_plot(results["e2e"], PLOTS_DIR / "e2e-latency.png",
                                                   budget.value if budget else None))
        keep("e2e-memory", plots.e2e_memory_plot(results["e2e"], PLOTS_DIR / "e2e-memory.png"))
    text = render(
        generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        machine=machine, results=results, comparisons=rows,
        sections=sections(results, rows), plots=made, commands=commands(),
    )
    if DOC.exists():  # make bench-secure's and bench-cluster's: make bench measures neither
        previous = DOC.read_text()
        text = cluster_report.carry(previous, security_report.carry(previous, text))
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text)
    return DOC
