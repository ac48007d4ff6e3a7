"""The console's own settings, from the environment (frozen, read once at start).

Kept here until ``config/settings.py`` takes them in: ``CONSOLE_HOST`` (default loopback),
``CONSOLE_PORT`` (9021, Control Center's port) and ``CONSOLE_ADMIN_TOKEN`` (no write action
exists yet; any later one will require it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from config.settings import Secret, SettingsError

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ConsoleSettings:
    host: str = "127.0.0.1"
    port: int = 9021
    admin_token: Secret = field(default_factory=lambda: Secret(""))
    repo: Path = REPO  # the checkout whose schemas/ the console checks against

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"


def load_console_settings(environ: Mapping[str, str] | None = None) -> ConsoleSettings:
    env = os.environ if environ is None else environ
    port_text = env.get("CONSOLE_PORT", "9021")
    try:
        port = int(port_text)
    except ValueError as exc:
        raise SettingsError(f"CONSOLE_PORT must be a port number, got {port_text!r}") from exc
    if not 0 < port < 65536:
        raise SettingsError(f"CONSOLE_PORT must be 1-65535, got {port}")
    return ConsoleSettings(
        host=env.get("CONSOLE_HOST", "127.0.0.1") or "127.0.0.1",
        port=port,
        admin_token=Secret(env.get("CONSOLE_ADMIN_TOKEN", "")),
    )
