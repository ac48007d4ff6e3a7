"""`make status` in the cluster topology: what each engine says about its own nodes.

Kafka: each contract topic's partitions, their leader and in-sync replicas (an ISR shorter
than the replicas is a broker down or behind). Cassandra: the ring as the driver sees it
(each node up or down). Spark: the standalone master's workers and the applications'
executors (its JSON view). Each part says why it could not ask, instead of failing the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import requests
from confluent_kafka import KafkaException

from config.clients import cassandra_session, kafka_admin
from config.contracts import deployed_contracts
from config.settings import Settings
from contract.catalog import Contract
from stack.services.base import ServiceError
from stack.services.spark_cluster import master_address

TIMEOUT_S = 5.0


def partition_lines(topic: str, partitions: dict[int, tuple[int, list[int], list[int]]],
                    ) -> list[str]:
    """``partition -> (leader, replicas, isr)`` as lines; pure."""
    lines = []
    for number in sorted(partitions):
        leader, replicas, isr = partitions[number]
        short = " (ISR short: a replica is down or behind)" if len(isr) < len(replicas) else ""
        lines.append(f"  {topic}[{number}] leader {leader if leader >= 0 else 'NONE'}, "
                     f"replicas {replicas}, isr {isr}{short}")
    return lines


def kafka_lines(settings: Settings, contracts: Sequence[Contract]) -> list[str]:
    admin = kafka_admin(settings)
    try:
        metadata = admin.list_topics(timeout=TIMEOUT_S)
    except KafkaException as exc:
        return [f"kafka: metadata request failed: {exc.args[0]}"]
    lines = [f"kafka: {len(metadata.brokers)} broker(s) answer: "
             + ", ".join(f"{b.id}@{b.host}:{b.port}" for b in
                         sorted(metadata.brokers.values(), key=lambda b: b.id))]
    for contract in contracts:
        topic = metadata.topics.get(contract.topic)
        if topic is None:
            lines.append(f"  {contract.topic}: no such topic (make schemas)")
            continue
        lines += partition_lines(contract.topic, {
            p.id: (p.leader, list(p.replicas), list(p.isrs)) for p in topic.partitions.values()})
    return lines


def cassandra_lines(settings: Settings) -> list[str]:
    try:
        with cassandra_session(settings, timeout=TIMEOUT_S) as session:
            hosts = session.cluster.metadata.all_hosts()
            described = [(str(h.endpoint), h.datacenter, h.rack, bool(h.is_up)) for h in hosts]
    except Exception as exc:  # noqa: BLE001 - any failure is a line of the status, not a crash
        return [f"cassandra: could not ask the ring: {exc.__class__.__name__}: {str(exc)[:200]}"]
    lines = [f"cassandra: ring of {len(described)} node(s)"]
    for endpoint, dc, rack, up in sorted(described):
        lines.append(f"  {endpoint} {dc}/{rack} {'UP' if up else 'DOWN'}")
    return lines


def spark_lines(settings: Settings, url: str | None = None,
                get: Callable[..., requests.Response] = requests.get) -> list[str]:
    try:
        url = url or master_address(settings).json_url
    except ServiceError as exc:
        return [f"spark: {exc}"]
    try:
        body = get(url, timeout=TIMEOUT_S).json()
    except (requests.RequestException, ValueError) as exc:
        return [f"spark: the master's {url} did not answer: {exc.__class__.__name__}"]
    workers = body.get("workers", [])
    lines = [f"spark: master {body.get('url', settings.spark_master)} {body.get('status', '?')}, "
             f"{len(workers)} worker(s)"]
    for worker in workers:
        lines.append(f"  worker {worker.get('host')}:{worker.get('port')} {worker.get('state')}, "
                     f"cores {worker.get('coresused', 0)}/{worker.get('cores', 0)}, "
                     f"memory {worker.get('memoryused', 0)}/{worker.get('memory', 0)} MiB")
    for app in body.get("activeapps", []):
        lines.append(f"  app {app.get('name')} ({app.get('id')}) {app.get('state')}, "
                     f"cores {app.get('cores', 0)}")
    return lines


def cluster_status(settings: Settings) -> list[str]:
    """Every engine's view of its nodes, for `make status` in the cluster topology."""
    contracts = deployed_contracts(settings)
    return ["", "cluster:", *kafka_lines(settings, contracts), *cassandra_lines(settings),
            *spark_lines(settings)]
