"""``python -m stack demo`` and ``python -m stack evolve`` (``make demo``, ``make demo-evolve``).

The pipeline's steps are ops' (``ops.demo``, ``ops.evolve``); this module gives them
the native stack to run on (``NativeServices``), so ops never imports the stack.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from config.settings import SettingsError, load_settings
from contract.catalog import load_contract
from ops.airflow_api import AirflowApiError
from ops.demo import DemoError, format_summary, prepare, resolve_source, run_pipeline
from ops.evolve import evolve, side_by_side
from stack import launcher, process
from stack.paths import StackPaths
from stack.services import Context, by_name
from stack.supervise import STARTING

T0 = time.monotonic()


def progress(message: str) -> None:
    print(f"[{time.monotonic() - T0:6.1f}s] {message}", flush=True)


@dataclass(frozen=True)
class NativeServices:
    """``ops.demo.Services`` on the native stack: its launcher, pid files and logs."""

    ctx: Context

    @property
    def logs_dir(self) -> Path:
        return self.ctx.paths.logs_dir

    def log(self, service: str) -> Path:
        return self.ctx.paths.log(service)

    def up(self) -> None:
        launcher.up(self.ctx)

    def start_stream(self) -> None:
        launcher.up(self.ctx, [by_name("stream")])

    def stream_pid(self) -> int | None:
        record = process.running(self.ctx.paths.pidfile("stream"))
        return record.pid if record else None

    def stream_starts(self) -> int:
        """How many times the supervisor has started the streaming job (its log says)."""
        log = self.log("stream")
        text = log.read_text(errors="replace") if log.exists() else ""
        return text.count(STARTING)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run the whole pipeline once and summarise it")
    demo.add_argument("--count", type=int, default=100)
    demo.add_argument("--batch-size", type=int, default=0, help="users per page (default: auto)")
    demo.add_argument("--source", choices=("auto", "live", "local"), default="auto")
    evolve = commands.add_parser("evolve", help="evolve the schema to v2 while the pipeline runs")
    evolve.add_argument("--count", type=int, default=20)
    evolve.add_argument("--source", choices=("auto", "live", "local"), default="auto")
    args = parser.parse_args(argv)
    if args.command == "evolve":
        return run_evolve(args.count, args.source)
    try:
        settings = load_settings()
        ctx = Context(settings, StackPaths.from_settings(settings))
        services = NativeServices(ctx)
        contract = load_contract()
        source, why = resolve_source(settings, args.source)
        banner = f" SOURCE: {source.upper()} - {why} "
        print("#" * len(banner) + "\n" + banner + "\n" + "#" * len(banner), flush=True)
        prepare(services, progress)
        batch_size = args.batch_size or min(max(args.count // 4, 1), 5000)
        result = run_pipeline(settings, services, contract, count=args.count,
                              batch_size=batch_size, source=source, progress=progress)
    except (SettingsError, launcher.StackError, DemoError, AirflowApiError) as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    print(format_summary(result, contract))
    print(f"\nAirflow UI: {settings.airflow_url} ({by_name('airflow').login_hint(ctx)}); "
          "`make status` shows the pipeline; `make down` stops everything.")
    return 0 if result.counts_reconcile else 1


def run_evolve(count: int, source_choice: str) -> int:
    try:
        settings = load_settings()
        ctx = Context(settings, StackPaths.from_settings(settings))
        source, why = resolve_source(settings, source_choice)
        progress(f"SOURCE: {source.upper()} - {why}")
        result = evolve(settings, NativeServices(ctx), count=count, source=source,
                        progress=progress)
        contract = load_contract()
    except (SettingsError, launcher.StackError, DemoError, AirflowApiError) as exc:
        print(f"demo-evolve failed: {exc}", file=sys.stderr)
        return 1
    print(format_summary(result, contract))
    print("\nv1 and v2 rows side by side (same table, same streaming job):")
    print("\n".join(side_by_side(settings, contract)))
    print("\nschemas/ and cql/ changed in your working tree, as a pull request would: "
          "commit them, or `git checkout schemas cql` (the registry keeps v2; v1 producers "
          "still work under BACKWARD).")
    return 0 if result.counts_reconcile else 1
