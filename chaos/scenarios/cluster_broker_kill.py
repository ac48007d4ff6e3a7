"""cluster-broker-kill, cluster topology:
kill -9 the leader broker of a partition mid-run, restart it."""

from __future__ import annotations

from dataclasses import dataclass

from chaos.scenario import ChaosContext, ChaosError, Outcome


@dataclass(frozen=True)
class ClusterBrokerKill:
    name: str = "cluster-broker-kill"
    fault: str = "kill -9 the leader broker of a partition mid-run, restart it"
    fast: bool = False
    topology: str = "cluster"

    def run(self, ctx: ChaosContext) -> Outcome:
        raise ChaosError(f"{self.name}: not built yet")
