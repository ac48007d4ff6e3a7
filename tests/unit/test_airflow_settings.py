"""Settings that reach the running Airflow: the Variable and Connections `make up` pushes,
and the pure overlay a DAG task builds its settings with."""

from __future__ import annotations

import json
from typing import Any

import pytest

from config import airflow_push
from config.airflow_settings import (
    KAFKA_CONNECTION,
    PUSHED_SETTINGS,
    REGISTRY_CONNECTION,
    VARIABLE_KEY,
    Login,
    connections,
    differences,
    task_settings,
    variable_value,
)
from config.settings import Secret, Settings, SettingsError, load_settings

SASL = {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_USERNAME": "svc",
        "KAFKA_SASL_PASSWORD": "kafka-pw"}


def test_the_variable_holds_the_pushed_settings_and_no_secret() -> None:
    settings = load_settings({**SASL, "RANDOMUSER_URL": "http://127.0.0.1:8765/api/",
                              "SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO": "sr:sr-pw"})
    value = variable_value(settings)
    assert set(json.loads(value)) == set(PUSHED_SETTINGS)
    assert json.loads(value)["RANDOMUSER_URL"] == "http://127.0.0.1:8765/api/"
    assert "pw" not in value and "svc" not in value


def test_secrets_go_in_connections_and_an_absent_secret_removes_its_connection() -> None:
    conns = {c.conn_id: c for c in connections(
        load_settings({**SASL, "SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO": "sr:p:w"}))}
    assert conns[KAFKA_CONNECTION].credentials == Login("svc", Secret("kafka-pw"))
    assert conns[REGISTRY_CONNECTION].credentials == Login("sr", Secret("p:w"))
    assert "pw" not in repr(conns)
    assert all(c.credentials is None for c in connections(load_settings({})))


def test_a_task_overlays_the_variable_and_connections_on_its_environment() -> None:
    pushed = load_settings({**SASL, "RANDOMUSER_URL": "http://127.0.0.1:8765/api/",
                            "KAFKA_BOOTSTRAP_SERVERS": "broker.corp:9093"})
    started_with = {"RANDOMUSER_URL": "https://randomuser.me/api/", "SPARK_MASTER": "local[1]"}
    settings = task_settings(started_with, variable_value(pushed),
                             kafka=Login("svc", Secret("kafka-pw")),
                             registry=Login("sr", Secret("sr-pw")))
    assert settings.randomuser_url == "http://127.0.0.1:8765/api/"
    assert settings.kafka_bootstrap_servers == "broker.corp:9093"
    assert settings.kafka_client_config()["sasl.password"] == "kafka-pw"
    assert settings.schema_registry_basic_auth_user_info.reveal() == "sr:sr-pw"
    assert settings.spark_master == "local[1]"  # not pushed: the environment's


def test_without_a_variable_a_task_uses_its_environment() -> None:
    env = {"RANDOMUSER_SOURCE": "local"}
    assert task_settings(env, None) == load_settings(env)


@pytest.mark.parametrize(
    ("variable", "message"),
    [
        ("not json", "is not JSON"),
        ("[1]", "is not a JSON object"),
        ('{"KAFKA_SASL_PASSWORD": "x"}', "holds KAFKA_SASL_PASSWORD, which it never carries"),
        ('{"RANDOMUSER_SOURCE": "sometimes"}', "RANDOMUSER_SOURCE='sometimes'"),
    ],
)
def test_a_bad_variable_is_refused_by_name(variable: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        task_settings({}, variable)


def test_airflow_task_settings_push_what_the_tasks_see_instead_of_this_shells_view() -> None:
    settings = load_settings({"AIRFLOW_TASK_SETTINGS": "KAFKA_BOOTSTRAP_SERVERS=kafka:19092 "
                                                       "CONTRACTS_DIR=/opt/userstream/schemas"})
    pushed = json.loads(variable_value(settings))
    assert pushed["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:19092"
    assert pushed["CONTRACTS_DIR"] == "/opt/userstream/schemas"
    assert settings.kafka_bootstrap_servers == "localhost:9092"  # this shell's own view
    assert differences(variable_value(settings), settings) == []
    with pytest.raises(SettingsError, match="'KAFKA_SASL_PASSWORD=x' is not NAME=value of a "
                                            "pushed setting"):
        variable_value(load_settings({"AIRFLOW_TASK_SETTINGS": "KAFKA_SASL_PASSWORD=x"}))


def test_differences_name_each_setting_that_differs() -> None:
    airflow = load_settings({"RANDOMUSER_URL": "https://randomuser.me/api/"})
    shell = load_settings({"RANDOMUSER_URL": "http://127.0.0.1:8765/api/"})
    assert differences(variable_value(airflow), shell) == [
        ("RANDOMUSER_URL", "https://randomuser.me/api/", "http://127.0.0.1:8765/api/")]
    assert differences(variable_value(shell), shell) == []


class FakeApi:
    """The part of config.airflow_api.AirflowApi that push and drift use, in memory."""

    variables: dict[str, str] = {}
    conns: dict[str, dict[str, Any]] = {}

    def __init__(self, settings: Settings) -> None:
        pass

    def __enter__(self) -> FakeApi:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def get_variable(self, key: str) -> str | None:
        return self.variables.get(key)

    def set_variable(self, key: str, value: str, description: str = "") -> None:
        self.variables[key] = value

    def set_connection(self, conn_id: str, **fields: Any) -> None:
        self.conns[conn_id] = fields

    def delete_connection(self, conn_id: str) -> bool:
        return self.conns.pop(conn_id, None) is not None


@pytest.fixture
def fake_airflow(monkeypatch: pytest.MonkeyPatch) -> type[FakeApi]:
    FakeApi.variables, FakeApi.conns = {}, {}
    monkeypatch.setattr(airflow_push, "AirflowApi", FakeApi)
    return FakeApi


def test_push_then_status_shows_no_drift_and_a_changed_shell_is_named(
    fake_airflow: type[FakeApi],
) -> None:
    assert airflow_push.drift(load_settings({}))[0].startswith(f"no Variable {VARIABLE_KEY}")
    line = airflow_push.push(load_settings(SASL))
    assert line == (f"settings pushed to Airflow: Variable {VARIABLE_KEY}, "
                    f"Connections {KAFKA_CONNECTION}")
    assert fake_airflow.conns[KAFKA_CONNECTION]["password"] == "kafka-pw"
    assert airflow_push.drift(load_settings(SASL))[0].startswith(
        "the DAG's tasks use this shell's settings")
    moved = load_settings({**SASL, "RANDOMUSER_URL": "http://127.0.0.1:8765/api/"})
    assert airflow_push.drift(moved) == [
        "Airflow runs with RANDOMUSER_URL=https://randomuser.me/api/, this shell has "
        "http://127.0.0.1:8765/api/",
        "run `make up` or `make demo` to push this shell's settings",
    ]
    airflow_push.push(load_settings({}))  # no secret any more: its Connection goes
    assert fake_airflow.conns == {}
