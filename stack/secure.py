"""What the secure profile needs before any service starts: the CA, the certificates and
the users' passwords, under the stack's home (config/profile.py says what it secures).

Runs before the settings are loaded: in the secure profile they point at these files.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from config import credentials
from config.settings import Settings
from stack.tls import ensure_tls


def prepare(environ: Mapping[str, str]) -> list[str]:
    """Write what is missing (idempotent); returns lines saying what was made or renewed."""
    if environ.get("STACK_PROFILE") != "secure":
        return []
    home = Path(environ.get("STACK_HOME") or Settings.stack_home)
    lines = [f"  tls {action}" for action in ensure_tls(home) if action.action != "kept"]
    if not credentials.path_under(home).exists():
        credentials.ensure(home)
        lines.append(f"  credentials created in {credentials.path_under(home)} (mode 0600)")
    return lines
