"""The stack's topologies: ``single`` (the default) and ``cluster`` (``make ... TOPOLOGY=cluster``).

``single`` is one process per service: one Kafka broker, ``local[2]`` Spark, one Cassandra
node. ``cluster`` runs the same engines as clusters on this one machine: three KRaft
brokers, a Spark standalone master with two workers, three Cassandra nodes on 127.0.0.1-3
(docs/best-practices.md, "Scaling out"). Like the profile, the topology only changes
defaults (:func:`cluster_defaults`): an explicit setting wins, and a stack's data is made
for one topology (``<STACK_HOME>/topology``), so a command of the other one is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from config.stamp import Stamp

TOPOLOGIES = ("single", "cluster")

# Three brokers, each with its controller on port + 1: 9092/9093, 9192/9193, 9292/9293.
CLUSTER_KAFKA_PORTS = (9092, 9192, 9292)
# Three Cassandra nodes, one per loopback address, all on the same ports.
CLUSTER_CASSANDRA_HOSTS = ("127.0.0.1", "127.0.0.2", "127.0.0.3")
SPARK_MASTER_HOST = "127.0.0.1"
SPARK_MASTER_PORT = 7077
SPARK_MASTER_WEBUI_PORT = 8090  # Spark's default 8080 is Airflow's
CLUSTER_SPARK_WORKERS = 2


@dataclass(frozen=True)
class KafkaNode:
    """One broker of the stack: its node id, client port and controller port."""

    node_id: int
    host: str
    port: int

    @property
    def controller_port(self) -> int:
        return self.port + 1


def cluster_defaults() -> dict[str, str]:
    """The cluster topology's value of each setting it changes, as environment variables."""
    return {
        "KAFKA_BOOTSTRAP_SERVERS": ",".join(f"localhost:{p}" for p in CLUSTER_KAFKA_PORTS),
        "CASSANDRA_HOSTS": ",".join(CLUSTER_CASSANDRA_HOSTS),
        "SPARK_MASTER": f"spark://{SPARK_MASTER_HOST}:{SPARK_MASTER_PORT}",
    }


def topology_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` with the topology's defaults under it (an explicit value wins)."""
    env = dict(environ)
    if env.get("STACK_TOPOLOGY", "single") != "cluster":
        return env
    return {**cluster_defaults(), **env}


def kafka_nodes(bootstrap_servers: str) -> list[KafkaNode]:
    """The brokers the stack runs for these bootstrap servers: node ids 1, 2, 3... in order."""
    nodes = []
    for index, server in enumerate(bootstrap_servers.split(","), start=1):
        host, _, port = server.strip().rpartition(":")
        nodes.append(KafkaNode(index, host, int(port)))
    return nodes


# The topology the stack's data was made for (config/stamp.py).
STAMP = Stamp("topology", "single", "TOPOLOGY", "a STACK_HOME of its own")
stamp_of, write_stamp, check_stamp = STAMP.of, STAMP.write, STAMP.check
