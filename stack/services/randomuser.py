"""The randomuser-compatible server the project ships."""

from __future__ import annotations

import json
import os
import sys
from urllib.parse import urlparse

import requests

from config.settings import PROJECT_ROOT
from stack.services.base import Command, Context, Service, port_of


class RandomUserLocal(Service):
    """The randomuser-compatible server the project ships, for offline runs and tests."""

    name = "randomuser"
    start_timeout = 30.0

    def port(self, ctx: Context) -> int:
        return port_of(ctx.settings.randomuser_local_url)

    def address(self, ctx: Context) -> str:
        return ctx.settings.randomuser_local_url

    def command(self, ctx: Context) -> Command:
        host = urlparse(ctx.settings.randomuser_local_url).hostname or "127.0.0.1"
        return Command(
            [sys.executable, "-m", "stack.randomuser",
             "--host", host, "--port", str(self.port(ctx))],
            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        )

    def probe(self, ctx: Context) -> str | None:
        try:
            resp = requests.get(ctx.settings.randomuser_local_url, params={"results": 1}, timeout=3)
            json.loads(resp.text)
        except (requests.RequestException, ValueError) as exc:
            return f"GET ?results=1 failed: {exc.__class__.__name__}"
        return None if resp.status_code == 200 else f"answered {resp.status_code}"
