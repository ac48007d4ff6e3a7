"""Kafka in the cluster topology, without a broker: the nodes kafka_cluster makes of the
settings, each node's rendered server.properties, and one cluster id for all of them."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from config.settings import Secret, Settings
from config.topology import kafka_nodes
from stack.paths import StackPaths
from stack.services import Context, services_for
from stack.services import kafka as kafka_service
from stack.services.kafka import KafkaClusterNode, kafka_cluster, quorum_voters
from stack.tls import TlsPaths

SERVERS = "localhost:19092,localhost:19192,localhost:19292"


def _properties(text: str) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values.setdefault(key.strip(), []).append(value.strip())
    return values


def _one(text: str) -> dict[str, str]:
    props = _properties(text)
    assert all(len(v) == 1 for v in props.values()), "one value per key"
    return {k: v[0] for k, v in props.items()}


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Context:
    monkeypatch.setattr(kafka_service.maven, "classpath", lambda name, paths: [Path("k.jar")])
    monkeypatch.setattr(kafka_service.Kafka, "_java", lambda self: "/opt/java/bin/java")
    settings = Settings(stack_topology="cluster", stack_home=str(tmp_path / "home"),
                        kafka_bootstrap_servers=SERVERS)
    return Context(settings, StackPaths.from_settings(settings))


def test_one_node_per_bootstrap_server_with_its_own_ports(ctx: Context) -> None:
    nodes = kafka_cluster(ctx.settings)
    assert [n.name for n in nodes] == ["kafka-1", "kafka-2", "kafka-3"]
    assert [(n.port(ctx), n.controller_port(ctx)) for n in nodes] == [
        (19092, 19093), (19192, 19193), (19292, 19293)]
    assert [n.address(ctx) for n in nodes] == SERVERS.split(",")
    assert all(n.bind_host(ctx) == "127.0.0.1" for n in nodes)


def test_the_quorum_names_every_controller() -> None:
    assert quorum_voters(kafka_nodes(SERVERS)) == (
        "1@localhost:19093,2@localhost:19193,3@localhost:19293")


def test_each_node_renders_its_id_quorum_dirs_and_three_replicas(ctx: Context) -> None:
    node = kafka_cluster(ctx.settings)[1]
    data = ctx.paths.data(node.name)
    text = kafka_service.server_properties(
        "plain", port=19192, controller_port=19193, data_dir=data,
        tls=TlsPaths.under(ctx.paths.home), admin_password=Secret(""),
        cluster=node.cluster_lines(ctx),
    )
    one = _one(text)
    assert one["node.id"] == "2"
    assert one["process.roles"] == "broker,controller"
    assert one["controller.quorum.voters"] == (
        "1@localhost:19093,2@localhost:19193,3@localhost:19293")
    assert one["listeners"] == "PLAINTEXT://localhost:19192,CONTROLLER://localhost:19193"
    assert one["advertised.listeners"] == "PLAINTEXT://localhost:19192"
    assert one["log.dirs"] == str(data)
    for key in ("offsets.topic.replication.factor", "transaction.state.log.replication.factor",
                "share.coordinator.state.topic.replication.factor", "default.replication.factor"):
        assert one[key] == "3", key
    for key in ("transaction.state.log.min.isr", "share.coordinator.state.topic.min.isr",
                "min.insync.replicas"):
        assert one[key] == "2", key
    assert one["auto.create.topics.enable"] == "false"


def test_the_secure_profile_keeps_the_cluster_lines(ctx: Context) -> None:
    node = kafka_cluster(ctx.settings)[2]
    one = _one(kafka_service.server_properties(
        "secure", port=19292, controller_port=19293, data_dir=ctx.paths.data(node.name),
        tls=TlsPaths.under(ctx.paths.home), admin_password=Secret("pw"),
        cluster=node.cluster_lines(ctx),
    ))
    assert one["node.id"] == "3" and one["min.insync.replicas"] == "2"
    assert one["listeners"] == "SASL_SSL://localhost:19292,CONTROLLER://localhost:19293"


class FakeRun:
    def __init__(self) -> None:
        self.argfiles: list[str] = []

    def __call__(self, argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        self.argfiles.append(Path(argv[-1].removeprefix("@")).read_text())
        return subprocess.CompletedProcess(argv, 0, "", "")


def test_every_node_is_formatted_with_one_cluster_id(
        ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeRun()
    monkeypatch.setattr(kafka_service.subprocess, "run", fake)
    nodes = kafka_cluster(ctx.settings)
    for node in nodes:
        node.prepare(ctx)
    ids = {line for text in fake.argfiles for line in text.splitlines()
           if line.startswith('"--cluster-id=')}
    assert len(fake.argfiles) == 3 and len(ids) == 1
    for node in nodes:
        conf = ctx.paths.conf_dir / node.name / "server.properties"
        assert f'"{conf}"' in fake.argfiles[nodes.index(node)]
        assert _one(conf.read_text())["node.id"] == node.name.rsplit("-", 1)[1]
        assert (ctx.paths.conf_dir / node.name / "log4j2.properties").is_file()
        assert ctx.paths.data(node.name).is_dir()


def test_a_formatted_node_is_not_formatted_again(
        ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeRun()
    monkeypatch.setattr(kafka_service.subprocess, "run", fake)
    node = kafka_cluster(ctx.settings)[0]
    ctx.paths.data(node.name).mkdir(parents=True)
    (ctx.paths.data(node.name) / "meta.properties").write_text("cluster.id=x\n")
    node.prepare(ctx)
    assert fake.argfiles == []


def test_the_broker_heap_fits_the_cluster_budget(ctx: Context) -> None:
    node = kafka_cluster(ctx.settings)[0]
    argv = node.command(ctx).argv
    assert "-Xmx384m" in argv
    assert argv[-1] == str(ctx.paths.conf_dir / "kafka-1" / "server.properties")


def test_stack_external_kafka_makes_every_node_external(tmp_path: Path) -> None:
    settings = Settings(stack_topology="cluster", stack_home=str(tmp_path),
                        kafka_bootstrap_servers=SERVERS, stack_external="kafka")
    ctx = Context(settings, StackPaths.from_settings(settings))
    assert all(isinstance(n, KafkaClusterNode) and n.external(ctx)
               for n in kafka_cluster(settings))


def test_the_single_topology_keeps_one_kafka(tmp_path: Path) -> None:
    settings = Settings(stack_home=str(tmp_path))
    assert [s.name for s in services_for(settings) if s.name.startswith("kafka")] == ["kafka"]


# -- cluster-broker-kill's view of the partitions ------------------------------------------

def test_the_failover_waits_on_the_partitions_and_names_the_last_state(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from chaos.scenario import ChaosError
    from chaos.scenarios import cluster_broker_kill as scenario

    shrunk = {0: scenario.PartitionState(2, (1, 2, 3), (2, 3)),
              1: scenario.PartitionState(3, (1, 2, 3), (2, 3))}
    monkeypatch.setattr(scenario, "partition_states", lambda settings, topic: shrunk)
    settings = Settings()
    _, seen = scenario.wait_partitions(
        settings, "t", "broker 1 out", lambda s: all(1 not in p.isr for p in s.values()))
    assert seen == shrunk
    with pytest.raises(ChaosError, match=r"all in sync not seen within 0 s; last: "
                                         r"p0 leader 2 isr \[2, 3\]; p1 leader 3 isr \[2, 3\]"):
        scenario.wait_partitions(settings, "t", "all in sync",
                                 lambda s: all(len(p.isr) == 3 for p in s.values()), timeout=0)
