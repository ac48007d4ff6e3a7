"""``python -m stack {fetch,up,down,status,logs,airflow-password}``: the native stack's CLI.

``fetch`` and ``up`` first check the machine (``stack.prereqs``: Java, Maven, memory...).

``python -m stack spark MODULE [ARGS...]`` runs a Spark program of this project
(``streaming run``, ``streaming replay-dead-letters``) with the stack's jars and Java.
The demo, the evolution and the pipeline's status, which need ops, are
``python -m userstream`` (the layer above this one).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from config.credentials import CredentialsError
from config.settings import SettingsError, load_settings
from stack import launcher, prereqs, process, secure
from stack.java import JavaNotFound
from stack.maven import ArtifactError
from stack.paths import StackPaths
from stack.services import (
    ALL_SERVICES,
    OPTIONAL_SERVICES,
    Airflow,
    Context,
    by_name,
    services_for,
)
from stack.spark import exec_spark_module
from stack.tls import TlsError

AIRFLOW_PASSWORDS_FILE = "simple_auth_manager_passwords.json.generated"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["spark"]:
        return _spark(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m stack", description=__doc__)
    parser.add_argument(
        "action", choices=("fetch", "up", "down", "status", "logs", "airflow-password")
    )
    parser.add_argument(
        "services",
        nargs="*",
        help="subset of: "
        + ", ".join(s.name for s in (*ALL_SERVICES, *OPTIONAL_SERVICES))
        + " (stream is started only when named; down and status include it)",
    )
    args = parser.parse_args(argv)
    try:
        if args.action in ("fetch", "up"):
            for line in secure.prepare(os.environ):
                print(line)
        settings = load_settings()
        ctx = Context(settings, StackPaths.from_settings(settings))
        named = [by_name(n, settings) for n in args.services]
        services = named or list(services_for(settings))
        everything = named or [*services_for(settings), *OPTIONAL_SERVICES]
        if args.action in ("fetch", "up"):
            prereqs.require()
        if args.action == "fetch":
            launcher.fetch(ctx)
        elif args.action == "up":
            launcher.up(ctx, services)
        elif args.action == "down":
            launcher.down(ctx, everything)
        elif args.action == "status":
            # An optional service (the stream) never started is not running, not a failure;
            # one started by `up` and not stopped by `down` that is not running is one.
            idle = [s for s in everything if s in OPTIONAL_SERVICES and s not in named
                    and not s.external(ctx) and not ctx.paths.wanted(s.name).exists()
                    and process.running(ctx.paths.pidfile(s.name)) is None]
            healthy = launcher.print_status(ctx, [s for s in everything if s not in idle])
            for service in idle:
                print(f"{service.name} not running (optional: `make {service.name}-up` starts it)")
            # The pipeline's view follows in `python -m userstream status` (make status).
            if not named and settings.stack_topology == "cluster":
                from stack.cluster_status import cluster_status

                print("\n".join(cluster_status(settings)))
            return 0 if healthy else 1
        elif args.action == "airflow-password":
            print(airflow_password(ctx))
        elif args.action == "logs":
            for service in everything:
                print(f"== {service.name} ({ctx.paths.log(service.name)})")
                print(launcher.log_tail(ctx, service))
    except (SettingsError, launcher.StackError, ArtifactError, JavaNotFound, KeyError,
            prereqs.PrerequisitesMissing, AirflowPasswordMissing, TlsError,
            CredentialsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


class AirflowPasswordMissing(RuntimeError):
    """Airflow has not generated its admin password yet (it does on its first start)."""


def airflow_password(ctx: Context) -> str:
    """The admin password that ``airflow standalone`` generated (no jq needed)."""
    airflow = by_name("airflow")
    home = airflow.home(ctx) if isinstance(airflow, Airflow) else ctx.paths.home / "airflow"
    path = home / AIRFLOW_PASSWORDS_FILE
    try:
        return str(json.loads(path.read_text())["admin"])
    except (OSError, ValueError, KeyError) as exc:
        raise AirflowPasswordMissing(
            f"no admin password in {path} ({exc.__class__.__name__}): Airflow writes it on "
            "its first start (`make up`)"
        ) from exc


def _spark(args: list[str]) -> int:
    if not args:
        print("usage: python -m stack spark MODULE [ARGS...]", file=sys.stderr)
        return 2
    try:
        settings = load_settings()
        exec_spark_module(StackPaths.from_settings(settings), args)  # returns only on error
    except (SettingsError, ArtifactError, JavaNotFound, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
