"""The console's settings: a view of ``config.settings``' ``CONSOLE_*`` fields.

``CONSOLE_HOST`` (default loopback), ``CONSOLE_PORT`` (9021, Control Center's port) and
``CONSOLE_ADMIN_TOKEN`` are read and validated there, with every other setting; this module
only names them as the console uses them, and the checkout it checks against.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from config.settings import PROJECT_ROOT, Secret, Settings, load_settings

REPO = PROJECT_ROOT  # the checkout whose schemas/ the console checks against


@dataclass(frozen=True)
class ConsoleSettings:
    host: str
    port: int
    admin_token: Secret
    url: str  # where a browser on this machine opens it
    repo: Path = REPO


def console_settings(settings: Settings) -> ConsoleSettings:
    return ConsoleSettings(settings.console_host, settings.console_port,
                           settings.console_admin_token, settings.console_url)


def load_console_settings(environ: Mapping[str, str] | None = None) -> ConsoleSettings:
    """The console's view of :func:`config.settings.load_settings` (validated there)."""
    return console_settings(load_settings(environ))
