"""cluster-cassandra-node-kill, cluster topology:
kill -9 one of three Cassandra nodes mid-run, restart it."""

from __future__ import annotations

from dataclasses import dataclass

from chaos.scenario import ChaosContext, ChaosError, Outcome


@dataclass(frozen=True)
class ClusterCassandraNodeKill:
    name: str = "cluster-cassandra-node-kill"
    fault: str = "kill -9 one of three Cassandra nodes mid-run, restart it"
    fast: bool = False
    topology: str = "cluster"

    def run(self, ctx: ChaosContext) -> Outcome:
        raise ChaosError(f"{self.name}: not built yet")
