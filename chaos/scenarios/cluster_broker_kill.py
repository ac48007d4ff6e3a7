"""cluster-broker-kill, cluster topology: kill -9 the leader broker of a partition mid-run,
restart it.

The sandbox topic has 3 replicas and ``min.insync.replicas=2`` (``[kafka.cluster]``); the
producer's ``acks=all`` + idempotence is unchanged. When the leader dies, the controller
fences it (``broker.session.timeout.ms``, 9 s) and makes an in-sync follower the leader: the
partition's ISR shrinks to the two brokers left, which still satisfy ``acks=all``, so the
producer's own retries reach the new leader and nothing it was told is written is lost.
After the restart the broker catches up from the leaders and rejoins every ISR. The run
ends in the exact reconciliation, with no key produced twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from confluent_kafka import KafkaException

from chaos import faults
from chaos.load import background_load, pipeline
from chaos.scenario import ChaosContext, ChaosError, Outcome
from config.clients import kafka_admin
from config.settings import Settings

RECOVERY_LIMIT_S = 120.0  # the broker answering again -> the stream writing again
ISR_LIMIT_S = 90.0  # kill -> the dead leader out of the ISR; restart -> back in every ISR


@dataclass(frozen=True)
class PartitionState:
    leader: int  # -1: no leader
    replicas: tuple[int, ...]
    isr: tuple[int, ...]


def partition_states(settings: Settings, topic: str) -> dict[int, PartitionState]:
    """Each partition's leader, replicas and in-sync replicas, from the brokers' metadata."""
    try:
        metadata = kafka_admin(settings).list_topics(topic, timeout=10)
    except KafkaException as exc:
        raise ChaosError(f"cluster-broker-kill: cannot describe {topic}: {exc}") from exc
    found = metadata.topics.get(topic)
    if found is None or found.error is not None:
        raise ChaosError(f"cluster-broker-kill: no topic {topic} in the metadata "
                         f"({found.error if found else 'absent'})")
    return {p.id: PartitionState(p.leader, tuple(sorted(p.replicas)), tuple(sorted(p.isrs)))
            for p in found.partitions.values()}


def wait_partitions(settings: Settings, topic: str, what: str,
                    ok: Callable[[dict[int, PartitionState]], bool],
                    timeout: float = ISR_LIMIT_S) -> tuple[float, dict[int, PartitionState]]:
    """Until ``ok`` holds of the topic's partitions: the seconds it took, and what was seen;
    ChaosError naming ``what`` and the last state at the deadline."""
    started = time.monotonic()
    while True:
        try:
            states = partition_states(settings, topic)
        except ChaosError:
            states = {}  # a metadata request that failed over: ask again
        if states and ok(states):
            return time.monotonic() - started, states
        if time.monotonic() - started > timeout:
            raise ChaosError(f"cluster-broker-kill: {what} not seen within {timeout:.0f} s; "
                             f"last: {describe(states)}")
        time.sleep(0.5)


def describe(states: dict[int, PartitionState]) -> str:
    return "; ".join(f"p{p} leader {s.leader} isr {list(s.isr)}" for p, s in sorted(
        states.items())) or "no metadata"


@dataclass(frozen=True)
class ClusterBrokerKill:
    name: str = "cluster-broker-kill"
    fault: str = "kill -9 the leader broker of a partition mid-run, restart it"
    fast: bool = False
    topology: str = "cluster"
    pages: int = 60  # an upper bound: the load stops once the recovery is seen
    batch_size: int = 2000
    down_s: float = 5.0  # after the ISR shrank: the cluster runs on two brokers meanwhile

    def run(self, ctx: ChaosContext) -> Outcome:
        started = time.monotonic()
        notes: list[str] = []
        with pipeline(ctx, self.name) as pipe:
            topic = pipe.contract.topic
            before = partition_states(ctx.settings, topic)
            replicated = all(len(s.replicas) >= 3 and len(s.isr) >= 3 for s in before.values())
            if not replicated:
                raise ChaosError(f"{self.name}: {topic} is not on 3 in-sync replicas "
                                 f"({describe(before)}): is [kafka.cluster] in the sidecar?")
            pipe.start_stream()
            pipe.produce(1, 500, tag=f"{topic}-warm")
            pipe.wait_batch_running()
            with background_load(pipe, self.pages, self.batch_size, pause_s=0.5) as load:
                time.sleep(ctx.rng.uniform(0.5, 2.5))
                states = partition_states(ctx.settings, topic)
                partition = ctx.rng.choice(sorted(states))
                leader = states[partition].leader
                if leader < 0:
                    raise ChaosError(f"{self.name}: partition {partition} of {topic} has no "
                                     f"leader ({describe(states)})")
                victim = f"kafka-{leader}"
                faults.kill9(ctx.stack, victim)
                ctx.progress(f"  {victim}, leader of {topic}-{partition}, killed (-9); "
                             f"{pipe.load.produced} records acked so far")
                shrink_s, shrunk = wait_partitions(
                    ctx.settings, topic, f"broker {leader} out of the ISR with a new leader",
                    lambda s: all(leader not in p.isr and p.leader not in (-1, leader)
                                  for p in s.values()))
                ctx.progress(f"  ISR shrank in {shrink_s:.1f} s: {describe(shrunk)}")
                time.sleep(self.down_s)
                faults.restart(ctx.stack, victim)
                healed = time.time()
                ctx.progress(f"  {victim} answering again")
                back_s, rejoined = wait_partitions(
                    ctx.settings, topic, f"broker {leader} back in every ISR",
                    lambda s: all(len(p.isr) == len(p.replicas) for p in s.values()))
                ctx.progress(f"  ISR back to 3 in {back_s:.1f} s: {describe(rejoined)}")
                recovery = pipe.wait_writing(healed, RECOVERY_LIMIT_S)
            load.result()
            notes.append(f"killed {victim}, leader of partition {partition}; new leaders: "
                         f"{describe(shrunk)}")
            notes.append(f"ISR shrank {shrink_s:.1f} s after the kill; all 3 in sync "
                         f"{back_s:.1f} s after the restart")
            notes += [f"page retried: {r}" for r in pipe.load.retries]
            notes.append(f"stream starts: {pipe.starts()}")
            rec = pipe.reconcile()
            return Outcome.from_reconciliation(
                self, rec, recovery_seconds=recovery,
                checks={
                    "the ISR shrank to the live brokers, a new leader elected": bool(shrunk),
                    "the restarted broker rejoined every ISR": bool(rejoined),
                    "the stream wrote again after the broker came back": recovery is not None,
                    "every acknowledged record is in the topic":
                        rec.produced >= pipe.load.produced,
                    "no key produced twice": rec.duplicate_keys == 0,
                },
                notes=notes, started=started)
