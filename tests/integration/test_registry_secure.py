"""The registry of the secure profile, for real: a registry of the test's own, started by
``python -m stack up registry`` with ``STACK_PROFILE=secure`` in a temporary STACK_HOME on
free ports, and stopped at the end. It never touches the stack of the other tests.

HTTPS with the stack's CA, basic auth: ``registry-admin`` registers, ``registry-reader``
reads and looks up but may not register (403), anonymous and wrong passwords are 401, plain
HTTP and a client without the CA are refused.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest
import requests
from confluent_kafka.schema_registry import Schema
from confluent_kafka.schema_registry.error import SchemaRegistryError

from config import credentials
from config.clients import schema_registry_client
from config.settings import PROJECT_ROOT, Secret, Settings, load_settings
from stack import maven
from stack.paths import StackPaths

pytestmark = pytest.mark.integration

SCHEMA = Schema(json.dumps({"type": "record", "name": "SecureProbe", "namespace": "test",
                            "fields": [{"name": "id", "type": "string"}]}), "AVRO")
SUBJECT = "secure_probe-value"


@dataclass(frozen=True)
class SecureRegistry:
    settings: Settings  # the admin's, as `make ... PROFILE=secure` would load them
    home: Path
    port: int

    def as_user(self, user: str, password: str | None = None) -> Settings:
        if password is None:
            password = credentials.load(self.home).password("registry", user).reveal()
        return replace(self.settings,
                       schema_registry_basic_auth_user_info=Secret(f"{user}:{password}"))


def _free_port_pair() -> int:
    """A port free on loopback whose + 1000 (the management port) is free too."""
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port + 1000 > 65535:
            continue
        with socket.socket() as other:
            try:
                other.bind(("127.0.0.1", port + 1000))
            except OSError:
                continue
        return port
    raise AssertionError("no free pair of loopback ports (port, port + 1000)")


def _stack(env: dict[str, str], action: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stack", action, "registry"], env=env,
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=180,
                          check=False)


@pytest.fixture(scope="module")
def secure_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureRegistry]:
    home = tmp_path_factory.mktemp("secure-registry") / "home"
    # The distribution the project's stack already unpacked, not a second copy.
    dist = maven.registry_distribution(StackPaths.from_settings(load_settings(os.environ)))
    (home / "dist").mkdir(parents=True)
    (home / "dist" / dist.name).symlink_to(dist)
    port = _free_port_pair()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SCHEMA_REGISTRY_", "KAFKA_", "CASSANDRA_", "STACK_"))}
    env.update(PYTHONPATH=str(PROJECT_ROOT), STACK_PROFILE="secure", STACK_HOME=str(home),
               SCHEMA_REGISTRY_URL=f"https://localhost:{port}/apis/ccompat/v7")
    try:
        up = _stack(env, "up")
        assert up.returncode == 0, up.stdout + up.stderr
        yield SecureRegistry(load_settings(env), home, port)
    finally:
        down = _stack(env, "down")
        assert down.returncode == 0, down.stdout + down.stderr


def test_the_stack_probed_it_over_https_and_set_compatibility_as_admin(
        secure_registry: SecureRegistry) -> None:
    settings = secure_registry.settings
    assert settings.schema_registry_url.startswith("https://")
    assert settings.schema_registry_ssl_ca_location == str(secure_registry.home / "tls/ca.pem")
    reader = schema_registry_client(secure_registry.as_user(credentials.REGISTRY_READER))
    # after_start's PUT /config needed the admin; anyone authenticated may read it.
    assert reader.get_compatibility() == "BACKWARD"


def test_admin_registers_reader_reads_and_looks_up_but_may_not_register(
        secure_registry: SecureRegistry) -> None:
    admin = schema_registry_client(secure_registry.settings)
    schema_id = admin.register_schema(SUBJECT, SCHEMA)

    reader = schema_registry_client(secure_registry.as_user(credentials.REGISTRY_READER))
    assert reader.get_latest_version(SUBJECT).schema_id == schema_id
    assert json.loads(reader.get_schema(schema_id).schema_str)["name"] == "SecureProbe"
    # What the stream asks (streaming/registry.py): the subject versions of a writer id.
    assert [(v.subject, v.version) for v in reader.get_schema_versions(schema_id)] == [
        (SUBJECT, 1)]
    # What a serializer with auto.register.schemas=false does: look the schema up by content.
    assert reader.lookup_schema(SUBJECT, SCHEMA).schema_id == schema_id
    assert reader.test_compatibility(SUBJECT, SCHEMA, version="latest")

    changed = Schema(SCHEMA.schema_str.replace('"string"}', '"string"}, '
                                               '{"name": "x", "type": "int", "default": 0}'),
                     "AVRO")
    with pytest.raises(SchemaRegistryError) as refused:
        reader.register_schema(SUBJECT, changed)
    assert refused.value.http_status_code == 403
    assert "not authorized" in refused.value.error_message
    with pytest.raises(SchemaRegistryError) as delete_refused:
        reader.delete_subject(SUBJECT)
    assert delete_refused.value.http_status_code == 403
    with pytest.raises(SchemaRegistryError) as config_refused:
        reader.set_compatibility(level="NONE")
    assert config_refused.value.http_status_code == 403
    assert admin.get_versions(SUBJECT) == [1]  # nothing the reader tried changed anything


def test_no_credentials_or_a_wrong_password_is_401(secure_registry: SecureRegistry) -> None:
    anonymous = replace(secure_registry.settings, schema_registry_basic_auth_user_info=Secret(""))
    wrong = secure_registry.as_user(credentials.REGISTRY_ADMIN, "not-the-password")
    for settings in (anonymous, wrong):
        with pytest.raises(SchemaRegistryError) as refused:
            schema_registry_client(settings).get_subjects()
        assert refused.value.http_status_code == 401
    # Every path, not only the Confluent API's: the core API and the UI's root too.
    ca = secure_registry.settings.schema_registry_ssl_ca_location
    for path in ("/apis/registry/v3/system/info", "/"):
        resp = requests.get(f"https://localhost:{secure_registry.port}{path}", verify=ca,
                            timeout=5)
        assert resp.status_code == 401, path


def test_plain_http_to_its_port_is_refused(secure_registry: SecureRegistry) -> None:
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://localhost:{secure_registry.port}/apis/ccompat/v7/subjects",
                     timeout=5)


def test_a_client_without_the_stack_ca_refuses_its_certificate(
        secure_registry: SecureRegistry) -> None:
    untrusting = replace(secure_registry.settings, schema_registry_ssl_ca_location="")
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        schema_registry_client(untrusting).get_subjects()


def test_management_port_is_tls_on_loopback_with_health_only_facts(
        secure_registry: SecureRegistry) -> None:
    """Health and metrics answer without credentials, over TLS, on 127.0.0.1 only."""
    ca = secure_registry.settings.schema_registry_ssl_ca_location
    management = secure_registry.port + 1000
    health = requests.get(f"https://localhost:{management}/health", verify=ca, timeout=5)
    assert health.status_code == 200 and health.json()["status"] == "UP"
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://localhost:{management}/health", timeout=5)
    assert _listening_on(management) <= LOOPBACK_HEX
    assert _listening_on(management)


# /proc/net/tcp{,6}'s spelling of 127.0.0.1, ::ffff:127.0.0.1 and ::1.
LOOPBACK_HEX = {"0100007F", "0000000000000000FFFF00000100007F",
                "00000000000000000000000001000000"}


def _listening_on(port: int) -> set[str]:
    """The local addresses (hex, as the kernel lists them) a socket listens on ``port`` at."""
    addresses = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in (line.split() for line in Path(table).read_text().splitlines()[1:]):
            address, _, hex_port = row[1].partition(":")
            if row[3] == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                addresses.add(address)
    return addresses


def test_no_password_in_its_command_line_or_its_log(secure_registry: SecureRegistry) -> None:
    paths = StackPaths(secure_registry.home)
    pid = paths.pidfile("registry").read_text().split()[0]
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().replace("\0", " ")
    logs = "".join(p.read_text(errors="replace") for p in paths.logs_dir.rglob("*")
                   if p.is_file())
    assert "secure.properties" in argv
    for password in credentials.load(secure_registry.home).every_secret():
        assert password not in argv
        assert password not in logs
