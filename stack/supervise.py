"""Keep a long-running job alive: restart it when it fails, give up when it refuses.

The streaming job exits 1 when a batch fails (Cassandra or the registry down):
the next start resumes from its checkpoint, so restarting it, with a growing
pause, is the recovery. Exit 2 means it refused to start (the table does not
match the schema): restarting cannot help, so the supervisor stops too.

    python -m stack.supervise [--max-restarts N] -- python -m streaming run
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from types import FrameType

EXIT_REFUSED = 2
STARTING = "==== supervise: starting"  # a line in the job's log at every (re)start


def backoff_seconds(attempt: int, *, base: float = 2.0, cap: float = 60.0) -> float:
    """Pause before restart ``attempt`` (1, 2, ...): doubling from ``base`` up to ``cap``."""
    return min(cap, base * 2 ** (attempt - 1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack.supervise")
    parser.add_argument("--max-restarts", type=int, default=20)
    parser.add_argument("--healthy-after", type=float, default=300.0,
                        help="a run this long resets the restart count")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = [c for c in args.command if c != "--"] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command to supervise")

    child: subprocess.Popen[bytes] | None = None
    stopping = False

    def forward(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)

    restarts = 0
    while True:
        started = time.monotonic()
        print(f"{STARTING} {' '.join(command)}", flush=True)
        child = subprocess.Popen(command)
        code = child.wait()
        if stopping:
            return 0
        if code == 0:
            print("==== supervise: finished", flush=True)
            return 0
        if code == EXIT_REFUSED:
            print("==== supervise: the job refused to start; not restarting", flush=True)
            return code
        if time.monotonic() - started > args.healthy_after:
            restarts = 0
        restarts += 1
        if restarts > args.max_restarts:
            print(f"==== supervise: failed {restarts} times in a row; giving up", flush=True)
            return code
        pause = backoff_seconds(restarts)
        print(f"==== supervise: exit {code}; restart {restarts} in {pause:.0f} s", flush=True)
        deadline = time.monotonic() + pause
        while time.monotonic() < deadline and not stopping:
            time.sleep(0.2)
        if stopping:
            return 0


if __name__ == "__main__":
    sys.exit(main())
