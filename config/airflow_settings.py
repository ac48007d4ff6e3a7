"""The settings the DAG's tasks get from Airflow: a Variable, and secrets in Connections.

A running Airflow keeps the environment it was started with, so a setting changed in
the shell later (``RANDOMUSER_URL=... make demo``) would never reach its tasks. Instead
``make up``, ``make demo`` and ``make schemas`` push this checkout's settings into
Airflow (config.airflow_push), and each task overlays them on its environment
(:func:`task_settings`, pure). Non-secret values go in one JSON Variable; the secrets in
Connections, which Airflow stores encrypted and masks in task logs. Nothing of them goes
through XCom, params or rendered templates.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from config.settings import Secret, Settings, SettingsError, load_settings

VARIABLE_KEY = "userstream_settings"
KAFKA_CONNECTION = "userstream_kafka"  # login: KAFKA_SASL_USERNAME, password: its password
REGISTRY_CONNECTION = "userstream_schema_registry"  # login:password = the basic auth

# The non-secret settings the DAG's tasks use: the producer's Kafka and registry, the API
# source, the contracts. Every other setting the tasks see is the environment's.
PUSHED_SETTINGS = (
    "KAFKA_BOOTSTRAP_SERVERS",
    "KAFKA_SECURITY_PROTOCOL",
    "KAFKA_SASL_MECHANISM",
    "KAFKA_SSL_CA_LOCATION",
    "SCHEMA_REGISTRY_URL",
    "SCHEMA_REGISTRY_SSL_CA_LOCATION",
    "RANDOMUSER_URL",
    "RANDOMUSER_LOCAL_URL",
    "RANDOMUSER_SOURCE",
    "CONTRACTS_DIR",
)


@dataclass(frozen=True)
class Login:
    """A Connection's login and password (the password never printed)."""

    login: str
    password: Secret


@dataclass(frozen=True)
class ConnectionSpec:
    conn_id: str
    conn_type: str
    host: str
    description: str
    credentials: Login | None  # None: the settings have no secret; the Connection goes


def task_overrides(settings: Settings) -> dict[str, str]:
    """``AIRFLOW_TASK_SETTINGS``: what the tasks see differently from this shell."""
    overrides = {}
    for pair in settings.airflow_task_settings.split():
        name, sep, value = pair.partition("=")
        if not sep or name not in PUSHED_SETTINGS:
            raise SettingsError(
                f"AIRFLOW_TASK_SETTINGS: {pair!r} is not NAME=value of a pushed setting "
                f"({', '.join(PUSHED_SETTINGS)})"
            )
        overrides[name] = value
    return overrides


def pushed(settings: Settings) -> dict[str, str]:
    """The settings the tasks get: this shell's, as ``AIRFLOW_TASK_SETTINGS`` amends them."""
    env = settings.as_env()
    return {**{name: env[name] for name in PUSHED_SETTINGS}, **task_overrides(settings)}


def variable_value(settings: Settings) -> str:
    """The Variable's JSON: the pushed settings, as environment names."""
    return json.dumps(pushed(settings), indent=1, sort_keys=True)


def connections(settings: Settings) -> list[ConnectionSpec]:
    """The Connections that carry ``settings``' secrets to the tasks."""
    kafka = None
    if settings.kafka_sasl_password:
        kafka = Login(settings.kafka_sasl_username, settings.kafka_sasl_password)
    registry = None
    user_info = settings.schema_registry_basic_auth_user_info.reveal()
    if user_info:
        user, _, password = user_info.partition(":")
        registry = Login(user, Secret(password))
    return [
        ConnectionSpec(KAFKA_CONNECTION, "generic", settings.kafka_bootstrap_servers,
                       "userstream: Kafka SASL credentials (make up pushes them)", kafka),
        ConnectionSpec(REGISTRY_CONNECTION, "http", settings.schema_registry_url,
                       "userstream: schema registry basic auth (make up pushes it)", registry),
    ]


def pushed_values(variable: str | None) -> dict[str, str]:
    """The Variable's settings; refuses anything but a JSON object of pushed settings."""
    if not variable:
        return {}
    try:
        values = json.loads(variable)
    except ValueError as exc:
        raise SettingsError(f"Airflow Variable {VARIABLE_KEY} is not JSON: {exc}") from None
    if not isinstance(values, dict):
        raise SettingsError(f"Airflow Variable {VARIABLE_KEY} is not a JSON object")
    unknown = sorted(set(values) - set(PUSHED_SETTINGS))
    if unknown:
        raise SettingsError(
            f"Airflow Variable {VARIABLE_KEY} holds {', '.join(unknown)}, which it never "
            f"carries (secrets go in Connections); it may hold {', '.join(PUSHED_SETTINGS)}"
        )
    return {name: str(value) for name, value in values.items()}


def task_settings(
    environ: Mapping[str, str],
    variable: str | None,
    *,
    kafka: Login | None = None,
    registry: Login | None = None,
) -> Settings:
    """The settings of a DAG task: ``environ``, overlaid with the Variable and Connections."""
    env = {**environ, **pushed_values(variable)}
    if kafka is not None:
        env["KAFKA_SASL_USERNAME"] = kafka.login
        env["KAFKA_SASL_PASSWORD"] = kafka.password.reveal()
    if registry is not None:
        env["SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO"] = (
            f"{registry.login}:{registry.password.reveal()}"
        )
    return load_settings(env)


def differences(variable: str | None, settings: Settings) -> list[tuple[str, str, str]]:
    """(name, Airflow's value, this shell's value) for each pushed setting that differs."""
    theirs = pushed_values(variable)
    ours = pushed(settings)
    return [(name, theirs[name], ours[name]) for name in PUSHED_SETTINGS
            if name in theirs and theirs[name] != ours[name]]
