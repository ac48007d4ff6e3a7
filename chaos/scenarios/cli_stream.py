"""The supervised stream exactly as ``make stream-up`` runs it: ``python -m stack.supervise --
python -m streaming run``, with the supervisor's own defaults (no ``--max-restarts``), on a
scenario's sandbox contract and checkpoint.

The scenarios about what only the job's command line does (its exit codes for data loss
and a damaged checkpoint, the supervisor never giving up on an outage) need this command,
not ``bench.job``, which runs ``streaming.job.run`` directly. It writes the pidfile and log
that :class:`chaos.load.Pipeline` reads, so the rest of the pipeline's helpers apply.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from chaos.load import JOB_START_TIMEOUT_S, Pipeline
from chaos.scenario import ChaosError
from config.settings import PROJECT_ROOT
from stack import process
from stack.spark import spark_env
from streaming.checkpoint import checkpoint_location, committed_offsets


def start_cli_stream(pipe: Pipeline, env: Mapping[str, str] | None = None, *,
                     wait_started: bool = True) -> process.PidRecord:
    """``stack.supervise -- streaming run`` on ``pipe``'s contract and checkpoint."""
    argv = [sys.executable, "-m", "stack.supervise", "--",
            sys.executable, "-m", "streaming", "run",
            "--contract-dir", str(pipe.box.directory), "--subject", pipe.contract.subject]
    full_env = {**os.environ, **spark_env(pipe.ctx.stack.paths),
                "PYTHONPATH": str(PROJECT_ROOT), "PYTHONUNBUFFERED": "1",
                "SPARK_CHECKPOINT_DIR": str(pipe.checkpoint), **pipe.stream_env, **(env or {})}
    began = time.time()
    record = process.spawn(argv, pidfile=pipe.stream_pidfile, log=pipe.stream_log,
                           env=full_env, cwd=PROJECT_ROOT)
    if wait_started:
        pipe.wait_stream_started(began - 1, JOB_START_TIMEOUT_S)
    return record


def events(pipe: Pipeline, name: str) -> list[dict[str, Any]]:
    """The job's JSON log lines of event ``name``."""
    found = []
    for line in pipe.log_lines():
        if f'"event": "{name}"' not in line:
            continue
        try:
            found.append(json.loads(line[line.index("{"):]))
        except ValueError:
            continue
    return found


def wait_supervisor_exit(pipe: Pipeline, timeout: float) -> str:
    """Until the supervisor has exited; its last ``==== supervise:`` line."""
    deadline = time.monotonic() + timeout
    while process.running(pipe.stream_pidfile) is not None:
        if time.monotonic() > deadline:
            raise ChaosError(f"the supervised stream of {pipe.contract.topic} still runs "
                             f"{timeout:.0f} s later; see {pipe.stream_log}")
        time.sleep(0.5)
    said = [line for line in pipe.log_lines() if line.startswith("==== supervise:")]
    return said[-1] if said else ""


def checkpoint(pipe: Pipeline) -> Path:
    """The query's checkpoint directory (the job runs with SPARK_CHECKPOINT_DIR =
    ``pipe.checkpoint``)."""
    settings = replace(pipe.ctx.settings, spark_checkpoint_dir=str(pipe.checkpoint))
    return checkpoint_location(settings, pipe.contract)


def wait_committed(pipe: Pipeline, end: dict[int, int], timeout: float) -> None:
    """Until the stream's last committed batch ends at ``end``: it has read everything."""
    location = checkpoint(pipe)
    deadline = time.monotonic() + timeout
    while committed_offsets(location, pipe.contract.topic) != end:
        if time.monotonic() > deadline:
            raise ChaosError(f"the stream did not commit offsets {end} within {timeout:.0f} s; "
                             f"see {pipe.stream_log}")
        time.sleep(1)
