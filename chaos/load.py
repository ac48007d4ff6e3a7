"""Load through the real pipeline, a supervised streaming job of the scenario's own, and
the reconciliation ``make demo`` ends in.

A scenario runs in a sandbox contract (``bench.sandbox``: its own topic, subject and
keyspace, removed at the end), so no run sees another's rows and the demo's
``users_created`` is never touched. The streaming job is the real one
(``streaming.job.run`` through ``bench.job``) under the stack's own supervisor
(``stack.supervise``), as ``make stream-up`` runs it: a kill or a failed batch is
followed by a restart from the checkpoint. The producer is the real one
(``producers.run.fetch_and_produce`` from the bundled randomuser server, one page per
call, as one DAG task produces one page); a page whose delivery fails is produced again,
as Airflow retries a failed task.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bench.sandbox import Sandbox, sandbox
from chaos.scenario import ChaosContext, ChaosError
from config.settings import PROJECT_ROOT
from ops.reconcile import Offsets, Reconciliation, end_offsets, reconcile
from producers.errors import DeliveryError, ProducerError
from producers.run import RunConfig, fetch_and_produce
from stack import process
from stack.services import supervise_env
from streaming.batch_log import BatchEvent, parse_job_log

JOB_START_TIMEOUT_S = 240.0
PAGE_RETRIES = 3  # as the DAG's tasks: a failed page is produced again, up to 3 times
RETRY_PAUSE_S = 5.0


@dataclass
class ProducedLoad:
    """What the load thread did: records acknowledged by Kafka, pages retried."""

    produced: int = 0
    pages: int = 0
    retries: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Pipeline:
    """One scenario's sandbox, its supervised streaming job and its load."""

    ctx: ChaosContext
    box: Sandbox
    work_dir: Path
    start: Offsets
    load: ProducedLoad = field(default_factory=ProducedLoad)
    stream_env: dict[str, str] = field(default_factory=dict)

    @property
    def contract(self):  # noqa: ANN201 - contract.catalog.Contract
        return self.box.contract

    @property
    def stream_pidfile(self) -> Path:
        return self.work_dir / "stream.pid"

    @property
    def stream_log(self) -> Path:
        return self.work_dir / "stream.log"

    @property
    def checkpoint(self) -> Path:
        return self.work_dir / "checkpoint"

    # -- the streaming job ---------------------------------------------------------------

    def start_stream(self, *, healthy_after_s: float = 300.0) -> process.PidRecord:
        """The real job under the stack's supervisor, with the settings ``make stream-up``
        gives it (:func:`stack.services.supervise_env`); returns once its query started."""
        argv = [sys.executable, "-m", "stack.supervise",
                "--healthy-after", str(healthy_after_s), "--",
                sys.executable, "-m", "bench.job", "--contract-dir", str(self.box.directory),
                "--subject", self.contract.subject, "--checkpoint", str(self.checkpoint)]
        env = {**os.environ, **supervise_env(), "PYTHONPATH": str(PROJECT_ROOT),
               "PYTHONUNBUFFERED": "1", **self.stream_env}
        record = process.spawn(argv, pidfile=self.stream_pidfile, log=self.stream_log,
                               env=env, cwd=PROJECT_ROOT)
        self.wait_stream_started(time.time() - 1)
        return record

    def supervisor(self) -> process.PidRecord:
        record = process.running(self.stream_pidfile)
        if record is None:
            raise ChaosError(f"{self.contract.topic}: the supervised streaming job is not "
                             f"running; see {self.stream_log}")
        return record

    def log_lines(self) -> list[str]:
        try:
            return self.stream_log.read_text(errors="replace").splitlines()
        except OSError:
            return []

    def starts(self) -> int:
        return sum(1 for line in self.log_lines() if line.startswith("==== supervise: starting"))

    def wait_stream_started(self, since_epoch: float,
                            timeout: float = JOB_START_TIMEOUT_S) -> None:
        """Until a ``query_started`` line is logged after ``since_epoch``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.log_lines():
                if '"event": "query_started"' in line and _line_epoch(line) >= since_epoch:
                    return
            if process.running(self.stream_pidfile) is None:
                raise ChaosError(f"the streaming job's supervisor exited; see {self.stream_log}")
            time.sleep(1)
        raise ChaosError(f"the streaming job did not start within {timeout:.0f} s; "
                         f"see {self.stream_log}")

    def batches(self) -> list[BatchEvent]:
        return parse_job_log(self.log_lines())

    def wait_writing(self, since_epoch: float, timeout: float) -> float | None:
        """Seconds from ``since_epoch`` until the pipeline wrote again, or None.

        Writing again: the first micro-batch that wrote rows and completed after
        ``since_epoch``, counted from its start (its log line's time minus its duration:
        a batch decodes and writes in one Spark job, so its writes begin as it starts, and
        the backlog of the outage must not count as recovery time). A batch that started
        before ``since_epoch`` counts from its end.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.batches():
                if event.at >= since_epoch and event.rows_written > 0:
                    started = event.at - event.duration_ms / 1000
                    return (started if started >= since_epoch else event.at) - since_epoch
            time.sleep(0.5)
        return None

    def wait_batch_running(self, timeout: float = 120.0) -> None:
        """Until a batch with rows has completed: the job is past its start, mid-stream."""
        if self.wait_writing(0.0, timeout) is None:
            raise ChaosError(f"no batch wrote rows within {timeout:.0f} s; "
                             f"see {self.stream_log}")

    def stop_stream(self) -> None:
        process.stop(self.stream_pidfile, grace_seconds=60)

    # -- the load ------------------------------------------------------------------------

    def produce_page(self, page: int, batch_size: int, tag: str) -> int:
        """One page through the real producer, retried as a DAG task is; records acked."""
        run = RunConfig(seed=tag, pages=1, batch_size=batch_size, run_id=f"{tag}-{page}",
                        first_page=page, source="local")
        for attempt in range(1, PAGE_RETRIES + 2):
            try:
                produced = fetch_and_produce(self.ctx.settings, self.contract, run).produced
            except (DeliveryError, ProducerError) as exc:
                with self.load.lock:
                    self.load.retries.append(f"page {page} try {attempt}: {exc}"[:300])
                if attempt > PAGE_RETRIES:
                    raise ChaosError(f"page {page} failed {attempt} times: {exc}") from exc
                time.sleep(RETRY_PAUSE_S * attempt)
                continue
            with self.load.lock:
                self.load.produced += produced
                self.load.pages += 1
            return produced
        raise AssertionError("unreachable")

    def produce(self, pages: int, batch_size: int, *, tag: str, pause_s: float = 0.0,
                first_page: int = 1, stop: threading.Event | None = None) -> int:
        """Up to ``pages`` pages one after the other, ``pause_s`` apart, until ``stop`` is
        set; the records Kafka acknowledged."""
        total = 0
        for page in range(first_page, first_page + pages):
            if stop is not None and stop.is_set():
                break
            total += self.produce_page(page, batch_size, tag)
            if pause_s:
                time.sleep(pause_s)
        return total

    # -- the reconciliation --------------------------------------------------------------

    def end(self) -> Offsets:
        return end_offsets(self.ctx.settings, self.contract.topic, self.contract.partitions)

    def reconcile(self, *, timeout: float = 300.0) -> Reconciliation:
        """Wait until every record of the span is stored or dead-lettered (or the deadline),
        then the exact reconciliation of ``make demo``."""
        end = self.end()
        deadline = time.monotonic() + timeout
        while True:
            rec = reconcile(self.ctx.settings, self.contract, self.start, end)
            if rec.reconciles or time.monotonic() > deadline:
                self.ctx.progress(f"  {self.contract.topic}: produced {rec.produced}, stored "
                                  f"{rec.stored}, dead-lettered {rec.dead_lettered}, missing "
                                  f"{len(rec.missing)}, duplicate keys {rec.duplicate_keys}")
                return rec
            time.sleep(3)


@contextmanager
def background_load(pipe: Pipeline, pages: int, batch_size: int, *,
                    pause_s: float = 2.0) -> Iterator[Future[int]]:
    """Pages produced in a thread while the block runs (up to ``pages``), stopped when it
    ends, however it ends; ``.result()`` after the block: the records acknowledged (or the
    producer's error)."""
    stop = threading.Event()
    with ThreadPoolExecutor(1, thread_name_prefix="chaos-load") as pool:
        future = pool.submit(pipe.produce, pages, batch_size, tag=pipe.contract.topic,
                             pause_s=pause_s, stop=stop)
        try:
            yield future
        finally:
            stop.set()


def _line_epoch(line: str) -> float:
    """The ``ts`` of a JSON log line as epoch seconds (0 when it has none)."""
    marker = '"ts": "'
    at = line.find(marker)
    if at < 0:
        return 0.0
    end = line.find('"', at + len(marker))
    try:
        return datetime.fromisoformat(line[at + len(marker) : end]).timestamp()
    except ValueError:
        return 0.0


@contextmanager
def pipeline(ctx: ChaosContext, name: str, *,
             stream_env: dict[str, str] | None = None) -> Iterator[Pipeline]:
    """A sandbox contract and a work directory for scenario ``name``; removed on exit
    (the streaming job stopped first), whatever the scenario's outcome."""
    work_root = ctx.stack.paths.home / "chaos"
    with ExitStack() as stack:
        box = stack.enter_context(sandbox(ctx.settings, prefix=f"chaos_{name.replace('-', '_')}"))
        work_dir = work_root / box.contract.topic
        work_dir.mkdir(parents=True, exist_ok=True)
        stack.callback(shutil.rmtree, work_dir, True)
        pipe = Pipeline(ctx, box, work_dir, start=end_offsets(
            ctx.settings, box.contract.topic, box.contract.partitions),
            stream_env=dict(stream_env or {}))
        stack.callback(_keep_log, pipe, ctx.stack.paths.logs_dir / "chaos")
        stack.callback(pipe.stop_stream)
        yield pipe


def _keep_log(pipe: Pipeline, logs: Path) -> None:
    """The job's log outlives the sandbox, for whoever reads a failed run."""
    if pipe.stream_log.exists():
        logs.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(pipe.stream_log, logs / f"{pipe.contract.topic}.log")
