"""The Pipeline page's panels: which source each reads, and whose outage is its banner.

Four panels, each refreshed on its own (``/panels/pipeline/<name>``): the topics and the
stream's lag (Kafka), what is stored (Cassandra), the stream's micro-batches (its log),
and the last DAG runs (Airflow).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from console.pipeline_sources import PipelineSources
from console.pipeline_views import batches_view, run_view, stored_view, topics_view


@dataclass(frozen=True)
class Panel:
    service: str  # the service whose outage this panel shows as its banner
    read: Callable[[PipelineSources], Any]


PANELS: dict[str, Panel] = {
    "topics": Panel("kafka", lambda s: [topics_view(s.topics(c)) for c in s.contracts()]),
    "stored": Panel("cassandra",
                    lambda s: [stored_view(c, s.stored(c)) for c in s.contracts()]),
    "batches": Panel("stream", lambda s: batches_view(s.stream_log())),
    "runs": Panel("airflow", lambda s: [run_view(s.airflow_url, r) for r in s.dag_runs()]),
}
