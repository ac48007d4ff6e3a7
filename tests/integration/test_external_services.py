"""The running stack used as someone else's services (STACK_EXTERNAL=all), and the settings
`make up` pushes into the running Airflow.

The external half runs the project's commands in subprocesses whose STACK_HOME is a
temporary directory: no pid file of the real stack is visible to them, so whatever they
do with the services they do by the settings alone. The pipeline runs on a sandbox
contract (the real one under unique subject, topics and keyspace), removed at the end.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from config.airflow_api import AirflowApi
from config.airflow_settings import VARIABLE_KEY, variable_value
from config.clients import cassandra_session, kafka_admin, schema_registry_client
from config.settings import PROJECT_ROOT, Settings
from contract.catalog import load_contracts
from ops.reconcile import end_offsets, reconcile
from stack.__main__ import airflow_password
from stack.paths import StackPaths
from stack.services import ALL_SERVICES, Context
from tests.support import unique_name

pytestmark = pytest.mark.integration

SERVICES = [s.name for s in ALL_SERVICES]  # what `make up` starts, or here only probes

SETTINGS_OF_THE_TEST = ("STACK_EXTERNAL", "STACK_HOME", "CONTRACTS_DIR", "AIRFLOW_USERNAME",
                        "AIRFLOW_PASSWORD", "SPARK_CHECKPOINT_DIR")


def run(env: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], env=env, cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture
def external_env(stack: Settings, tmp_path: Path) -> dict[str, str]:
    """This shell's environment, with every service external and a stack home of its own."""
    home = tmp_path / "stack-home"
    home.mkdir()
    base = {k: v for k, v in os.environ.items() if k not in SETTINGS_OF_THE_TEST}
    return {
        **base,
        "PYTHONPATH": str(PROJECT_ROOT),
        "STACK_EXTERNAL": "all",
        "STACK_HOME": str(home),
        # Another checkout's Airflow: its generated password is not in this STACK_HOME.
        "AIRFLOW_USERNAME": "admin",
        "AIRFLOW_PASSWORD": airflow_password(Context(stack, StackPaths.from_settings(stack))),
    }


@pytest.fixture
def sandbox_contracts(stack: Settings, tmp_path: Path) -> Iterator[Path]:
    """The real contract under unique names, in a contracts directory of its own."""
    [real] = [c for c in load_contracts() if c.subject == "users_created-value"]
    topic = unique_name("it_external")
    directory = tmp_path / "contracts"
    directory.mkdir(parents=True)
    sidecar = (PROJECT_ROOT / "schemas" / f"{real.subject}.toml").read_text()
    for old, new in ((real.rejects_topic, f"{topic}.rejected"), (real.subject, f"{topic}-value"),
                     (f'"{real.topic}"', f'"{topic}"'), (real.keyspace, topic)):
        sidecar = sidecar.replace(old, new)
    (directory / f"{topic}-value.toml").write_text(sidecar)
    (directory / f"{topic}-value.avsc").write_text(
        (PROJECT_ROOT / "schemas" / f"{real.subject}.avsc").read_text())
    try:
        yield directory
    finally:
        client = schema_registry_client(stack)
        if f"{topic}-value" in client.get_subjects():
            client.delete_subject(f"{topic}-value")
            client.delete_subject(f"{topic}-value", permanent=True)
        admin = kafka_admin(stack)  # alive until its futures resolve
        existing = [t for t in (topic, f"{topic}.rejected")
                    if t in admin.list_topics(timeout=10).topics]
        if existing:
            for future in admin.delete_topics(existing).values():
                future.result(timeout=30)
        with cassandra_session(stack) as session:
            session.execute(f"DROP KEYSPACE IF EXISTS {topic}")


def test_the_running_stack_as_external_services_runs_the_pipeline(
    stack: Settings, external_env: dict[str, str], sandbox_contracts: Path, tmp_path: Path
) -> None:
    up = run(external_env, "stack", "up")
    assert up.returncode == 0, up.stdout + up.stderr
    for name in SERVICES:
        assert re.search(rf"{name} +external, healthy at ", up.stdout), up.stdout
    assert "started" not in up.stdout.replace("not started here", "")
    assert not list((Path(external_env["STACK_HOME"]) / "pids").glob("*.pid"))

    status = run(external_env, "stack", "status")
    assert status.returncode == 0, status.stdout + status.stderr
    table = status.stdout.split("\ntotal")[0].splitlines()[1:]  # the services' rows
    rows = {line.split()[0]: line.split() for line in table}
    # The stream too: STACK_EXTERNAL=all names it; it has no address to probe.
    assert set(rows) == {*SERVICES, "stream"}, status.stdout
    assert all(rows[name][2:] == ["external", "-", "healthy"] for name in SERVICES), status.stdout
    assert rows["stream"][-4:] == ["external", "-", "not", "probed"], status.stdout
    assert "%3|" not in status.stdout + status.stderr  # no librdkafka log line

    # Not in `stack up`'s environment above: up pushes the settings into the shared Airflow.
    pipeline_env = {**external_env, "CONTRACTS_DIR": str(sandbox_contracts),
                    "RANDOMUSER_SOURCE": "local",
                    "SPARK_CHECKPOINT_DIR": str(tmp_path / "checkpoints")}
    [contract] = load_contracts(sandbox_contracts)
    apply = run(pipeline_env, "schematool", "apply")
    assert apply.returncode == 0, apply.stdout + apply.stderr
    assert contract.subject in apply.stdout, apply.stdout
    start = end_offsets(stack, contract.topic, contract.partitions)
    produce = run(pipeline_env, "producers", "produce", "--count", "40", "--batch-size", "20")
    assert produce.returncode == 0, produce.stdout + produce.stderr
    end = end_offsets(stack, contract.topic, contract.partitions)
    assert sum(end.values()) - sum(start.values()) > 0

    stream = run(pipeline_env, "stack", "spark", "streaming", "run", "--available-now",
                 timeout=900)
    assert stream.returncode == 0, (stream.stdout + stream.stderr)[-5000:]
    rec = reconcile(stack, contract, start, end)
    assert rec.reconciles, rec
    assert rec.produced == rec.stored + rec.dead_lettered > 0


def test_settings_reach_the_running_airflow_through_its_variable(stack: Settings) -> None:
    key = unique_name("it_userstream_settings")
    value = variable_value(stack)
    conn_id = unique_name("it_userstream_conn")
    with AirflowApi(stack) as api:
        try:
            assert api.get_variable(key) is None
            api.set_variable(key, value, "integration test")
            assert json.loads(api.get_variable(key) or "") == json.loads(value)
            api.set_variable(key, "{}")  # a second write replaces the first
            assert api.get_variable(key) == "{}"
            api.set_connection(conn_id, conn_type="generic", login="svc", password="pw")
            api.set_connection(conn_id, conn_type="generic", login="svc2", password="pw2")
        finally:
            assert api.delete_variable(key) is True
            assert api.delete_connection(conn_id) is True
        assert api.delete_connection(conn_id) is False
        # make up pushed this stack's settings: the Variable the DAG reads is there.
        assert api.get_variable(VARIABLE_KEY) is not None
