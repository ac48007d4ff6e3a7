"""cassandra-restart: kill -9 Cassandra mid-write, at several points of a batch, and
restart it.

Three properties are asserted beyond the reconciliation: every write Cassandra
acknowledged survives the crash (a probe writes continuously while the node is killed,
``chaos.durability``: the job's own rows can only show it when a kill lands between a
batch's last write and its commit), every record the job committed is stored, and the
stream writes again within 60 s of Cassandra answering.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from chaos import faults
from chaos.durability import acked_writer
from chaos.load import Pipeline, background_load, pipeline
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
    pages: int = 200  # an upper bound: the load runs until the last recovery is seen
    batch_size: int = 500  # every 2 s: ~250 records/s, a backlog a batch or two clears

    def run(self, ctx: ChaosContext) -> Outcome:
        started = time.monotonic()
        notes: list[str] = []
        recoveries: list[float] = []
        acked = 0
        lost: list[int] = []
        with pipeline(ctx, self.name) as pipe:
            acked_writer(ctx.settings, pipe.contract.keyspace).create_table()
            pipe.start_stream()
            pipe.produce(1, self.batch_size, tag=f"{pipe.contract.topic}-warm")
            pipe.wait_batch_running()
            with background_load(pipe, self.pages, self.batch_size) as load:
                for n, point in enumerate(self.kill_points):
                    probe = acked_writer(ctx.settings, pipe.contract.keyspace,
                                         first_id=n * 10_000_000)
                    probe.start()
                    probe.wait_writing(100)
                    written = _after_next_batch(pipe, point)
                    faults.kill9(ctx.stack, "cassandra")
                    probe.stop()
                    ctx.progress(f"  cassandra killed (-9) {point:.1f} s after a batch of "
                                 f"{written} rows; {len(probe.acked)} probe writes acked")
                    faults.restart(ctx.stack, "cassandra")
                    healed = time.time()
                    ctx.progress("  cassandra answering again")
                    gone = probe.lost()
                    acked += len(probe.acked)
                    lost += gone
                    if gone:
                        notes.append(f"kill {n + 1}: {len(gone)} of {len(probe.acked)} "
                                     f"acknowledged probe writes lost (ids {gone[0]}..{gone[-1]})")
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
                        bool(recoveries) and max(recoveries) <= RESUME_LIMIT_S,
                        f"every acknowledged write survived ({len(lost)} of {acked} lost)":
                        not lost and acked > 0},
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
