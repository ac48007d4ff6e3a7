"""The DAGs parse with Airflow's DagBag, with no services and no metadata database.

DagBag runs in a child process so that its AIRFLOW_HOME (a temporary directory)
and settings cannot leak into, or be spoiled by, the rest of the test session.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

PROJECT = Path(__file__).resolve().parents[2]
DAGS = PROJECT / "dags"

DESCRIBE = r"""
import json, sys
from airflow.models.dagbag import DagBag

bag = DagBag(dag_folder=sys.argv[1], include_examples=False)
dags = {}
for dag_id, dag in bag.dags.items():
    dags[dag_id] = {
        "max_active_runs": dag.max_active_runs,
        "catchup": dag.catchup,
        "doc_md": dag.doc_md or "",
        "params": sorted(dag.params.keys()),
        "tasks": {
            t.task_id: {
                "upstream": sorted(t.upstream_task_ids),
                "retries": t.retries,
                "exponential_backoff": bool(t.retry_exponential_backoff),
                "mapped": type(t).__name__.endswith("MappedOperator"),
                "max_active_tis_per_dagrun": getattr(t, "max_active_tis_per_dagrun", None),
            }
            for t in dag.tasks
        },
    }
print("DESCRIPTION " + json.dumps({"import_errors": bag.import_errors, "dags": dags}))
"""


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    home = tmp_path_factory.mktemp("airflow_home")
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'unused.db'}",
        "PYTHONPATH": str(PROJECT),
    }
    done = subprocess.run(
        [sys.executable, "-c", DESCRIBE, str(DAGS)],
        env=env, cwd=home, capture_output=True, text=True, timeout=180, check=False,
    )
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("DESCRIPTION ")]
    assert done.returncode == 0 and lines, done.stderr[-3000:]
    description: dict[str, Any] = json.loads(lines[-1].removeprefix("DESCRIPTION "))
    return description


def test_no_import_errors(dagbag: dict[str, Any]) -> None:
    assert dagbag["import_errors"] == {}


def test_user_automation_is_there(dagbag: dict[str, Any]) -> None:
    assert "user_automation" in dagbag["dags"]


def test_run_policy(dagbag: dict[str, Any]) -> None:
    dag = dagbag["dags"]["user_automation"]
    assert dag["max_active_runs"] == 1
    assert dag["catchup"] is False
    assert "preflight" in dag["doc_md"] and "summary" in dag["doc_md"]
    assert dag["params"] == ["batch_size", "count", "nat", "seed", "source", "subjects"]


def test_tasks_and_dependencies(dagbag: dict[str, Any]) -> None:
    tasks = dagbag["dags"]["user_automation"]["tasks"]
    assert {name: t["upstream"] for name, t in tasks.items()} == {
        "preflight": [],
        "produce_pages": ["preflight"],
        "summary": ["produce_pages"],
    }
    assert tasks["produce_pages"]["mapped"] and not tasks["summary"]["mapped"]


def test_the_benchmark_runs_as_many_page_tasks_at_once_as_the_dag(
    dagbag: dict[str, Any],
) -> None:
    from bench.e2e import E2EConfig

    tasks = dagbag["dags"]["user_automation"]["tasks"]
    assert tasks["produce_pages"]["max_active_tis_per_dagrun"] == E2EConfig.producers


def test_every_task_retries_with_backoff(dagbag: dict[str, Any]) -> None:
    for task in dagbag["dags"]["user_automation"]["tasks"].values():
        assert task["retries"] > 0 and task["exponential_backoff"]


def test_dag_file_imports_no_pipeline_module_at_parse_time() -> None:
    # Settings, Kafka and HTTP clients are imported inside tasks only: parsing stays fast
    # and needs no service.
    source = (DAGS / "user_automation.py").read_text(encoding="utf-8")
    top_level = [ln for ln in source.splitlines() if ln.startswith(("import ", "from "))]
    assert not [ln for ln in top_level if ln.split()[1].split(".")[0] in
                {"producers", "config", "contract", "confluent_kafka", "requests"}]
