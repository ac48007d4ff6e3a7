"""The registry of scenarios: one module per scenario, listed here in the order
``make chaos`` runs them. ``make chaos SCENARIO=<name>`` runs one."""

from __future__ import annotations

from chaos.scenario import Scenario
from chaos.scenarios.api_faults import ApiFaults
from chaos.scenarios.broker_kill import BrokerKill
from chaos.scenarios.cassandra_freeze import CassandraFreeze
from chaos.scenarios.cassandra_restart import CassandraRestart
from chaos.scenarios.checkpoint_damage import CheckpointDamage
from chaos.scenarios.cluster_broker_kill import ClusterBrokerKill
from chaos.scenarios.cluster_node_kill import ClusterCassandraNodeKill
from chaos.scenarios.cluster_worker_kill import ClusterWorkerKill
from chaos.scenarios.driver_kill import DriverKill
from chaos.scenarios.producer_queue_full import ProducerQueueFull
from chaos.scenarios.registry_outage import RegistryOutage
from chaos.scenarios.retention_expiry import RetentionExpiry

SCENARIOS: tuple[Scenario, ...] = (
    BrokerKill(),
    DriverKill(),
    CassandraRestart(),
    CassandraFreeze(),
    RegistryOutage(),
    RetentionExpiry(),
    CheckpointDamage(),
    ProducerQueueFull(),
    ApiFaults(),
    # the cluster topology's failovers (make failover)
    ClusterBrokerKill(),
    ClusterCassandraNodeKill(),
    ClusterWorkerKill(),
)


def topology_of(scenario: Scenario) -> str:
    """The topology a scenario needs (``single`` unless it says otherwise)."""
    return str(getattr(scenario, "topology", "single"))


def for_topology(topology: str) -> tuple[Scenario, ...]:
    """The scenarios that run on a stack of ``topology`` (`make chaos` runs these)."""
    return tuple(s for s in SCENARIOS if topology_of(s) == topology)


def by_name(name: str) -> Scenario:
    for scenario in SCENARIOS:
        if scenario.name == name:
            return scenario
    known = ", ".join(s.name for s in SCENARIOS)
    raise KeyError(f"unknown scenario {name!r}; known: {known}")


def fast() -> tuple[Scenario, ...]:
    """The subset ``make test`` runs (tests/e2e/test_chaos.py)."""
    return tuple(s for s in SCENARIOS if s.fast and topology_of(s) == "single")
