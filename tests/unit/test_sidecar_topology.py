"""The sidecar's per-topology tables ([kafka.cluster], [cassandra.cluster]): what the catalog
reads, what `make schemas` plans and creates with them, what `make schemas-diff` compares,
and what a sandbox copy keeps. No service."""

from __future__ import annotations

import tomllib
from pathlib import Path
from types import MappingProxyType, SimpleNamespace
from typing import Any

import pytest

from config.topology import TOPOLOGIES as CONFIG_TOPOLOGIES
from contract.catalog import (
    TOPOLOGIES,
    ContractError,
    load_contract,
    load_contract_file,
    load_contracts,
    topology_tables,
    unknown_sidecar_keys,
)
from schematool.migrate.drift import cassandra_drift, topic_drift
from schematool.migrate.live import KeyspaceState, TableState, TopicState
from schematool.migrate.observe import replication_factor
from schematool.migrate.plan import CreateTopic, plan_cassandra, plan_topics
from schematool.sandbox import write_contract

SCHEMA = ('{"type": "record", "name": "P", "fields": '
          '[{"name": "id", "type": {"type": "string", "logicalType": "uuid"}}]}')
BASE = """subject = "p-value"
topic = "p"
compatibility = "BACKWARD"

[kafka]
partitions = 3
replication_factor = 1
rejects_topic = "p.rejected"
{kafka_extra}
[cassandra]
keyspace = "ks"
table = "p"
partition_key = ["id"]
{cassandra_extra}"""
CLUSTER = "[kafka.cluster]\nreplication_factor = 3\nmin_insync_replicas = 2\n"
CASSANDRA_CLUSTER = "[cassandra.cluster]\nreplication_factor = 3\n"


def _write(tmp_path: Path, kafka_extra: str = "", cassandra_extra: str = "",
           tail: str = "") -> Path:
    avsc = tmp_path / "p-value.avsc"
    avsc.write_text(SCHEMA)
    avsc.with_suffix(".toml").write_text(
        BASE.format(kafka_extra=kafka_extra, cassandra_extra=cassandra_extra) + tail)
    return avsc


def test_the_catalog_knows_the_stack_s_topologies() -> None:
    assert TOPOLOGIES == CONFIG_TOPOLOGIES


def test_the_single_topology_reads_the_sections_themselves(tmp_path: Path) -> None:
    single = load_contract_file(_write(tmp_path, tail=CLUSTER + CASSANDRA_CLUSTER))
    assert single.topology == "single"
    assert (single.partitions, single.replication_factor, single.min_insync_replicas,
            single.keyspace_replication_factor) == (3, 1, 1, 1)


def test_the_cluster_topology_takes_its_tables_and_inherits_the_rest(tmp_path: Path) -> None:
    single = load_contract_file(_write(tmp_path, tail=CLUSTER + CASSANDRA_CLUSTER))
    cluster = single.for_topology("cluster")
    assert (cluster.topology, cluster.partitions, cluster.replication_factor,
            cluster.min_insync_replicas, cluster.keyspace_replication_factor) == (
        "cluster", 3, 3, 2, 3)
    assert cluster.for_topology("single") == single
    assert cluster.topic == single.topic and cluster.keyspace == single.keyspace


def test_without_cluster_tables_both_topologies_agree(tmp_path: Path) -> None:
    single = load_contract_file(_write(tmp_path))
    assert single.for_topology("cluster").replication_factor == 1


def test_load_contracts_places_them_for_a_topology(tmp_path: Path) -> None:
    _write(tmp_path, tail=CLUSTER)
    assert [c.replication_factor for c in load_contracts(tmp_path, "cluster")] == [3]
    assert load_contract("p-value", tmp_path, "cluster").min_insync_replicas == 2
    with pytest.raises(ContractError, match="unknown topology 'cloud'"):
        load_contract("p-value", tmp_path, "cloud")


def test_the_repository_s_contract_has_three_replicas_in_the_cluster() -> None:
    base = load_contract()
    assert (base.replication_factor, base.keyspace_replication_factor) == (1, 1)
    cluster = base.for_topology("cluster")
    assert (cluster.partitions, cluster.replication_factor, cluster.min_insync_replicas,
            cluster.keyspace_replication_factor) == (base.partitions, 3, 2, 3)


@pytest.mark.parametrize(("tail", "message"), [
    ("[kafka.cluster]\nreplication_factor = 1\nmin_insync_replicas = 2\n",
     "min_insync_replicas 2 is more than replication_factor 1 \\(cluster topology\\)"),
    ("[kafka.cluster]\nreplication_factor = 0\n", "replication_factor must be a positive int"),
    ("[cassandra.cluster]\nreplication_factor = \"3\"\n",
     "keyspace_replication_factor must be a positive int"),
])
def test_a_wrong_topology_value_names_the_file(tmp_path: Path, tail: str, message: str) -> None:
    with pytest.raises(ContractError, match=message) as caught:
        load_contract_file(_write(tmp_path, tail=tail))
    assert "p-value.toml" in str(caught.value)


def test_a_topology_key_that_is_not_a_table_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ContractError, match=r"\[kafka.cluster\] must be a table"):
        load_contract_file(_write(tmp_path, kafka_extra="cluster = 3\n"))


def test_the_gate_knows_the_new_keys_and_flags_typos_inside_them(tmp_path: Path) -> None:
    tail = CLUSTER + CASSANDRA_CLUSTER + "[kafka.cloud]\nx = 1\n"
    meta = tomllib.loads(_write(tmp_path, kafka_extra="min_insync_replicas = 1\n",
                                cassandra_extra="replication_factor = 1\n",
                                tail=tail).with_suffix(".toml").read_text())
    assert unknown_sidecar_keys(meta) == ["kafka.cloud"]
    meta["kafka"]["cluster"]["replicas"] = 3
    assert unknown_sidecar_keys(meta) == ["kafka.cloud", "kafka.cluster.replicas"]


def test_the_cluster_plan_creates_topics_with_three_replicas_and_min_isr_two(
        tmp_path: Path) -> None:
    cluster = load_contract_file(_write(tmp_path, tail=CLUSTER)).for_topology("cluster")
    step = plan_topics(cluster, {})
    assert step.actions == (CreateTopic("p", 3, 3, 2), CreateTopic("p.rejected", 3, 3, 2))
    assert step.actions[0].config == {"min.insync.replicas": "2"}
    assert step.actions[0].describe() == (
        "create p (3 partitions, 3 replicas, min.insync.replicas 2)")
    single = load_contract_file(_write(tmp_path, tail=CLUSTER))
    assert plan_topics(single, {}).actions[0].describe() == "create p (3 partitions)"


def test_a_live_topic_with_other_replicas_or_min_isr_is_a_note_and_drift(tmp_path: Path) -> None:
    cluster = load_contract_file(_write(tmp_path, tail=CLUSTER)).for_topology("cluster")
    live = {"p": TopicState("p", 3, 1, 1), "p.rejected": TopicState("p.rejected", 3, 3, 2)}
    step = plan_topics(cluster, live)
    assert not step.actions and not step.refusals
    assert [n.split(":")[0] for n in step.notes] == [
        "topic p has replication factor 1, the sidecar says 3",
        "topic p has min.insync.replicas 1, the sidecar says 2"]
    assert topic_drift(cluster, live) == [
        "kafka topic p has replication factor 1, the sidecar says 3 (cluster topology)",
        "kafka topic p has min.insync.replicas 1, the sidecar says 2 (cluster topology)"]


def test_the_cluster_keyspace_is_made_with_its_factor_and_compared(tmp_path: Path) -> None:
    cluster = load_contract_file(
        _write(tmp_path, tail=CASSANDRA_CLUSTER)).for_topology("cluster")
    step = plan_cassandra(cluster, KeyspaceState("ks"), TableState("ks", "p"),
                          TableState("ks", "dead_letters"))
    assert "'replication_factor': 3" in step.actions[0].statement  # type: ignore[union-attr]
    explicit = plan_cassandra(cluster, KeyspaceState("ks"), TableState("ks", "p"),
                              TableState("ks", "dead_letters"), replication_factor=2)
    assert "'replication_factor': 2" in explicit.actions[0].statement  # type: ignore[union-attr]
    one = KeyspaceState("ks", True, MappingProxyType({}), replication_factor=1)
    step = plan_cassandra(cluster, one, TableState("ks", "p"), TableState("ks", "dead_letters"))
    assert any("keyspace ks has replication factor 1, the sidecar says 3" in n
               for n in step.notes)
    assert cassandra_drift(cluster, one, TableState("ks", "p"),
                           TableState("ks", "dead_letters"))[0] == (
        "cassandra keyspace ks has replication factor 1, the sidecar says 3 (cluster topology)")


@pytest.mark.parametrize(("replication", "factor"), [
    ({"class": "org.apache.cassandra.locator.SimpleStrategy", "replication_factor": "3"}, 3),
    ({"class": "org.apache.cassandra.locator.NetworkTopologyStrategy", "dc1": "3", "dc2": "2"}, 3),
    ({"class": "org.apache.cassandra.locator.LocalStrategy"}, None),
    (None, None),
])
def test_the_keyspace_factor_is_read_from_its_replication_map(
        replication: dict[str, str] | None, factor: int | None) -> None:
    assert replication_factor(replication) == factor


def test_a_sandbox_copy_keeps_the_cluster_tables_but_its_own_partitions(tmp_path: Path) -> None:
    base = load_contract_file(_write(tmp_path, tail=CLUSTER + CASSANDRA_CLUSTER))
    (tmp_path / "copy").mkdir()
    copy = write_contract(tmp_path / "copy", base, "box_1", 6)
    cluster = copy.for_topology("cluster")
    assert (cluster.partitions, cluster.replication_factor, cluster.min_insync_replicas,
            cluster.keyspace_replication_factor) == (6, 3, 2, 3)
    assert "partitions" not in topology_tables(base, without=("partitions",))


def test_observe_reads_a_topic_s_min_isr() -> None:
    from schematool.migrate import observe

    class Future:
        def result(self, timeout: float) -> dict[str, Any]:
            return {"min.insync.replicas": SimpleNamespace(value="2")}

    class Admin:
        def describe_configs(self, resources: list[Any]) -> dict[Any, Future]:
            return {resources[0]: Future()}

    services = SimpleNamespace(admin=Admin())
    assert observe._min_insync_replicas(services, "p") == 2  # type: ignore[arg-type]


@pytest.mark.parametrize("topology, partitions", [("single", 3), ("cluster", 6)])
def test_every_reader_of_the_settings_gets_the_contracts_of_its_topology(
        tmp_path: Path, topology: str, partitions: int) -> None:
    from config.contracts import deployed_contracts
    from config.settings import load_settings

    _write(tmp_path, kafka_extra="", tail="[kafka.cluster]\npartitions = 6\n")
    settings = load_settings({"STACK_TOPOLOGY": topology, "CONTRACTS_DIR": str(tmp_path),
                              "STACK_HOME": str(tmp_path / "home")}, check_profile=False)
    (contract,) = deployed_contracts(settings)
    assert (contract.topology, contract.partitions) == (topology, partitions)
