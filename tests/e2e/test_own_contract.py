"""Bring your own contract, end to end (docs/your-own-contract.md), on the real stack.

Two throwaway contracts in a temporary CONTRACTS_DIR, each with its own subject, topics
and keyspace: ``own`` picks fields from the randomuser catalogue plus one (``initials``)
from a rules module of its own, written next to it and put on PYTHONPATH; ``plain`` picks
catalogue fields only (``nationality``). They are applied with `python -m schematool
apply --contract-dir`, produced by the real DAG from one fetch (`airflow dags test
user_automation` with the `subjects` param, in an Airflow home of its own), streamed by
`python -m streaming run --available-now` with no subject (one query per contract in one
Spark application), and reconciled field by field. Everything they created is removed.
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

from config.clients import cassandra_session
from config.settings import PROJECT_ROOT, Settings
from contract.catalog import DEFAULT_RULES_MODULE, Contract, load_contract
from ops.reconcile import end_offsets, read_span, reconcile
from tests.contract_support import remove_contract
from tests.own_contract import write_contract, write_rules_module
from tests.support import AIRFLOW, airflow_test_env, unique_name

pytestmark = pytest.mark.e2e

COUNT = 30


@dataclass(frozen=True)
class Own:
    own: Contract  # with its own rules module
    plain: Contract  # the catalogue's rules
    env: dict[str, str]  # the settings as environment, CONTRACTS_DIR and PYTHONPATH set
    home: Path

    @property
    def contracts(self) -> list[Contract]:
        return [self.own, self.plain]


def _run(args: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(args, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=timeout, check=False)


@pytest.fixture(scope="module")
def own(stack: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Own]:
    home = tmp_path_factory.mktemp("own_contract")
    name, plain, module = unique_name("e2e_own"), unique_name("e2e_plain"), unique_name("rules")
    write_rules_module(home / "code", module)
    write_contract(home / "schemas", name, name, module)
    write_contract(home / "schemas", plain, plain, DEFAULT_RULES_MODULE,
                   own_field="nationality")
    contracts = Own(
        load_contract(f"{name}-value", home / "schemas"),
        load_contract(f"{plain}-value", home / "schemas"),
        {
            **os.environ,
            **stack.as_env(show_secrets=True),
            "CONTRACTS_DIR": str(home / "schemas"),
            "SPARK_CHECKPOINT_DIR": str(home / "checkpoints"),
            "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT), str(home / "code")]),
        },
        home,
    )
    try:
        yield contracts
    finally:
        for contract in contracts.contracts:
            remove_contract(stack, contract)


@pytest.fixture(scope="module")
def produced(own: Own, stack: Settings) -> str:
    """Applied, then produced by the real DAG for these two subjects: its output."""
    applied = _run([sys.executable, "-m", "schematool", "apply", "--contract-dir",
                    str(own.home / "schemas")], own.env, 300)
    assert applied.returncode == 0, applied.stdout[-3000:] + applied.stderr[-3000:]
    env = {**own.env, **airflow_test_env(own.home / "airflow", PROJECT_ROOT / "dags"),
           "PYTHONPATH": own.env["PYTHONPATH"], "CONTRACTS_DIR": own.env["CONTRACTS_DIR"]}
    conf = {"count": COUNT, "batch_size": 10, "source": "local",
            "subjects": [c.subject for c in own.contracts], "seed": unique_name("own")}
    users = load_contract()
    before = end_offsets(stack, users.topic, users.partitions)
    run = _run([AIRFLOW, "dags", "test", "user_automation", "--conf", json.dumps(conf)],
               env, 900)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-5000:]
    # Only the subjects asked for: the repository's own contract got nothing.
    assert end_offsets(stack, users.topic, users.partitions) == before
    return output


def test_the_dag_produced_both_contracts_from_the_same_users(own: Own, stack: Settings,
                                                              produced: str) -> None:
    keys = []
    for contract in own.contracts:
        end = end_offsets(stack, contract.topic, contract.partitions)
        assert sum(end.values()) == COUNT, contract.subject
        keys.append({m.key for m in read_span(stack, contract.topic, {}, end)})
    # One fetch per page, mapped to each contract: the same users (keys) in both topics.
    assert len(keys[0]) == COUNT and keys[0] == keys[1]


def test_one_stream_stores_both_and_every_field_reconciles(own: Own, stack: Settings,
                                                           produced: str) -> None:
    # No --subject: every contract of CONTRACTS_DIR, one query each, one Spark application.
    streamed = _run([sys.executable, "-m", "streaming", "run", "--available-now"], own.env, 600)
    log = streamed.stdout + streamed.stderr
    assert streamed.returncode == 0, log[-3000:]
    assert log.count('"event": "job_started"') == 2, log[-3000:]
    for contract in own.contracts:
        end = end_offsets(stack, contract.topic, contract.partitions)
        rec = reconcile(stack, contract, {}, end)
        assert (rec.produced, rec.stored, rec.dead_lettered) == (COUNT, COUNT, 0), rec
        assert rec.missing == [] and rec.mismatches == [] and rec.reconciles
    with cassandra_session(stack) as session:
        own_rows = {r.id: r for r in session.execute(
            f"SELECT id, first_name, initials FROM {own.own.qualified_table}")}
        plain_rows = {r.id: r for r in session.execute(
            f"SELECT id, first_name, nationality FROM {own.plain.qualified_table}")}
    # The same users (one fetch), each contract with its own fields.
    assert own_rows.keys() == plain_rows.keys() and len(own_rows) == COUNT
    assert all(r.initials and r.initials[0] == r.first_name[0].upper()
               for r in own_rows.values())
    assert all(r.nationality for r in plain_rows.values())
