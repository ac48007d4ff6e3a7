"""``python -m streaming``: run the streaming job, or replay its dead letters.

    python -m streaming run [--once | --available-now] [--accept-data-loss] [--subject S ...]
    python -m streaming replay-dead-letters [--stage frame|decode|sink] [--since WHEN]
                                            [--error-class CLASS]
    python -m streaming check-tables [--subject S ...]

Every command takes every contract of CONTRACTS_DIR (``--contract-dir``), or those named
by ``--subject`` (repeatable). ``run`` runs one streaming query per contract in one Spark
application (one JVM), each with its own checkpoint and dead letters; if one fails, the
others are stopped and the job exits with that failure's status.

``--since`` takes an ISO 8601 date or time (UTC unless it says otherwise) or an age such
as ``30m``, ``12h``, ``7d``. Exit status: 0 done, 1 the query failed (a service is out:
restart it, the checkpoint resumes), 2 refused to start, 3 a batch got stuck (restart),
4 data lost (Kafka deleted records the job had not read; ``run --accept-data-loss`` goes on
past them, see docs/troubleshooting.md), 5 the checkpoint is damaged (see
docs/troubleshooting.md). The supervisor (stack/supervise.py) restarts 1 and 3 and stops
on 2, 4 and 5: only a person can act on those.
"""

from __future__ import annotations

import argparse
import re
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from config.contracts import deployed_contracts
from config.settings import Settings, SettingsError, load_settings
from contract.catalog import (
    Contract,
    ContractError,
    select_contracts,
)
from contract.cql import DeadLetterStage
from streaming.checkpoint import (
    CheckpointDamaged,
    DataLost,
    OffsetsUnavailable,
    check_not_lost,
)
from streaming.logs import configure_logging, log_event
from streaming.registry import ReaderSchemaMissing, RegistryUnavailable
from streaming.schema_check import TableMismatch, check_tables
from streaming.table_target import TableBehindReaderSchema, TableTarget

EXIT_FAILED = 1
EXIT_REFUSED = 2
EXIT_DATA_LOST = 4  # 3 is streaming.job.EXIT_STUCK
EXIT_CHECKPOINT_DAMAGED = 5
_AGE = re.compile(r"^(\d+)([smhd])$")
_AGE_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """``2024-06-01``, ``2024-06-01T12:00:00+02:00`` or an age (``12h``) -> aware UTC time."""
    age = _AGE.match(text.strip())
    if age:
        now = now or datetime.now(UTC)
        return now - timedelta(**{_AGE_UNITS[age.group(2)]: int(age.group(1))})
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--since {text!r}: expected an ISO 8601 date/time or an age like 30m, 12h, 7d"
        ) from None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m streaming",
        description="Run the streaming job (Kafka -> Cassandra), or replay its dead letters.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the streaming query (Kafka -> Cassandra)")
    when = run.add_mutually_exclusive_group()
    when.add_argument(
        "--once", action="store_true", help="one batch of what is available, then stop"
    )
    when.add_argument(
        "--available-now",
        action="store_true",
        help="everything available now, in maxOffsetsPerTrigger batches, then stop",
    )
    run.add_argument(
        "--accept-data-loss",
        action="store_true",
        help="go on past records that Kafka deleted before the job read them (logged as "
             "data_loss_accepted); only after docs/troubleshooting.md's runbook",
    )

    replay = commands.add_parser("replay-dead-letters", help="re-run dead letters through the job")
    replay.add_argument(
        "--stage", choices=DeadLetterStage.ALL, help="only dead letters of this stage"
    )
    replay.add_argument(
        "--since", type=parse_since, help="only dead letters since (ISO time or age)"
    )
    replay.add_argument(
        "--error-class", default=None,
        help="only dead letters of this error class (e.g. unknown_schema_id, invalid_uuid)",
    )

    commands.add_parser("check-tables", help="compare the Cassandra tables with the contract")

    for sub in (run, replay, commands.choices["check-tables"]):
        sub.add_argument("--subject", action="append", default=None,
                         help="contract subject (repeatable; default: every contract)")
        sub.add_argument("--contract-dir", type=Path, default=None,
                         help="where the contracts' .avsc and .toml are (default: "
                              "CONTRACTS_DIR, i.e. schemas/)")
    return parser


# Refusals a command can meet before Spark starts; the Spark ones are in _spark_command.
REFUSALS: tuple[type[Exception], ...] = (
    SettingsError, ContractError, TableMismatch, ReaderSchemaMissing, TableBehindReaderSchema,
)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging()
    try:
        settings = load_settings()
        directory = args.contract_dir or Path(settings.contracts_dir)
        contracts = select_contracts(deployed_contracts(settings, directory), args.subject)
        if args.command == "check-tables":
            for contract in contracts:
                check_tables(settings, TableTarget.from_contract(contract))
                log_event("tables_ok", table=contract.qualified_table)
            return 0
        return _spark_command(settings, contracts, args)
    except REFUSALS as exc:
        return _refused(args.command, exc)
    except (RegistryUnavailable, OffsetsUnavailable) as exc:
        log_event("failed", command=args.command, error=str(exc), error_class=type(exc).__name__)
        return EXIT_FAILED
    except DataLost as exc:
        return _data_lost(exc)
    except CheckpointDamaged as exc:
        log_event("checkpoint_damaged", file=str(exc.path), problem=exc.problem, error=str(exc))
        return EXIT_CHECKPOINT_DAMAGED


def _data_lost(exc: DataLost) -> int:
    log_event(
        "data_lost", error=str(exc),
        ranges=[{"topic": r.topic, "partition": r.partition, "first": r.first, "last": r.last}
                for r in exc.ranges],
    )
    return EXIT_DATA_LOST


def _refused(command: str, exc: Exception) -> int:
    log_event("refused", command=command, error=str(exc), error_class=type(exc).__name__)
    return EXIT_REFUSED


def _spark_command(
    settings: Settings, contracts: list[Contract], args: argparse.Namespace
) -> int:
    """``run`` or ``replay-dead-letters``: the commands that start Spark."""
    # Imported only here: they load pyspark (0.8 s measured), which --help and
    # check-tables never need.
    from pyspark.errors import StreamingQueryException

    from streaming.decode import ReservedFieldError
    from streaming.job import QueryFailed, Trigger, run_all
    from streaming.replay import run_replay
    from streaming.session import SparkSetupError

    try:
        if args.command == "replay-dead-letters":
            for contract in contracts:
                run_replay(settings, contract, stage=args.stage, since=args.since,
                           error_class=args.error_class)
            return 0
        trigger = (
            Trigger.ONCE if args.once
            else Trigger.AVAILABLE_NOW if args.available_now
            else Trigger.PROCESSING_TIME
        )
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        run_all(settings, contracts, trigger, stop, accept_data_loss=args.accept_data_loss)
    except (ReservedFieldError, SparkSetupError) as exc:
        return _refused(args.command, exc)
    except QueryFailed as failed:
        return _query_failed(settings, failed.cause, failed.contract, args)
    except StreamingQueryException as exc:  # replay's
        return _query_failed(settings, exc, None, args)
    return 0


def _query_failed(
    settings: Settings, exc: BaseException, contract: Contract | None, args: argparse.Namespace
) -> int:
    # The failed batch's offsets were not committed: the next start retries it.
    log_event("query_failed", error=str(exc).splitlines()[0] if str(exc) else repr(exc),
              subject=contract.subject if contract else None)
    if contract is not None and not args.accept_data_loss:
        # Spark's failOnDataLoss: retention deleted what the running query had not read
        # yet. Said once, with the offsets, instead of failing again at every restart.
        try:
            check_not_lost(settings, contract)
        except DataLost as lost:
            return _data_lost(lost)
        except (CheckpointDamaged, OffsetsUnavailable):
            pass  # the next start names the file, or retries once Kafka is back
    return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
