"""A compose healthcheck: the native stack's own probe of a service, from inside its container.

    python docker/probe.py stream|airflow|randomuser|console

Exits 0 when ``stack.services``' probe of that service passes with the container's settings
(the same check ``make up`` and ``make status`` make), else 1 with the reason on stderr.
"""

from __future__ import annotations

import sys

from config.settings import load_settings
from stack.paths import StackPaths
from stack.services import Context, by_name


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python docker/probe.py SERVICE", file=sys.stderr)
        return 2
    settings = load_settings()
    problem = by_name(argv[0]).probe(Context(settings, StackPaths.from_settings(settings)))
    if problem is not None:
        print(f"{argv[0]}: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
