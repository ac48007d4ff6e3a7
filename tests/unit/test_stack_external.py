"""External services (STACK_EXTERNAL, or an address that is not loopback): probed, never
started or stopped; and the ports a second stack on the same machine moves."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from config.settings import STACK_SERVICES, SettingsError, is_loopback, load_settings
from stack import launcher, process, services
from stack.paths import StackPaths
from stack.services import (
    ALL_SERVICES,
    OPTIONAL_SERVICES,
    Airflow,
    Cassandra,
    Command,
    Context,
    Service,
    by_name,
)


def _ctx(tmp_path: Path, **env: str) -> Context:
    settings = load_settings({"STACK_HOME": str(tmp_path), **env})
    return Context(settings, StackPaths.from_settings(settings))


class _NeverStart(Service):
    """A service whose start must never be attempted."""

    def __init__(self, name: str, problem: str | None) -> None:
        self.name = name
        self.problem = problem
        self.probes = 0

    def port(self, ctx: Context) -> int:
        return 1

    def prepare(self, ctx: Context) -> None:
        raise AssertionError(f"{self.name} is external: nothing to prepare")

    def command(self, ctx: Context) -> Command:
        raise AssertionError(f"{self.name} is external: nothing to start")

    def probe(self, ctx: Context) -> str | None:
        self.probes += 1
        return self.problem

    def after_start(self, ctx: Context) -> None:
        raise AssertionError(f"{self.name} is external: not ours to configure")


def test_the_settings_external_names_are_the_stacks_services() -> None:
    assert set(STACK_SERVICES) == {s.name for s in (*ALL_SERVICES, *OPTIONAL_SERVICES)}


def test_stack_external_takes_names_or_all_and_refuses_unknown_ones() -> None:
    assert load_settings({}).external_services() == frozenset()
    assert load_settings({"STACK_EXTERNAL": "kafka, airflow"}).external_services() == {
        "kafka", "airflow"}
    assert load_settings({"STACK_EXTERNAL": "all"}).external_services() == set(STACK_SERVICES)
    with pytest.raises(SettingsError, match="unknown service kafak; expected a comma list of "
                       "kafka, cassandra, registry, randomuser, airflow, console, stream, or all"):
        load_settings({"STACK_EXTERNAL": "kafak"})


@pytest.mark.parametrize(
    ("env", "external"),
    [
        ({"KAFKA_BOOTSTRAP_SERVERS": "broker.corp:9092"}, {"kafka"}),
        ({"KAFKA_BOOTSTRAP_SERVERS": "localhost:19092,127.0.0.2:19093"}, set()),
        ({"CASSANDRA_HOSTS": "127.0.0.1,10.0.0.5"}, {"cassandra"}),
        ({"SCHEMA_REGISTRY_URL": "https://sr.corp/apis/ccompat/v7"}, {"registry"}),
        ({"AIRFLOW_URL": "http://[::1]:18080"}, set()),
        ({"AIRFLOW_URL": "http://airflow.corp:8080"}, {"airflow"}),
        ({"RANDOMUSER_LOCAL_URL": "http://192.168.1.4:8765/api/"}, {"randomuser"}),
        # The live API is not a service of the stack: it never makes anything external.
        ({"RANDOMUSER_URL": "https://randomuser.me/api/"}, set()),
    ],
)
def test_an_address_off_this_machine_is_external(env: dict[str, str], external: set[str]) -> None:
    assert load_settings(env).external_services() == external


def test_loopback_hosts() -> None:
    assert all(map(is_loopback, ["localhost", "127.0.0.1", "127.1.2.3", "::1", "[::1]"]))
    assert not any(map(is_loopback, ["10.0.0.5", "broker.corp", "0.0.0.1"]))


def test_up_only_probes_an_external_service_and_fails_clearly_when_it_does_not_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(launcher, "EXTERNAL_PROBE_TIMEOUT_S", 0.0)
    ctx = _ctx(tmp_path, STACK_EXTERNAL="kafka", KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:1")
    with pytest.raises(launcher.StackError) as caught:
        launcher.up(ctx, [by_name("kafka")])  # the real Kafka probe, at a closed port
    assert str(caught.value).startswith(
        "external kafka at 127.0.0.1:1 does not answer: metadata request failed:"
    )
    assert not ctx.paths.pidfile("kafka").exists()


def test_up_with_an_answering_external_service_starts_nothing(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, STACK_EXTERNAL="registry")
    service = _NeverStart("registry", problem=None)
    assert launcher.up(ctx, [service]) == []
    assert service.probes == 1


def test_an_external_stream_is_neither_started_nor_probed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ctx = _ctx(tmp_path, STACK_EXTERNAL="stream")
    stream = by_name("stream")
    assert launcher.up(ctx, [stream]) == []
    assert "stream     external: not probed" in capsys.readouterr().out
    assert launcher.print_status(ctx, [stream]) is True
    assert capsys.readouterr().out.splitlines()[1].split() == [
        "stream", "elsewhere", "(STACK_EXTERNAL)", "external", "-", "not", "probed"]


def test_down_never_touches_an_external_service(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    ctx = _ctx(tmp_path, STACK_EXTERNAL="cassandra")
    # A process under the external service's name, with its pid file where ours would be
    # (say, left by an earlier local stack): down must leave it running.
    pidfile = ctx.paths.pidfile("cassandra")
    record = process.spawn([sys.executable, "-c", "import signal; signal.pause()"],
                           pidfile=pidfile, log=ctx.paths.log("cassandra"))
    try:
        launcher.down(ctx, [by_name("cassandra")])
        assert process.running(pidfile) == record
        assert "cassandra  external at 127.0.0.1:9042: not stopped" in capsys.readouterr().out
    finally:
        process.stop(pidfile, grace_seconds=5)


def test_status_marks_an_external_service_with_its_health_and_no_pid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ctx = _ctx(tmp_path, STACK_EXTERNAL="registry,airflow")
    answering = _NeverStart("registry", problem=None)
    silent = _NeverStart("airflow", problem="health endpoint failed: ConnectionError")
    rows = launcher.status(ctx, [answering, silent])
    assert [(r.external, r.pid, r.healthy) for r in rows] == [(True, None, True),
                                                             (True, None, False)]
    assert launcher.print_status(ctx, [answering]) is True
    line = capsys.readouterr().out.splitlines()[1]
    assert line.split() == ["registry", "localhost:1", "external", "-", "healthy"]


def test_a_second_stack_moves_the_ports_no_client_setting_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services.kafka.maven, "classpath", lambda name, paths: [])  # no Maven here
    ctx = _ctx(tmp_path, CASSANDRA_PORT="19042", STACK_CASSANDRA_STORAGE_PORT="17000",
               STACK_AIRFLOW_WORKER_LOG_PORT="18793", STACK_AIRFLOW_TRIGGER_LOG_PORT="18794",
               AIRFLOW_URL="http://localhost:18080")
    cassandra = Cassandra()
    cassandra.prepare(ctx)
    yaml = (ctx.paths.conf_dir / "cassandra" / "cassandra.yaml").read_text()
    assert "storage_port: 17000" in yaml and "native_transport_port: 19042" in yaml
    env = Airflow().env(ctx)
    assert (env["AIRFLOW__API__PORT"], env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"],
            env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"]) == ("18080", "18793", "18794")
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://localhost:18080/execution/"
