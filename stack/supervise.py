"""Keep a long-running job alive: restart it when it fails, stop when only a person can help.

The streaming job exits 1 when a batch fails because a service is out (Cassandra, the
registry, Kafka), 3 when a batch got stuck, or dies by a signal: the next start resumes
from its checkpoint, so restarting it is the recovery, and it is retried **forever**,
with a pause that doubles up to a cap. An outage has no known end: a supervisor that
gave up after N restarts (it used to: 20 restarts, about 16 minutes) would turn a
25-minute registry outage into a stopped pipeline that a person must notice and
restart, although nothing was wrong with the job. The capped pause keeps a long outage
cheap (one start a minute by default) and the recovery prompt (at most a cap after the
service is back).

Some exits say that restarting cannot help, and the supervisor stops too:

- 2, refused: the job would not start (the table does not match the schema);
- 4, data lost: records the job had not read were deleted from Kafka (retention); the
  job names the offsets, and docs/troubleshooting.md says what to do;
- 5, checkpoint damaged: the job's checkpoint cannot be read; the job names the file,
  and docs/troubleshooting.md says what to do.

Restarting these would loop forever on the same refusal and bury the one line that says
what is wrong under thousands of restarts.

    python -m stack.supervise [--max-restarts N] [--backoff-cap S] -- python -m streaming run

The defaults can be set by environment, e.g. by a test that compresses a long outage:
``SUPERVISE_BACKOFF_BASE_SECONDS`` (2), ``SUPERVISE_BACKOFF_CAP_SECONDS`` (60) and
``SUPERVISE_MAX_RESTARTS`` (unset: never give up; N: give up after N failures in a row,
for jobs that want the old behaviour).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from types import FrameType

# The streaming job's exit codes that restarting cannot fix (see its ``python -m streaming``).
EXIT_REFUSED = 2
EXIT_DATA_LOST = 4
EXIT_CHECKPOINT_DAMAGED = 5
STOP_CODES: Mapping[int, str] = {
    EXIT_REFUSED: "the job refused to start",
    EXIT_DATA_LOST: "records were lost before the job read them (see docs/troubleshooting.md)",
    EXIT_CHECKPOINT_DAMAGED: "the job's checkpoint is damaged (see docs/troubleshooting.md)",
}
STARTING = "==== supervise: starting"  # a line in the job's log at every (re)start


def backoff_seconds(attempt: int, *, base: float = 2.0, cap: float = 60.0) -> float:
    """Pause before restart ``attempt`` (1, 2, ...): doubling from ``base`` up to ``cap``."""
    # min() before the power: attempt grows without bound when restarts never stop.
    return min(cap, base * 2 ** min(attempt - 1, 62))


def _env_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SystemExit(f"supervise: {name}={raw!r} is not a number") from None
    if value < 0:
        raise SystemExit(f"supervise: {name}={raw!r} must not be negative")
    return value


def build_parser(env: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m stack.supervise")
    max_restarts = env.get("SUPERVISE_MAX_RESTARTS", "").strip()
    parser.add_argument(
        "--max-restarts", type=int, default=int(max_restarts) if max_restarts else None,
        help="give up after this many failures in a row (default: never)",
    )
    parser.add_argument("--backoff-base", type=float,
                        default=_env_float(env, "SUPERVISE_BACKOFF_BASE_SECONDS", 2.0))
    parser.add_argument("--backoff-cap", type=float,
                        default=_env_float(env, "SUPERVISE_BACKOFF_CAP_SECONDS", 60.0))
    parser.add_argument("--healthy-after", type=float, default=300.0,
                        help="a run this long resets the restart count (and so the pause)")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    return parser


def main(argv: list[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    parser = build_parser(os.environ if env is None else env)
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
        if code in STOP_CODES:
            print(f"==== supervise: exit {code}: {STOP_CODES[code]}; not restarting", flush=True)
            return code
        if time.monotonic() - started > args.healthy_after:
            restarts = 0
        restarts += 1
        if args.max_restarts is not None and restarts > args.max_restarts:
            print(f"==== supervise: failed {restarts} times in a row; giving up", flush=True)
            return code
        pause = backoff_seconds(restarts, base=args.backoff_base, cap=args.backoff_cap)
        print(f"==== supervise: exit {code}; restart {restarts} in {pause:.0f} s", flush=True)
        deadline = time.monotonic() + pause
        while time.monotonic() < deadline and not stopping:
            time.sleep(min(0.2, pause))
        if stopping:
            return 0


if __name__ == "__main__":
    sys.exit(main())
