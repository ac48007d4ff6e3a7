"""Airflow: `airflow standalone` (scheduler, API server, DAG processor, triggerer)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import requests

from config.settings import PROJECT_ROOT
from stack.services.base import Command, Context, Service, ServiceError, port_of


class Airflow(Service):
    name = "airflow"
    start_timeout = 240.0

    def port(self, ctx: Context) -> int:
        return port_of(ctx.settings.airflow_url)

    def address(self, ctx: Context) -> str:
        return ctx.settings.airflow_url

    def home(self, ctx: Context) -> Path:
        return ctx.paths.home / "airflow"

    def env(self, ctx: Context) -> dict[str, str]:
        home = self.home(ctx)
        db = ctx.paths.data("airflow") / "airflow.db"
        return {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{db}",
            "AIRFLOW__API__PORT": str(self.port(ctx)),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__WORKERS": "1",
            # Where task processes reach the API server; Airflow's default is :8080 whatever
            # the port, so a second stack's tasks would talk to the first stack's Airflow.
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL":
                f"{ctx.settings.airflow_url.rstrip('/')}/execution/",
            # Two cores: a few task slots are plenty, and each LocalExecutor
            # worker is a whole Python process.
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "4",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            # Where the scheduler's and the triggerer's task logs are served (defaults 8793,
            # 8794): settings, so that a second stack on this machine can move them.
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(
                ctx.settings.stack_airflow_worker_log_port),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(
                ctx.settings.stack_airflow_trigger_log_port),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(ctx.paths.logs_dir / "airflow"),
            "AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL": "10",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
            "PYTHONPATH": str(PROJECT_ROOT),
            # The DAG's tasks produce: in the secure profile, as the producer's users only
            # (the Connections `make up` pushes carry the same ones).
            "STACK_ROLE": "producer",
        }

    def prepare(self, ctx: Context) -> None:
        self.home(ctx).mkdir(parents=True, exist_ok=True)
        ctx.paths.data("airflow").mkdir(parents=True, exist_ok=True)

    def command(self, ctx: Context) -> Command:
        venv_bin = Path(sys.executable).parent
        airflow = venv_bin / "airflow"
        # `airflow standalone` starts its components as `airflow ...` subprocesses.
        path = f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}"
        env = {**os.environ, **self.env(ctx), "PATH": path}
        return Command([str(airflow), "standalone"], env=env, cwd=self.home(ctx))

    def probe(self, ctx: Context) -> str | None:
        try:
            resp = requests.get(f"{ctx.settings.airflow_url}/api/v2/monitor/health", timeout=3)
            body = resp.json()
        except (requests.RequestException, ValueError) as exc:
            return f"health endpoint failed: {exc.__class__.__name__}"
        unhealthy = [
            part for part in ("metadatabase", "scheduler")
            if body.get(part, {}).get("status") != "healthy"
        ]
        return f"not healthy yet: {', '.join(unhealthy)}" if unhealthy else None

    def configure(self, ctx: Context) -> str:
        """Push this checkout's settings into Airflow: the DAG's tasks read them from there."""
        # Inner: the Airflow client is only needed here, not by the other services' starts.
        from config.airflow_api import AirflowApiError
        from config.airflow_push import push

        try:
            return push(ctx.settings)
        except (AirflowApiError, requests.RequestException) as exc:
            raise ServiceError(f"airflow: pushing the pipeline settings failed: {exc}") from exc

    def login_hint(self, ctx: Context) -> str:
        if ctx.settings.airflow_username:
            return f"user {ctx.settings.airflow_username} (AIRFLOW_USERNAME, AIRFLOW_PASSWORD)"
        return "user admin, password: `.venv/bin/python -m stack airflow-password`"
