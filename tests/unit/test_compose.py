"""docker-compose.yml stays pinned, runnable and in step with config/settings.py.

Every check runs twice: on the file as PyYAML reads it (always available), and on
the normalised model printed by a real compose parser (`docker compose config`, or
Debian's `docker-compose config`), which needs no Docker engine. Only the second is
skipped, with the reason, when no compose parser is installed. No test runs a container:
what a service names (its command, entrypoint, healthcheck, build context, bind mounts,
the Dockerfile's COPY sources and the modules it runs) must exist in the checkout.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

from config.airflow_settings import task_overrides
from config.settings import PROJECT_ROOT, Settings, load_settings

COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yml"
HOST_ENV_FILE = PROJECT_ROOT / "docker" / "host.env"
DOCKERFILE = PROJECT_ROOT / "docker" / "Dockerfile"
DOCKERIGNORE = PROJECT_ROOT / "docker" / "Dockerfile.dockerignore"
MAKEFILE = PROJECT_ROOT / "Makefile"

SETTINGS_VARS = frozenset(f.name.upper() for f in fields(Settings))
# Services that run the project's code (the image of docker/Dockerfile) and read its settings.
PROJECT_SERVICES = ("schemas-init", "stream", "randomuser", "console", "airflow")
# Variables of those services' images, not of config/settings.py.
IMAGE_VARS = re.compile(r"^(AIRFLOW__\w+|AIRFLOW_HOME)$")
SETTINGS_BLOCK = "x-userstream-settings"
CONTAINER_ROOT = "/opt/userstream"  # docker/Dockerfile's WORKDIR: the checkout's copy
# Services without a healthcheck, and why (one-shot services are found by their dependants).
NO_HEALTHCHECK = {
    # Confluent's images for Control Center; which tools they ship is not documented, and
    # control-center's own healthcheck covers the UI they serve.
    "prometheus": "Control Center's metrics store",
    "alertmanager": "Control Center's alert store",
}
# Control Center 2.x: its Prometheus and Alertmanager images come with the same release.
CONTROL_CENTER_IMAGES = (
    "confluentinc/cp-enterprise-control-center-next-gen",
    "confluentinc/cp-enterprise-prometheus",
    "confluentinc/cp-enterprise-alertmanager",
)

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
            value = value.strip()
            if len(value) > 1 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]  # the file is sourced by a shell: quotes are syntax
            pairs[key.strip()] = value
    return pairs


def depends_on(service: Mapping[str, Any]) -> dict[str, str]:
    """Each service this one waits for, with the condition (short or long syntax)."""
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {name: "service_started" for name in deps}
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def one_shot_services(services: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """Services another one waits for to finish: `up --wait` accepts their exit only then."""
    return {dep for service in services.values()
            for dep, condition in depends_on(service).items()
            if condition == "service_completed_successfully"}


def shell_words(argv: str | list[object] | None) -> list[str]:
    """The words of a command or healthcheck, shell strings split (CMD/CMD-SHELL dropped)."""
    words = shlex.split(argv) if isinstance(argv, str) else [str(a) for a in argv or []]
    words = [w for w in words if w not in ("CMD", "CMD-SHELL")]
    return [part for w in words for part in (shlex.split(w) if " " in w else [w])]


def repo_paths(words: list[str]) -> list[str]:
    """Words naming a file of the checkout: in the image it is /opt/userstream (WORKDIR)."""
    found = []
    for word in words:
        word = word.removeprefix(f"{CONTAINER_ROOT}/")
        named_file = re.fullmatch(r"[\w./*-]+\.(sh|py|yml|yaml|toml|avsc)", word)
        if named_file and not word.startswith("/"):
            found.append(word)
    return found


def python_modules(text: str) -> list[str]:
    """The modules of every ``python -m MODULE`` in ``text``."""
    return re.findall(r"python3?\s+-m\s+([A-Za-z_][\w.]*)", text)


def module_exists(module: str) -> bool:
    """Whether ``python -m module`` runs from the checkout (a module, or a package's __main__)."""
    base = PROJECT_ROOT.joinpath(*module.split("."))
    return base.with_suffix(".py").is_file() or (base / "__main__.py").is_file()


def dockerfile_instructions(path: Path) -> list[tuple[str, list[str]]]:
    """(instruction, arguments) of each line, continuation lines joined."""
    text = re.sub(r"\\\n", " ", path.read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [(line.split()[0].upper(), line.split()[1:]) for line in lines
            if line and not line.startswith("#")]


def ignored(relative: str, patterns: list[str]) -> bool:
    """Whether .dockerignore ``patterns`` leave ``relative`` out of the build context.

    The last matching pattern wins; a pattern matching a directory covers what is in it.
    """
    parts = relative.strip("/").split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    result = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        glob = pattern.removeprefix("!").strip("/")
        if any(fnmatch.fnmatch(p, glob) or fnmatch.fnmatch(p, glob.removeprefix("**/"))
               or fnmatch.fnmatch(p.rsplit("/", 1)[-1], glob.removeprefix("**/"))
               for p in prefixes):
            result = not negate
    return result


def dockerignore_patterns() -> list[str]:
    return [line.strip() for line in DOCKERIGNORE.read_text().splitlines()
            if line.strip() and not line.startswith("#")]


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


@pytest.mark.parametrize(
    ("patterns", "path", "expected"),
    [
        (["*", "!config/"], "config/settings.py", False),
        (["*", "!config/"], ".venv/bin/python", True),
        (["*", "!stack/", "**/__pycache__"], "stack/__pycache__/x.pyc", True),
        (["*", "!requirements.lock"], "requirements.lock", False),
    ],
)
def test_ignored_follows_dockerignore_rules(patterns: list[str], path: str, expected: bool) -> None:
    assert ignored(path, patterns) is expected


def test_repo_paths_and_modules_are_found_in_commands() -> None:
    words = shell_words(["sh", "-c", "cp -n /opt/userstream/docker/control-center/*.yml /mnt/x/"])
    assert repo_paths(words) == ["docker/control-center/*.yml"]
    assert repo_paths(shell_words(["bash", "docker/stream.sh"])) == ["docker/stream.sh"]
    assert python_modules("exec python -m stack.supervise -- python -m stack spark") == [
        "stack.supervise", "stack"]


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
    exempt = one_shot_services(services) | set(NO_HEALTHCHECK)
    for name, service in services.items():
        if name in exempt:
            assert not service.get("healthcheck"), f"{name}: exempt, yet has a healthcheck"
            continue
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


# -- what the services name exists ------------------------------------------------


def test_every_file_a_service_names_exists(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        words = [*shell_words(service.get("command")), *shell_words(service.get("entrypoint")),
                 *shell_words((service.get("healthcheck") or {}).get("test"))]
        for path in repo_paths(words):
            assert list(PROJECT_ROOT.glob(path)), f"{name}: names {path}, not in the checkout"
            assert not ignored(path, dockerignore_patterns()), (
                f"{name}: {path} is left out of the image by {DOCKERIGNORE.name}")
        for module in python_modules(" ".join(words)):
            assert module_exists(module), f"{name}: python -m {module}: no such module"


def test_every_build_context_and_bind_mount_exists(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        build = service.get("build")
        if build:
            build = {"context": build} if isinstance(build, str) else build
            context = PROJECT_ROOT / build.get("context", ".")
            assert context.is_dir(), f"{name}: build context {context} is missing"
            dockerfile = context / build.get("dockerfile", "Dockerfile")
            assert dockerfile.is_file(), f"{name}: {dockerfile} is missing"
        for volume in service.get("volumes", []):
            if isinstance(volume, Mapping):
                source = volume.get("source", "") if volume.get("type") == "bind" else ""
            else:
                source = str(volume).split(":")[0]
                source = source if source.startswith((".", "/")) else ""  # named volume
            if source:
                assert (PROJECT_ROOT / source).exists(), f"{name}: bind mount {source} is missing"


def test_scripts_run_existing_modules() -> None:
    scripts = sorted((PROJECT_ROOT / "docker").glob("*.sh"))
    assert scripts
    for script in scripts:
        for module in python_modules(script.read_text()):
            assert module_exists(module), f"{script.name}: python -m {module}: no such module"


def test_project_services_share_the_project_image(services: dict[str, dict[str, Any]]) -> None:
    images = {services[name].get("image") for name in PROJECT_SERVICES}
    assert len(images) == 1, f"the project's services run different images: {images}"
    for name in PROJECT_SERVICES:
        build = services[name].get("build") or {}
        assert str(build.get("dockerfile", "")).endswith("docker/Dockerfile"), name


def test_one_shot_services_are_awaited(services: dict[str, dict[str, Any]]) -> None:
    # `docker compose up --wait` counts a finished container as a failure unless a running
    # service waits for it to complete; every service meant to exit must be one of those.
    one_shot = one_shot_services(services)
    assert "schemas-init" in one_shot
    for name, service in services.items():
        if str(service.get("restart", "")) == "no":
            assert name in one_shot, f"{name} exits, but no service waits for it to complete"


def test_stream_runs_locally_with_its_checkpoint_on_a_volume(
    services: dict[str, dict[str, Any]],
) -> None:
    stream = services["stream"]
    env = environment(stream)
    assert env["SPARK_MASTER"].startswith("local["), env["SPARK_MASTER"]
    targets = [str(v["target"] if isinstance(v, Mapping) else str(v).split(":")[1])
               for v in stream.get("volumes", [])]
    assert any(env["SPARK_CHECKPOINT_DIR"].startswith(t) for t in targets), (
        f"the checkpoint {env['SPARK_CHECKPOINT_DIR']} is on no volume: {targets}")
    assert depends_on(stream).get("schemas-init") == "service_completed_successfully"


def test_console_serves_beside_control_center(services: dict[str, dict[str, Any]]) -> None:
    console = services["console"]
    env = environment(console)
    settings = load_settings({k: v for k, v in env.items() if k in SETTINGS_VARS})
    # Inside: every interface (the published port reaches it), on the native default port.
    assert settings.console_host == "0.0.0.0"
    assert settings.console_port == Settings().console_port
    assert list(published_ports(console)) == [(9022, settings.console_port)]
    center = {host for host, _ in published_ports(services["control-center"])}
    assert 9022 not in center and Settings().console_port in center  # Control Center keeps 9021
    assert all(str(p).startswith("127.0.0.1:") or (isinstance(p, Mapping) and
               p.get("host_ip") == "127.0.0.1") for p in console["ports"])
    assert depends_on(console).get("schemas-init") == "service_completed_successfully"
    assert python_modules(" ".join(shell_words(console.get("command")))) == ["console"]


def test_control_center_is_the_line_for_kafka_4(services: dict[str, dict[str, Any]]) -> None:
    by_image = {s["image"].rpartition(":")[0]: s for s in services.values() if "image" in s}
    assert "confluentinc/cp-enterprise-control-center" not in by_image, "legacy Control Center"
    tags = {by_image[image]["image"].rpartition(":")[2] for image in CONTROL_CENTER_IMAGES}
    assert len(tags) == 1 and next(iter(tags)).startswith("2."), (
        f"Control Center, its Prometheus and Alertmanager must be one 2.x release: {tags}")
    center = by_image[CONTROL_CENTER_IMAGES[0]]
    assert center.get("profiles") == ["ui"]
    registry = environment(center)["CONTROL_CENTER_SCHEMA_REGISTRY_URL"]
    assert urlparse(registry).hostname == "schema-registry"
    assert port_of_url(registry) in {t for _, t in published_ports(services["schema-registry"])}


# -- the image ------------------------------------------------------------------


def test_dockerfile_bases_are_pinned_and_copies_exist() -> None:
    stages: set[str] = set()
    patterns = dockerignore_patterns()
    for instruction, args in dockerfile_instructions(DOCKERFILE):
        if instruction == "FROM":
            image = args[0]
            if image not in stages:
                _, _, tag = image.rpartition(":")
                assert tag and tag != "latest" and re.search(r"\d", tag), f"FROM {image}"
            if len(args) == 3 and args[1].upper() == "AS":
                stages.add(args[2])
        elif instruction in ("COPY", "ADD") and not any(a.startswith("--from=") for a in args):
            for source in [a for a in args if not a.startswith("--")][:-1]:
                assert (PROJECT_ROOT / source).exists(), f"{instruction} {source}: not found"
                if source != ".":
                    assert not ignored(source, patterns), (
                        f"{source} is left out by {DOCKERIGNORE.name}")


def test_image_gets_the_code_the_services_import() -> None:
    # Everything below bench and chaos in the layers (pyproject's [tool.importlinter]), and
    # the contracts, the generated CQL and the DAG.
    patterns = dockerignore_patterns()
    for folder in ("contract", "config", "producers", "streaming", "schematool", "ops", "dags",
                   "console", "stack", "schemas", "cql", "docker", "requirements.lock"):
        assert not ignored(folder, patterns), f"{folder} is left out of the image"
    for folder in (".venv", ".stack", ".git"):
        assert ignored(folder, patterns), f"{folder} would be sent to the image build"


def test_image_installs_the_lock_file_with_the_makefiles_uv() -> None:
    text = DOCKERFILE.read_text()
    uv = re.search(r"^UV_VERSION\s*:=\s*(\S+)", MAKEFILE.read_text(), re.M)
    assert uv and f"uv=={uv.group(1)}" in text, "the image's uv differs from the Makefile's"
    assert "uv pip sync" in text and "requirements.lock" in text
    # The job's jars come from the native stack's own pom, resolved into the file
    # stack/maven.py reads ($STACK_HOME/classpath/spark.txt).
    assert "stack/maven/spark/pom.xml" in text
    assert "STACK_HOME=/var/lib/userstream" in text
    assert "/var/lib/userstream/classpath/spark.txt" in text


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


def read_host_env() -> dict[str, str]:
    return read_env_file(HOST_ENV_FILE)


def test_host_env_reaches_every_published_service(services: dict[str, dict[str, Any]]) -> None:
    settings = load_settings(read_host_env())
    wanted = {
        "kafka": port_of_address(settings.kafka_bootstrap_servers),
        "schema-registry": port_of_url(settings.schema_registry_url),
        "cassandra": settings.cassandra_port,
        "airflow": port_of_url(settings.airflow_url),
        "randomuser": port_of_url(settings.randomuser_local_url),
    }
    for service, port in wanted.items():
        assert port in {host for host, _ in published_ports(services[service])}, (
            f"docker/host.env reaches {service} on {port}; compose publishes "
            f"{services[service].get('ports')}")


def test_host_env_marks_every_service_external() -> None:
    # The services run in compose: the host's tools only probe them (STACK_EXTERNAL).
    host_env = read_host_env()
    assert host_env.get("STACK_EXTERNAL") == "all"
    load_settings(host_env)  # a valid value


def test_host_env_logs_in_to_the_compose_airflow(services: dict[str, dict[str, Any]]) -> None:
    host_env = read_host_env()
    airflow = environment(services["airflow"])
    assert host_env["AIRFLOW_USERNAME"] == airflow["AIRFLOW_USERNAME"]
    assert host_env["AIRFLOW_PASSWORD"] == airflow["AIRFLOW_PASSWORD"]
    users = dict(user.split(":")
                 for user in airflow["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"].split(","))
    assert users.get(host_env["AIRFLOW_USERNAME"]) == "admin"


def test_host_env_pushes_the_compose_networks_names_to_airflows_tasks() -> None:
    """What make up/demo/schemas push into the compose Airflow names the services as the
    containers see them (x-userstream-settings), not as the host does."""
    host = load_settings(read_host_env())
    inside = _read_with_pyyaml()[SETTINGS_BLOCK]
    tasks = task_overrides(host)
    for name in ("KAFKA_BOOTSTRAP_SERVERS", "SCHEMA_REGISTRY_URL", "RANDOMUSER_LOCAL_URL"):
        assert tasks.get(name) == inside[name], name
    workdir = re.search(r"^WORKDIR\s+(\S+)", (PROJECT_ROOT / "docker" / "Dockerfile").read_text(),
                        re.MULTILINE)
    assert workdir is not None
    assert tasks.get("CONTRACTS_DIR") == f"{workdir.group(1)}/schemas"
