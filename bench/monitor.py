"""Samples taken while the end-to-end load runs: memory (PSS) per process, produced offsets.

A background thread samples every ``interval`` seconds until stopped. Memory is PSS per
process group (``stack.process.rss_bytes``): a service's group holds its children, and
the benchmark's streaming job runs in a group of its own (Python driver + Spark JVM).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from stack import process
from stack.paths import StackPaths

PIPELINE_SERVICES = ("kafka", "registry", "cassandra", "randomuser")


@dataclass
class Samples:
    t: list[float] = field(default_factory=list)  # seconds since the monitor started
    produced: list[int] = field(default_factory=list)  # records in the topic so far
    memory: dict[str, list[int]] = field(default_factory=dict)  # process -> PSS bytes


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


class Monitor:
    def __init__(self, groups: Mapping[str, int], produced: Callable[[], int],
                 interval: float = 2.0) -> None:
        self.groups = dict(groups)
        self._produced = produced
        self.interval = interval
        self.samples = Samples(memory={name: [] for name in [*self.groups, "producer"]})
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
        s.t.append(time.monotonic() - self._started)
        s.produced.append(self._produced())
        for name, pgid in self.groups.items():
            s.memory[name].append(process.rss_bytes(pgid))
        s.memory["producer"].append(own_pss_bytes())
