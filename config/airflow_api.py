"""A small client of the running Airflow's REST API (v2): trigger a DAG run, follow it,
and set the Variables and Connections its tasks read.

Used by ``make up``, ``make demo``, ``make status`` and the end-to-end test, so that a run
is a real DAG run in the running Airflow, visible in its UI. It logs in with
``AIRFLOW_USERNAME``/``AIRFLOW_PASSWORD`` when set (any Airflow), else as the native
stack's admin with the password Airflow generated into ``STACK_HOME``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from config.settings import Settings

TERMINAL_STATES = ("success", "failed")


class AirflowApiError(RuntimeError):
    """The Airflow API refused or failed a request; the message says which."""


class AirflowUnreachable(AirflowApiError):
    """Airflow did not answer at all (down, wrong address), as opposed to refusing."""


@dataclass(frozen=True)
class DagRun:
    dag_id: str
    run_id: str
    state: str
    start_date: str | None
    end_date: str | None
    conf: dict[str, Any]


def _passwords_file(settings: Settings) -> Path:
    return Path(settings.stack_home) / "airflow" / "simple_auth_manager_passwords.json.generated"


class AirflowApi:
    """Talks to ``settings.airflow_url`` as ``AIRFLOW_USERNAME``, or the native stack's admin."""

    def __init__(self, settings: Settings, *, username: str = "admin", timeout: float = 15.0):
        self._base = settings.airflow_url.rstrip("/")
        self._timeout = timeout
        self._session = requests.Session()
        self._username = username
        self._settings = settings

    def __enter__(self) -> AirflowApi:
        self._login()
        return self

    def __exit__(self, *exc: object) -> None:
        self._session.close()

    def _credentials(self) -> tuple[str, str]:
        if self._settings.airflow_username:
            return self._settings.airflow_username, self._settings.airflow_password.reveal()
        path = _passwords_file(self._settings)
        try:
            return self._username, json.loads(path.read_text())[self._username]
        except (OSError, ValueError, KeyError) as exc:
            raise AirflowApiError(
                f"no password for {self._username!r} in {path}: is Airflow up (make up)? "
                "For an Airflow this checkout did not start, set AIRFLOW_USERNAME and "
                "AIRFLOW_PASSWORD"
            ) from exc

    def _login(self) -> None:
        username, password = self._credentials()
        try:
            resp = self._session.post(
                f"{self._base}/auth/token",
                json={"username": username, "password": password},
                timeout=self._timeout,
            )
        except requests.RequestException as exc:
            raise AirflowUnreachable(
                f"Airflow at {self._base} does not answer: {exc.__class__.__name__}"
            ) from exc
        if resp.status_code not in (200, 201):
            raise AirflowApiError(
                f"login to {self._base} as {username!r} failed: HTTP {resp.status_code}"
            )
        self._session.headers["Authorization"] = f"Bearer {resp.json()['access_token']}"

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        resp = self._session.request(
            method, f"{self._base}/api/v2{path}", timeout=self._timeout, **kwargs
        )
        if resp.status_code >= 400:
            raise AirflowApiError(
                f"{method} {path}: HTTP {resp.status_code}: {resp.text[:500]}"
            )
        return resp.json() if resp.content else None

    def get_variable(self, key: str) -> str | None:
        """The Variable's value, None when it does not exist."""
        resp = self._session.get(f"{self._base}/api/v2/variables/{key}", timeout=self._timeout)
        if resp.status_code == 404:
            return None
        if resp.status_code >= 400:
            raise AirflowApiError(f"GET /variables/{key}: HTTP {resp.status_code}")
        return str(resp.json()["value"])

    def set_variable(self, key: str, value: str, description: str = "") -> None:
        """Create or replace the Variable."""
        body = {"key": key, "value": value, "description": description or None}
        self._upsert(f"/variables/{key}", "/variables", body)

    def delete_variable(self, key: str) -> bool:
        """Delete the Variable; False when there was none."""
        return self._delete(f"/variables/{key}")

    def set_connection(self, conn_id: str, *, conn_type: str, host: str = "", login: str = "",
                       password: str = "", description: str = "") -> None:
        """Create or replace the Connection. The password is sent, never put in an error."""
        body = {"connection_id": conn_id, "conn_type": conn_type, "host": host or None,
                "login": login or None, "password": password or None,
                "description": description or None}
        self._upsert(f"/connections/{conn_id}", "/connections", body)

    def delete_connection(self, conn_id: str) -> bool:
        """Delete the Connection; False when there was none."""
        return self._delete(f"/connections/{conn_id}")

    def _delete(self, item: str) -> bool:
        resp = self._session.delete(f"{self._base}/api/v2{item}", timeout=self._timeout)
        if resp.status_code == 404:
            return False
        if resp.status_code >= 400:
            raise AirflowApiError(f"DELETE {item}: HTTP {resp.status_code}")
        return True

    def _upsert(self, item: str, collection: str, body: dict[str, Any]) -> None:
        """PATCH ``item``, or POST to ``collection`` when it does not exist yet.

        Errors name the path and status only: ``body`` may hold a secret that the
        server's answer would echo.
        """
        resp = self._session.patch(f"{self._base}/api/v2{item}", json=body,
                                   timeout=self._timeout)
        if resp.status_code == 404:
            resp = self._session.post(f"{self._base}/api/v2{collection}", json=body,
                                      timeout=self._timeout)
        if resp.status_code >= 400:
            raise AirflowApiError(f"writing {item}: HTTP {resp.status_code}")

    def wait_for_dag(self, dag_id: str, *, timeout: float = 120.0) -> None:
        """Wait until the dag processor has parsed ``dag_id`` (after a fresh start)."""
        deadline = time.monotonic() + timeout
        while True:
            resp = self._session.get(f"{self._base}/api/v2/dags/{dag_id}", timeout=self._timeout)
            if resp.status_code == 200:
                return
            if time.monotonic() > deadline:
                errors = self._call("GET", "/importErrors")
                raise AirflowApiError(
                    f"DAG {dag_id} not found after {timeout:.0f} s; import errors: "
                    f"{errors.get('import_errors') if errors else None}"
                )
            time.sleep(2)

    def unpause(self, dag_id: str) -> None:
        self._call("PATCH", f"/dags/{dag_id}", json={"is_paused": False})

    def trigger(self, dag_id: str, conf: dict[str, Any], run_id: str | None = None) -> DagRun:
        body: dict[str, Any] = {"logical_date": None, "conf": conf}
        if run_id:
            body["dag_run_id"] = run_id
        return _dag_run(self._call("POST", f"/dags/{dag_id}/dagRuns", json=body))

    def dag_run(self, dag_id: str, run_id: str) -> DagRun:
        return _dag_run(self._call("GET", f"/dags/{dag_id}/dagRuns/{run_id}"))

    def latest_run(self, dag_id: str) -> DagRun | None:
        runs = self.recent_runs(dag_id, limit=1)
        return runs[0] if runs else None

    def recent_runs(self, dag_id: str, *, limit: int) -> list[DagRun]:
        """The last ``limit`` runs of ``dag_id``, the latest started first."""
        body = self._call(
            "GET", f"/dags/{dag_id}/dagRuns", params={"order_by": "-start_date", "limit": limit}
        )
        return [_dag_run(run) for run in (body.get("dag_runs", []) if body else [])]

    def wait(self, dag_id: str, run_id: str, *, timeout: float, on_poll: Any = None) -> DagRun:
        """Poll the run until it ends (success or failed) or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.dag_run(dag_id, run_id)
            if on_poll is not None:
                on_poll(run)
            if run.state in TERMINAL_STATES:
                return run
            if time.monotonic() > deadline:
                raise AirflowApiError(
                    f"run {run_id} of {dag_id} still {run.state} after {timeout:.0f} s"
                )
            time.sleep(2)

    def task_states(self, dag_id: str, run_id: str) -> dict[str, int]:
        """How many task instances of the run are in each state."""
        body = self._call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
                          params={"limit": 1000})
        counts: dict[str, int] = {}
        for ti in body.get("task_instances", []):
            state = ti.get("state") or "none"
            counts[state] = counts.get(state, 0) + 1
        return counts

    def xcom_result(self, dag_id: str, run_id: str, task_id: str) -> Any:
        """The return value of ``task_id`` in the run."""
        body = self._call(
            "GET",
            f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value",
            params={"deserialize": "true"},
        )
        value = body.get("value") if body else None
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value


def _dag_run(body: dict[str, Any]) -> DagRun:
    return DagRun(
        dag_id=body["dag_id"],
        run_id=body["dag_run_id"],
        state=body.get("state") or "queued",
        start_date=body.get("start_date"),
        end_date=body.get("end_date"),
        conf=body.get("conf") or {},
    )
