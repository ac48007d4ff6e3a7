"""Cold start: from launching the streaming job to its first stored row.

Measured in the end-to-end stage: a page of records waits in the topic before the job is
launched, so the time to its first row is the job's own start (Python, the checks, the
Spark JVM and its jars, the query) plus its first micro-batch (planning, code generation,
the connector's session), not a wait for data. A job that is started once and runs for
days pays it once, but a fresh deployment, a restart after a crash and the first `make
demo` see it as latency. Pure: reads the job's log lines.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from bench.results import Figure
from streaming.batch_log import parse_job_log

JOB_STARTED = "job_started"


@dataclass(frozen=True)
class ColdStart:
    started_s: float  # launch -> the query started (job_started)
    first_row_s: float  # launch -> the first batch that stored rows was logged
    first_batch_ms: int  # that batch's own duration

    def figures(self) -> list[Figure]:
        return [
            Figure("e2e.cold_start_first_row", "cold start: job launched -> first row stored",
                   self.first_row_s, "s", "a page of records waiting in the topic before "
                   "the launch"),
            Figure("e2e.cold_start_job_started", "  of which: launch -> query started",
                   self.started_s, "s", "Python imports, the job's checks (checkpoint, "
                   "Kafka, tables, registry), the Spark JVM and its jars, the query"),
            Figure("e2e.cold_start_first_batch", "  of which: the first micro-batch",
                   self.first_batch_ms / 1000, "s", "planning, code generation, the "
                   "connector's session, the write"),
        ]


def _event_time(line: str, event: str) -> float | None:
    if f'"event": "{event}"' not in line:
        return None
    try:
        record = json.loads(line[line.index("{"):])
        return datetime.fromisoformat(record["ts"]).timestamp()
    except (ValueError, KeyError, TypeError):
        return None


def cold_start(lines: Iterable[str], launched_at: float) -> ColdStart | None:
    """From the job's log: None until its first batch that stored rows."""
    lines = list(lines)
    started = next((t for t in (_event_time(line, JOB_STARTED) for line in lines)
                    if t is not None), None)
    first = next((e for e in parse_job_log(lines) if e.rows_written > 0), None)
    if started is None or first is None:
        return None
    return ColdStart(started - launched_at, first.at - launched_at, first.duration_ms)
