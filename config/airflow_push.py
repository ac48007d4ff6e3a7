"""Push this checkout's settings into the running Airflow, and say when they differ.

``make up`` (once Airflow answers), ``make demo`` (through ``make up``'s steps) and
``make schemas`` call :func:`push`; ``make status`` prints :func:`drift`. What is pushed,
and how a task reads it back, is config.airflow_settings.

``python -m config.airflow_push push``: the same push, for ``make schemas``; an Airflow
that does not answer is a note, not a failure (``make up`` pushes again).
"""

from __future__ import annotations

import sys

import requests

from config.airflow_api import AirflowApi, AirflowApiError
from config.airflow_settings import (
    PUSHED_SETTINGS,
    VARIABLE_KEY,
    connections,
    differences,
    variable_value,
)
from config.credentials import CredentialsError
from config.profile import as_role
from config.settings import Settings, SettingsError, load_settings


def push(settings: Settings) -> str:
    """Write the Variable and the Connections; returns a line saying what was written.

    In the secure profile the Connections carry the producer's users, not this shell's.
    """
    producer = as_role(settings, "producer")
    with AirflowApi(settings) as api:
        api.set_variable(VARIABLE_KEY, variable_value(settings),
                         "userstream: the pipeline settings the DAG's tasks use "
                         "(written by make up / make demo / make schemas)")
        secrets = []
        for conn in connections(producer):
            if conn.credentials is None:
                api.delete_connection(conn.conn_id)
                continue
            api.set_connection(conn.conn_id, conn_type=conn.conn_type, host=conn.host,
                               login=conn.credentials.login,
                               password=conn.credentials.password.reveal(),
                               description=conn.description)
            secrets.append(conn.conn_id)
    return (f"settings pushed to Airflow: Variable {VARIABLE_KEY}"
            + (f", Connections {', '.join(secrets)}" if secrets else ""))


def drift(settings: Settings) -> list[str]:
    """Lines for `make status`: the pushed settings Airflow's tasks use, against this shell's."""
    with AirflowApi(settings) as api:
        variable = api.get_variable(VARIABLE_KEY)
    if variable is None:
        return [f"no Variable {VARIABLE_KEY}: the DAG's tasks use the environment Airflow "
                "was started with; `make up` pushes this shell's settings"]
    try:
        differing = differences(variable, settings)
    except SettingsError as exc:
        return [f"{exc}: `make up` writes it again"]
    if not differing:
        return [f"the DAG's tasks use this shell's settings ({len(PUSHED_SETTINGS)} pushed in "
                f"Variable {VARIABLE_KEY})"]
    lines = [f"Airflow runs with {name}={theirs or '(empty)'}, this shell has "
             f"{ours or '(empty)'}" for name, theirs, ours in differing]
    return [*lines, "run `make up` or `make demo` to push this shell's settings"]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv != ["push"]:
        print("usage: python -m config.airflow_push push", file=sys.stderr)
        return 2
    try:
        print(push(load_settings()))
    except (SettingsError, CredentialsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (AirflowApiError, requests.RequestException) as exc:
        print(f"note: settings not pushed to Airflow ({exc}); `make up` pushes them")
    return 0


if __name__ == "__main__":
    sys.exit(main())
