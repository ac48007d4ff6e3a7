"""registry-outage: the Schema Registry is stopped (its stack process, by pid) for minutes.

What a 25-minute outage does, compressed by one setting and nothing else: the supervisor's
pause between restarts is capped at 1 s (``SUPERVISE_BACKOFF_CAP_SECONDS``) instead of 60 s,
so the 22 restarts that outlast the old give-up (20 restarts, ~16 minutes at the default
cap) take about two minutes. The give-up logic itself is the real one.

1. A new producer run's preflight fails clearly: one line, a typed error naming the
   registry (``python -m producers preflight``, as the DAG's first task runs it).
2. A producer that looked the schema up before the outage goes on producing, and the
   stream goes on writing those records (their writer id is cached) for longer than its
   30 s reader refresh, without one failed batch or restart.
3. The job is killed (as a node would lose it): every start now fails (the registry is
   needed to start). The supervisor retries past its old give-up and never stops.
4. The registry comes back: the stream resumes by itself, with what was produced while it
   was down, and a new run's preflight passes; no person restarts anything.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass

from chaos import faults
from chaos.load import Pipeline, pipeline
from chaos.scenario import ChaosContext, ChaosError, Outcome
from chaos.scenarios.cli_stream import start_cli_stream
from config.registry import public_url
from config.settings import PROJECT_ROOT
from producers.kafka_producer import ContractProducer
from producers.mapping import to_record
from stack import process
from stack.randomuser.generator import generate_page, normalize_nats

OLD_GIVE_UP = 20  # restarts after which stack.supervise used to stop for good
BACKOFF_CAP_S = "1"
ROUND = 500  # records a round, through the producer that outlives the outage's start
WAIT_S = 240.0
RESTARTS_WAIT_S = 480.0  # 22 failed starts: each loads pyspark and asks Cassandra first


@dataclass(frozen=True)
class RegistryOutage:
    name: str = "registry-outage"
    fault: str = (f"registry stopped; the job killed during the outage and restarted more "
                  f"than {OLD_GIVE_UP} times; registry started again")
    fast: bool = False
    cached_rounds: int = 3
    round_gap_s: float = 17.0  # 3 rounds span > 30 s, the job's reader refresh

    def run(self, ctx: ChaosContext) -> Outcome:
        started = time.monotonic()
        notes: list[str] = []
        env = {"SUPERVISE_BACKOFF_CAP_SECONDS": BACKOFF_CAP_S}
        with pipeline(ctx, self.name) as pipe:
            tag = pipe.contract.topic
            start_cli_stream(pipe, env)
            pipe.produce(1, ROUND, tag=f"{tag}-warm")
            pipe.wait_batch_running()
            producer = ContractProducer(ctx.settings, pipe.contract)
            with producer:
                # A producer mid-run: its first record (AvroSerializer's own look-up) is
                # behind it when the registry goes.
                self._round(pipe, producer, 0, wait=False)
                starts = pipe.starts()
                if not process.stop(ctx.stack.paths.pidfile("registry")):
                    raise ChaosError("the registry was not running: nothing to stop")
                ctx.progress("  registry stopped")
                try:
                    preflight = _preflight(public_url(ctx.settings.schema_registry_url))
                    cached = [self._round(pipe, producer, n)
                              for n in range(1, self.cached_rounds + 1)]
                    restarts_while_cached = pipe.starts() - starts
                    faults.kill9_children(pipe.supervisor(), "the streaming job")
                    ctx.progress("  job killed; every start needs the registry now")
                    self._round(pipe, producer, self.cached_rounds + 1, wait=False)
                    restarts = _wait_restarts(pipe, starts + OLD_GIVE_UP + 2) - starts
                    supervisor_alive = process.running(pipe.stream_pidfile) is not None
                finally:
                    faults.restart(ctx.stack, "registry")
                healed = time.time()
                ctx.progress("  registry answering again")
                self._round(pipe, producer, self.cached_rounds + 2, wait=False)
            stats = producer.stats
            with pipe.load.lock:
                pipe.load.produced += stats.delivered
            pipe.produce(1, ROUND, tag=f"{tag}-after")  # a new run: preflight passes again
            recovery = pipe.wait_writing(healed, WAIT_S)
            gave_up = any("giving up" in line for line in pipe.log_lines())
            notes += [f"preflight during the outage: {preflight[1]}",
                      f"rounds written from the cached writer id: {cached}",
                      f"job starts during the outage: {restarts}",
                      f"producer: {stats.delivered} delivered, {stats.failed} failed"]
            rec = pipe.reconcile()
            return Outcome.from_reconciliation(
                self, rec, recovery_seconds=recovery,
                checks={
                    "preflight failed with one line naming the registry": preflight[0],
                    "the stream kept writing cached writer ids through the outage":
                        all(s is not None for s in cached) and restarts_while_cached == 0,
                    f"the supervisor restarted the job more than {OLD_GIVE_UP} times":
                        restarts > OLD_GIVE_UP and supervisor_alive,
                    "the supervisor never gave up": not gave_up,
                    "the stream resumed by itself": recovery is not None,
                    "every record the producer handed over was acknowledged": stats.complete,
                },
                notes=notes, started=started)

    def _round(self, pipe: Pipeline, producer: ContractProducer, number: int,
               *, wait: bool = True) -> float | None:
        """``ROUND`` records through the already-open producer; with ``wait``, seconds
        until the stream wrote a batch of them (None: it did not within the wait)."""
        if wait and number > 1:
            time.sleep(self.round_gap_s)
        began = time.time()
        users = generate_page(f"{pipe.contract.topic}-outage", number + 1, ROUND,
                              normalize_nats(None))
        for user in users:
            producer.produce(to_record(user))
        return pipe.wait_writing(began, 60.0) if wait else None


def _preflight(registry: str) -> tuple[bool, str]:
    """``python -m producers preflight`` while the registry is down: (clear?, its stderr)."""
    result = subprocess.run(
        [sys.executable, "-m", "producers", "preflight"], capture_output=True, text=True,
        cwd=PROJECT_ROOT, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}, timeout=120,
        check=False)
    lines = result.stderr.strip().splitlines()
    clear = (result.returncode == 1 and len(lines) == 1
             and "RegistryUnavailable" in lines[0] and registry in lines[0])
    return clear, (lines[-1] if lines else f"exit {result.returncode}, no message")[:300]


def _wait_restarts(pipe: Pipeline, starts: int) -> int:
    """Until the supervisor has started the job ``starts`` times; how many it did."""
    deadline = time.monotonic() + RESTARTS_WAIT_S
    while pipe.starts() < starts:
        if process.running(pipe.stream_pidfile) is None:
            break  # it gave up: the check says so
        if time.monotonic() > deadline:
            raise ChaosError(f"the job was started only {pipe.starts()} times in "
                             f"{RESTARTS_WAIT_S:.0f} s; see {pipe.stream_log}")
        time.sleep(1)
    return pipe.starts()
