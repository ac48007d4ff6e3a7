"""cluster-worker-kill, cluster topology:
kill -9 one of two Spark workers mid-batch, restart it."""

from __future__ import annotations

from dataclasses import dataclass

from chaos.scenario import ChaosContext, ChaosError, Outcome


@dataclass(frozen=True)
class ClusterWorkerKill:
    name: str = "cluster-worker-kill"
    fault: str = "kill -9 one of two Spark workers mid-batch, restart it"
    fast: bool = False
    topology: str = "cluster"

    def run(self, ctx: ChaosContext) -> Outcome:
        raise ChaosError(f"{self.name}: not built yet")
