"""The pipeline half of `make status`: subjects, topics and lag, rows, dead letters, last run.

Each section asks one service; a service that is down shows as such in its
own section and the others still print, since a status view is most useful
exactly when something is broken.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config.airflow_api import AirflowApi
from config.airflow_push import drift
from config.clients import cassandra_session, schema_registry_client
from config.contracts import deployed_contracts
from config.settings import Settings
from contract.catalog import Contract
from ops.demo import DAG_ID
from ops.reconcile import Offsets, end_offsets
from streaming.checkpoint import (
    RUNBOOK,
    CheckpointDamaged,
    DataLost,
    checkpoint_location,
    committed_offsets,
    earliest_offsets,
    lost_ranges,
    verify_checkpoint,
)


def lag(end: Offsets, committed: Offsets | None) -> int | None:
    if committed is None:
        return None
    return sum(max(0, hi - committed.get(p, 0)) for p, hi in end.items())


def _section(title: str, body: Callable[[], list[str]]) -> list[str]:
    try:
        lines = body()
    except Exception as exc:  # noqa: BLE001 - a status view reports the failure and goes on
        first = (str(exc).splitlines() or [""])[0]
        lines = [f"unavailable: {exc.__class__.__name__}: {first[:160]}"]
    return [title, *(f"  {line}" for line in lines)]


def _registry(settings: Settings, contracts: list[Contract]) -> list[str]:
    client = schema_registry_client(settings)
    out = []
    for c in contracts:
        versions = client.get_versions(c.subject) if c.subject in client.get_subjects() else []
        level = client.get_compatibility(c.subject) if versions else "-"
        latest = client.get_latest_version(c.subject) if versions else None
        out.append(
            f"{c.subject}: versions {versions or 'none (run make schemas)'}, "
            f"compatibility {level}" + (f", latest id {latest.schema_id}" if latest else "")
        )
    return out


def read_committed(checkpoint: Path, topic: str) -> tuple[Offsets | None, str | None]:
    """The offsets the stream's last committed batch read up to, or why they are unknown
    for good (a damaged checkpoint: its supervisor has stopped it), with the runbook."""
    try:
        verify_checkpoint(checkpoint)
        return committed_offsets(checkpoint, topic), None
    except CheckpointDamaged as exc:
        return None, (f"STREAM STOPPED: checkpoint damaged: {exc.path}: {exc.problem}; "
                      f"see {RUNBOOK}")


def stream_position(
    topic: str, checkpoint: Path, end: Offsets, earliest: Offsets
) -> tuple[str, list[str]]:
    """The stream's lag, and what stops it for good: a damaged checkpoint, lost records.

    The lag of a stream that lost records or cannot read its checkpoint is no comfort
    (its supervisor has stopped it), so those say so, with the runbook.
    """
    committed, damage = read_committed(checkpoint, topic)
    if damage is not None:
        return "unknown", [damage]
    return _position(topic, committed, end, earliest)


def _position(topic: str, committed: Offsets | None, end: Offsets,
              earliest: Offsets) -> tuple[str, list[str]]:
    behind = lag(end, committed)
    text = f"{behind} records" if behind is not None else "unknown (no committed batch)"
    lost = lost_ranges(topic, committed, earliest)
    if not lost:
        return text, []
    return text, [f"STREAM STOPPED: DATA LOST: {DataLost(lost)}"]


@dataclass(frozen=True)
class TopicPosition:
    """A contract's topic as ``make status`` reads it: each partition's end offset, where
    the stream's last committed batch ended, the lag, and what stops the stream for good;
    and its rejects topic's end offsets (nothing of ours consumes that one)."""

    topic: str
    end: Offsets
    committed: Offsets | None  # None: no committed batch yet, or a damaged checkpoint
    lag_text: str
    problems: tuple[str, ...]
    rejects_topic: str
    rejects_end: Offsets

    def partition_lag(self, partition: int) -> int | None:
        if self.committed is None:
            return None
        return max(0, self.end[partition] - self.committed.get(partition, 0))

    @property
    def lag(self) -> int | None:
        return lag(self.end, self.committed)


def topic_position(settings: Settings, contract: Contract) -> TopicPosition:
    """Reads Kafka's offsets (``KafkaException`` / ``OffsetsUnavailable`` when it does not
    answer) and the stream's checkpoint (no Spark)."""
    end = end_offsets(settings, contract.topic, contract.partitions)
    earliest = earliest_offsets(settings, contract.topic, contract.partitions)
    committed, damage = read_committed(checkpoint_location(settings, contract), contract.topic)
    if damage is not None:
        behind, problems = "unknown", [damage]
    else:
        behind, problems = _position(contract.topic, committed, end, earliest)
    rejects = end_offsets(settings, contract.rejects_topic, contract.partitions)
    return TopicPosition(contract.topic, end, committed, behind, tuple(problems),
                         contract.rejects_topic, rejects)


def _topics(settings: Settings, contracts: list[Contract]) -> list[str]:
    out = []
    for c in contracts:
        position = topic_position(settings, c)
        end = position.end
        out.append(
            f"{c.topic}: {sum(end.values())} records {dict(sorted(end.items()))}; "
            f"stream lag {position.lag_text}"
        )
        out += position.problems
        out.append(f"{c.rejects_topic}: {sum(position.rejects_end.values())} "
                   "rejected API records")
    return out


def stored_counts(session: Any, contract: Contract) -> tuple[int, int]:
    """The contract's rows in its table, and its own dead letters (contracts may share a
    keyspace and its dead-letter table: counted by this contract's topic)."""
    rows = session.execute(f"SELECT count(*) FROM {contract.qualified_table}").one()[0]
    dead = sum(session.execute(
        f"SELECT count(*) FROM {contract.keyspace}.dead_letters "
        "WHERE topic = %s AND partition = %s", (contract.topic, p)).one()[0]
        for p in range(contract.partitions))
    return int(rows), int(dead)


def _cassandra(settings: Settings, contracts: list[Contract]) -> list[str]:
    out = []
    with cassandra_session(settings, timeout=10) as session:
        for c in contracts:
            rows, dead = stored_counts(session, c)
            out.append(f"{c.qualified_table}: {rows} rows; {c.keyspace}.dead_letters of "
                       f"{c.topic}: {dead}")
    return out


def _last_run(settings: Settings) -> list[str]:
    with AirflowApi(settings) as api:
        run = api.latest_run(DAG_ID)
        if run is None:
            return [f"{DAG_ID}: no run yet (make demo, or trigger it in the UI)"]
        line = f"{DAG_ID}: {run.run_id} {run.state} (started {run.start_date})"
        if run.state != "success":
            return [line]
        summary = api.xcom_result(DAG_ID, run.run_id, "summary") or {}
        line += f": fetched {summary.get('fetched')}"
        subjects = summary.get("subjects") or {}
        return [line, *(f"  {subject}: produced {counts.get('produced')}, "
                        f"rejected {counts.get('rejected')}"
                        for subject, counts in subjects.items())]


def pipeline_status(settings: Settings) -> list[str]:
    contracts = deployed_contracts(settings)
    return [
        "",
        "pipeline",
        *_section(" schema registry", lambda: _registry(settings, contracts)),
        *_section(" kafka", lambda: _topics(settings, contracts)),
        *_section(" cassandra", lambda: _cassandra(settings, contracts)),
        *_section(" airflow (last DAG run)", lambda: _last_run(settings)),
        *_section(" airflow (settings its tasks use)", lambda: drift(settings)),
    ]
