"""Command line: ``python -m schemas check|generate``.

Exit status: 0 all good; 1 a rule is broken or cql/ drifted; 2 the check could not run
(malformed file in ``generate``, unknown git ref, shallow clone). Errors are one line, never a
traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from schemas.avro_types import SchemaError
from schemas.catalog import SCHEMAS_DIR, ContractError
from schemas.check import run_check
from schemas.findings import format_github, format_text
from schemas.generate import expected_files, find_drift, write_files
from schemas.history import HistoryError

DEFAULT_REPO = SCHEMAS_DIR.parent


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m schemas", description=__doc__.splitlines()[0])
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
    for sub in (check, generate):
        sub.add_argument("--repo", type=Path, default=DEFAULT_REPO, help="repository root")
        sub.add_argument(
            "--replication-factor", type=int, default=1, help="of CREATE KEYSPACE (default 1)"
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
        drift = find_drift(expected, cql_dir)
        for item in drift:
            print(item)
        if drift:
            return 1
        print(f"cql/ is up to date ({len(expected)} files)")
        return 0
    changed = write_files(expected, cql_dir)
    for name in changed:
        print(f"wrote cql/{name}" if name in expected else f"removed cql/{name}")
    if not changed:
        print(f"cql/ is up to date ({len(expected)} files)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    args.repo = Path(args.repo).resolve()
    try:
        return _check(args) if args.command == "check" else _generate(args)
    except (ContractError, SchemaError, HistoryError) as exc:
        message = str(exc).replace(f"{args.repo}/", "")
        print(f"error: {message}", file=sys.stderr)
        if getattr(args, "format", "text") == "github":
            print(f"::error::{message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
