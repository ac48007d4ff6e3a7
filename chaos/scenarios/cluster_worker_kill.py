"""cluster-worker-kill, cluster topology: kill -9 one of two Spark workers mid-batch (its
process group: the worker and the job's executor on it), restart it.

The job has one executor on each worker (streaming/session.py). The worker is killed while
its executor is running a batch's tasks (its CPU is busy). The driver sees the executor
lost and runs those tasks again on the other worker's executor (a lost executor is not the
application's fault: it does not count against spark.task.maxFailures), so the batch
completes and the query keeps running: the same query run, the driver never restarted by
its supervisor. A task that had written some rows before the kill writes them again:
upserts of the same rows, so there is no duplicate. The master replaces the lost executor
where there is room: on the surviving worker at once (it offers 2 cores, one free), or on
the restarted worker if that is back first; either way the job is back to 2 executors.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from chaos import faults
from chaos.load import Pipeline, background_load, pipeline
from chaos.scenario import ChaosContext, ChaosError, Outcome
from stack import process
from stack.services import Context, ServiceError
from stack.services.spark_cluster import SparkWorker, master_state, spark_cluster
from streaming.checkpoint import query_name

RECOVERY_LIMIT_S = 180.0
BUSY_LIMIT_S = 90.0
# A task running on the executor: it used at least this share of a core over the window.
BUSY_WINDOW_S = 0.5
BUSY_SHARE = 0.3
LOST_LIMIT_S = 60.0
REJOIN_LIMIT_S = 120.0


@dataclass(frozen=True)
class Executor:
    """The job's executor on one worker: its id in the application and its JVM's pid."""

    worker: SparkWorker
    app_id: str
    executor_id: str
    pid: int

    def stderr(self, ctx: Context) -> Path:
        return self.worker.work_dir(ctx) / self.app_id / self.executor_id / "stderr"


@dataclass(frozen=True)
class ClusterWorkerKill:
    name: str = "cluster-worker-kill"
    fault: str = "kill -9 one of two Spark workers mid-batch, restart it"
    fast: bool = False
    topology: str = "cluster"
    # Pages of 1,000 a second at most: batches run back to back, a kill lands in one.
    pages: int = 300  # an upper bound: the load stops once the worker is back and used
    batch_size: int = 1000
    max_offsets_per_trigger: int = 3000
    attempts: int = 3  # kills until one lands while the executor runs tasks

    def run(self, ctx: ChaosContext) -> Outcome:
        started = time.monotonic()
        notes: list[str] = []
        kills: list[Kill] = []
        env = {"STREAM_MAX_OFFSETS_PER_TRIGGER": str(self.max_offsets_per_trigger)}
        with pipeline(ctx, self.name, stream_env=env) as pipe:
            pipe.start_stream()
            pipe.produce(1, 500, tag=f"{pipe.contract.topic}-warm")
            pipe.wait_batch_running()
            app_id = _app_id(ctx, f"userstream-{query_name(pipe.contract)}")
            executors = _executors(ctx, app_id)
            notes.append(f"application {app_id}: executors {_where(executors)}")
            spread = len({e.worker.name for e in executors}) == len(_workers(ctx))
            with background_load(pipe, self.pages, self.batch_size, pause_s=1.0) as load:
                for attempt in range(1, self.attempts + 1):
                    kills.append(kill := _kill_mid_batch(ctx, pipe, app_id, len(executors)))
                    ctx.progress(f"  attempt {attempt}: {kill.summary()}")
                    if kill.rerun:
                        break
                    notes.append(f"attempt {attempt}: no task of {kill.victim.worker.name}'s "
                                 "executor ran again elsewhere (killed between tasks); again")
            load.result()
            last = kills[-1]
            notes.append(last.summary())
            notes.append(f"stream starts: {pipe.starts()}; query runs: {len(_run_ids(pipe))}")
            checks = {
                "the job had an executor on each worker": spread,
                "the killed worker's executor had tasks running; they ran again on the "
                "other worker": last.rerun,
                "the driver saw the executor lost": last.lost,
                "a batch completed after the kill": last.recovery is not None,
                "the query kept running (one start, one run id)":
                    pipe.starts() == 1 and len(_run_ids(pipe)) == 1,
                "the job got its lost executor back": len(last.replaced) == len(executors),
                "batches completed after the worker came back": last.after is not None,
            }
            rec = pipe.reconcile()
            return Outcome.from_reconciliation(self, rec, recovery_seconds=last.recovery,
                                               checks=checks, notes=notes, started=started)


@dataclass(frozen=True)
class Kill:
    """One kill -9 of a worker and what followed."""

    victim: Executor
    lost: bool  # the driver logged the executor lost
    rerun: bool  # a task attempt > 0 ran on another worker's executor after the kill
    recovery: float | None  # kill -> the first batch written after it, s
    replaced: list[Executor]  # the job's executors once the worker was back
    after: float | None  # worker back -> a batch written, s

    def summary(self) -> str:
        written = "never" if self.recovery is None else f"{self.recovery:.0f} s"
        return (f"{self.victim.worker.name} killed with executor {self.victim.executor_id} "
                f"(pid {self.victim.pid}): executor lost {self.lost}, tasks re-run on the "
                f"other worker {self.rerun}, kill -> a batch written {written}; executors "
                f"after the restart: {_where(self.replaced)}")


def _kill_mid_batch(ctx: ChaosContext, pipe: Pipeline, app_id: str, count: int) -> Kill:
    """kill -9 a worker while its executor runs tasks (the other worker has an executor of
    the job too), restart it, wait until the job has ``count`` executors again."""
    executors = _executors(ctx, app_id)
    hosts = {e.worker.name for e in executors}
    victim = ctx.rng.choice([e for e in executors if hosts - {e.worker.name}] or executors)
    survivors = [e for e in executors if e.worker.name != victim.worker.name]
    reruns = {e.executor_id: _reran_tasks(e.stderr(ctx.stack)) for e in survivors}
    _wait_busy(victim)
    mark = len(pipe.log_lines())
    killed_at = time.time()
    faults.kill9(ctx.stack, victim.worker.name)
    lost = _wait_lost_executor(pipe, mark, victim.executor_id)
    recovery = pipe.wait_writing(killed_at, RECOVERY_LIMIT_S)
    rerun = any(_reran_tasks(e.stderr(ctx.stack)) > reruns[e.executor_id] for e in survivors)
    faults.restart(ctx.stack, victim.worker.name)
    replaced = _wait_replaced(ctx, app_id, count)
    after = pipe.wait_writing(time.time(), RECOVERY_LIMIT_S)
    return Kill(victim, lost, rerun, recovery, replaced, after)


def _where(executors: list[Executor]) -> str:
    return ", ".join(f"{e.executor_id} on {e.worker.name}" for e in executors) or "none"


def _workers(ctx: ChaosContext) -> list[SparkWorker]:
    return [s for s in spark_cluster(ctx.settings) if isinstance(s, SparkWorker)]


def _app_id(ctx: ChaosContext, app_name: str) -> str:
    """The running application called ``app_name``, from the master's JSON."""
    try:
        apps = master_state(ctx.settings).get("activeapps")
    except ServiceError as exc:
        raise ChaosError(f"cluster-worker-kill: {exc}") from exc
    ids = [a.get("id") for a in (apps if isinstance(apps, list) else [])
           if isinstance(a, dict) and a.get("name") == app_name]
    if len(ids) != 1:
        raise ChaosError(f"cluster-worker-kill: {len(ids)} running applications called "
                         f"{app_name!r} on the master, expected 1")
    return str(ids[0])


def _executors(ctx: ChaosContext, app_id: str) -> list[Executor]:
    """The application's executors, each with its worker and JVM pid."""
    found = []
    for worker in _workers(ctx):
        record = process.running(ctx.stack.paths.pidfile(worker.name))
        if record is None:
            continue
        try:
            entries = worker.executors(ctx.stack)
        except ServiceError:
            continue
        for entry in entries:
            if entry.get("appid") != app_id:
                continue
            executor_id = str(entry.get("id"))
            pid = _executor_pid(record.pid, app_id, executor_id)
            if pid is not None:
                found.append(Executor(worker, app_id, executor_id, pid))
    if not found:
        raise ChaosError(f"cluster-worker-kill: application {app_id} has no executor")
    return found


def _executor_pid(worker_pid: int, app_id: str, executor_id: str) -> int | None:
    """The executor JVM the worker started (its command line names the app and the id)."""
    for pid in process.descendants(worker_pid):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        flag = argv.index(b"--executor-id") if b"--executor-id" in argv else -1
        if app_id.encode() in argv and 0 <= flag < len(argv) - 1 \
                and argv[flag + 1] == executor_id.encode():
            return pid
    return None


def _cpu_seconds(pid: int) -> float:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _wait_busy(executor: Executor) -> None:
    """Until the executor's JVM uses a core's :data:`BUSY_SHARE`: tasks are running."""
    deadline = time.monotonic() + BUSY_LIMIT_S
    while time.monotonic() < deadline:
        before = _cpu_seconds(executor.pid)
        time.sleep(BUSY_WINDOW_S)
        if _cpu_seconds(executor.pid) - before >= BUSY_SHARE * BUSY_WINDOW_S:
            return
    raise ChaosError(f"cluster-worker-kill: executor {executor.executor_id} on "
                     f"{executor.worker.name} ran nothing for {BUSY_LIMIT_S:.0f} s")


def _wait_lost_executor(pipe: Pipeline, mark: int, executor_id: str) -> bool:
    """Whether the driver logged the executor lost ("ERROR TaskSchedulerImpl: Lost executor 1
    on 127.0.0.1: worker lost"). Its running tasks' failures are logged at INFO only (an
    ExecutorLostFailure not caused by the application), which the job does not show: their
    re-run is read in the other executors' logs (:func:`_reran_tasks`)."""
    deadline = time.monotonic() + LOST_LIMIT_S
    while time.monotonic() < deadline:
        if any(f"Lost executor {executor_id} " in line for line in pipe.log_lines()[mark:]):
            return True
        time.sleep(0.5)
    return False


def _reran_tasks(stderr: Path) -> int:
    """How many second (or later) attempts of a task an executor ran: "Running task 2.1 in
    stage 7.0" is attempt 1 of task 2, run again after its attempt 0 failed or was lost
    (speculation is off)."""
    try:
        text = stderr.read_text(errors="replace")
    except OSError:
        return 0
    return len(re.findall(r"Running task \d+\.[1-9]\d* in stage", text))


def _wait_replaced(ctx: ChaosContext, app_id: str, count: int) -> list[Executor]:
    """The application's executors once it has ``count`` again (or at the limit)."""
    deadline = time.monotonic() + REJOIN_LIMIT_S
    while True:
        with contextlib.suppress(ChaosError):  # none registered at this instant: ask again
            executors = _executors(ctx, app_id)
            if len(executors) >= count or time.monotonic() > deadline:
                return executors
        if time.monotonic() > deadline:
            return []
        time.sleep(1)


def _run_ids(pipe: Pipeline) -> set[str]:
    """The query runs the job's log started (a restart from the checkpoint is a new run)."""
    return {m.group(1) for line in pipe.log_lines()
            if '"event": "query_started"' in line
            and (m := re.search(r'"run_id": "([^"]+)"', line))}
