"""The Pipeline page's view models: pure functions of what :mod:`console.pipeline_sources`
read (no I/O), and the series its charts draw, as JSON the page's script hands Chart.js.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from console.pipeline_sources import ContractTopics, RunSummary, StreamLog
from contract.catalog import Contract
from ops.demo import DAG_ID

TABLE_BATCHES = 10  # the newest batches listed under the charts


# -- topics ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PartitionRow:
    partition: int
    end: int
    committed: int | None  # None: not consumed by the stream, or nothing committed yet
    lag: int | None


@dataclass(frozen=True)
class TopicRow:
    name: str
    role: str  # "records" (the stream reads it) or "rejects" (API records that did not fit)
    partitions: int | None  # as Kafka has them; None: the topic does not exist
    records: int  # the sum of the end offsets (what retention kept, plus what it deleted)
    rows: tuple[PartitionRow, ...]
    lag: int | None = None  # the stream's, over every partition


@dataclass(frozen=True)
class TopicsView:
    subject: str
    topics: tuple[TopicRow, ...]
    lag_text: str  # "12 records", "unknown (no committed batch)"...
    problems: tuple[str, ...]  # what stops the stream for good (make status's lines)
    missing: tuple[str, ...]  # topics Kafka does not have


def topics_view(found: ContractTopics) -> TopicsView:
    contract = found.contract
    names = (contract.topic, contract.rejects_topic)
    missing = tuple(n for n in names if found.states[n].partitions is None)
    position = found.position
    if position is None:
        rows = tuple(TopicRow(n, role, found.states[n].partitions, 0, ())
                     for n, role in zip(names, ("records", "rejects"), strict=True))
        return TopicsView(contract.subject, rows, "unknown", (), missing)
    records = tuple(
        PartitionRow(p, end, None if position.committed is None else position.committed.get(p, 0),
                     position.partition_lag(p))
        for p, end in sorted(position.end.items())
    )
    rejects = tuple(PartitionRow(p, end, None, None)
                    for p, end in sorted(position.rejects_end.items()))
    return TopicsView(
        contract.subject,
        (
            TopicRow(position.topic, "records", found.states[position.topic].partitions,
                     sum(position.end.values()), records, position.lag),
            TopicRow(position.rejects_topic, "rejects",
                     found.states[position.rejects_topic].partitions,
                     sum(position.rejects_end.values()), rejects),
        ),
        position.lag_text,
        position.problems,
        missing,
    )


@dataclass(frozen=True)
class StoredView:
    table: str
    rows: int
    dead_letters_table: str
    dead_letters: int  # this contract's (by its topic)


def stored_view(contract: Contract, counts: tuple[int, int]) -> StoredView:
    rows, dead = counts
    return StoredView(contract.qualified_table, rows, f"{contract.keyspace}.dead_letters", dead)


# -- the stream's micro-batches ---------------------------------------------------------------


@dataclass(frozen=True)
class BatchRow:
    batch_id: int | None
    time: str  # UTC, HH:MM:SS
    input_rows: int
    rows_written: int
    dead_lettered: int
    by_stage: str  # "decode 2, sink 1"
    writer_ids: str
    reader_version: int | None
    lag_p50_ms: int | None
    lag_p95_ms: int | None
    duration_ms: int
    subject: str  # the query's contract ("" in lines logged before the job named it)


@dataclass(frozen=True)
class BatchesView:
    log_path: str
    log_found: bool
    count: int  # batches in the charts
    latest: str  # the newest batch's time and id: a page polls until it changes
    rows: tuple[BatchRow, ...]  # newest first
    series: str  # JSON for the charts (see batch_series)


def _clock(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%H:%M:%S")


def batch_series(log: StreamLog) -> dict[str, Any]:
    """Three charts over the batches (oldest first): rows, latency, schemas.

    Each is ``{"title", "unit", "datasets": [{"label", "data", "kind"}]}`` (and ``scale``
    when not linear) over the shared
    ``labels`` (the batches' UTC times); ``kind`` is ``line``, ``step`` or ``points``.
    """
    batches = log.batches
    stages = sorted({stage for b in batches for stage in b.dead_lettered_by_stage})
    writers = sorted({i for b in batches for i in b.schema_ids})

    def line(label: str, data: Sequence[float | int | None], kind: str = "line") -> dict[str, Any]:
        return {"label": label, "data": list(data), "kind": kind}

    rows = [line("input rows", [b.input_rows for b in batches]),
            line("written", [b.rows_written for b in batches]),
            *(line(f"dead letters: {stage}",
                   [b.dead_lettered_by_stage.get(stage, 0) for b in batches])
              for stage in stages)]
    latency = [line("lag p50", [b.lag_p50_ms for b in batches]),
               line("lag p95", [b.lag_p95_ms for b in batches]),
               line("batch duration", [b.duration_ms for b in batches])]
    schemas = [line("reader version", [b.reader_version for b in batches], "step"),
               *(line(f"writer id {i}", [i if i in b.schema_ids else None for b in batches],
                      "points") for i in writers)]
    return {
        "labels": [_clock(b.at) for b in batches],
        "batch_ids": [b.batch_id for b in batches],
        "charts": {
            "rows": {"title": "rows per batch", "unit": "rows", "datasets": rows},
            "latency": {"title": "latency", "unit": "ms", "datasets": latency},
            # Logarithmic: a poison frame's made-up id (99999) must not flatten the others.
            "schemas": {"title": "reader version and writer schema ids", "unit": "",
                        "datasets": schemas, "scale": "logarithmic"},
        },
    }


def batches_view(log: StreamLog) -> BatchesView:
    rows = tuple(
        BatchRow(
            b.batch_id, _clock(b.at), b.input_rows, b.rows_written, b.dead_lettered,
            ", ".join(f"{stage} {n}" for stage, n in sorted(b.dead_lettered_by_stage.items())),
            ", ".join(str(i) for i in b.schema_ids), b.reader_version, b.lag_p50_ms,
            b.lag_p95_ms, b.duration_ms, b.subject or "",
        )
        for b in reversed(log.batches[-TABLE_BATCHES:])
    )
    latest = f"{rows[0].time} #{rows[0].batch_id}" if rows else ""
    # Inside a <script> element: no "<" may end it early.
    series = json.dumps(batch_series(log)).replace("<", "\\u003c")
    return BatchesView(log.path, log.found, len(log.batches), latest, rows, series)


# -- DAG runs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubjectCounts:
    subject: str
    fetched: int | None
    produced: int | None
    rejected: int | None


@dataclass(frozen=True)
class RunView:
    run_id: str
    state: str
    started: str
    ended: str
    link: str  # the run in Airflow's UI
    fetched: int | None
    subjects: tuple[SubjectCounts, ...]
    note: str


def run_link(airflow_url: str, run_id: str) -> str:
    return f"{airflow_url.rstrip('/')}/dags/{DAG_ID}/runs/{quote(run_id, safe='')}"


def _count(counts: Mapping[str, Any], key: str) -> int | None:
    value = counts.get(key)
    return int(value) if isinstance(value, int | float) else None


def run_view(airflow_url: str, found: RunSummary) -> RunView:
    summary = found.summary or {}
    subjects = summary.get("subjects") or {}
    return RunView(
        found.run.run_id,
        found.run.state,
        found.run.start_date or "",
        found.run.end_date or "",
        run_link(airflow_url, found.run.run_id),
        _count(summary, "fetched"),
        tuple(SubjectCounts(name, _count(c, "fetched"), _count(c, "produced"),
                            _count(c, "rejected"))
              for name, c in sorted(subjects.items()) if isinstance(c, Mapping)),
        found.note,
    )
