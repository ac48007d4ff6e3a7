"""The pipeline's web console as a service of the stack."""

from __future__ import annotations

import os
import sys

from config.settings import PROJECT_ROOT
from console.health import healthz_problem
from stack.services.base import Command, Context, Service


class Console(Service):
    """The pipeline's web console (``python -m console``, docs/console.md).

    It needs no other service to start: a service that does not answer is a banner on the
    panels that use it. External only when STACK_EXTERNAL names it (CONSOLE_HOST is where it
    listens, not where a client finds it); then probed at CONSOLE_HOST:CONSOLE_PORT.
    """

    name = "console"
    start_timeout = 30.0

    def port(self, ctx: Context) -> int:
        return ctx.settings.console_port

    def address(self, ctx: Context) -> str:
        return ctx.settings.console_url

    def command(self, ctx: Context) -> Command:
        # The settings this launcher has, not only its environment: the console listens
        # where the probe asks, and reads the services the stack runs.
        settings = ctx.settings.as_env(show_secrets=True)
        return Command(
            [sys.executable, "-m", "console"],
            env={**os.environ, **settings, "PYTHONPATH": str(PROJECT_ROOT),
                 "PYTHONUNBUFFERED": "1"},
            cwd=PROJECT_ROOT,
        )

    def probe(self, ctx: Context) -> str | None:
        return healthz_problem(ctx.settings.console_url)
