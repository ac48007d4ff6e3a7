"""The DAG itself, run with `airflow dags test` against the real Kafka and registry.

The API is a local randomuser-compatible server started by the test, so broken
records can be injected; Airflow gets its own metadata database in a temp dir.
"""

from __future__ import annotations

import json
import subprocess

import pytest
from confluent_kafka.schema_registry import Schema

from config.clients import schema_registry_client
from config.registry import public_url
from config.settings import PROJECT_ROOT, Settings
from contract.catalog import load_contract, load_contracts
from ops.reconcile import decode, end_offsets, read_span
from schematool.migrate.apply import run_apply
from stack import launcher
from stack.randomuser.failures import FailurePlan
from stack.randomuser.server import serve_in_thread
from stack.services import Context, by_name
from tests.support import AIRFLOW, airflow_test_env, unique_name

pytestmark = pytest.mark.integration

@pytest.fixture(scope="module")
def airflow_env(stack: Settings, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    # The DAG produces to the real contract's topic: `make schemas` first (idempotent).
    assert run_apply(load_contracts(), stack, out=lambda line: None) == 0
    return airflow_test_env(tmp_path_factory.mktemp("airflow"), PROJECT_ROOT / "dags")


def dags_test(env: dict[str, str], conf: dict, api_url: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [AIRFLOW, "dags", "test", "user_automation", "--conf", json.dumps(conf)],
        env={**env, "RANDOMUSER_LOCAL_URL": api_url}, capture_output=True, text=True,
        timeout=900, check=False,
    )


def test_dags_test_produces_n_users_and_rejects_the_broken_ones(
    stack: Settings, airflow_env: dict[str, str]
) -> None:
    contract = load_contract()
    start = end_offsets(stack, contract.topic, contract.partitions)
    rejects_start = end_offsets(stack, contract.rejects_topic, contract.partitions)
    with serve_in_thread(plan=FailurePlan(broken=2)) as api_url:
        run = dags_test(airflow_env, {"count": 30, "batch_size": 10, "source": "local",
                                      "seed": unique_name("it_dag")}, api_url)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-5000:]

    # 3 pages of 10, 2 broken records at the start of each: 24 produced, 6 rejected.
    end = end_offsets(stack, contract.topic, contract.partitions)
    messages = read_span(stack, contract.topic, start, end)
    assert len(messages) == 24
    values = decode(stack, contract.topic, messages)
    # The id the registry gave this checkout's schema (not necessarily the latest).
    registered = schema_registry_client(stack).lookup_schema(
        contract.subject, Schema(contract.schema_str, "AVRO")
    )
    ids = set()
    for m in messages:
        record = values[(m.partition, m.offset)]
        assert record is not None
        assert int.from_bytes(m.value[1:5], "big") == registered.schema_id  # type: ignore[index]
        assert m.key == str(record["id"]).encode()  # key = the user id
        ids.add(record["id"])
    assert len(ids) == 24

    rejects_end = end_offsets(stack, contract.rejects_topic, contract.partitions)
    rejects = read_span(stack, contract.rejects_topic, rejects_start, rejects_end)
    assert len(rejects) == 6
    for reject in rejects:
        body = json.loads(reject.value or b"{}")
        assert body["reason"]
        assert body["raw"]  # the API record as received, to replay after a fix


def test_with_the_registry_stopped_the_dag_fails_in_preflight_and_produces_nothing(
    stack: Settings, stack_context: Context, airflow_env: dict[str, str]
) -> None:
    contract = load_contract()
    start = end_offsets(stack, contract.topic, contract.partitions)
    registry = by_name("registry")
    launcher.down(stack_context, [registry])
    try:
        with serve_in_thread() as api_url:
            run = dags_test(airflow_env, {"count": 10, "batch_size": 10, "source": "local"},
                            api_url)
    finally:
        launcher.up(stack_context, [registry])
    output = run.stdout + run.stderr
    assert run.returncode == 1, output[-5000:]  # `airflow dags test`: "DagRun failed"
    assert "DagRun failed" in output, output[-5000:]
    # The preflight's own error, naming the registry it could not reach:
    expected = (f"RegistryUnavailable: schema registry at {public_url(stack.schema_registry_url)}"
                " is unreachable: ")
    assert expected in output, output[-5000:]
    assert "produce_pages" not in _succeeded_tasks(output)
    assert end_offsets(stack, contract.topic, contract.partitions) == start


def _succeeded_tasks(output: str) -> str:
    return " ".join(line for line in output.splitlines() if "state=success" in line.lower()
                    or "Marking task as SUCCESS" in line)

