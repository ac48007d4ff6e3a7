"""cluster-cassandra-node-kill, cluster topology: kill -9 one of three Cassandra nodes
mid-run, restart it.

The node killed is not the seed (the last of CASSANDRA_HOSTS). While it is down, the
stream's writes (the connector, CASSANDRA_WRITE_CONSISTENCY: LOCAL_QUORUM, 2 of 3 replicas)
and a driver-side probe (:func:`quorum_writer`, the same level) must go on: nothing is
dead-lettered for the outage. The node catches up by hinted handoff: the two others keep a
hint for each write it missed (max_hint_window, 3 h: stack/conf/cassandra/cluster-node.yaml)
and replay them once gossip says it is back; no repair is needed for an outage shorter
than the window (a longer one needs ``nodetool repair`` on that node, which needs JMX, off
in this stack). Checked here: the others' ``system_views.pending_hints`` for it drains, then
a read at ONE coordinated and served by that node alone (its trace says who served it)
finds every acknowledged probe write and every stored row.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from cassandra import ConsistencyLevel, OperationTimedOut, Unavailable, WriteTimeout
from cassandra.cluster import NoHostAvailable, Session
from cassandra.query import SimpleStatement

from chaos import faults
from chaos.load import background_load, pipeline
from chaos.probe_writer import IN_FLIGHT, ProbeWriter
from chaos.scenario import ChaosContext, ChaosError, Outcome
from config.clients import cassandra_session, write_consistency
from config.settings import Settings
from stack.services.cassandra import CassandraNode, cassandra_cluster

TABLE = "chaos_quorum_writes"
# The write failures a kill -9 may cause: the requests the killed node was coordinating
# (the driver does not retry a write that is not idempotent on a lost connection).
WRITE_ERRORS = (Unavailable, WriteTimeout, OperationTimedOut, NoHostAvailable)
HINTS_LIMIT_S = 180.0  # the node answering -> the others' hints for it replayed
RECOVERY_LIMIT_S = 120.0


def quorum_writer(settings: Settings, keyspace: str) -> ProbeWriter:
    """Writes at CASSANDRA_WRITE_CONSISTENCY through the outage: a write refused by one of
    WRITE_ERRORS is counted (``failed``), not the end of the probe."""
    return ProbeWriter(settings, keyspace, TABLE, consistency=write_consistency(settings),
                       tolerated=WRITE_ERRORS)


def victim_of(settings: Settings) -> tuple[CassandraNode, list[CassandraNode]]:
    """The node to kill (the last: not the seed) and the others."""
    nodes = [n for n in cassandra_cluster(settings) if isinstance(n, CassandraNode)]
    if len(nodes) < 3:
        raise ChaosError(f"a node kill needs 3 Cassandra nodes; CASSANDRA_HOSTS has {len(nodes)}")
    return nodes[-1], nodes[:-1]


def replicate_everywhere(settings: Settings, keyspace: str) -> None:
    """Give ``keyspace`` one replica per node: LOCAL_QUORUM then survives one node down."""
    nodes = len(settings.cassandra_host_list)
    with cassandra_session(settings) as session:
        session.execute(f"ALTER KEYSPACE {keyspace} WITH replication = "
                        f"{{'class': 'SimpleStrategy', 'replication_factor': {nodes}}}",
                        timeout=60)
        if not session.cluster.control_connection.wait_for_schema_agreement(wait_time=60):
            raise ChaosError(f"the nodes did not agree on {keyspace}'s replication in 60 s")


def pinned(settings: Settings, node: CassandraNode) -> Settings:
    return replace(settings, cassandra_hosts=node.host)


def pending_hints(settings: Settings, survivors: Sequence[CassandraNode],
                  target: CassandraNode) -> int:
    """Hint files the ``survivors`` still hold for ``target``."""
    files = 0
    for node in survivors:
        with cassandra_session(pinned(settings, node), timeout=5, pinned=True) as session:
            for row in session.execute("SELECT address, files FROM system_views.pending_hints"):
                if row.address == target.host:
                    files += row.files or 0
    return files


def wait_hints_replayed(settings: Settings, survivors: Sequence[CassandraNode],
                        target: CassandraNode, timeout: float) -> float | None:
    """Seconds until the survivors hold no hint for ``target`` (None: not within timeout)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if pending_hints(settings, survivors, target) == 0:
            return time.monotonic() - started
        time.sleep(1.0)
    return None


def local_count(settings: Settings, node: CassandraNode, table: str) -> tuple[int, bool]:
    """``SELECT count(*)`` at ONE coordinated by ``node``; whether ``node`` alone served it
    (the query's trace: at ONE the coordinator may ask another replica)."""
    with cassandra_session(pinned(settings, node), timeout=30, pinned=True) as session:
        return _traced_count(session, table, node.host)


def _traced_count(session: Session, table: str, host: str) -> tuple[int, bool]:
    statement = SimpleStatement(f"SELECT count(*) FROM {table}",
                                consistency_level=ConsistencyLevel.ONE)
    result = session.execute(statement, trace=True, timeout=60)
    count = int(result.one()[0])
    trace = result.get_query_trace(max_wait_sec=30)
    sources = {str(event.source) for event in trace.events}
    return count, sources == {host}


def wait_local_count(settings: Settings, node: CassandraNode, table: str,
                     tries: int = 20) -> tuple[int, bool]:
    """:func:`local_count` until ``node`` alone served it (or ``tries`` run out)."""
    count, local = local_count(settings, node, table)
    for _ in range(tries - 1):
        if local:
            break
        count, local = local_count(settings, node, table)
    return count, local


@dataclass(frozen=True)
class ClusterCassandraNodeKill:
    name: str = "cluster-cassandra-node-kill"
    fault: str = "kill -9 one of three Cassandra nodes mid-run, restart it"
    fast: bool = False
    topology: str = "cluster"
    pages: int = 40  # an upper bound: the load stops once the node is back
    batch_size: int = 500
    down_s: float = 20.0  # long enough for several micro-batches at LOCAL_QUORUM with 2 of 3

    def run(self, ctx: ChaosContext) -> Outcome:
        started = time.monotonic()
        notes: list[str] = []
        victim, survivors = victim_of(ctx.settings)
        with pipeline(ctx, self.name) as pipe:
            keyspace = pipe.contract.keyspace
            replicate_everywhere(ctx.settings, keyspace)
            writer = quorum_writer(ctx.settings, keyspace)
            writer.create_table()
            pipe.start_stream()
            pipe.produce(1, self.batch_size, tag=f"{pipe.contract.topic}-warm")
            pipe.wait_batch_running()
            writer.start()
            with background_load(pipe, self.pages, self.batch_size, pause_s=1.0) as load:
                time.sleep(ctx.rng.uniform(1.0, 3.0))
                killed = faults.kill9(ctx.stack, victim.name)
                killed_epoch = time.time()
                ctx.progress(f"  {victim.name} ({victim.host}) killed (-9)")
                wrote_during = pipe.wait_writing(killed_epoch, self.down_s * 3)
                time.sleep(max(0.0, self.down_s - (time.monotonic() - killed)))
                back = faults.restart(ctx.stack, victim.name)
                healed = time.time()
                ctx.progress(f"  {victim.name} back in the ring after "
                             f"{back - killed:.0f} s down")
                recovery = pipe.wait_writing(healed, RECOVERY_LIMIT_S)
            load.result()
            writer.stop()
            during = writer.acked_between(killed, back)
            notes.append(f"probe writes at {ctx.settings.cassandra_write_consistency}: "
                         f"{len(writer.acked)} acked ({during} while {victim.name} was down), "
                         f"{len(writer.failed)} refused {sorted(set(writer.failed.values()))}")
            notes.append("the stream wrote a batch while the node was down: "
                         + ("no" if wrote_during is None else f"{wrote_during:.0f} s after"))
            replayed = wait_hints_replayed(ctx.settings, survivors, victim, HINTS_LIMIT_S)
            notes.append("hints for it replayed: "
                         + ("not within the limit" if replayed is None
                            else f"{replayed:.0f} s after the checks began"))
            rec = pipe.reconcile()
            probe_rows, probe_local = wait_local_count(
                ctx.settings, victim, f"{keyspace}.{TABLE}")
            table_rows, table_local = wait_local_count(
                ctx.settings, victim, f"{keyspace}.{pipe.contract.table}")
            notes.append(f"on {victim.name} alone at ONE: {probe_rows} probe rows "
                         f"(served locally: {probe_local}), {table_rows} stored rows "
                         f"(served locally: {table_local})")
            notes.append(f"stream starts: {pipe.starts()}")
            return Outcome.from_reconciliation(
                self, rec, recovery_seconds=recovery,
                checks={
                    "writes went on with 2 of 3 nodes": during > 0 and wrote_during is not None,
                    "refused probe writes only among those in flight at the kill":
                        len(writer.failed) <= IN_FLIGHT,
                    "nothing dead-lettered": rec.dead_lettered == 0,
                    "the node's hints were replayed": replayed is not None,
                    "the node alone has every acknowledged probe write":
                        probe_local and probe_rows >= len(writer.acked),
                    "the node alone has every stored row":
                        table_local and table_rows == rec.stored,
                    "the stream wrote again after the restart": recovery is not None,
                },
                notes=notes, started=started)
