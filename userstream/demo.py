"""``python -m userstream demo`` and ``python -m userstream evolve`` (``make demo``,
``make demo-evolve``).

The pipeline's steps are ops' (``ops.demo``, ``ops.evolve``); this module gives them
the native stack to run on (``NativeServices``), so ops never imports the stack.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from config.airflow_api import AirflowApiError
from config.contracts import deployed_contracts
from config.settings import SettingsError, load_settings
from contract.catalog import DEFAULT_SUBJECT, Contract, ContractError, select_contracts
from ops.demo import DemoError, format_summary, prepare, resolve_source, run_pipeline
from ops.evolve import evolve, format_result
from stack import launcher, process
from stack.paths import StackPaths
from stack.services import Command, Context, Stream, by_name
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
        return _starts(self.log("stream"))

    @contextmanager
    def scratch_stream(self, contract: Contract, contract_dir: Path) -> Iterator[JobOnStack]:
        """demo-evolve's own streaming job on a scratch contract, with its own checkpoints."""
        checkpoints = Path(tempfile.mkdtemp(prefix="evolve-checkpoints-"))
        service = ScratchStream(contract.subject, contract_dir, checkpoints)
        process.stop(self.ctx.paths.pidfile(service.name))  # one left by an interrupted run
        self.ctx.paths.log(service.name).unlink(missing_ok=True)  # its probe reads this log
        try:
            launcher.up(self.ctx, [service])
            yield JobOnStack(self.ctx, service.name)
        finally:
            launcher.down(self.ctx, [service])
            shutil.rmtree(checkpoints, ignore_errors=True)


def _starts(log: Path) -> int:
    text = log.read_text(errors="replace") if log.exists() else ""
    return text.count(STARTING)


class ScratchStream(Stream):
    """The stack's supervised stream, on another contract and with other checkpoints."""

    def __init__(self, subject: str, contract_dir: Path, checkpoints: Path) -> None:
        self.name = "evolve-stream"
        self.subject, self.contract_dir, self.checkpoints = subject, contract_dir, checkpoints

    def command(self, ctx: Context) -> Command:
        base = super().command(ctx)
        return Command(
            [*base.argv, "--subject", self.subject, "--contract-dir", str(self.contract_dir)],
            env={**base.env, "SPARK_CHECKPOINT_DIR": str(self.checkpoints)}, cwd=base.cwd,
        )


@dataclass(frozen=True)
class JobOnStack:
    """``ops.evolve.ScratchStream`` of a job the launcher started, by its pid file and log."""

    ctx: Context
    name: str

    @property
    def log(self) -> Path:
        return self.ctx.paths.log(self.name)

    def pid(self) -> int | None:
        record = process.running(self.ctx.paths.pidfile(self.name))
        return record.pid if record else None

    def starts(self) -> int:
        return _starts(self.log)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m userstream")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run the whole pipeline once and summarise it")
    demo.add_argument("--count", type=int, default=100)
    demo.add_argument("--batch-size", type=int, default=0, help="users per page (default: auto)")
    demo.add_argument("--source", choices=("auto", "live", "local"), default="auto")
    evolve = commands.add_parser(
        "evolve", help="evolve a contract through its prepared versions while its stream runs")
    evolve.add_argument("--subject", default=DEFAULT_SUBJECT,
                        help="a subject of schemas/ with docs/examples/<subject>.v2.avsc ...")
    evolve.add_argument("--count", type=int, default=20)
    evolve.add_argument("--source", choices=("auto", "live", "local"), default="auto")
    evolve.add_argument("--keep", action="store_true",
                        help="keep the scratch subject, topics and keyspace afterwards")
    args = parser.parse_args(argv)
    if args.command == "evolve":
        return run_evolve(args.count, args.source, args.keep, args.subject)
    try:
        settings = load_settings()
        ctx = Context(settings, StackPaths.from_settings(settings))
        services = NativeServices(ctx)
        # Every contract the DAG produces (the randomuser source's), each one reconciled.
        contracts = select_contracts(deployed_contracts(settings),
                                     api="randomuser")
        source, why = resolve_source(settings, args.source)
        banner = f" SOURCE: {source.upper()} - {why} "
        print("#" * len(banner) + "\n" + banner + "\n" + "#" * len(banner), flush=True)
        prepare(services, progress)
        batch_size = args.batch_size or min(max(args.count // 4, 1), 5000)
        result = run_pipeline(settings, services, contracts, count=args.count,
                              batch_size=batch_size, source=source, progress=progress)
    except (SettingsError, ContractError, launcher.StackError, DemoError,
            AirflowApiError) as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    print(format_summary(result))
    print(f"\nAirflow UI: {settings.airflow_url} ({by_name('airflow').login_hint(ctx)}); "
          "`make status` shows the pipeline; `make down` stops everything.")
    return 0 if result.counts_reconcile else 1


def run_evolve(count: int, source_choice: str, keep: bool, subject: str) -> int:
    try:
        settings = load_settings()
        ctx = Context(settings, StackPaths.from_settings(settings))
        source, why = resolve_source(settings, source_choice)
        progress(f"SOURCE: {source.upper()} - {why}")
        result = evolve(settings, NativeServices(ctx), count=count, source=source,
                        progress=progress, keep=keep, subject=subject)
    except (SettingsError, ContractError, launcher.StackError, DemoError,
            AirflowApiError) as exc:
        print(f"demo-evolve failed: {exc}", file=sys.stderr)
        return 1
    print("\n".join(format_result(result)))
    return 0 if result.reconciles else 1
