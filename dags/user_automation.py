"""
### user_automation

Fetches users from the randomuser API (v1.4; the live randomuser.me or the bundled
local server, per `RANDOMUSER_SOURCE`) and produces them to Kafka as Avro, to every
contract of `CONTRACTS_DIR` whose source is the randomuser API (`users_created-value`
-> topic `users_created` in this repository): one API call per page, each user mapped
to each contract. Records that do not fit a contract go, with their reason, to that
contract's rejects topic (`users_created.rejected`).

Tasks:

1. **preflight**: for every contract of the run, the registry holds its exact schema and
   both topics exist with the contract's partitions; pins the API source (live or local)
   and the subjects for the whole run; returns the page numbers.
2. **produce_pages**: one mapped task per page of `batch_size` users. The API seed
   is derived from the run id, so a retried task fetches, and upserts, the same users.
3. **summary**: adds up the pages' counts and timings per subject, plus totals; fails
   unless each subject has fetched = produced + rejected. This is the run's result.

Params: `count` (users), `batch_size` (users per page, at most 5000), `nat`
(nationalities, e.g. `US,GB`), `seed` (to replay a given set of users), `source`
(`live`, `local` or `auto`; default: `RANDOMUSER_SOURCE`), `subjects` (the contracts to
produce, e.g. `["users_created-value"]`; empty: all of the randomuser source).
Connection settings come from the environment (`config.settings`) overlaid with the
Airflow Variable `userstream_settings` and the Connections `userstream_kafka` and
`userstream_schema_registry` (pushed by `make up`), read when a task runs, never when
the file is parsed. XCom carries only page numbers, counts and
subject names.
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import Param, dag, get_current_context, task

if TYPE_CHECKING:
    from config.settings import Settings

log = logging.getLogger(__name__)

DAG_ID = "user_automation"
# Read at parse time on purpose (a schedule cannot be a run param); no service is touched.
# Manual by default (make demo, the UI, the API trigger runs); set e.g. "@daily" to schedule.
SCHEDULE = os.environ.get("USER_AUTOMATION_SCHEDULE", "").strip() or None
MAX_PAGES = 1000  # under Airflow's default max_map_length (1024)
SOURCE_XCOM_KEY = "randomuser_source"  # "live" or "local": a label, not a URL
SUBJECTS_XCOM_KEY = "subjects"  # the contracts of the run, pinned by preflight
SOURCE_API = "randomuser"  # the contracts whose [source] api this DAG fetches for


def _task_settings() -> Settings:
    """A task's settings: its environment, overlaid with what `make up` pushed to Airflow.

    The Variable holds the non-secret settings, the Connections the secrets
    (config.airflow_settings), so a setting changed after Airflow started reaches the
    tasks. Called inside tasks only: never while the scheduler parses this file.
    """
    from airflow.exceptions import AirflowNotFoundException
    from airflow.sdk import Connection, Variable

    from config.airflow_settings import (
        KAFKA_CONNECTION,
        REGISTRY_CONNECTION,
        VARIABLE_KEY,
        Login,
        task_settings,
    )
    from config.settings import Secret

    def login(conn_id: str) -> Login | None:
        try:
            conn = Connection.get(conn_id)
        except AirflowNotFoundException:
            return None
        return Login(conn.login or "", Secret(conn.password or ""))

    return task_settings(os.environ, Variable.get(VARIABLE_KEY, default=None),
                         kafka=login(KAFKA_CONNECTION), registry=login(REGISTRY_CONNECTION))


@dag(
    dag_id=DAG_ID,
    schedule=SCHEDULE,
    start_date=datetime(2025, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=2),
    doc_md=__doc__,
    tags=["userstream", "producer", "kafka", "avro"],
    default_args={
        "owner": "userstream",
        "retries": 3,
        "retry_delay": timedelta(seconds=15),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=10),
        "execution_timeout": timedelta(minutes=30),
    },
    params={
        "count": Param(1000, type="integer", minimum=1, maximum=5_000_000,
                       description="Users to produce in this run."),
        "batch_size": Param(500, type="integer", minimum=1, maximum=5000,
                            description="Users per API page, i.e. per mapped task."),
        "nat": Param(None, type=["null", "string"],
                     description="Nationalities, comma-separated (e.g. US,GB,FR); all if empty."),
        "seed": Param(None, type=["null", "string"],
                      description="API seed; empty: derived from the run id."),
        "source": Param(None, type=["null", "string"], enum=[None, "auto", "live", "local"],
                        description="randomuser.me (live), the bundled server (local), or "
                                    "auto; empty: RANDOMUSER_SOURCE of the environment."),
        "subjects": Param(None, type=["null", "array"], items={"type": "string"},
                          description="Contracts (subjects) to produce; empty: every contract "
                                      "of CONTRACTS_DIR fed by the randomuser API."),
    },
)
def user_automation() -> None:
    @task
    def preflight() -> list[int]:
        """Check the environment; pin the API source of the run; return the page numbers."""
        # In the task, not at the top: the scheduler parses this file often, and importing
        # the producer (Kafka and registry clients) takes ~1.2 s (test_dag_integrity holds it).

        from config.contracts import deployed_contracts
        from contract.catalog import select_contracts
        from producers.randomuser_client import choose_source
        from producers.run import pages_needed
        from producers.run import preflight as check_environment

        context = get_current_context()
        params = context["params"]
        pages = pages_needed(params["count"], params["batch_size"])
        if pages > MAX_PAGES:
            raise ValueError(f"{pages} pages > {MAX_PAGES}: raise batch_size or lower count")
        settings = _task_settings()
        contracts = select_contracts(deployed_contracts(settings),
                                     params.get("subjects"), api=SOURCE_API)
        for contract in contracts:
            report = check_environment(settings, contract)
            log.info("preflight ok: %s schema id %s, %s partitions", report.subject,
                     report.schema_id, report.partitions)
        context["ti"].xcom_push(key=SUBJECTS_XCOM_KEY, value=[c.subject for c in contracts])
        # Pinned once per run: a retried page must not switch to another source's users.
        if params.get("source"):
            settings = replace(settings, randomuser_source=params["source"]).validate()
        source = choose_source(settings)
        log.info("randomuser source for this run: %s", source)
        context["ti"].xcom_push(key=SOURCE_XCOM_KEY, value=source)
        return list(range(1, pages + 1))

    @task(max_active_tis_per_dagrun=4)
    def produce_pages(page: int) -> dict[str, Any]:
        """Fetch one page with the run's seed and produce it; returns counts only."""
        # In the task, not at the top: see preflight.

        from config.contracts import deployed_contracts
        from contract.catalog import select_contracts
        from producers.run import RunConfig, fetch_and_produce_all, pages_needed, seed_for_run

        context = get_current_context()
        params, run_id = context["params"], context["run_id"]
        source = context["ti"].xcom_pull(task_ids="preflight", key=SOURCE_XCOM_KEY)
        subjects = context["ti"].xcom_pull(task_ids="preflight", key=SUBJECTS_XCOM_KEY)
        count, batch_size = params["count"], params["batch_size"]
        whole_run = RunConfig(
            seed=params["seed"] or seed_for_run(DAG_ID, run_id),
            pages=pages_needed(count, batch_size), batch_size=batch_size, run_id=run_id,
            limit=count, nat=params["nat"], source=source,
        )
        settings = _task_settings()
        contracts = select_contracts(deployed_contracts(settings), subjects,
                                     api=SOURCE_API)
        summary = fetch_and_produce_all(settings, contracts, whole_run.page(page))
        return summary.to_dict()

    @task
    def summary(pages: list[dict[str, Any]]) -> dict[str, Any]:
        """The run's result: the pages' counts and timings per subject, and totals."""
        # In the task, not at the top: see preflight.
        from producers.run import merge_runs

        run = merge_runs(pages)
        if run.unbalanced():
            raise RuntimeError(f"counts do not add up for {run.unbalanced()}: {run.to_dict()}")
        log.info("run summary: %s", run.to_dict())
        return run.to_dict()

    # The XComArg resolves to the list of page summaries when `summary` runs.
    summary(produce_pages.expand(page=preflight()))  # type: ignore[arg-type]


user_automation()
