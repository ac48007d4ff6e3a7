"""The job's ``batch`` log lines read back: one :class:`BatchEvent` per micro-batch.

The job logs one JSON line per batch (:class:`streaming.report.BatchReport`, through
:func:`streaming.logs.log_event`); the benchmarks, the chaos scenarios and the console's
Pipeline page read them with this one parser.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

BATCH_EVENT = "batch"


@dataclass(frozen=True)
class BatchEvent:
    """One micro-batch of the job, from its JSON log line."""

    at: float  # epoch seconds the line was logged (the batch had completed)
    input_rows: int
    rows_written: int
    dead_lettered: int
    duration_ms: int
    lag_p50_ms: int | None
    lag_p95_ms: int | None
    lag_max_ms: int | None
    batch_id: int | None = None
    dead_lettered_by_stage: dict[str, int] = field(default_factory=dict)
    schema_ids: tuple[int, ...] = ()  # the writer schema ids the batch held
    reader_version: int | None = None
    subject: str | None = None  # the contract of the query (None in lines before it was logged)


def parse_job_log(lines: Iterable[str]) -> list[BatchEvent]:
    """The ``batch`` events of the job's log (other lines, JSON or not, are skipped)."""
    events = []
    for line in lines:
        if f'"event": "{BATCH_EVENT}"' not in line:
            continue
        try:
            record = json.loads(line[line.index("{"):])
        except ValueError:
            continue
        if not isinstance(record, dict) or record.get("event") != BATCH_EVENT:
            continue
        events.append(BatchEvent(
            at=datetime.fromisoformat(record["ts"]).timestamp(),
            input_rows=int(record["input_rows"]),
            rows_written=int(record["rows_written"]),
            dead_lettered=int(record["dead_lettered"]),
            duration_ms=int(record["duration_ms"]),
            lag_p50_ms=record.get("lag_p50_ms"),
            lag_p95_ms=record.get("lag_p95_ms"),
            lag_max_ms=record.get("lag_max_ms"),
            batch_id=record.get("batch_id"),
            dead_lettered_by_stage={str(k): int(v) for k, v in
                                    (record.get("dead_lettered_by_stage") or {}).items()},
            schema_ids=tuple(int(i) for i in record.get("schema_ids") or ()),
            reader_version=record.get("reader_version"),
            subject=record.get("subject"),
        ))
    return events
