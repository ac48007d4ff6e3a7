"""Kafka in the cluster topology, on three KRaft nodes of the test's own (a tmp STACK_HOME,
free ports): the topics `make schemas` makes there (3 replicas, min.insync.replicas 2), and
the leader killed with kill -9 while an idempotent acks=all producer writes: the ISR
shrinks and a follower leads, the restarted broker rejoins every ISR, and every record the
producer was told is written is in the topic, once.

The shared stack is not touched: these brokers are started and stopped here.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from chaos.scenarios.cluster_broker_kill import partition_states, wait_partitions
from config.clients import kafka_admin
from config.settings import Settings, load_settings
from contract.catalog import Contract, load_contract
from schematool.migrate.apply import _Executor
from schematool.migrate.observe import Services, topic_states
from schematool.migrate.plan import plan_topics
from stack import launcher, process
from stack.paths import StackPaths
from stack.services import Context
from stack.services.kafka import KafkaClusterNode, kafka_cluster
from tests.integration.test_kafka_secure import free_port_pair
from tests.support import unique_name, wait_until

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Cluster:
    ctx: Context
    nodes: list[KafkaClusterNode]

    @property
    def settings(self) -> Settings:
        return self.ctx.settings

    def node(self, node_id: int) -> KafkaClusterNode:
        return self.nodes[node_id - 1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    home = tmp_path_factory.mktemp("kafka-cluster")
    ports: list[int] = []
    while len(ports) < 3:
        port = free_port_pair()
        if not {port, port + 1} & {p + d for p in ports for d in (0, 1)}:
            ports.append(port)
    env = {**os.environ, "STACK_TOPOLOGY": "cluster", "STACK_HOME": str(home),
           "KAFKA_BOOTSTRAP_SERVERS": ",".join(f"localhost:{p}" for p in ports)}
    for name in ("STACK_PROFILE", "STACK_ROLE", "KAFKA_SECURITY_PROTOCOL"):
        env.pop(name, None)
    settings = load_settings(env)
    ctx = Context(settings, StackPaths.from_settings(settings))
    nodes = kafka_cluster(settings)
    launcher.up(ctx, nodes)
    try:
        yield Cluster(ctx, nodes)
    finally:
        launcher.down(ctx, nodes)


def _topics(cluster: Cluster) -> Contract:
    """A copy of the repository's contract under a name of its own, its topics made as
    `make schemas` makes them in the cluster topology."""
    name = unique_name("it_kafka_cluster")
    ours = replace(load_contract().for_topology("cluster"), topic=name,
                   rejects_topic=f"{name}.rejected")
    services = Services(cluster.settings, None, kafka_admin(cluster.settings), None)
    step = plan_topics(ours, topic_states(services, [ours.topic, ours.rejects_topic]))
    executor = _Executor(services)
    for action in step.actions:
        executor.run(action)
    return ours


def test_schemas_makes_topics_on_three_replicas_with_min_isr_two(cluster: Cluster) -> None:
    ours = _topics(cluster)
    services = Services(cluster.settings, None, kafka_admin(cluster.settings), None)

    def shapes() -> set[tuple[int | None, int | None, int | None]]:
        states = topic_states(services, [ours.topic, ours.rejects_topic])
        return {(s.partitions, s.replication_factor, s.min_insync_replicas)
                for s in states.values()}

    # Each broker learns a new topic from the metadata log in its own time, and a metadata
    # request may reach one that has not yet: wait until whichever answers has both.
    wait_until(lambda: shapes() == {(3, 3, 2)}, timeout=30,
               message="both topics served with 3 partitions, 3 replicas, min ISR 2")
    states = topic_states(services, [ours.topic, ours.rejects_topic])
    partitions = partition_states(cluster.settings, ours.topic)
    assert all(p.replicas == (1, 2, 3) and p.isr == (1, 2, 3) for p in partitions.values())
    assert len({p.leader for p in partitions.values()}) == 3, "one leader per broker"
    assert plan_topics(ours, states).actions == ()


class KeyedLoad:
    """An idempotent acks=all producer (the pipeline's settings) writing numbered keys in a
    thread until stopped; the keys Kafka acknowledged, and any delivery error."""

    def __init__(self, settings: Settings, topic: str) -> None:
        self.topic = topic
        self.acked: set[bytes] = set()
        self.errors: list[KafkaError] = []
        self.stop = threading.Event()
        self.producer = Producer({**settings.kafka_client_config(), "enable.idempotence": True,
                                  "acks": "all", "linger.ms": 5,
                                  "delivery.timeout.ms": 120_000})
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _delivered(self, err: KafkaError | None, msg: object) -> None:
        if err is not None:
            self.errors.append(err)
        else:
            self.acked.add(msg.key())  # type: ignore[attr-defined]

    def _run(self) -> None:
        n = 0
        while not self.stop.is_set():
            self.producer.produce(self.topic, key=f"k{n:07d}".encode(), value=b"v",
                                  on_delivery=self._delivered)
            n += 1
            self.producer.poll(0.002 if n % 50 else 0.05)
        self.producer.flush(120)

    def __enter__(self) -> KeyedLoad:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(150)


def _keys_in(settings: Settings, topic: str, partitions: int) -> list[bytes]:
    """Every key in the topic, from the start to the end offsets as of now."""
    consumer = Consumer({**settings.kafka_client_config(), "group.id": unique_name("it"),
                         "enable.auto.commit": False})
    try:
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in range(partitions)}
        consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        keys: list[bytes] = []
        done = {p for p, end in ends.items() if end == 0}
        while len(done) < partitions:
            msg = consumer.poll(5)
            assert msg is not None, f"consumer stalled; {len(keys)} keys read"
            assert msg.error() is None, msg.error()
            keys.append(msg.key())
            if msg.offset() + 1 >= ends[msg.partition()]:
                done.add(msg.partition())
        return keys
    finally:
        consumer.close()


def _kill9(cluster: Cluster, node: KafkaClusterNode) -> None:
    record = process.running(cluster.ctx.paths.pidfile(node.name))
    assert record is not None, f"{node.name} is not running"
    os.killpg(record.pid, signal.SIGKILL)
    wait_until(lambda: not process.is_running(record.pid), timeout=30,
               message=f"{node.name} gone")


def test_the_leader_killed_mid_produce_loses_no_acknowledged_record(cluster: Cluster) -> None:
    ours = _topics(cluster)
    topic = ours.topic
    with KeyedLoad(cluster.settings, topic) as load:
        wait_until(lambda: len(load.acked) > 2000, timeout=60, message="records acked")
        leader = partition_states(cluster.settings, topic)[0].leader
        victim = cluster.node(leader)
        acked_before = len(load.acked)
        _kill9(cluster, victim)
        _, shrunk = wait_partitions(
            cluster.settings, topic, "the dead leader out of the ISR",
            lambda s: all(leader not in p.isr and p.leader not in (-1, leader)
                          for p in s.values()))
        assert all(len(p.isr) == 2 for p in shrunk.values())
        # Two of three in sync: acks=all with min.insync.replicas=2 still writes.
        wait_until(lambda: len(load.acked) > acked_before + 2000, timeout=60,
                   message="records acked by the two brokers left")
        launcher.up(cluster.ctx, [victim])
        wait_partitions(cluster.settings, topic, "the restarted broker in every ISR",
                        lambda s: all(p.isr == (1, 2, 3) for p in s.values()))
        written_after = len(load.acked)
        wait_until(lambda: len(load.acked) > written_after + 1000, timeout=60,
                   message="records acked after the restart")
    assert load.errors == []
    keys = _keys_in(cluster.settings, topic, ours.partitions)
    assert set(keys) >= load.acked, f"{len(load.acked - set(keys))} acknowledged keys lost"
    assert len(keys) == len(set(keys)), f"{len(keys) - len(set(keys))} keys written twice"
