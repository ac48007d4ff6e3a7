"""The cluster topology's Cassandra ring, without a node: one node per CASSANDRA_HOSTS address,
each with its own rendered cassandra.yaml, and the consistency settings reaching the driver
and the connector."""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from config.clients import write_consistency
from config.settings import Settings, load_settings
from stack.paths import StackPaths
from stack.services import ALL_SERVICES, Context, ServiceError, services_for
from stack.services import cassandra as cassandra_module
from stack.services.cassandra import (
    CLUSTER_HEAP,
    CassandraNode,
    cassandra_cluster,
    replace_top_level_keys,
    ring_problem,
)
from streaming.session import cassandra_spark_conf, driver_profile

HOSTS = ("127.0.0.1", "127.0.0.2", "127.0.0.3")


def _settings(tmp_path: Path, **env: str) -> Settings:
    return load_settings({"STACK_TOPOLOGY": "cluster", "STACK_HOME": str(tmp_path / "home"),
                          "CASSANDRA_PORT": "19042", "STACK_CASSANDRA_STORAGE_PORT": "17000",
                          **env})


def _ctx(tmp_path: Path, **env: str) -> Context:
    settings = _settings(tmp_path, **env)
    return Context(settings, StackPaths.from_settings(settings))


def _nodes(settings: Settings) -> list[CassandraNode]:
    nodes = cassandra_cluster(settings)
    assert all(isinstance(n, CassandraNode) for n in nodes)
    return nodes  # type: ignore[return-value]


def _rendered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
              **env: str) -> list[tuple[str, dict[str, Any]]]:
    monkeypatch.setattr(cassandra_module.maven, "classpath", lambda name, paths: [])
    ctx = _ctx(tmp_path, **env)
    out = []
    for node in _nodes(ctx.settings):
        node.prepare(ctx)  # the previous node is not running: no wait
        text = (ctx.paths.conf_dir / node.name / "cassandra.yaml").read_text()
        keys = Counter(line.split(":", 1)[0] for line in text.splitlines()
                       if line and not line[0].isspace() and not line.startswith(("#", "-")))
        assert [k for k, n in keys.items() if n > 1] == [], "a key set twice"
        out.append((node.name, yaml.safe_load(text)))
    return out


def test_one_node_per_address_the_first_the_seed(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    nodes = _nodes(ctx.settings)
    assert [n.name for n in nodes] == ["cassandra-1", "cassandra-2", "cassandra-3"]
    assert [n.bind_host(ctx) for n in nodes] == list(HOSTS)
    assert [n.address(ctx) for n in nodes] == [f"{h}:19042" for h in HOSTS]
    assert {n.port(ctx) for n in nodes} == {19042}
    assert {n.seed for n in nodes} == {"127.0.0.1"}
    assert [n.previous.name if n.previous else None for n in nodes] == [
        None, "cassandra-1", "cassandra-2"]
    assert [s.name for s in services_for(ctx.settings) if s.name.startswith("cassandra")] == [
        "cassandra-1", "cassandra-2", "cassandra-3"]


def test_the_single_topology_keeps_its_one_node(tmp_path: Path) -> None:
    settings = load_settings({"STACK_HOME": str(tmp_path / "home")})
    assert services_for(settings) == ALL_SERVICES
    assert [s.name for s in ALL_SERVICES].count("cassandra") == 1


def test_each_node_listens_on_its_own_address_with_the_same_ports_and_ring(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    for (name, conf), host in zip(_rendered(tmp_path, monkeypatch), HOSTS, strict=True):
        assert conf["listen_address"] == host and conf["rpc_address"] == host
        seeds = conf["seed_provider"][0]["parameters"][0]["seeds"]
        assert seeds == "127.0.0.1:17000"
        assert (conf["storage_port"], conf["native_transport_port"]) == (17000, 19042)
        assert conf["cluster_name"] == "userstream"
        assert conf["num_tokens"] == 16
        assert conf["allocate_tokens_for_local_replication_factor"] == 3
        assert conf["data_file_directories"] == [f"{home}/data/{name}/data"]
        assert conf["commitlog_directory"] == f"{home}/data/{name}/commitlog"
        assert conf["hints_directory"] == f"{home}/data/{name}/hints"
        assert conf["hinted_handoff_enabled"] is True
        # What the single node's yaml says and the node does not change is kept.
        assert conf["commitlog_sync"] == "batch"
        assert conf["authenticator"] == "AllowAllAuthenticator"
        assert conf["endpoint_snitch"] == "SimpleSnitch"


def test_nodes_move_with_the_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rendered = _rendered(tmp_path, monkeypatch, CASSANDRA_HOSTS="127.0.0.5,127.0.0.6",
                         STACK_CASSANDRA_STORAGE_PORT="27000")
    assert [c["listen_address"] for _, c in rendered] == ["127.0.0.5", "127.0.0.6"]
    assert {c["seed_provider"][0]["parameters"][0]["seeds"] for _, c in rendered} == {
        "127.0.0.5:27000"}


def test_a_node_has_a_small_heap_and_waits_for_gossip(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    node = _nodes(ctx.settings)[1]
    options = node.jvm_options()
    assert [o for o in options if o.startswith(("-Xms", "-Xmx"))] == [
        f"-Xms{CLUSTER_HEAP}", f"-Xmx{CLUSTER_HEAP}"]
    gossip = node.gossip_options(ctx)
    assert not any("skip_wait_for_gossip" in o for o in gossip)
    assert any(o.startswith("-Dcassandra.ring_delay_ms=") for o in gossip)


def test_the_secure_profile_is_refused_for_the_ring(tmp_path: Path) -> None:
    plain = _ctx(tmp_path)
    ctx = Context(dataclasses.replace(plain.settings, stack_profile="secure"), plain.paths)
    with pytest.raises(ServiceError, match="plain profile only"):
        _nodes(ctx.settings)[0].prepare(ctx)


def test_replace_top_level_keys_drops_whole_blocks() -> None:
    text = "a: 1\nseed:\n  - x: 1\n    y: 2\n# about b\nb: 2\n"
    assert replace_top_level_keys(text, "seed:\n  - x: 3\n") == (
        "a: 1\n# about b\nb: 2\n\nseed:\n  - x: 3\n")


def test_consistency_levels_reach_the_connector_and_the_driver_file(tmp_path: Path) -> None:
    settings = _settings(tmp_path, CASSANDRA_WRITE_CONSISTENCY="QUORUM",
                         CASSANDRA_READ_CONSISTENCY="LOCAL_ONE")
    conf = cassandra_spark_conf(settings)
    assert conf["spark.cassandra.output.consistency.level"] == "QUORUM"
    assert conf["spark.cassandra.input.consistency.level"] == "LOCAL_ONE"
    profile: Any = driver_profile(settings, tmp_path / "t.p12")
    assert profile["datastax-java-driver"]["basic"]["request"]["consistency"] == "LOCAL_ONE"


def test_the_driver_session_reads_and_writes_at_the_settings_levels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cassandra import ConsistencyLevel
    from cassandra import cluster as driver
    from cassandra.policies import WhiteListRoundRobinPolicy

    made: dict[str, Any] = {}

    class FakeSession:
        default_timeout = 0.0
        default_consistency_level = 0
        row_factory = None  # ops/reconcile and the console set it

    class FakeCluster:
        def __init__(self, hosts: list[str], **kwargs: Any) -> None:
            made.update(kwargs, hosts=hosts)

        def connect(self, keyspace: str | None) -> FakeSession:
            return FakeSession()

        def shutdown(self) -> None:
            pass

    monkeypatch.setattr(driver, "Cluster", FakeCluster)
    from config.clients import cassandra_session

    settings = _settings(tmp_path, CASSANDRA_WRITE_CONSISTENCY="EACH_QUORUM",
                         CASSANDRA_READ_CONSISTENCY="ONE")
    with cassandra_session(settings, pinned=True) as session:
        assert session.default_consistency_level == ConsistencyLevel.ONE
    assert write_consistency(settings) == ConsistencyLevel.EACH_QUORUM
    assert made["hosts"] == ["127.0.0.1"]  # pinned: the first host only
    assert isinstance(made["load_balancing_policy"], WhiteListRoundRobinPolicy)


class _GossipSession:
    """Answers system_views.gossip_info with the given statuses."""

    def __init__(self, statuses: dict[str, str | None]) -> None:
        self.statuses = statuses

    def execute(self, query: str) -> list[Any]:
        assert "system_views.gossip_info" in query
        return [SimpleNamespace(address=a, status=None, status_with_port=s)
                for a, s in self.statuses.items()]


@pytest.mark.parametrize(("statuses", "problem"), [
    ({"127.0.0.1": "NORMAL,1", "127.0.0.2": "NORMAL,2"}, None),
    # A peer down, stopped or not heard of since this node started: this node is still UN.
    ({"127.0.0.1": "NORMAL,1", "127.0.0.2": "shutdown,true", "127.0.0.3": None}, None),
    ({"127.0.0.1": "BOOT,1"}, "127.0.0.1 is BOOT,1 (not joined yet)"),
    ({"127.0.0.2": "NORMAL,2"}, "127.0.0.1 is not in its own gossip (not joined yet)"),
    # A node must not join while another takes tokens.
    ({"127.0.0.1": "NORMAL,1", "127.0.0.2": "BOOT,2"}, "127.0.0.1 sees 127.0.0.2 BOOT"),
])
def test_a_node_is_healthy_when_normal_and_no_peer_moves(
    statuses: dict[str, str | None], problem: str | None
) -> None:
    session: Any = _GossipSession(statuses)
    assert ring_problem(session, "127.0.0.1") == problem
