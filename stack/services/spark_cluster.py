"""Spark standalone on this machine (the cluster topology): a master and its workers.

Started with the pip wheel's own launcher (``pyspark/bin/spark-class``), no other Spark
distribution: the master on SPARK_MASTER's port, each worker with 2 cores and 2 GiB for
executors (:data:`WORKER_CORES`), everything on loopback (SPARK_LOCAL_IP, ``--host``: the
web UIs too). Ports:

* master: SPARK_MASTER's port; its web UI that port + 1013 (7077 -> 8090, Spark's 8080 is
  Airflow's; a trial master on 17077 -> 18090);
* worker ``i`` (1, 2): the master's port + ``i`` and the master's web UI + ``i`` (Spark's
  default worker UI, 8081, is the registry's). Fixed ports let the probe find each worker
  in the master's JSON by its address, and ``kill -9`` wait for its port to close.

Each worker's executors are its children, in its process group: ``make status`` counts
their memory in the worker's row, and ``kill -9`` of a worker takes its executor with it,
as a machine that dies would.
"""

from __future__ import annotations

import importlib.util
import json
import os
import urllib.request
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import urlparse

from config.settings import Settings
from config.topology import CLUSTER_SPARK_WORKERS, SPARK_MASTER_PORT, SPARK_MASTER_WEBUI_PORT
from stack.java import find_java
from stack.services.base import Command, Context, Service, ServiceError, render
from stack.spark import SPARK_JAVA_RANGE


@cache
def spark_home() -> Path:
    """The pip wheel's Spark home, found without importing pyspark (0.8 s that make status
    never needs)."""
    spec = importlib.util.find_spec("pyspark")
    if spec is None or spec.origin is None:
        raise ServiceError("pyspark is not installed in this Python: `make` installs .venv")
    return Path(spec.origin).resolve().parent




def spark_class() -> Path:
    """The wheel's launcher of Spark's JVM programs (what sbin/start-master.sh runs)."""
    return spark_home() / "bin" / "spark-class"


MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
WEBUI_OFFSET = SPARK_MASTER_WEBUI_PORT - SPARK_MASTER_PORT  # 1013
# What a worker offers executors: room for one executor (1 core, 768m: streaming/session.py)
# of two applications at once, so that `make replay-dead-letters` or a chaos scenario's job
# runs beside the supervised stream instead of waiting for its cores. 2 workers x 2 cores
# oversubscribe this 2-core box, as local[2] beside the services always did.
WORKER_CORES = 2
WORKER_MEMORY = "2g"
# The master's and workers' own heaps (Spark's default is 1g each): they only schedule.
DAEMON_MEMORY = "256m"
# A worker deletes the work dirs (executor logs, fetched jars) of applications that
# ended more than a day ago; checked hourly.
WORKER_OPTS = ("-Dspark.worker.cleanup.enabled=true -Dspark.worker.cleanup.interval=3600 "
               "-Dspark.worker.cleanup.appDataTtl=86400")
PROBE_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class MasterAddress:
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"spark://{self.host}:{self.port}"

    @property
    def webui_port(self) -> int:
        return self.port + WEBUI_OFFSET

    @property
    def json_url(self) -> str:
        return f"http://{self.host}:{self.webui_port}/json/"


def master_address(settings: Settings) -> MasterAddress:
    """The standalone master SPARK_MASTER names; ServiceError if it names none."""
    parsed = urlparse(settings.spark_master)
    if parsed.scheme != "spark" or not parsed.hostname or "," in parsed.netloc:
        raise ServiceError(f"SPARK_MASTER={settings.spark_master!r} is not one standalone "
                           "master (spark://host:port): the cluster topology runs one")
    return MasterAddress(parsed.hostname, parsed.port or SPARK_MASTER_PORT)


def master_state(settings: Settings) -> dict[str, object]:
    """The master's JSON (``/json/``): its state, workers, applications."""
    url = master_address(settings).json_url
    try:
        with urllib.request.urlopen(url, timeout=PROBE_TIMEOUT_S) as response:  # noqa: S310 - http on loopback
            state = json.load(response)
    except (OSError, ValueError) as exc:  # URLError is an OSError; ValueError: not JSON
        raise ServiceError(f"the Spark master's {url} does not answer: {exc}") from exc
    if not isinstance(state, dict):
        raise ServiceError(f"the Spark master's {url} answered {str(state)[:100]!r}")
    return state


def spark_daemon_env(ctx: Context, name: str) -> dict[str, str]:
    """The environment of a master or worker: Java, loopback, its dirs under STACK_HOME."""
    java = find_java("Spark 3.5", *SPARK_JAVA_RANGE)
    return {
        **os.environ,
        "JAVA_HOME": str(java.home),
        "SPARK_HOME": str(spark_home()),
        "SPARK_CONF_DIR": str(ctx.paths.conf_dir / "spark"),
        "SPARK_LOG_DIR": str(ctx.paths.logs_dir),
        "SPARK_PID_DIR": str(ctx.paths.pids_dir),
        "SPARK_WORKER_DIR": str(ctx.paths.data(name)),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_LOCAL_HOSTNAME": "localhost",
        "SPARK_DAEMON_MEMORY": DAEMON_MEMORY,
        "SPARK_WORKER_OPTS": WORKER_OPTS,
        "SPARK_NO_DAEMONIZE": "1",
    }


def _prepare_conf(ctx: Context) -> None:
    render("spark/log4j2.properties", ctx.paths.conf_dir / "spark" / "log4j2.properties")


class SparkMaster(Service):
    name = "spark-master"
    start_timeout = 60.0

    def port(self, ctx: Context) -> int:
        return master_address(ctx.settings).port

    def address(self, ctx: Context) -> str:
        master = master_address(ctx.settings)
        return f"{master.url} (ui :{master.webui_port})"

    def prepare(self, ctx: Context) -> None:
        _prepare_conf(ctx)
        ctx.paths.data(self.name).mkdir(parents=True, exist_ok=True)

    def command(self, ctx: Context) -> Command:
        master = master_address(ctx.settings)
        return Command(
            [str(spark_class()), MASTER_CLASS, "--host", master.host, "--port", str(master.port),
             "--webui-port", str(master.webui_port)],
            env=spark_daemon_env(ctx, self.name),
            cwd=ctx.paths.data(self.name),
        )

    def probe(self, ctx: Context) -> str | None:
        try:
            state = master_state(ctx.settings)
        except ServiceError as exc:
            return str(exc)
        if state.get("status") != "ALIVE":
            return f"the master is {state.get('status')}"
        return None


class SparkWorker(Service):
    """Worker ``index`` (1-based) of the standalone cluster."""

    start_timeout = 60.0

    def __init__(self, index: int) -> None:
        self.index = index
        self.name = f"spark-worker-{index}"

    def port(self, ctx: Context) -> int:
        return master_address(ctx.settings).port + self.index

    def webui_port(self, ctx: Context) -> int:
        return master_address(ctx.settings).webui_port + self.index

    def address(self, ctx: Context) -> str:
        return f"127.0.0.1:{self.port(ctx)} (ui :{self.webui_port(ctx)})"

    def work_dir(self, ctx: Context) -> Path:
        """Executors' working directories: their logs and the jars fetched from the driver."""
        return ctx.paths.data(self.name) / "work"

    def prepare(self, ctx: Context) -> None:
        _prepare_conf(ctx)
        self.work_dir(ctx).mkdir(parents=True, exist_ok=True)

    def command(self, ctx: Context) -> Command:
        master = master_address(ctx.settings)
        return Command(
            [str(spark_class()), WORKER_CLASS, master.url, "--host", "127.0.0.1",
             "--port", str(self.port(ctx)), "--webui-port", str(self.webui_port(ctx)),
             "--cores", str(WORKER_CORES), "--memory", WORKER_MEMORY,
             "--work-dir", str(self.work_dir(ctx))],
            env=spark_daemon_env(ctx, self.name),
            cwd=ctx.paths.data(self.name),
        )

    def registered(self, state: dict[str, object], ctx: Context) -> dict[str, object] | None:
        """This worker's ALIVE entry in the master's JSON, or None."""
        workers = state.get("workers")
        for worker in workers if isinstance(workers, list) else []:
            if (isinstance(worker, dict) and worker.get("port") == self.port(ctx)
                    and worker.get("state") == "ALIVE"):
                return worker
        return None

    def probe(self, ctx: Context) -> str | None:
        """Healthy once the master lists it ALIVE (registered, heartbeating)."""
        try:
            state = master_state(ctx.settings)
        except ServiceError as exc:
            return str(exc)
        if self.registered(state, ctx) is None:
            return f"not registered ALIVE with the master at {master_address(ctx.settings).url}"
        return None

    def executors(self, ctx: Context) -> list[dict[str, object]]:
        """The executors it runs now (its own ``/json/``): app id, executor id, cores."""
        url = f"http://127.0.0.1:{self.webui_port(ctx)}/json/"
        try:
            with urllib.request.urlopen(url, timeout=PROBE_TIMEOUT_S) as response:  # noqa: S310 - http on loopback
                state = json.load(response)
        except (OSError, ValueError) as exc:
            raise ServiceError(f"{self.name}'s {url} does not answer: {exc}") from exc
        found = state.get("executors") if isinstance(state, dict) else None
        return [e for e in found if isinstance(e, dict)] if isinstance(found, list) else []


def spark_cluster(settings: Settings) -> list[Service]:
    """The cluster topology's Spark master and workers, in start order."""
    return [SparkMaster(), *(SparkWorker(i) for i in range(1, CLUSTER_SPARK_WORKERS + 1))]

