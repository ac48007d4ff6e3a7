"""bench-e2e: a sustained load through the whole pipeline, then a full reconciliation.

For ``seconds`` (``BENCH_E2E_SECONDS``, default 300) the producer code runs in a loop
(``fetch_and_produce``: the local randomuser server -> mapping -> ``ContractProducer``),
optionally paced to ``rate`` records/s (``BENCH_E2E_RATE``; 0 = as fast as it goes), into
a sandbox topic that a streaming job of our own (``bench.job``, processing-time trigger)
writes to the sandbox table. When the load stops, the job is given time to catch up,
then stopped, and every produced record is reconciled with Cassandra
(:func:`ops.reconcile.reconcile`, span by span): stored and equal, dead-lettered, or
missing; keys produced twice are counted over the whole span.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.cold_start import ColdStart, cold_start
from bench.monitor import MACHINE, Monitor, service_groups
from bench.results import Figure, StageResult
from bench.sandbox import Sandbox
from bench.stats import Distribution, rate
from config.settings import PROJECT_ROOT, Settings
from contract.catalog import Contract
from ops.reconcile import end_offsets, read_span, reconcile
from producers.randomuser_client import RandomUserClient, base_url_for
from producers.run import RunConfig, fetch_and_produce
from stack import process
from stack.paths import StackPaths
from streaming.batch_log import BatchEvent, parse_job_log

log = logging.getLogger(__name__)
PAGE_SIZE = 5000
PAGES_PER_RUN = 1  # pages per fetch_and_produce call: one page is one DAG task's worth
JOB_START_TIMEOUT_S = 240.0
WARM_UP_RECORDS = PAGE_SIZE
RECONCILE_CHUNK = 60_000  # messages per reconciled span: bounded memory


@dataclass(frozen=True)
class E2EConfig:
    seconds: float = 300.0  # both phases: saturation, then a paced load
    rate: float = 0.0  # records/s offered in the paced phase; 0 = a share of the first's
    saturated_share: float = 0.5  # of ``seconds``: as fast as the producers go
    # The paced phase offers this share of phase 1's end-to-end rate (what the pipeline
    # stored a second; the producers alone may outrun it, and 70% of their rate can be a
    # load the job does not sustain: then the latency measured is a queue's).
    paced_share_of_capacity: float = 0.7
    drain_timeout_s: float = 300.0
    # Page tasks running at once, as many as the DAG runs (produce_pages'
    # max_active_tis_per_dagrun; a test holds the two together): one task's fetch
    # overlaps another's mapping and sending.
    producers: int = 4
    # Load before measuring, not measured: a long-running job is warm, and a young Spark
    # JVM spends ~40% of its CPU compiling (JIT) in its first two minutes (JFR, 2-core
    # machine), CPU that the rest of the pipeline then lacks.
    warm_up_seconds: float = 45.0
    # Spark settings of the job beyond the session's own (``spark.cores.max``...: where its
    # executors run on a standalone cluster; bench/cluster.py varies them).
    spark_conf: tuple[tuple[str, str], ...] = ()
    # Read every record back from Cassandra (~500 records/s on the 2-core cluster topology).
    # Off, the stored rows are the job's own count (its batch log) and nothing is checked.
    reconcile: bool = True


def sub_spans(start: dict[int, int], end: dict[int, int],
              chunk: int) -> Iterator[tuple[dict[int, int], dict[int, int]]]:
    """``[start, end)`` cut into spans of at most ``chunk`` offsets per partition."""
    if chunk < 1:
        raise ValueError(f"chunk must be at least 1, got {chunk}")
    for p in sorted(end):
        lo = start.get(p, 0)
        while lo < end[p]:
            hi = min(lo + chunk, end[p])
            yield {p: lo}, {p: hi}
            lo = hi


def paced_sleep(produced: int, target_rate: float, elapsed: float) -> float:
    """Seconds to wait so that ``produced`` records took ``produced / target_rate`` s."""
    if target_rate <= 0:
        return 0.0
    return max(0.0, produced / target_rate - elapsed)


# -- the job process ------------------------------------------------------------------------


@dataclass
class JobProcess:
    popen: subprocess.Popen[bytes]
    log_path: Path
    checkpoint: Path

    def lines(self) -> list[str]:
        return self.log_path.read_text(errors="replace").splitlines()

    def wait_started(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log_path.read_text(errors="replace")
            if '"event": "job_started"' in text:
                return
            if self.popen.poll() is not None:
                raise RuntimeError(f"the benchmark's streaming job exited "
                                   f"{self.popen.returncode}; see {self.log_path}")
            time.sleep(1)
        raise RuntimeError(f"the streaming job did not start in {timeout:.0f} s; "
                           f"see {self.log_path}")

    def stop(self, grace_s: float = 60.0) -> None:
        """SIGTERM our job's own process group (it leads it), SIGKILL if it lingers."""
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=30)
        # Its Spark JVM may outlive the Python driver by the time it takes to exit (and to
        # write its class data sharing archive, on a first start): the next job waits.
        deadline = time.monotonic() + grace_s
        while process.group_members(self.popen.pid) and time.monotonic() < deadline:
            time.sleep(0.2)


def start_job(settings: Settings, box: Sandbox, work_dir: Path,
              spark_conf: tuple[tuple[str, str], ...] = (),
              job_args: tuple[str, ...] = ()) -> JobProcess:
    log_path = work_dir / "e2e-job.log"
    checkpoint = work_dir / f"checkpoint-{box.contract.topic}"
    conf_args = [arg for key, value in spark_conf for arg in ("--conf", f"{key}={value}")]
    with log_path.open("wb") as out:
        popen = subprocess.Popen(
            [sys.executable, "-m", "bench.job", "--contract-dir", str(box.directory),
             "--subject", box.contract.subject, "--checkpoint", str(checkpoint), *conf_args,
             *job_args],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "PYTHONUNBUFFERED": "1"},
            cwd=PROJECT_ROOT, start_new_session=True,
        )
    return JobProcess(popen, log_path, checkpoint)


# -- the load -------------------------------------------------------------------------------


def produce_for(settings: Settings, contract: Contract, config: E2EConfig,
                run_tag: str) -> tuple[int, float, list[float]]:
    """``config.producers`` page tasks at once (``fetch_and_produce``, one page each) until
    ``config.seconds``; (produced, seconds, when each page ended)."""
    started = time.monotonic()
    lanes = max(1, config.producers)
    with ThreadPoolExecutor(max_workers=lanes, thread_name_prefix="page-task") as pool:
        done = list(pool.map(lambda lane: _produce_lane(settings, contract, config, run_tag,
                                                        lane, lanes, started), range(lanes)))
    ends = sorted(end for _, lane_ends in done for end in lane_ends)
    return sum(n for n, _ in done), time.monotonic() - started, ends


def _produce_lane(settings: Settings, contract: Contract, config: E2EConfig, run_tag: str,
                  lane: int, lanes: int, started: float) -> tuple[int, list[float]]:
    """Pages ``lane + 1``, ``lane + 1 + lanes``, ... one ``fetch_and_produce`` each."""
    produced = 0
    ends: list[float] = []
    page = lane + 1
    with RandomUserClient(base_url_for(settings, "local")) as client:
        while time.monotonic() - started < config.seconds:
            run = RunConfig(seed=run_tag, pages=PAGES_PER_RUN, batch_size=PAGE_SIZE,
                            run_id=f"{run_tag}-{page}", first_page=page, source="local")
            summary = fetch_and_produce(settings, contract, run, client=client)
            produced += summary.produced
            page += PAGES_PER_RUN * lanes
            ends.append(time.monotonic() - started)
            # Pacing shares the offered rate between the lanes.
            pause = paced_sleep(produced, config.rate / lanes, time.monotonic() - started)
            if pause:
                time.sleep(min(pause, max(0.0, config.seconds - (time.monotonic() - started))))
    return produced, ends


def first_page(settings: Settings, contract: Contract) -> int:
    """The warm-up's first page (``WARM_UP_RECORDS``), produced before the job starts."""
    return fetch_and_produce(settings, contract, RunConfig(
        seed=f"bench-warm-up-{contract.topic}", pages=1, batch_size=WARM_UP_RECORDS,
        run_id="bench-warm-up", source="local",
    )).produced


def warm_up(settings: Settings, contract: Contract, config: E2EConfig, job: JobProcess,
            waiting: int) -> int:
    """Load through the whole pipeline before measuring (``config.warm_up_seconds``, after
    the ``waiting`` records of :func:`first_page`): the first micro-batches pay for the
    connector's sessions and the JIT compilation of the job's JVM, a cost a long-running
    job no longer pays. Returns the records produced, once the job has taken them all."""
    produced = waiting
    if config.warm_up_seconds > 0:
        load = replace(config, seconds=config.warm_up_seconds, rate=0.0)
        produced += produce_for(settings, contract, load, f"bench-warm-up-load-{contract.topic}")[0]
    wait_drained(job, produced, JOB_START_TIMEOUT_S)
    return produced


def wait_first_row(job: JobProcess, launched: float, timeout: float) -> ColdStart:
    """Until the job's log shows its first batch that stored rows: its cold start."""
    deadline = time.monotonic() + timeout
    while True:
        measured = cold_start(job.lines(), launched)
        if measured is not None:
            return measured
        if job.popen.poll() is not None:
            raise RuntimeError(f"the streaming job exited {job.popen.returncode} before its "
                               f"first row; see {job.log_path}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"no row stored {timeout:.0f} s after the launch; "
                               f"see {job.log_path}")
        time.sleep(0.2)


@dataclass(frozen=True)
class JobVariant:
    """How the benchmark's job starts: Spark settings beyond its own, its arguments."""

    spark_conf: tuple[tuple[str, str], ...] = ()
    job_args: tuple[str, ...] = ()  # python -m bench.job's


def measure_cold_start(settings: Settings, box: Sandbox, work_dir: Path,
                       variant: JobVariant = JobVariant()) -> ColdStart:
    """Cold start alone: a page waits in the topic, the job is launched, its first row
    stored, the job stopped (the end-to-end stage's first minute, without the load)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    first_page(settings, box.contract)
    launched = time.time()
    job = start_job(settings, box, work_dir, variant.spark_conf, variant.job_args)
    try:
        return wait_first_row(job, launched, JOB_START_TIMEOUT_S)
    finally:
        job.stop()
        shutil.rmtree(job.checkpoint, ignore_errors=True)


def cold_start_variants() -> dict[str, JobVariant]:
    """The job as it starts (class data sharing for the driver JVM), and without it."""
    from streaming.session import avro_limit_java_options  # inner: pyspark

    return {"class data sharing": JobVariant(),
            "no class data sharing (before)": JobVariant(
                (("spark.driver.extraJavaOptions", avro_limit_java_options()),))}


def wait_drained(job: JobProcess, produced: int, timeout: float) -> list[BatchEvent]:
    """Until the job's batches have taken in ``produced`` rows (or the deadline)."""
    deadline = time.monotonic() + timeout
    while True:
        events = parse_job_log(job.lines())
        taken = sum(e.input_rows for e in events)
        if taken >= produced:
            return events
        if job.popen.poll() is not None:
            raise RuntimeError(f"the streaming job exited {job.popen.returncode} with "
                               f"{taken} of {produced} rows taken; see {job.log_path}")
        if time.monotonic() > deadline:
            log.warning("the job took %d of %d rows within %.0f s", taken, produced, timeout)
            return events
        time.sleep(1)


# -- reconciliation -------------------------------------------------------------------------


@dataclass
class Totals:
    produced: int = 0
    stored: int = 0
    dead_lettered: int = 0
    missing: int = 0
    mismatches: int = 0
    duplicate_keys: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)


def reconcile_all(settings: Settings, contract: Contract, start: dict[int, int],
                  end: dict[int, int], keys: set[bytes] | None = None) -> Totals:
    """:func:`ops.reconcile.reconcile` span by span, and keys counted over the whole span
    (and over earlier spans, when their ``keys`` are passed in)."""
    totals = Totals()
    seen: set[bytes] = set() if keys is None else keys
    for lo, hi in sub_spans(start, end, RECONCILE_CHUNK):
        rec = reconcile(settings, contract, lo, hi)
        totals.produced += rec.produced
        totals.stored += rec.stored
        totals.dead_lettered += rec.dead_lettered
        totals.missing += len(rec.missing)
        totals.mismatches += len(rec.mismatches)
        totals.latencies_ms.extend(rec.latencies_ms)
        totals.examples.extend((rec.mismatches + [f"missing {m}" for m in rec.missing])[:3])
        for message in read_span(settings, contract.topic, lo, hi):
            if message.key is None:
                continue
            if message.key in seen:
                totals.duplicate_keys += 1
            seen.add(message.key)
    return totals


# -- the stage ------------------------------------------------------------------------------


def pipeline_services(settings: Settings) -> tuple[str, ...]:
    """The services the load goes through, for the settings' topology (``kafka-1``... in
    the cluster): Airflow and the console take no part in it."""
    from stack.services import services_for  # inner: the services' modules, for e2e only

    return tuple(s.name for s in services_for(settings) if s.name not in ("airflow", "console"))


def run(settings: Settings, box: Sandbox, config: E2EConfig, work_dir: Path,
        result: StageResult, on_warm: Callable[[], list[str]] | None = None) -> StageResult:
    """The whole stage; ``on_warm`` is called once the warm-up went through (the job's
    executors run), before the measured load: its lines become notes."""
    contract = box.contract
    work_dir.mkdir(parents=True, exist_ok=True)
    waiting = first_page(settings, contract)  # in the topic before the launch: cold start
    launched = time.time()
    job = start_job(settings, box, work_dir, config.spark_conf)
    try:
        job.wait_started(JOB_START_TIMEOUT_S)
        warmed = warm_up(settings, contract, config, job, waiting)
        measured = cold_start(job.lines(), launched)
        if measured is not None:
            for figure in measured.figures():
                result.add(figure)
        result.notes.append(f"warm-up, not measured: {warmed:,} records through the whole "
                            f"pipeline ({config.warm_up_seconds:.0f} s of load)")
        if on_warm is not None:
            result.notes.extend(on_warm())
        start = end_offsets(settings, contract.topic, contract.partitions)
        groups = {**service_groups(StackPaths.from_settings(settings), pipeline_services(settings)),
                  "stream job": job.popen.pid}

        def produced_so_far() -> int:
            now = end_offsets(settings, contract.topic, contract.partitions)
            return sum(now[p] - start.get(p, 0) for p in now)

        load_started = time.time()
        tag = f"bench-e2e-{contract.topic}"
        with Monitor(groups, produced_so_far) as monitor:
            # Phase 1, saturation: how many records a second the pipeline carries.
            full = replace(config, seconds=config.seconds * config.saturated_share, rate=0.0)
            produced, load_s, _ = produce_for(settings, contract, full, f"{tag}-full")
            log.info("saturation: %d records in %.0f s; waiting for the job", produced, load_s)
            saturation = wait_drained(job, warmed + produced, config.drain_timeout_s)
            mid = end_offsets(settings, contract.topic, contract.partitions)
            # Phase 2, a load the pipeline sustains: the latency a record sees. (At
            # saturation the queue only grows, and so does any latency.)
            capacity = min(rate(produced, load_s), stored_rate(saturation, load_started, load_s))
            offered = config.rate or config.paced_share_of_capacity * capacity
            paced = replace(config, seconds=config.seconds - full.seconds, rate=offered)
            paced_started = time.time()
            produced_2, paced_s, _ = produce_for(settings, contract, paced, f"{tag}-paced")
            log.info("paced: %d records in %.0f s; waiting for the job", produced_2, paced_s)
            events = wait_drained(job, warmed + produced + produced_2,
                                  config.drain_timeout_s)
        end = end_offsets(settings, contract.topic, contract.partitions)
        events = [e for e in events if e.at >= load_started]  # the warm-up's are not measured
    finally:
        job.stop()
        shutil.rmtree(job.checkpoint, ignore_errors=True)  # its topic is gone with the sandbox
    in_topic = sum(end[p] - start.get(p, 0) for p in end)
    if config.reconcile:
        reconcile_started = time.monotonic()
        keys: set[bytes] = set()  # one key set: a key in both phases is a duplicate too
        saturated = reconcile_all(settings, contract, start, mid, keys)
        sustained = reconcile_all(settings, contract, mid, end, keys)
        result.notes.append(f"reconciling {in_topic:,} records took "
                            f"{time.monotonic() - reconcile_started:.0f} s")
    else:
        saturated = counted_by_job([e for e in events if e.at < paced_started], produced)
        sustained = counted_by_job([e for e in events if e.at >= paced_started], produced_2)
        result.notes.append("not reconciled: the rows stored are the job's own count "
                            "(its batch log), nothing read back from Cassandra")
    phases = Phases(produced=produced, load_s=load_s, load_started=load_started,
                    paced_produced=produced_2, paced_s=paced_s, paced_started=paced_started,
                    offered=offered)
    record_figures(result, config, settings, phases, in_topic, events, saturated, sustained)
    record_series(result, monitor, events, load_started)
    record_cpu(result, monitor, phases)
    return result


def stored_rate(events: list[BatchEvent], load_started: float, load_s: float) -> float:
    """Rows the job stored (or dead-lettered) a second from the load's start to its last
    batch with rows (at least the load's length): the end-to-end rate, by the job's count."""
    with_rows = [e for e in events if e.at >= load_started and (e.rows_written or e.dead_lettered)]
    if not with_rows:
        return 0.0
    span = max(with_rows[-1].at - load_started, load_s)
    return rate(sum(e.rows_written + e.dead_lettered for e in with_rows), span)


def counted_by_job(events: list[BatchEvent], produced: int) -> Totals:
    """The rows the job says its batches wrote or dead-lettered (no reconciliation)."""
    return Totals(produced=produced, stored=sum(e.rows_written for e in events),
                  dead_lettered=sum(e.dead_lettered for e in events))


@dataclass(frozen=True)
class Phases:
    produced: int  # saturation phase
    load_s: float
    load_started: float
    paced_produced: int  # paced phase
    paced_s: float
    paced_started: float
    offered: float  # records/s offered in the paced phase


def record_figures(result: StageResult, config: E2EConfig, settings: Settings, phases: Phases,
                   in_topic: int, events: list[BatchEvent], saturated: Totals,
                   sustained: Totals) -> None:
    load_end = phases.load_started + phases.load_s
    first = [e for e in events if e.at < phases.paced_started]
    with_rows = [e for e in first if e.rows_written or e.dead_lettered]
    last = with_rows[-1].at if with_rows else load_end
    span_s = max(last - phases.load_started, phases.load_s)
    result.add(Figure("e2e.throughput", "end to end: stored rows / (first produce -> last write)",
                      rate(saturated.stored + saturated.dead_lettered, span_s), "records/s",
                      f"{saturated.stored:,} stored in {span_s:.0f} s (saturation: "
                      f"{phases.load_s:.0f} s of load, unpaced, {config.producers} page tasks "
                      "at once)"))
    result.add(Figure("e2e.produce_rate", "producer loop during the load (fetch_and_produce)",
                      rate(phases.produced, phases.load_s), "records/s",
                      f"{phases.produced:,} records"))
    during = [e for e in first if e.at <= load_end]
    taken = sum(e.input_rows for e in during)
    result.add(Figure("e2e.stream_rate", "streaming job during the load (rows taken per second)",
                      rate(taken, phases.load_s), "rows/s",
                      f"{len(during)} micro-batches ended during the load"))
    result.add(Figure("e2e.backlog", "backlog when the load stopped (produced, not yet taken)",
                      max(0, phases.produced - taken), "records",
                      "at saturation the job runs batch after batch; the backlog is what "
                      "the last batches took after the load"))
    if saturated.latencies_ms:
        d = Distribution.of(saturated.latencies_ms)
        result.add(Figure("e2e.latency_p95_saturated", "end-to-end latency p95 at saturation",
                          d.p95, "ms", f"{d.count:,} rows: queueing grows with any overload"))
    if sustained.latencies_ms:
        d = Distribution.of(sustained.latencies_ms)
        detail = (f"{d.count:,} rows, Kafka timestamp -> row written, paced load of "
                  f"{phases.offered:,.0f} records/s for {phases.paced_s:.0f} s")
        for name, value in (("p50", d.p50), ("p95", d.p95), ("p99", d.p99), ("max", d.max)):
            result.add(Figure(f"e2e.latency_{name}", f"end-to-end latency {name}", value, "ms",
                              detail))
    result.add(Figure("e2e.offered", "paced load (latency phase)", phases.offered,
                      "records/s", f"{config.paced_share_of_capacity:.0%} of the saturation "
                      "phase's end-to-end rate" if not config.rate else "BENCH_E2E_RATE"))
    result.add(Figure("e2e.trigger", "processing-time trigger interval",
                      settings.stream_trigger_seconds * 1000.0, "ms", "STREAM_TRIGGER_SECONDS"))
    totals = Totals(
        produced=saturated.produced + sustained.produced,
        stored=saturated.stored + sustained.stored,
        dead_lettered=saturated.dead_lettered + sustained.dead_lettered,
        missing=saturated.missing + sustained.missing,
        mismatches=saturated.mismatches + sustained.mismatches,
        duplicate_keys=saturated.duplicate_keys + sustained.duplicate_keys,
        examples=saturated.examples + sustained.examples,
    )
    lost = totals.missing + max(0, in_topic - totals.produced)
    if config.reconcile:
        result.add(Figure("e2e.lost_or_duplicated",
                          "records lost (neither stored nor dead-lettered) + keys produced twice",
                          lost + totals.duplicate_keys, "records",
                          f"produced {in_topic:,} = stored {totals.stored:,} + dead-lettered "
                          f"{totals.dead_lettered:,}; missing {totals.missing}, duplicate keys "
                          f"{totals.duplicate_keys}, field mismatches {totals.mismatches}"))
    result.notes.extend(f"reconcile: {e}" for e in totals.examples[:5])
    produced = phases.produced + phases.paced_produced
    if produced != in_topic:
        result.notes.append(f"the producers reported {produced:,} acknowledged records, the "
                            f"topic holds {in_topic:,} new ones")


def record_series(result: StageResult, monitor: Monitor, events: list[BatchEvent],
                  load_started: float) -> None:
    s = monitor.samples
    result.series["sample_t"] = [round(t, 2) for t in s.t]
    result.series["produced"] = [float(v) for v in s.produced]
    for name, values in s.memory.items():
        result.series[f"pss_mib:{name}"] = [round(v / 2**20, 1) for v in values]
        if values:
            result.add(Figure(f"e2e.memory.{name.replace(' ', '_')}", f"memory (PSS) of {name}",
                              max(values) / 2**20, "MiB",
                              f"peak; mean {sum(values) / len(values) / 2**20:,.0f} MiB"))
    # The monitor started just before the load: its clock and load_started agree to ~ms.
    result.series["batch_t"] = [round(e.at - load_started, 2) for e in events]
    result.series["batch_rows"] = [float(e.rows_written + e.dead_lettered) for e in events]
    result.series["batch_duration_ms"] = [float(e.duration_ms) for e in events]
    result.series["batch_lag_p50_ms"] = [_num(e.lag_p50_ms) for e in events]
    result.series["batch_lag_p95_ms"] = [_num(e.lag_p95_ms) for e in events]
    result.series["batch_lag_max_ms"] = [_num(e.lag_max_ms) for e in events]


def record_cpu(result: StageResult, monitor: Monitor, phases: Phases) -> None:
    """Cores each process kept busy during the saturation phase: where the machine went."""
    s = monitor.samples
    window = (0.0, phases.load_s)  # the monitor's clock starts with the load
    cores = os.cpu_count() or 1
    result.add(Figure("e2e.cores", "cores the whole pipeline shares", cores, "cores",
                      "os.cpu_count(): the co-located limit's numerator"))
    for name in s.cpu:
        used = s.cores(name, *window)
        if used is None:
            continue
        key = "machine" if name == MACHINE else name.replace(" ", "_")
        label = f"CPU at saturation: {name}"
        detail = (f"mean cores busy over {phases.load_s:.0f} s, of {cores}"
                  + ("; every process, ours or not" if name == MACHINE else ""))
        result.add(Figure(f"e2e.cpu.{key}", label, used, "cores", detail))
    # Over the load and the drain both, every record's whole way: what a record costs each
    # process, whichever phase it spent its CPU in (the job's batches run on after the load).
    records = phases.produced + phases.paced_produced
    for name, seconds in s.cpu.items():
        if len(seconds) < 2 or not records:
            continue
        key = "machine" if name == MACHINE else name.replace(" ", "_")
        result.add(Figure(f"e2e.cpu_per_record.{key}", f"CPU per record: {name}",
                          (seconds[-1] - seconds[0]) / records * 1e6, "µs",
                          f"CPU time from the load's start until the job had taken it all, "
                          f"over {records:,} records"))


def _num(value: Any) -> float:
    return float("nan") if value is None else float(value)
