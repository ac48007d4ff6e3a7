"""The supervised streaming job as a service of the stack."""

from __future__ import annotations

import os
import sys

from config.settings import PROJECT_ROOT
from stack.services.base import Command, Context, Service
from stack.spark import spark_env

# The supervisor's longest pause between restarts of the stream. While Cassandra or the
# registry is down a start fails in its pre-flight checks (a second of Python, no Spark),
# so retrying often is cheap; and the pause after the outage is what the stream loses: with
# 60 s (the supervisor's default) it resumed up to 60 s + a Spark start after Cassandra
# answered again. 10 s keeps that under 60 s (make chaos, cassandra-restart).
STREAM_BACKOFF_CAP_S = 10.0


def supervise_env() -> dict[str, str]:
    """The supervisor's settings for the stream (an explicit environment value wins)."""
    cap = os.environ.get("SUPERVISE_BACKOFF_CAP_SECONDS") or f"{STREAM_BACKOFF_CAP_S:g}"
    return {"SUPERVISE_BACKOFF_CAP_SECONDS": cap}


class Stream(Service):
    """The Spark streaming job (``python -m streaming run``), kept alive by stack.supervise.

    Not part of a bare ``make up``: it needs the tables and the subject that
    ``make schemas`` creates. ``make stream-up`` (and ``make demo``) start it.
    """

    name = "stream"
    start_timeout = 180.0
    probed_when_external = False  # its health is in its own log, wherever it runs
    STARTED = '"event": "query_started"'
    ENDED = ('"event": "query_failed"', '"event": "refused"', '"event": "failed"',
             '"event": "batch_stuck"')

    def port(self, ctx: Context) -> int:
        return 0  # serves nothing: it reads Kafka and writes Cassandra

    def address(self, ctx: Context) -> str:
        if self.external(ctx):
            return "elsewhere (STACK_EXTERNAL)"
        return f"spark {ctx.settings.spark_master} -> cassandra"

    def command(self, ctx: Context) -> Command:
        return Command(
            [sys.executable, "-m", "stack.supervise", "--",
             sys.executable, "-m", "streaming", "run"],
            env={**os.environ, **supervise_env(), **spark_env(ctx.paths),
                 "PYTHONPATH": str(PROJECT_ROOT), "PYTHONUNBUFFERED": "1",
                 # In the secure profile, the stream's users: read its topics, write its tables.
                 "STACK_ROLE": "stream"},
            cwd=PROJECT_ROOT,
        )

    def probe(self, ctx: Context) -> str | None:
        """Healthy once the query has started, and not failed since."""
        log = ctx.paths.log(self.name)
        try:
            lines = log.read_text(errors="replace").splitlines()
        except OSError:
            return "no log yet"
        for line in reversed(lines):
            if self.STARTED in line:
                return None
            if any(marker in line for marker in self.ENDED):
                return f"the query stopped: {line[:300]}"
            if line.startswith("==== "):  # a (re)start, or the supervisor's word on an exit
                return "starting" if "starting" in line else line.removeprefix("==== ")
        return "starting"
