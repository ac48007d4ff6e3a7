"""Helpers shared by the test tiers: waiting on conditions, unique names."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T | None],
    *,
    timeout: float,
    interval: float = 0.5,
    message: str = "condition",
) -> T:
    """Poll ``condition`` until it returns a truthy value, or fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while True:
        last = condition()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"timed out after {timeout:.0f} s waiting for {message} (last: {last!r})"
            )
        time.sleep(interval)


def unique_name(prefix: str) -> str:
    """A name no other test run uses: topics, subjects, keyspaces (CQL-safe)."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def wait_for_topics(admin: object, topics: list[str], *, timeout: float = 30.0) -> None:
    """Wait until every topic is in the broker's metadata.

    ``create_topics`` returns once the controller has the topic; the broker may
    answer metadata requests without it for a moment after that.
    """

    def present() -> bool:
        listed = admin.list_topics(timeout=5).topics  # type: ignore[attr-defined]
        return all(t in listed and listed[t].error is None for t in topics)

    wait_until(present, timeout=timeout, interval=0.2, message=f"topics {topics} in metadata")


AIRFLOW = str(Path(sys.executable).parent / "airflow")


def airflow_test_env(home: Path, dags_folder: Path) -> dict[str, str]:
    """An Airflow of its own for `airflow dags test`: a fresh metadata DB in ``home``."""
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    migrate = subprocess.run([AIRFLOW, "db", "migrate"], env=env, capture_output=True,
                             text=True, timeout=600, check=False)
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    return env
