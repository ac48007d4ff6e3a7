"""driver-kill: kill -9 the Spark driver (the job's Python process and its JVM) 5 times at
random points of its batches; the supervisor restarts it from the checkpoint each time.

A batch whose rows were written but whose offsets were not committed is written again
(an upsert of the same rows: at-least-once, no duplicate keys); one whose offsets were
committed is never read again, so its rows must already be in Cassandra.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from chaos import faults
from chaos.load import background_load, pipeline
from chaos.scenario import ChaosContext, Outcome

RECOVERY_LIMIT_S = 180.0


@dataclass(frozen=True)
class DriverKill:
    name: str = "driver-kill"
    fault: str = "kill -9 the Spark driver (Python + JVM) 5 times at random points"
    fast: bool = True
    kills: int = 5
    pages: int = 200  # an upper bound: the load runs until the last recovery is seen
    batch_size: int = 500  # every 2 s: ~250 records/s, a backlog a batch or two clears

    def run(self, ctx: ChaosContext) -> Outcome:
        started = time.monotonic()
        notes: list[str] = []
        recoveries: list[float] = []
        # A run of 20 s counts as healthy: the supervisor's pause stays short between
        # kills that are the scenario's, not a crash loop.
        with pipeline(ctx, self.name) as pipe:
            pipe.start_stream(healthy_after_s=20)
            pipe.produce(1, self.batch_size, tag=f"{pipe.contract.topic}-warm")
            pipe.wait_batch_running()
            with background_load(pipe, self.pages, self.batch_size) as load:
                for kill in range(1, self.kills + 1):
                    time.sleep(ctx.rng.uniform(0.5, 6.0))
                    killed_at = time.time()
                    victims = faults.kill9_children(pipe.supervisor(), "the streaming job")
                    ctx.progress(f"  kill {kill}: driver killed (-9, pids {victims})")
                    recovery = pipe.wait_writing(killed_at, RECOVERY_LIMIT_S)
                    if recovery is None:
                        notes.append(f"kill {kill}: no batch written within "
                                     f"{RECOVERY_LIMIT_S:.0f} s")
                        break
                    recoveries.append(recovery)
            load.result()
            notes.append("recovery per kill (kill -> a batch written): "
                         + ", ".join(f"{r:.0f} s" for r in recoveries))
            notes.append(f"stream starts: {pipe.starts()}")
            rec = pipe.reconcile()
            return Outcome.from_reconciliation(
                self, rec, recovery_seconds=max(recoveries) if recoveries else None,
                checks={f"the job wrote again after each of {self.kills} kills":
                        len(recoveries) == self.kills,
                        "the supervisor restarted the job after every kill":
                        pipe.starts() >= self.kills + 1},
                notes=notes, started=started)
