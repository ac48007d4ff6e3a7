"""``python -m ops demo``: the README's main command (``make demo``)."""

from __future__ import annotations

import argparse
import sys
import time

from config.settings import SettingsError, load_settings
from ops.airflow_api import AirflowApiError
from ops.demo import DemoError, format_summary, prepare, resolve_source, run_pipeline
from schemas.catalog import load_contract
from stack.launcher import StackError
from stack.paths import StackPaths
from stack.services import Context

T0 = time.monotonic()


def progress(message: str) -> None:
    print(f"[{time.monotonic() - T0:6.1f}s] {message}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run the whole pipeline once and summarise it")
    demo.add_argument("--count", type=int, default=100)
    demo.add_argument("--batch-size", type=int, default=0, help="users per page (default: auto)")
    demo.add_argument("--source", choices=("auto", "live", "local"), default="auto")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        ctx = Context(settings, StackPaths.from_settings(settings))
        contract = load_contract()
        source, why = resolve_source(settings, args.source)
        banner = f" SOURCE: {source.upper()} - {why} "
        print("#" * len(banner) + "\n" + banner + "\n" + "#" * len(banner), flush=True)
        prepare(ctx, progress)
        batch_size = args.batch_size or min(max(args.count // 4, 1), 5000)
        result = run_pipeline(ctx, contract, count=args.count, batch_size=batch_size,
                              source=source, progress=progress)
    except (SettingsError, StackError, DemoError, AirflowApiError) as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    print(format_summary(result, contract))
    print(f"\nAirflow UI: {settings.airflow_url} ({by_login(ctx)}); "
          "`make status` shows the pipeline; `make down` stops everything.")
    return 0 if result.counts_reconcile else 1


def by_login(ctx: Context) -> str:
    from stack.services import by_name

    return by_name("airflow").login_hint(ctx)


if __name__ == "__main__":
    sys.exit(main())
