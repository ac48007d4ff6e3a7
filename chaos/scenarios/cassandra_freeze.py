"""cassandra-freeze: SIGSTOP Cassandra for 90 s, then SIGCONT.

A frozen node keeps its sockets open and answers nothing: the driver's requests time out
instead of failing at once. The batch in flight fails or waits; either way nothing is
dead-lettered, and the stream writes again once the node answers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from chaos import faults
from chaos.load import background_load, pipeline
from chaos.scenario import ChaosContext, Outcome

RESUME_LIMIT_S = 60.0
WAIT_LIMIT_S = 240.0


@dataclass(frozen=True)
class CassandraFreeze:
    name: str = "cassandra-freeze"
    fault: str = "SIGSTOP Cassandra for 90 s mid-write, then SIGCONT"
    fast: bool = False
    frozen_s: float = 90.0
    pages: int = 200  # an upper bound: the load runs until the recovery is seen
    batch_size: int = 500  # every 2 s: ~250 records/s, a backlog a batch or two clears

    def run(self, ctx: ChaosContext) -> Outcome:
        started = time.monotonic()
        notes: list[str] = []
        with pipeline(ctx, self.name) as pipe:
            pipe.start_stream()
            pipe.produce(1, self.batch_size, tag=f"{pipe.contract.topic}-warm")
            pipe.wait_batch_running()
            with background_load(pipe, self.pages, self.batch_size) as load:
                time.sleep(ctx.rng.uniform(1.0, 4.0))
                frozen = faults.freeze(ctx.stack, "cassandra")
                ctx.progress(f"  cassandra frozen (SIGSTOP) for {self.frozen_s:.0f} s")
                try:
                    time.sleep(self.frozen_s)
                finally:
                    faults.thaw(frozen)
                healed = time.time()
                ctx.progress("  cassandra resumed (SIGCONT)")
                recovery = pipe.wait_writing(healed, WAIT_LIMIT_S)
            load.result()
            notes.append(f"stream starts: {pipe.starts()}")
            rec = pipe.reconcile()
            return Outcome.from_reconciliation(
                self, rec, recovery_seconds=recovery,
                checks={f"the stream wrote again within {RESUME_LIMIT_S:.0f} s of SIGCONT":
                        recovery is not None and recovery <= RESUME_LIMIT_S},
                notes=notes, started=started)
