"""cassandra-restart: kill -9 Cassandra mid-write, at several points of a batch, and
restart it.

Two properties are asserted beyond the reconciliation: every record the job wrote and
committed survives the crash (an acknowledged write is on disk, ``commitlog_sync``), and
the stream writes again within 60 s of Cassandra answering.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from chaos import faults
from chaos.load import Pipeline, pipeline
from chaos.scenario import ChaosContext, Outcome

RESUME_LIMIT_S = 60.0  # Cassandra answering -> the stream writing again
WAIT_LIMIT_S = 240.0  # how long to look for it (past the limit, to report the real time)


@dataclass(frozen=True)
class CassandraRestart:
    name: str = "cassandra-restart"
    fault: str = ("kill -9 Cassandra mid-write (just after a batch committed, mid-batch), "
                  "restart it")
    fast: bool = True
    # Where in a batch each kill lands: seconds after a batch completed (0: its writes
    # were just acknowledged and its offsets committed; more: the next batch is writing).
    kill_points: tuple[float, ...] = (0.0, 1.5)
    pages: int = 10
    batch_size: int = 2500

    def run(self, ctx: ChaosContext) -> Outcome:
        started = time.monotonic()
        notes: list[str] = []
        recoveries: list[float] = []
        with pipeline(ctx, self.name) as pipe:
            pipe.start_stream()
            pipe.produce(1, self.batch_size, tag=f"{pipe.contract.topic}-warm")
            pipe.wait_batch_running()
            with ThreadPoolExecutor(1) as pool:
                load = pipe.produce_in_background(pool, self.pages, self.batch_size,
                                                  tag=pipe.contract.topic, pause_s=1.0)
                for point in self.kill_points:
                    written = _after_next_batch(pipe, point)
                    faults.kill9(ctx.stack, "cassandra")
                    ctx.progress(f"  cassandra killed (-9) {point:.1f} s after a batch of "
                                 f"{written} rows")
                    faults.restart(ctx.stack, "cassandra")
                    healed = time.time()
                    ctx.progress("  cassandra answering again")
                    recovery = pipe.wait_writing(healed, WAIT_LIMIT_S)
                    notes.append(f"kill {point:.1f} s after a batch: the stream wrote again "
                                 + ("never" if recovery is None else f"{recovery:.0f} s")
                                 + " after Cassandra answered")
                    recoveries.append(recovery if recovery is not None else float("inf"))
                load.result()
            notes.append(f"stream starts: {pipe.starts()}")
            rec = pipe.reconcile()
            worst = max(recoveries) if recoveries else None
            return Outcome.from_reconciliation(
                self, rec, recovery_seconds=worst if worst != float("inf") else None,
                checks={f"the stream wrote again within {RESUME_LIMIT_S:.0f} s each time":
                        bool(recoveries) and max(recoveries) <= RESUME_LIMIT_S},
                notes=notes, started=started)


def _after_next_batch(pipe: Pipeline, delay_s: float, timeout: float = 120.0) -> int:
    """Wait for the next batch that wrote rows to complete, then ``delay_s``; its rows."""
    seen = len(pipe.batches())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = pipe.batches()
        fresh = [e for e in events[seen:] if e.rows_written > 0]
        if fresh:
            time.sleep(delay_s)
            return fresh[-1].rows_written
        time.sleep(0.05)
    return 0
