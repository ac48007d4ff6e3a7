"""``make cqlsh``: Cassandra's shell (cqlsh from PyPI) on the settings' Cassandra.

    python -m stack.cqlsh [CQLSH ARGS...]   (-e "SELECT count(*) FROM spark_streams.created_users")

The first of ``CASSANDRA_HOSTS``, ``CASSANDRA_PORT``, and ``CASSANDRA_USERNAME`` when set
(cqlsh then asks for the password: it stays off the command line, where ``ps`` shows it).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from config.settings import Settings, SettingsError, load_settings


def cqlsh_argv(settings: Settings, args: Sequence[str], bin_dir: Path) -> list[str]:
    argv = [str(bin_dir / "cqlsh"), settings.cassandra_host_list[0], str(settings.cassandra_port)]
    if settings.cassandra_username:
        argv += ["-u", settings.cassandra_username]
    return [*argv, *args]


def main(argv: Sequence[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        command = cqlsh_argv(load_settings(), args, Path(sys.executable).parent)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not Path(command[0]).is_file():
        print(f"error: no {command[0]}: `make install` installs cqlsh (pyproject's dev extra)",
              file=sys.stderr)
        return 1
    os.execv(command[0], command)  # returns only by raising


if __name__ == "__main__":
    sys.exit(main())
