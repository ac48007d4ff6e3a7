"""The console's one write: replaying dead letters, as ``make replay-dead-letters`` does.

The replay is the stream's own code (:mod:`streaming.replay`, which needs Spark and the
stack's jars), so the console runs the same command line as the make target, in a child
process, and shows its output and exit status: ``python -m stack spark streaming
replay-dead-letters --subject S --contract-dir D [--stage ...] [--since ...]
[--error-class ...]``. The console imports neither stack nor pyspark.

It requires ``CONSOLE_ADMIN_TOKEN``, compared in constant time; every request, accepted or
refused, is logged (who, when, which filters; never the token).
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from config.settings import PROJECT_ROOT, Secret

AUDIT_LOGGER = "console.audit"
REPLAY_TIMEOUT_S = 900.0  # a Spark start and one pass over the selected dead letters
OUTPUT_TAIL_CHARS = 12_000

NO_TOKEN = ("replay is disabled: no CONSOLE_ADMIN_TOKEN is configured for this console "
            "(set it in the console's environment and restart it: `python -m stack up console`)")


@dataclass(frozen=True)
class ReplayRequest:
    subject: str
    contract_dir: Path
    stage: str | None = None
    error_class: str | None = None
    since: datetime | None = None

    @property
    def filters(self) -> dict[str, str | None]:
        return {"subject": self.subject, "stage": self.stage, "error_class": self.error_class,
                "since": self.since.isoformat() if self.since else None}


def replay_command(request: ReplayRequest, python: str = sys.executable) -> list[str]:
    """The make target's command line for ``request`` (``--flag=value``: a value can never be
    read as an option of its own)."""
    command = [python, "-m", "stack", "spark", "streaming", "replay-dead-letters",
               f"--subject={request.subject}", f"--contract-dir={request.contract_dir}"]
    if request.stage:
        command.append(f"--stage={request.stage}")
    if request.since:
        # The time the page counted from, absolute: an age would move on before the replay.
        command.append(f"--since={request.since.astimezone(UTC).isoformat()}")
    if request.error_class:
        command.append(f"--error-class={request.error_class}")
    return command


def token_refusal(configured: Secret, given: str) -> str | None:
    """Why ``given`` may not write, or None when it is the configured admin token."""
    if not configured:
        return NO_TOKEN
    if not given:
        return "the admin token is required to replay"
    if not hmac.compare_digest(given.encode(), configured.reveal().encode()):
        return "wrong admin token: nothing was replayed"
    return None


def audit(outcome: str, request: ReplayRequest, who: str, **extra: object) -> None:
    """One JSON line per replay request: who asked, when, for what, and what came of it."""
    record = {"ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
              "event": "replay_request", "outcome": outcome, "who": who,
              **request.filters, **extra}
    _audit_log().info(json.dumps(record, default=str))


def _audit_log() -> logging.Logger:
    log = logging.getLogger(AUDIT_LOGGER)
    if not log.handlers:  # uvicorn logs warnings only: these lines go to the console's log
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    return log


@dataclass(frozen=True)
class ReplayResult:
    command: tuple[str, ...]
    exit_code: int | None  # None: it did not finish before the deadline and was stopped
    output: str  # its stdout and stderr, the last OUTPUT_TAIL_CHARS of them

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


def run_command(command: list[str], timeout: float = REPLAY_TIMEOUT_S) -> ReplayResult:
    """Run ``command`` in this checkout with the console's own environment (its settings)."""
    try:
        done = subprocess.run(command, cwd=PROJECT_ROOT, env=dict(os.environ), timeout=timeout,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    except subprocess.TimeoutExpired as exc:  # subprocess.run has killed it
        output = (exc.stdout or b"").decode(errors="replace")
        note = f"\n(stopped after {timeout:.0f} s)"
        return ReplayResult(tuple(command), None, output[-OUTPUT_TAIL_CHARS:] + note)
    output = done.stdout.decode(errors="replace")
    return ReplayResult(tuple(command), done.returncode, output[-OUTPUT_TAIL_CHARS:])
