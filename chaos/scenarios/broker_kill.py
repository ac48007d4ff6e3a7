"""broker-kill: kill -9 the Kafka broker while pages are being produced, then restart it.

The producer is idempotent (``enable.idempotence``, ``acks=all``): its own retries
deliver what was in flight without duplicates, and a page whose flush still fails is
produced again, as Airflow retries a task. Kafka keeps what it acknowledged: the data is
in the page cache when the process dies.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from chaos import faults
from chaos.load import background_load, pipeline
from chaos.scenario import ChaosContext, Outcome

RECOVERY_LIMIT_S = 120.0


@dataclass(frozen=True)
class BrokerKill:
    name: str = "broker-kill"
    fault: str = "kill -9 the Kafka broker mid-produce, restart it 5 s later"
    fast: bool = True
    pages: int = 6  # at most 30,000 records; the load stops once the recovery is seen
    # Pages of 5,000 (a DAG task's size): the kill lands while one is being produced.
    batch_size: int = 5000
    down_s: float = 5.0

    def run(self, ctx: ChaosContext) -> Outcome:
        started = time.monotonic()
        notes: list[str] = []
        with pipeline(ctx, self.name) as pipe:
            pipe.start_stream()
            pipe.produce(1, 500, tag=f"{pipe.contract.topic}-warm")
            pipe.wait_batch_running()
            with background_load(pipe, self.pages, self.batch_size, pause_s=0.5) as load:
                time.sleep(ctx.rng.uniform(0.5, 2.5))
                faults.kill9(ctx.stack, "kafka")
                ctx.progress(f"  kafka killed (-9); {pipe.load.produced} records acked so far")
                time.sleep(self.down_s)
                faults.restart(ctx.stack, "kafka")
                healed = time.time()
                ctx.progress("  kafka answering again")
                recovery = pipe.wait_writing(healed, RECOVERY_LIMIT_S)
            load.result()
            notes += [f"page retried: {r}" for r in pipe.load.retries]
            notes.append(f"stream starts: {pipe.starts()}")
            rec = pipe.reconcile()
            return Outcome.from_reconciliation(
                self, rec, recovery_seconds=recovery,
                checks={"the stream wrote again after the broker came back": recovery is not None,
                        "every acknowledged record is in the topic":
                            rec.produced >= pipe.load.produced},
                notes=notes, started=started)
