"""docker-compose.yml stays pinned, healthy and in step with config/settings.py.

Every check runs twice: on the file as PyYAML reads it (always available), and on
the normalised model printed by a real compose parser (`docker compose config`, or
Debian's `docker-compose config`), which needs no Docker engine. Only the second is
skipped, with the reason, when no compose parser is installed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

from config.settings import PROJECT_ROOT, Settings, load_settings

COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yml"
HOST_ENV_FILE = PROJECT_ROOT / "docker" / "host.env"
LOCK_FILE = PROJECT_ROOT / "requirements.lock"

SETTINGS_VARS = frozenset(f.name.upper() for f in fields(Settings))
# Services that run the project's code and therefore read its settings.
PROJECT_SERVICES = ("airflow", "spark-master", "spark-worker")
# Variables of those services' images, not of config/settings.py.
IMAGE_VARS = re.compile(r"^(AIRFLOW__\w+|_PIP_ADDITIONAL_REQUIREMENTS|PYTHONPATH)$")
SETTINGS_BLOCK = "x-userstream-settings"

_INTERPOLATION = re.compile(r"\$\{(?P<name>\w+)(?::?-(?P<default>[^}]*))?\}")


# -- the two readings of the file ------------------------------------------------


def _read_with_pyyaml() -> dict[str, Any]:
    """The file as written, with ``${VAR:-default}`` replaced by its default."""
    text = _INTERPOLATION.sub(lambda m: m.group("default") or "", COMPOSE_FILE.read_text())
    return yaml.safe_load(text)


def _compose_cli() -> list[str] | None:
    docker = shutil.which("docker")
    if docker and _succeeds([docker, "compose", "version"]):
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def _succeeds(cmd: list[str]) -> bool:
    return subprocess.run(cmd, capture_output=True, timeout=60).returncode == 0


def _read_with_compose_cli() -> dict[str, Any]:
    cli = _compose_cli()
    if cli is None:
        pytest.skip(
            "no compose parser installed: neither the `docker compose` plugin nor "
            "`docker-compose` (Debian: apt-get install --no-install-recommends docker-compose)"
        )
    profiles = sorted({p for s in _read_with_pyyaml()["services"].values()
                       for p in s.get("profiles", [])})
    cmd = [*cli, "-f", str(COMPOSE_FILE)]
    for profile in profiles:  # list optional services too
        cmd += ["--profile", profile]
    # Interpolate from defaults only, not from whatever this shell exports.
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARS}
    result = subprocess.run([*cmd, "config"], capture_output=True, text=True, env=env,
                            cwd=PROJECT_ROOT, timeout=120)
    assert result.returncode == 0, f"{' '.join(cmd)} config failed:\n{result.stderr}"
    return yaml.safe_load(result.stdout)


READERS = {"pyyaml": _read_with_pyyaml, "compose-cli": _read_with_compose_cli}


@pytest.fixture(scope="module", params=sorted(READERS))
def compose(request: pytest.FixtureRequest) -> dict[str, Any]:
    return READERS[request.param]()


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


# -- pure helpers ----------------------------------------------------------------


def published_ports(service: Mapping[str, Any]) -> Iterator[tuple[int, int]]:
    """(host port, container port) of each published port, short or long syntax."""
    for entry in service.get("ports", []):
        if isinstance(entry, Mapping):
            if entry.get("published") is not None:
                yield int(entry["published"]), int(entry["target"])
            continue
        parts = str(entry).split("/")[0].split(":")
        if len(parts) >= 2:  # [ip:]host:container; a lone container port is not published
            yield int(parts[-2]), int(parts[-1])


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):  # KEY=VALUE list syntax
        env = dict(item.split("=", 1) for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def port_of_address(address: str) -> int:
    host, _, port = address.split(",")[0].strip().rpartition(":")
    assert host and port.isdigit(), f"{address!r} is not host:port"
    return int(port)


def port_of_url(url: str) -> int:
    parsed = urlparse(url)
    return parsed.port or {"http": 80, "https": 443}[parsed.scheme]


def settings_ports() -> dict[str, int]:
    """The port each service must publish, read from the native defaults."""
    defaults = Settings()
    return {
        "kafka": port_of_address(defaults.kafka_bootstrap_servers),
        "schema-registry": port_of_url(defaults.schema_registry_url),
        "cassandra": defaults.cassandra_port,
        "airflow": port_of_url(defaults.airflow_url),
        "randomuser": port_of_url(defaults.randomuser_local_url),
    }


def read_env_file(path: Path) -> dict[str, str]:
    pairs = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f"{path}: {line!r} is not KEY=VALUE"
            pairs[key.strip()] = value.strip()
    return pairs


def locked_versions() -> dict[str, str]:
    pins = {}
    for line in LOCK_FILE.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        if match:
            pins[_normalise(match.group(1))] = match.group(2)
    return pins


def _normalise(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("127.0.0.1:9092:9092", [(9092, 9092)]),
        ("127.0.0.1:8088:8080/tcp", [(8088, 8080)]),
        ("8081:8081", [(8081, 8081)]),
        ("7077", []),
        ({"published": "9042", "target": 9042, "host_ip": "127.0.0.1"}, [(9042, 9042)]),
    ],
)
def test_published_ports_reads_every_syntax(entry: object, expected: list) -> None:
    assert list(published_ports({"ports": [entry]})) == expected


# -- the file --------------------------------------------------------------------


def test_every_image_is_pinned_to_a_version(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        image = service.get("image", "")
        repository, _, tag = image.rpartition(":")
        assert repository and "/" not in tag, f"{name}: image {image!r} has no tag"
        assert tag != "latest" and re.search(r"\d", tag), (
            f"{name}: image {image!r} is not pinned to a version"
        )
        assert "$" not in image, f"{name}: image {image!r} depends on the environment"


def test_every_service_has_a_healthcheck(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        check = service.get("healthcheck") or {}
        assert not check.get("disable"), f"{name}: healthcheck disabled"
        assert check.get("test") and check["test"] != ["NONE"], f"{name}: no healthcheck"


@pytest.mark.parametrize("service", sorted(settings_ports()))
def test_published_port_is_the_settings_default(
    services: dict[str, dict[str, Any]], service: str
) -> None:
    port = settings_ports()[service]
    assert (port, port) in list(published_ports(services[service])), (
        f"{service} must publish {port}:{port} (the native default in config/settings.py), "
        f"has {services[service].get('ports')}"
    )


def test_kafka_advertises_the_default_bootstrap_address(
    services: dict[str, dict[str, Any]],
) -> None:
    advertised = environment(services["kafka"])["KAFKA_ADVERTISED_LISTENERS"]
    hosts = {listener.split("://", 1)[1] for listener in advertised.split(",")}
    default = Settings().kafka_bootstrap_servers
    assert default in hosts, f"kafka advertises {sorted(hosts)}; clients use {default}"


def test_cassandra_datacenter_is_the_settings_default(
    services: dict[str, dict[str, Any]],
) -> None:
    assert environment(services["cassandra"])["CASSANDRA_DC"] == Settings().cassandra_local_dc


@pytest.mark.parametrize("service", PROJECT_SERVICES)
def test_project_services_use_only_real_settings(
    services: dict[str, dict[str, Any]], service: str
) -> None:
    env = environment(services[service])
    unknown = {k for k in env if k not in SETTINGS_VARS and not IMAGE_VARS.match(k)}
    assert not unknown, f"{service}: {sorted(unknown)} are not fields of config.settings.Settings"
    ours = {k: v for k, v in env.items() if k in SETTINGS_VARS}
    assert {"KAFKA_BOOTSTRAP_SERVERS", "SCHEMA_REGISTRY_URL", "CASSANDRA_HOSTS"} <= set(ours)
    load_settings(ours)  # raises SettingsError, naming the variable, if a value is invalid


def test_settings_block_names_real_settings() -> None:
    block = _read_with_pyyaml()[SETTINGS_BLOCK]
    assert set(block) <= SETTINGS_VARS, sorted(set(block) - SETTINGS_VARS)


def test_airflow_installs_the_locked_versions(services: dict[str, dict[str, Any]]) -> None:
    requirements = environment(services["airflow"])["_PIP_ADDITIONAL_REQUIREMENTS"].split()
    locked = locked_versions()
    assert requirements
    for requirement in requirements:
        name, sep, version = requirement.partition("==")
        assert sep, f"{requirement!r} is not pinned"
        name = _normalise(name.split("[")[0])
        assert locked.get(name) == version, (
            f"{requirement!r}: requirements.lock has {name}=={locked.get(name)}"
        )


# -- the host side ---------------------------------------------------------------


def test_host_env_points_at_the_published_registry() -> None:
    host_env = read_env_file(HOST_ENV_FILE)
    assert set(host_env) <= SETTINGS_VARS, sorted(set(host_env) - SETTINGS_VARS)
    settings = load_settings(host_env)
    url = urlparse(settings.schema_registry_url)
    # Confluent's registry serves its API at the root, unlike Apicurio's ccompat path.
    assert url.path in ("", "/"), settings.schema_registry_url
    assert url.hostname in ("localhost", "127.0.0.1")
    assert port_of_url(settings.schema_registry_url) == settings_ports()["schema-registry"]
