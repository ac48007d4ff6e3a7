"""The services of the native stack: how each is prepared, started and probed.

Every service answers three questions: what to write before it starts
(``prepare``), how to start it (``command``) and whether it serves real
requests (``probe``). The launcher (``stack.launcher``) does the rest.

A service the settings mark external (``STACK_EXTERNAL``, or an address that is not
loopback: ``Settings.external_services``) runs elsewhere: the launcher only probes it,
at its configured address, and never starts or stops it.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from urllib.parse import urlparse

import requests
from confluent_kafka.admin import AdminClient

from config.clients import cassandra_session
from config.settings import PROJECT_ROOT, Settings
from console.health import healthz_problem
from stack import maven
from stack.java import find_java
from stack.paths import StackPaths
from stack.spark import spark_env

CONF_TEMPLATES = Path(__file__).resolve().parent / "conf"


class ServiceError(RuntimeError):
    """A service could not be prepared or started; the message names it."""


@dataclass(frozen=True)
class Context:
    settings: Settings
    paths: StackPaths


@dataclass(frozen=True)
class Command:
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None


def render(template: str, target: Path, **values: object) -> Path:
    """Fill ``stack/conf/<template>`` with ``values`` into ``target``."""
    text = Template((CONF_TEMPLATES / template).read_text()).substitute(
        {k: str(v) for k, v in values.items()}
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    return target


def _port_of(url: str) -> int:
    parsed = urlparse(url)
    return parsed.port or (443 if parsed.scheme == "https" else 80)


class Service:
    name: str = ""
    start_timeout: float = 120.0
    # Whether an external one can be probed from here: a service with an address can.
    probed_when_external: bool = True

    def port(self, ctx: Context) -> int:
        raise NotImplementedError

    def address(self, ctx: Context) -> str:
        return f"localhost:{self.port(ctx)}"

    def prepare(self, ctx: Context) -> None:
        """Resolve artifacts and write configuration; idempotent."""

    def command(self, ctx: Context) -> Command:
        raise NotImplementedError

    def probe(self, ctx: Context) -> str | None:
        """None when the service answers a real request, else why not."""
        raise NotImplementedError

    def external(self, ctx: Context) -> bool:
        """Whether it runs elsewhere: probed only, never started or stopped here."""
        return self.name in ctx.settings.external_services()

    def after_start(self, ctx: Context) -> None:
        """Runs once a service of this stack is healthy (e.g. set registry defaults)."""

    def configure(self, ctx: Context) -> str:
        """Runs once the service answers, ours or external: what the pipeline needs of it.

        Returns a line to show, or "".
        """
        return ""

    def login_hint(self, ctx: Context) -> str:
        return ""


# --------------------------------------------------------------------- Kafka


class Kafka(Service):
    name = "kafka"
    start_timeout = 90.0

    def port(self, ctx: Context) -> int:
        first = ctx.settings.kafka_bootstrap_servers.split(",")[0]
        return int(first.rsplit(":", 1)[1])

    def address(self, ctx: Context) -> str:
        return ctx.settings.kafka_bootstrap_servers

    def controller_port(self, ctx: Context) -> int:
        return self.port(ctx) + 1

    def _java_cmd(self, ctx: Context, main: str, *args: str, heap: str = "512m") -> list[str]:
        java = find_java("Kafka 4", 17, 23)
        cp = ":".join(str(j) for j in maven.classpath("kafka", ctx.paths))
        log4j = ctx.paths.conf_dir / "kafka" / "log4j2.properties"
        return [
            str(java.executable),
            f"-Xms{heap}",
            f"-Xmx{heap}",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={log4j}",
            "-cp",
            cp,
            main,
            *args,
        ]

    def prepare(self, ctx: Context) -> None:
        data = ctx.paths.data("kafka")
        data.mkdir(parents=True, exist_ok=True)
        conf = render(
            "kafka/server.properties",
            ctx.paths.conf_dir / "kafka" / "server.properties",
            port=self.port(ctx),
            controller_port=self.controller_port(ctx),
            data_dir=data,
        )
        render("kafka/log4j2.properties", ctx.paths.conf_dir / "kafka" / "log4j2.properties")
        if (data / "meta.properties").exists():
            return
        # First start: format the log directory for a new KRaft cluster.
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        argv = self._java_cmd(
            ctx, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(conf),
            heap="256m",
        )
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise ServiceError(
                f"kafka: formatting storage in {data} failed:\n{result.stdout}{result.stderr}"
            )

    def command(self, ctx: Context) -> Command:
        conf = ctx.paths.conf_dir / "kafka" / "server.properties"
        return Command(self._java_cmd(ctx, "kafka.Kafka", str(conf)))

    def probe(self, ctx: Context) -> str | None:
        admin = AdminClient(
            {**ctx.settings.kafka_client_config(), "socket.connection.setup.timeout.ms": 3000}
        )
        try:
            metadata = admin.list_topics(timeout=3)
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready yet"
            return f"metadata request failed: {exc}"
        return None if metadata.brokers else "no broker in metadata"


# --------------------------------------------------------------------- Schema Registry


class Registry(Service):
    """Apicurio Registry, used through its Confluent-compatible API (ccompat v7)."""

    name = "registry"
    start_timeout = 90.0
    default_compatibility = "BACKWARD"

    def port(self, ctx: Context) -> int:
        return _port_of(ctx.settings.schema_registry_url)

    def address(self, ctx: Context) -> str:
        return ctx.settings.schema_registry_url

    def prepare(self, ctx: Context) -> None:
        maven.registry_distribution(ctx.paths)
        data = ctx.paths.data("registry")
        data.mkdir(parents=True, exist_ok=True)
        render(
            "registry/application.properties",
            ctx.paths.conf_dir / "registry" / "application.properties",
            port=self.port(ctx),
            management_port=self.port(ctx) + 1000,
            data_dir=data,
        )

    def command(self, ctx: Context) -> Command:
        java = find_java("Apicurio Registry 3.3", 21, 25)
        dist = maven.registry_distribution(ctx.paths)
        props = ctx.paths.conf_dir / "registry" / "application.properties"
        return Command(
            [
                str(java.executable),
                "-Xms128m",
                "-Xmx384m",
                "-XX:+UseSerialGC",
                f"-Dquarkus.config.locations={props}",
                "-jar",
                str(dist / "quarkus-run.jar"),
            ],
            cwd=dist,
        )

    def _session(self, ctx: Context) -> requests.Session:
        session = requests.Session()
        auth = ctx.settings.schema_registry_basic_auth_user_info.reveal()
        if auth:
            user, _, password = auth.partition(":")
            session.auth = (user, password)
        return session

    def probe(self, ctx: Context) -> str | None:
        try:
            resp = self._session(ctx).get(f"{ctx.settings.schema_registry_url}/subjects", timeout=3)
        except requests.RequestException as exc:
            return f"GET /subjects failed: {exc.__class__.__name__}"
        if resp.status_code != 200:
            return f"GET /subjects answered {resp.status_code}"
        return None

    def after_start(self, ctx: Context) -> None:
        # Incompatible registrations are refused unless a subject says otherwise.
        resp = self._session(ctx).put(
            f"{ctx.settings.schema_registry_url}/config",
            json={"compatibility": self.default_compatibility},
            headers={"Content-Type": "application/vnd.schemaregistry.v1+json"},
            timeout=10,
        )
        if resp.status_code != 200:
            raise ServiceError(
                f"registry: setting global compatibility failed: {resp.status_code} {resp.text}"
            )


# --------------------------------------------------------------------- Cassandra

# When an acknowledged write is on disk (docs/best-practices.md, "Durability"). "batch":
# a write is acknowledged once the commit log holding it is fsynced (concurrent writes
# share an fsync), so nothing acknowledged is lost to a crash of the process or of the
# machine. Cassandra's default, "periodic:10000ms", acknowledges at once and replays after
# a crash only what a 100 ms marker or a 10 s fsync covered: a kill -9 lost acknowledged
# writes. make bench-durability, the connector's write: periodic 11,923 rows/s, batch 8,200,
# group with a 10 ms window 1,430 (each write waits for the window).
# STACK_CASSANDRA_COMMITLOG_SYNC overrides it.
COMMITLOG_SYNC_DEFAULT = "batch"
COMMITLOG_SYNC_ENV = "STACK_CASSANDRA_COMMITLOG_SYNC"


def commitlog_sync_spec(spec: str | None) -> tuple[str, str]:
    """``group:10ms``, ``periodic:10000ms`` or ``batch`` -> (cassandra.yaml lines, a label)."""
    mode, _, window = (spec or COMMITLOG_SYNC_DEFAULT).partition(":")
    key = {"group": "commitlog_sync_group_window", "periodic": "commitlog_sync_period"}
    if mode == "batch" and not window:
        return "commitlog_sync: batch", "batch"
    if mode in key and window.endswith("ms") and window[:-2].isdigit():
        return f"commitlog_sync: {mode}\n{key[mode]}: {window}", f"{mode} ({window})"
    raise ServiceError(f"cassandra: {COMMITLOG_SYNC_ENV}={spec!r}: expected group:<N>ms, "
                       "periodic:<N>ms or batch")


class Cassandra(Service):
    name = "cassandra"
    start_timeout = 180.0

    def port(self, ctx: Context) -> int:
        return ctx.settings.cassandra_port

    def address(self, ctx: Context) -> str:
        return f"{ctx.settings.cassandra_host_list[0]}:{self.port(ctx)}"

    def prepare(self, ctx: Context) -> None:
        maven.classpath("cassandra", ctx.paths)
        data = ctx.paths.data("cassandra")
        data.mkdir(parents=True, exist_ok=True)
        conf = ctx.paths.conf_dir / "cassandra"
        commitlog_sync, _ = commitlog_sync_spec(os.environ.get(COMMITLOG_SYNC_ENV))
        render("cassandra/cassandra.yaml", conf / "cassandra.yaml",
               port=self.port(ctx), storage_port=ctx.settings.stack_cassandra_storage_port,
               data_dir=data,
               commitlog_sync=commitlog_sync)
        render("cassandra/logback.xml", conf / "logback.xml")

    def command(self, ctx: Context) -> Command:
        java = find_java("Cassandra 5.0", 11, 17)
        jars = maven.classpath("cassandra", ctx.paths)
        conf = ctx.paths.conf_dir / "cassandra"
        options = [
            line.strip()
            for line in (CONF_TEMPLATES / "cassandra" / "jvm17.options").read_text().splitlines()
            if line.strip() and not line.startswith("#")
        ]
        jamm = next((j for j in jars if j.name.startswith("jamm-")), None)
        agent = [f"-javaagent:{jamm}"] if jamm else []
        return Command(
            [
                str(java.executable),
                *options,
                *agent,
                f"-Dcassandra.config=file://{conf / 'cassandra.yaml'}",
                f"-Dlogback.configurationFile={conf / 'logback.xml'}",
                f"-Dcassandra.logdir={ctx.paths.logs_dir}",
                f"-Dcassandra.storagedir={ctx.paths.data('cassandra')}",
                "-Dcassandra-foreground=yes",
                # A single node: do not wait for a ring that will never form.
                "-Dcassandra.skip_wait_for_gossip_to_settle=0",
                "-Dcassandra.ring_delay_ms=1000",
                "-cp",
                ":".join([str(conf), *(str(j) for j in jars)]),
                "org.apache.cassandra.service.CassandraDaemon",
            ]
        )

    def probe(self, ctx: Context) -> str | None:
        try:
            with cassandra_session(ctx.settings, timeout=3) as session:
                row = session.execute("SELECT release_version FROM system.local").one()
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready yet"
            return f"CQL query failed: {exc.__class__.__name__}: {str(exc)[:200]}"
        return None if row else "system.local is empty"


# --------------------------------------------------------------------- Airflow


class Airflow(Service):
    name = "airflow"
    start_timeout = 240.0

    def port(self, ctx: Context) -> int:
        return _port_of(ctx.settings.airflow_url)

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


# --------------------------------------------------------------------- randomuser (local)


class RandomUserLocal(Service):
    """The randomuser-compatible server the project ships, for offline runs and tests."""

    name = "randomuser"
    start_timeout = 30.0

    def port(self, ctx: Context) -> int:
        return _port_of(ctx.settings.randomuser_local_url)

    def address(self, ctx: Context) -> str:
        return ctx.settings.randomuser_local_url

    def command(self, ctx: Context) -> Command:
        host = urlparse(ctx.settings.randomuser_local_url).hostname or "127.0.0.1"
        return Command(
            [sys.executable, "-m", "stack.randomuser",
             "--host", host, "--port", str(self.port(ctx))],
            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        )

    def probe(self, ctx: Context) -> str | None:
        try:
            resp = requests.get(ctx.settings.randomuser_local_url, params={"results": 1}, timeout=3)
            json.loads(resp.text)
        except (requests.RequestException, ValueError) as exc:
            return f"GET ?results=1 failed: {exc.__class__.__name__}"
        return None if resp.status_code == 200 else f"answered {resp.status_code}"


# --------------------------------------------------------------------- the console


class Console(Service):
    """The pipeline's web console (``python -m console``, docs/console.md).

    It needs no other service to start: a service that does not answer is a banner on the
    panels that use it. External only when STACK_EXTERNAL names it (CONSOLE_HOST is where it
    listens, not where a client finds it); then probed at CONSOLE_HOST:CONSOLE_PORT.
    """

    name = "console"
    start_timeout = 30.0

    def port(self, ctx: Context) -> int:
        return ctx.settings.console_port

    def address(self, ctx: Context) -> str:
        return ctx.settings.console_url

    def command(self, ctx: Context) -> Command:
        # The settings this launcher has, not only its environment: the console listens
        # where the probe asks, and reads the services the stack runs.
        settings = ctx.settings.as_env(show_secrets=True)
        return Command(
            [sys.executable, "-m", "console"],
            env={**os.environ, **settings, "PYTHONPATH": str(PROJECT_ROOT),
                 "PYTHONUNBUFFERED": "1"},
            cwd=PROJECT_ROOT,
        )

    def probe(self, ctx: Context) -> str | None:
        return healthz_problem(ctx.settings.console_url)


# --------------------------------------------------------------------- the streaming job


# The supervisor's longest pause between restarts of the stream. While Cassandra or the
# registry is down a start fails in its pre-flight checks (a second of Python, no Spark),
# so retrying often is cheap; and the pause after the outage is what the stream loses: with
# 60 s (the supervisor's default) it resumed up to 60 s + a Spark start after Cassandra
# answered again. 10 s keeps that under 60 s (make chaos, cassandra-restart).
STREAM_BACKOFF_CAP_S = 10.0


def supervise_env() -> dict[str, str]:
    """The supervisor's settings for the stream (an explicit environment value wins)."""
    cap = os.environ.get("SUPERVISE_BACKOFF_CAP_SECONDS") or f"{STREAM_BACKOFF_CAP_S:g}"
    return {"SUPERVISE_BACKOFF_CAP_SECONDS": cap}


class Stream(Service):
    """The Spark streaming job (``python -m streaming run``), kept alive by stack.supervise.

    Not part of a bare ``make up``: it needs the tables and the subject that
    ``make schemas`` creates. ``make stream-up`` (and ``make demo``) start it.
    """

    name = "stream"
    start_timeout = 180.0
    probed_when_external = False  # its health is in its own log, wherever it runs
    STARTED = '"event": "query_started"'
    ENDED = ('"event": "query_failed"', '"event": "refused"', '"event": "failed"',
             '"event": "batch_stuck"')

    def port(self, ctx: Context) -> int:
        return 0  # serves nothing: it reads Kafka and writes Cassandra

    def address(self, ctx: Context) -> str:
        if self.external(ctx):
            return "elsewhere (STACK_EXTERNAL)"
        return f"spark {ctx.settings.spark_master} -> cassandra"

    def command(self, ctx: Context) -> Command:
        return Command(
            [sys.executable, "-m", "stack.supervise", "--",
             sys.executable, "-m", "streaming", "run"],
            env={**os.environ, **supervise_env(), **spark_env(ctx.paths),
                 "PYTHONPATH": str(PROJECT_ROOT), "PYTHONUNBUFFERED": "1"},
            cwd=PROJECT_ROOT,
        )

    def probe(self, ctx: Context) -> str | None:
        """Healthy once the query has started, and not failed since."""
        log = ctx.paths.log(self.name)
        try:
            lines = log.read_text(errors="replace").splitlines()
        except OSError:
            return "no log yet"
        for line in reversed(lines):
            if self.STARTED in line:
                return None
            if any(marker in line for marker in self.ENDED):
                return f"the query stopped: {line[:300]}"
            if line.startswith("==== "):  # a (re)start, or the supervisor's word on an exit
                return "starting" if "starting" in line else line.removeprefix("==== ")
        return "starting"


# Start order: Kafka and Cassandra first (the slowest), the registry, then Airflow; the
# console last (it shows the others, and starts without them).
ALL_SERVICES: tuple[Service, ...] = (
    Kafka(), Cassandra(), Registry(), RandomUserLocal(), Airflow(), Console(),
)
# Services that `make up` does not start unless named.
OPTIONAL_SERVICES: tuple[Service, ...] = (Stream(),)


def by_name(name: str) -> Service:
    for service in (*ALL_SERVICES, *OPTIONAL_SERVICES):
        if service.name == name:
            return service
    known = ", ".join(s.name for s in (*ALL_SERVICES, *OPTIONAL_SERVICES))
    raise KeyError(f"unknown service {name!r}; known: {known}")
