"""Where the native stack keeps its runtime state: one git-ignored directory.

Below the stack in the layers, so that what reads that state without running the stack
(the console reads the stream's log) finds it by the same rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from config.settings import Settings


@dataclass(frozen=True)
class StackPaths:
    home: Path

    @classmethod
    def from_settings(cls, settings: Settings) -> StackPaths:
        return cls(Path(settings.stack_home))

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def pids_dir(self) -> Path:
        return self.home / "pids"

    @property
    def conf_dir(self) -> Path:
        """Rendered configuration files (from the templates in stack/conf)."""
        return self.home / "conf"

    @property
    def classpath_dir(self) -> Path:
        return self.home / "classpath"

    @property
    def dist_dir(self) -> Path:
        return self.home / "dist"

    def data(self, service: str) -> Path:
        return self.data_dir / service

    def log(self, service: str) -> Path:
        return self.logs_dir / f"{service}.log"

    def pidfile(self, service: str) -> Path:
        return self.pids_dir / f"{service}.pid"

    def wanted(self, service: str) -> Path:
        """Present from ``up`` to ``down``: the service should run (a dead one is a failure,
        even after its stale pid file is gone)."""
        return self.pids_dir / f"{service}.wanted"
