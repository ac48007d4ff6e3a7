"""CPU a stage alone spends per record: what the co-located limit is built from.

A stage measured alone (fetching, mapping, producing, a micro-batch) runs in this process
group (the benchmark's Python, its librdkafka threads, its Spark JVM) and in the services
it talks to. :class:`CpuMeter` reads the CPU time of those groups around the timed work;
the difference over the records is the stage's CPU per record, the figure that says how
many records a second the stages could carry together on the machine's cores
(``bench.comparisons.colocated_limit``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from types import TracebackType

from bench.monitor import service_groups
from bench.results import Figure
from config.settings import Settings
from stack import process
from stack.paths import StackPaths


def per_record_us(cpu_seconds: float, records: int) -> float:
    """Microseconds of CPU a record (0 records: nothing to divide, an error)."""
    if records <= 0:
        raise ValueError(f"CPU per record needs at least one record, got {records}")
    return cpu_seconds / records * 1e6


class CpuMeter:
    """CPU seconds used by this process group and the named services' groups in a block."""

    def __init__(self, settings: Settings, services: Sequence[str] = ()) -> None:
        groups = service_groups(StackPaths.from_settings(settings), tuple(services))
        missing = sorted(set(services) - set(groups))
        if missing:
            raise RuntimeError(f"CPU per record: service(s) {', '.join(missing)} not running")
        self.groups = [os.getpgid(0), *groups.values()]
        self.services = tuple(services)
        self.seconds = 0.0
        self._start = 0.0

    def _now(self) -> float:
        return sum(process.cpu_seconds(pgid) for pgid in self.groups)

    def __enter__(self) -> CpuMeter:
        self._start = self._now()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.seconds = self._now() - self._start


def cpu_figure(key: str, label: str, seconds: Sequence[float], records: int,
               services: Sequence[str]) -> Figure:
    """The least CPU per record over the runs (the stage at its best, as its rate is)."""
    values = [per_record_us(s, records) for s in seconds]
    where = "this process group" + "".join(f" + {name}" for name in services)
    runs = ", ".join(f"{v:,.0f}" for v in values)
    return Figure(key, label, min(values), "µs",
                  f"CPU time of {where} over {records:,} records"
                  + (f", least of {len(values)}: {runs}" if len(values) > 1 else ""))
