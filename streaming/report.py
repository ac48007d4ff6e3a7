"""What one micro-batch did, as numbers: the job logs one :class:`BatchReport` per batch."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from streaming.triage import BatchMetrics


@dataclass(frozen=True)
class LagStats:
    """End-to-end lag: batch completion time minus each record's Kafka timestamp."""

    max_ms: int | None = None
    p50_ms: int | None = None
    p95_ms: int | None = None


@dataclass(frozen=True)
class BatchReport:
    batch_id: int
    input_rows: int
    rows_written: int
    dead_lettered: int
    dead_lettered_by_stage: dict[str, int] = field(default_factory=dict)
    schema_ids: list[int] = field(default_factory=list)
    reader_version: int | None = None
    reader_schema_id: int | None = None
    duration_ms: int = 0
    lag: LagStats = field(default_factory=LagStats)

    def as_log_fields(self) -> dict[str, Any]:
        fields = asdict(self)
        lag = fields.pop("lag")
        fields.update({f"lag_{name}": value for name, value in lag.items()})
        return fields


def lag_from(metrics: BatchMetrics, completed_at_ms: int) -> LagStats:
    """The lag statistics from a pass's metrics: the oldest record has the largest lag,
    the 5th percentile of the timestamps gives the 95th percentile of the lag."""

    def lag(timestamp_ms: int | None) -> int | None:
        return None if timestamp_ms is None else completed_at_ms - timestamp_ms

    return LagStats(max_ms=lag(metrics.oldest_ms), p50_ms=lag(metrics.timestamp_p50_ms),
                    p95_ms=lag(metrics.timestamp_p05_ms))
