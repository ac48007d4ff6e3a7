"""Samples taken while the end-to-end load runs: memory (PSS) and CPU time per process,
produced offsets.

A background thread samples every ``interval`` seconds until stopped. Memory is PSS and
CPU is user + system time, both per process group (``stack.process``): a service's group
holds its children, and the benchmark's streaming job runs in a group of its own (Python
driver + Spark JVM). On a machine with few cores, the CPU each process takes during the
load says where the cores went.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from stack import process
from stack.paths import StackPaths

PIPELINE_SERVICES = ("kafka", "registry", "cassandra", "randomuser")
MACHINE = "whole machine"  # every process, ours or not


@dataclass
class Samples:
    t: list[float] = field(default_factory=list)  # seconds since the monitor started
    produced: list[int] = field(default_factory=list)  # records in the topic so far
    memory: dict[str, list[int]] = field(default_factory=dict)  # process -> PSS bytes
    cpu: dict[str, list[float]] = field(default_factory=dict)  # process -> CPU s so far

    def cores(self, name: str, start: float, end: float) -> float | None:
        """Cores ``name`` kept busy on average between two sample times (None: too few)."""
        points = [(t, c) for t, c in zip(self.t, self.cpu.get(name, []), strict=False)
                  if start <= t <= end]
        if len(points) < 2 or points[-1][0] <= points[0][0]:
            return None
        return (points[-1][1] - points[0][1]) / (points[-1][0] - points[0][0])


def service_groups(paths: StackPaths, names: tuple[str, ...] = PIPELINE_SERVICES) -> dict[str, int]:
    """Process-group ids of the running services (a service not running is left out)."""
    groups = {}
    for name in names:
        record = process.running(paths.pidfile(name))
        if record is not None:
            groups[name] = record.pid  # each service leads its own group
    return groups


def own_pss_bytes() -> int:
    """PSS of this process alone (the producer loop runs here)."""
    return process._pss_bytes(os.getpid())  # the stack's one PSS reader


def machine_busy_seconds() -> float:
    """CPU time every core of the machine has spent busy since boot (not idle, not iowait)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """CPU time of this process alone, every thread (the producer loop runs here)."""
    times = os.times()
    return times.user + times.system


class Monitor:
    def __init__(self, groups: Mapping[str, int], produced: Callable[[], int],
                 interval: float = 2.0) -> None:
        self.groups = dict(groups)
        self._produced = produced
        self.interval = interval
        names = [*self.groups, "producer"]
        self.samples = Samples(memory={name: [] for name in names},
                               cpu={name: [] for name in [*names, MACHINE]})
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="bench-monitor", daemon=True)
        self._started = 0.0

    def __enter__(self) -> Monitor:
        self._started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        while True:
            self._sample()
            if self._stop.wait(self.interval):
                return

    def _sample(self) -> None:
        s = self.samples
        # The CPU counters right after the timestamp, the slow reads (offsets, PSS) after:
        # read late, a counter credits a sample with CPU spent after its time, which made
        # a 30 s window show more cores busy than the machine has.
        s.t.append(time.monotonic() - self._started)
        s.cpu[MACHINE].append(machine_busy_seconds())
        for name, pgid in self.groups.items():
            s.cpu[name].append(process.cpu_seconds(pgid))
        s.cpu["producer"].append(own_cpu_seconds())
        s.produced.append(self._produced())
        for name, pgid in self.groups.items():
            s.memory[name].append(process.rss_bytes(pgid))
        s.memory["producer"].append(own_pss_bytes())
