"""The cluster topology's Cassandra ring on a ring of the test's own (a tmp STACK_HOME, free
ports, 127.0.0.1-3), started and stopped here: each node on its own address, the ring whole,
and a node killed with -9 under a driver-side write load at LOCAL_QUORUM (the Cassandra half
of chaos/scenarios/cluster_node_kill.py, without Kafka and Spark).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from chaos import faults
from chaos.probe_writer import IN_FLIGHT
from chaos.scenarios import cluster_node_kill as node_kill
from config.clients import cassandra_session
from config.settings import load_settings
from stack import launcher
from stack.paths import StackPaths
from stack.services import Context
from stack.services.cassandra import CassandraNode, cassandra_cluster
from tests.support import unique_name, wait_until

pytestmark = pytest.mark.integration

HOSTS = ("127.0.0.1", "127.0.0.2", "127.0.0.3")


def free_on_every_host() -> int:
    """A port nothing listens on at any of the ring's addresses."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if not any(launcher.port_in_use(port, host) for host in HOSTS):
            return port


@pytest.fixture(scope="module")
def ring(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Context]:
    home = tmp_path_factory.mktemp("cassandra-ring")
    settings = load_settings({
        "STACK_TOPOLOGY": "cluster", "STACK_HOME": str(home),
        "CASSANDRA_HOSTS": ",".join(HOSTS), "CASSANDRA_PORT": str(free_on_every_host()),
        "STACK_CASSANDRA_STORAGE_PORT": str(free_on_every_host()),
    })
    ctx = Context(settings, StackPaths.from_settings(settings))
    nodes = cassandra_cluster(settings)
    try:
        started = time.monotonic()
        launcher.up(ctx, nodes)
        print(f"ring of {len(nodes)} up in {time.monotonic() - started:.0f} s")
        yield ctx
    finally:
        launcher.down(ctx, nodes)


def _nodes(ctx: Context) -> list[CassandraNode]:
    return [n for n in cassandra_cluster(ctx.settings) if isinstance(n, CassandraNode)]


def test_each_node_serves_on_its_own_address_only(ring: Context) -> None:
    port, storage = ring.settings.cassandra_port, ring.settings.stack_cassandra_storage_port
    for node in _nodes(ring):
        assert launcher.port_in_use(port, node.host)
        assert launcher.port_in_use(storage, node.host)
    # Nothing on another loopback address: no node binds 0.0.0.0.
    assert not launcher.port_in_use(port, "127.0.0.9")
    assert not launcher.port_in_use(storage, "127.0.0.9")


def test_every_node_sees_the_two_others(ring: Context) -> None:
    for node in _nodes(ring):
        assert node.probe(ring) is None
        with cassandra_session(node_kill.pinned(ring.settings, node), pinned=True) as session:
            peers = {row.peer for row in session.execute("SELECT peer FROM system.peers_v2")}
        assert peers == set(HOSTS) - {node.host}


def test_a_node_killed_under_quorum_writes_catches_up_by_hints(ring: Context) -> None:
    settings = ring.settings
    keyspace = unique_name("node_kill")
    with cassandra_session(settings) as session:
        session.execute(f"CREATE KEYSPACE {keyspace} WITH replication = "
                        "{'class': 'SimpleStrategy', 'replication_factor': 1}", timeout=60)
    node_kill.replicate_everywhere(settings, keyspace)
    writer = node_kill.quorum_writer(settings, keyspace)
    writer.create_table()
    victim, survivors = node_kill.victim_of(settings)
    writer.start()
    try:
        wait_until(lambda: len(writer.acked) >= 200, timeout=60, message="200 quorum writes")
        killed = faults.kill9(ring, victim.name)
        wait_until(lambda: writer.acked_between(killed, time.monotonic()) >= 500, timeout=60,
                   message="500 quorum writes with the node down")
        # Hints are buffered in memory and flushed to files every hints_flush_period (10 s);
        # the virtual table lists files, so wait for the first flush.
        wait_until(lambda: node_kill.pending_hints(settings, survivors, victim) > 0,
                   timeout=60, message="the others hold hint files for the killed node")
        back = faults.restart(ring, victim.name)
        during = writer.acked_between(killed, back)
        print(f"{victim.name} down {back - killed:.0f} s, {during} writes acked meanwhile")
    finally:
        writer.stop()
    # Only a write the killed node was coordinating may fail (none did in the trials).
    assert len(writer.failed) <= IN_FLIGHT, writer.failed
    replayed = node_kill.wait_hints_replayed(settings, survivors, victim, timeout=180)
    assert replayed is not None, "the others still hold hints for the node"
    rows, local = node_kill.wait_local_count(settings, victim, f"{keyspace}.{node_kill.TABLE}")
    assert local, "no read at ONE was served by the restarted node alone"
    assert rows >= len(writer.acked)
    with cassandra_session(settings) as session:
        session.execute(f"DROP KEYSPACE {keyspace}", timeout=60)
