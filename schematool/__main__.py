"""Command line: ``python -m schematool check|generate|apply|diff``.

Exit status: 0 all good; 1 a rule is broken, cql/ drifted, ``apply`` refused a change, or
``diff`` found drift; 2 the command could not run (malformed file, unknown git ref, shallow
clone, a service unreachable or failing). Errors are one line, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from config.settings import SettingsError, load_settings
from contract.avro_types import SchemaError
from contract.catalog import SCHEMAS_DIR, Contract, ContractError, load_contract, load_contracts
from schematool.cassandra_grants import GrantError
from schematool.gate.check import run_check
from schematool.gate.findings import format_github, format_text
from schematool.gate.generate import (
    evolution_doc_drift,
    expected_files,
    find_drift,
    write_evolution_doc,
    write_files,
)
from schematool.gate.history import HistoryError
from schematool.kafka_acls import AclError
from schematool.migrate.apply import ApplyError, run_apply
from schematool.migrate.drift import run_diff
from schematool.migrate.observe import ServiceRefused, ServiceUnavailable

try:
    import authlib.deprecate as authlib_deprecate  # before _quiet_authlib's filter (1 ms)
except ImportError:  # authlib comes with the registry client
    authlib_deprecate = None

DEFAULT_REPO = SCHEMAS_DIR.parent


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m schematool", description=__doc__.splitlines()[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)

    check = commands.add_parser("check", help="lint, compatibility, Cassandra-safety, cql/ drift")
    check.add_argument("--base", help="compare with versions reachable from this ref only")
    check.add_argument(
        "--format",
        choices=("text", "github"),
        default="github" if os.environ.get("GITHUB_ACTIONS") == "true" else "text",
        help="github adds ::error annotations (default when GITHUB_ACTIONS=true)",
    )

    generate = commands.add_parser("generate", help="(re)write cql/ from the schemas")
    generate.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 when a committed file differs"
    )
    apply = commands.add_parser(
        "apply", help="create topics, migrate Cassandra, register the schemas (plan first)"
    )
    apply.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    diff = commands.add_parser("diff", help="drift between git, the registry, Kafka, Cassandra")
    for sub in (apply, diff):
        sub.add_argument("--subject", help="only this subject (default: every contract)")
        sub.add_argument("--contract-dir", type=Path, default=None,
                         help="where the contracts are (default: <repo>/schemas with --repo, "
                              "else CONTRACTS_DIR)")
    for sub in (check, generate, apply, diff):
        sub.add_argument("--repo", type=Path, default=DEFAULT_REPO, help="repository root")
    for sub in (check, generate):
        sub.add_argument(
            "--replication-factor", type=int, default=1, help="of CREATE KEYSPACE (default 1)"
        )
    apply.add_argument(
        "--replication-factor", type=int, default=None,
        help="of CREATE KEYSPACE (default: the sidecar's for STACK_TOPOLOGY)",
    )
    return parser


def _check(args: argparse.Namespace) -> int:
    report = run_check(args.repo, args.base, args.replication_factor)
    for finding in report.findings:
        print(format_text(finding))
        if args.format == "github":
            print(format_github(finding))
    for note in report.notes:
        print(f"  {note}")
    if report.ok:
        print("schemas check: ok")
        return 0
    files = len({f.file for f in report.findings})
    print(f"schemas check: {len(report.findings)} problem(s) in {files} file(s)")
    return 1


def _generate(args: argparse.Namespace) -> int:
    expected = expected_files(args.repo, args.replication_factor)
    cql_dir = Path(args.repo) / "cql"
    if args.check:
        drift = find_drift(expected, cql_dir) + evolution_doc_drift(Path(args.repo))
        for item in drift:
            print(item)
        if drift:
            return 1
        print(f"cql/ is up to date ({len(expected)} files)")
        return 0
    changed = write_files(expected, cql_dir)
    for name in changed:
        print(f"wrote cql/{name}" if name in expected else f"removed cql/{name}")
    for doc in write_evolution_doc(Path(args.repo)):
        print(f"wrote the evolution table of {doc}")
    if not changed:
        print(f"cql/ is up to date ({len(expected)} files)")
    return 0


def _contracts(args: argparse.Namespace) -> list[Contract]:
    if args.contract_dir is not None:
        schemas_dir = Path(args.contract_dir)
    elif Path(args.repo).resolve() != DEFAULT_REPO.resolve():
        schemas_dir = Path(args.repo) / "schemas"
    else:
        schemas_dir = Path(load_settings().contracts_dir)
    if args.subject:
        return [load_contract(args.subject, schemas_dir)]
    contracts = load_contracts(schemas_dir)
    if not contracts:
        raise ContractError(f"{schemas_dir}: no *.avsc contract")
    return contracts


def _apply(args: argparse.Namespace) -> int:
    contracts = _contracts(args)
    return run_apply(
        contracts, load_settings(), dry_run=args.dry_run,
        replication_factor=args.replication_factor,
    )


def _diff(args: argparse.Namespace) -> int:
    return run_diff(_contracts(args), load_settings())


def _quiet_authlib() -> None:
    """authlib, imported by the registry client, warns on import about its own httpx module
    (and forces its warnings to "always" when imported): noise in a one-line-per-subject
    report. It is imported first (at the top of this module), then that one message filtered."""
    if authlib_deprecate is not None:
        warnings.filterwarnings("ignore", message="The httpx module is deprecated")


COMMANDS = {"check": _check, "generate": _generate, "apply": _apply, "diff": _diff}
FAILURES = (
    ContractError, SchemaError, HistoryError, SettingsError,
    ServiceUnavailable, ServiceRefused, ApplyError, AclError, GrantError,
)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    args.repo = Path(args.repo).resolve()
    if args.command in ("apply", "diff"):
        _quiet_authlib()
    try:
        return COMMANDS[args.command](args)
    except FAILURES as exc:
        message = str(exc).replace(f"{args.repo}/", "")
        print(f"error: {message}", file=sys.stderr)
        if getattr(args, "format", "text") == "github":
            print(f"::error::{message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
