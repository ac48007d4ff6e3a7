"""Bring your own contract, end to end (docs/your-own-contract.md), on the real stack.

A throwaway contract in a temporary CONTRACTS_DIR (its own subject, topics and keyspace),
with fields picked from the randomuser catalogue plus one (``initials``) from a rules
module of its own, written next to it and put on PYTHONPATH. It is applied with
`python -m schematool apply --contract-dir`, produced by the real DAG (`airflow dags test
user_automation` with the `subjects` param, in an Airflow home of its own), streamed with
`python -m streaming run --subject ... --available-now`, and reconciled field by field.
Everything it created is removed afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from config.clients import cassandra_session, kafka_admin, schema_registry_client
from config.settings import PROJECT_ROOT, Settings
from contract.catalog import Contract, load_contract
from ops.reconcile import end_offsets, reconcile
from tests.own_contract import write_contract, write_rules_module
from tests.support import AIRFLOW, airflow_test_env, unique_name

pytestmark = pytest.mark.e2e

COUNT = 30


@dataclass(frozen=True)
class Own:
    contract: Contract
    env: dict[str, str]  # the settings as environment, CONTRACTS_DIR and PYTHONPATH set
    home: Path


def _run(args: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(args, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=timeout, check=False)


@pytest.fixture(scope="module")
def own(stack: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Own]:
    home = tmp_path_factory.mktemp("own_contract")
    name, module = unique_name("e2e_own"), unique_name("own_rules")
    write_rules_module(home / "code", module)
    write_contract(home / "schemas", name, name, module)
    contract = load_contract(f"{name}-value", home / "schemas")
    env = {
        **os.environ,
        **stack.as_env(show_secrets=True),
        "CONTRACTS_DIR": str(home / "schemas"),
        "SPARK_CHECKPOINT_DIR": str(home / "checkpoints"),
        "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT), str(home / "code")]),
    }
    try:
        yield Own(contract, env, home)
    finally:
        _remove(stack, contract)


def _remove(settings: Settings, contract: Contract) -> None:
    with cassandra_session(settings) as session:
        session.execute(f"DROP KEYSPACE IF EXISTS {contract.keyspace}")
    registry = schema_registry_client(settings)
    if contract.subject in registry.get_subjects():
        registry.delete_subject(contract.subject)
        registry.delete_subject(contract.subject, permanent=True)
    admin = kafka_admin(settings)
    existing = [t for t in (contract.topic, contract.rejects_topic)
                if t in admin.list_topics(timeout=10).topics]
    for future in admin.delete_topics(existing).values() if existing else []:
        future.result(timeout=30)


@pytest.fixture(scope="module")
def produced(own: Own, stack: Settings) -> dict:
    """Applied, then produced by the real DAG for this subject only: its summary."""
    applied = _run([sys.executable, "-m", "schematool", "apply", "--contract-dir",
                    str(own.home / "schemas")], own.env, 300)
    assert applied.returncode == 0, applied.stdout[-3000:] + applied.stderr[-3000:]
    env = {**own.env, **airflow_test_env(own.home / "airflow", PROJECT_ROOT / "dags"),
           "PYTHONPATH": own.env["PYTHONPATH"], "CONTRACTS_DIR": own.env["CONTRACTS_DIR"]}
    conf = {"count": COUNT, "batch_size": 10, "source": "local",
            "subjects": [own.contract.subject], "seed": unique_name("own")}
    before = end_offsets(stack, load_contract().topic, load_contract().partitions)
    run = _run([AIRFLOW, "dags", "test", "user_automation", "--conf", json.dumps(conf)],
               env, 900)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-5000:]
    # Only the subject asked for: the repository's own contract got nothing.
    assert end_offsets(stack, load_contract().topic, load_contract().partitions) == before
    return {"output": output}


def test_the_dag_produced_the_own_contract_only(own: Own, stack: Settings,
                                                produced: dict) -> None:
    end = end_offsets(stack, own.contract.topic, own.contract.partitions)
    assert sum(end.values()) == COUNT
    assert f"'subjects': {{'{own.contract.subject}'" in produced["output"].replace('"', "'")


def test_the_stream_stores_it_and_every_field_reconciles(own: Own, stack: Settings,
                                                         produced: dict) -> None:
    streamed = _run([sys.executable, "-m", "streaming", "run", "--subject", own.contract.subject,
                     "--available-now"], own.env, 600)
    assert streamed.returncode == 0, streamed.stdout[-3000:] + streamed.stderr[-3000:]
    end = end_offsets(stack, own.contract.topic, own.contract.partitions)
    rec = reconcile(stack, own.contract, {}, end)
    assert (rec.produced, rec.stored, rec.dead_lettered) == (COUNT, COUNT, 0)
    assert rec.missing == [] and rec.mismatches == [] and rec.reconciles
    with cassandra_session(stack) as session:
        rows = list(session.execute(
            f"SELECT first_name, initials FROM {own.contract.qualified_table}"))
    assert len(rows) == COUNT
    # The field from the contract's own rules module, stored as its module computed it.
    assert all(r.initials and r.initials[0] == r.first_name[0].upper() for r in rows)
