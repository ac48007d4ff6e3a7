"""
### user_automation

Fetches users from the randomuser API (v1.4; the live randomuser.me or the bundled
local server, per `RANDOMUSER_SOURCE`) and produces them to Kafka topic
`users_created` as Avro, against the schema registered for `users_created-value`.
Records that do not fit the contract go, with their reason, to `users_created.rejected`.

Tasks:

1. **preflight**: the registry holds our exact schema, both topics exist with the
   contract's partitions; pins the API source (live or local) for the whole run;
   returns the page numbers.
2. **produce_pages**: one mapped task per page of `batch_size` users. The API seed
   is derived from the run id, so a retried task fetches, and upserts, the same users.
3. **summary**: adds up the pages' counts and timings; this is the run's result.

Params: `count` (users), `batch_size` (users per page, at most 5000), `nat`
(nationalities, e.g. `US,GB`), `seed` (to replay a given set of users), `source`
(`live`, `local` or `auto`; default: `RANDOMUSER_SOURCE`).
Connection settings come from the environment (`config.settings`), read when a
task runs, never when the file is parsed. XCom carries only page numbers and counts.
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from airflow.sdk import Param, dag, get_current_context, task

log = logging.getLogger(__name__)

DAG_ID = "user_automation"
# Read at parse time on purpose (a schedule cannot be a run param); no service is touched.
# Manual by default (make demo, the UI, the API trigger runs); set e.g. "@daily" to schedule.
SCHEDULE = os.environ.get("USER_AUTOMATION_SCHEDULE", "").strip() or None
MAX_PAGES = 1000  # under Airflow's default max_map_length (1024)
SOURCE_XCOM_KEY = "randomuser_source"  # "live" or "local": a label, not a URL


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
    },
)
def user_automation() -> None:
    @task
    def preflight() -> list[int]:
        """Check the environment; pin the API source of the run; return the page numbers."""
        # In the task, not at the top: the scheduler parses this file often, and importing
        # the producer (Kafka and registry clients) takes ~1.2 s (test_dag_integrity holds it).
        from config.settings import load_settings
        from contract.catalog import load_contract
        from producers.randomuser_client import choose_source
        from producers.run import pages_needed
        from producers.run import preflight as check_environment

        context = get_current_context()
        params = context["params"]
        pages = pages_needed(params["count"], params["batch_size"])
        if pages > MAX_PAGES:
            raise ValueError(f"{pages} pages > {MAX_PAGES}: raise batch_size or lower count")
        settings = load_settings()
        report = check_environment(settings, load_contract())
        log.info("preflight ok: schema id %s, %s partitions", report.schema_id, report.partitions)
        # Pinned once per run: a retried page must not switch to another source's users.
        if params.get("source"):
            settings = replace(settings, randomuser_source=params["source"]).validate()
        source = choose_source(settings)
        log.info("randomuser source for this run: %s", source)
        context["ti"].xcom_push(key=SOURCE_XCOM_KEY, value=source)
        return list(range(1, pages + 1))

    @task(max_active_tis_per_dagrun=4)
    def produce_pages(page: int) -> dict[str, int | float]:
        """Fetch one page with the run's seed and produce it; returns counts only."""
        # In the task, not at the top: see preflight.
        from config.settings import load_settings
        from contract.catalog import load_contract
        from producers.run import RunConfig, fetch_and_produce, pages_needed, seed_for_run

        context = get_current_context()
        params, run_id = context["params"], context["run_id"]
        source = context["ti"].xcom_pull(task_ids="preflight", key=SOURCE_XCOM_KEY)
        count, batch_size = params["count"], params["batch_size"]
        whole_run = RunConfig(
            seed=params["seed"] or seed_for_run(DAG_ID, run_id),
            pages=pages_needed(count, batch_size), batch_size=batch_size, run_id=run_id,
            limit=count, nat=params["nat"], source=source,
        )
        summary = fetch_and_produce(load_settings(), load_contract(), whole_run.page(page))
        return summary.to_dict()

    @task
    def summary(pages: list[dict[str, int | float]]) -> dict[str, int | float]:
        """The run's result: the pages' counts and timings added up."""
        # In the task, not at the top: see preflight.
        from producers.run import merge_summaries

        total = merge_summaries(pages)
        if total.fetched != total.produced + total.rejected:
            raise RuntimeError(f"counts do not add up: {total}")
        log.info("run summary: %s", total.to_dict())
        return total.to_dict()

    # The XComArg resolves to the list of page summaries when `summary` runs.
    summary(produce_pages.expand(page=preflight()))  # type: ignore[arg-type]


user_automation()
