"""``python -m stack.randomuser --host 127.0.0.1 --port 8765 [failure options]``."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from types import FrameType

from stack.randomuser.failures import FAIL_MODES, FailurePlan, FailurePlanError
from stack.randomuser.server import make_server


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m stack.randomuser",
        description="A randomuser.me-compatible API (v1.4 JSON) with failure injection.",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--fail", choices=FAIL_MODES, help="inject this failure")
    p.add_argument("--fail-first", type=int, help="only for the first K requests of each client")
    p.add_argument("--retry-after", type=int, default=1, help="seconds, sent with 429")
    p.add_argument("--delay-ms", type=int, default=0, help="delay every answer")
    p.add_argument("--broken", type=int, default=0, help="invalid records at the start of a page")
    p.add_argument("--odd", type=int, default=0,
                   help="records after those that do not fit in odd ways (lone surrogate, "
                        "credentials in odd places, wrong types, missing fields)")
    p.add_argument("--verbose", action="store_true", help="log every request")
    return p


def _stop(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s")
    try:
        plan = FailurePlan(args.fail, args.fail_first, args.retry_after, args.delay_ms,
                           args.broken, args.odd)
    except FailurePlanError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        server = make_server(args.host, args.port, plan)
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, _stop)
    print(f"randomuser API on {server.base_url} (plan: {plan})", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.stopping.set()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
