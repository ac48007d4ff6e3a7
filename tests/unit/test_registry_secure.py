"""The registry service in both profiles, without starting it: what it renders, the command
line it runs, and how its probe and after_start reach the registry (stack/services/registry.py).
"""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path
from typing import Any

import pytest
import requests

from config import credentials
from config.settings import load_settings
from stack import maven
from stack.paths import StackPaths
from stack.services import Context, ServiceError, registry
from stack.services.registry import Registry, password_digest
from stack.tls import TlsPaths, ensure_tls

URL = "https://localhost:28081/apis/ccompat/v7"


@pytest.fixture(autouse=True)
def _no_distribution(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No Maven: the distribution is a directory name here."""
    dist = tmp_path / "dist" / "apicurio-registry-test"
    monkeypatch.setattr(maven, "registry_distribution", lambda paths: dist)


def _secure_ctx(home: Path, **env: str) -> Context:
    ensure_tls(home)
    credentials.ensure(home)
    settings = load_settings({"STACK_HOME": str(home), "STACK_PROFILE": "secure",
                              "SCHEMA_REGISTRY_URL": URL, **env})
    return Context(settings, StackPaths.from_settings(settings))


def _plain_ctx(home: Path) -> Context:
    settings = load_settings({"STACK_HOME": str(home),
                              "SCHEMA_REGISTRY_URL": "http://localhost:28081/apis/ccompat/v7"})
    return Context(settings, StackPaths.from_settings(settings))


def _passwords(home: Path) -> list[str]:
    return credentials.load(home).every_secret()


def test_password_digest_is_what_quarkus_embedded_realm_compares() -> None:
    # quarkus.security.users.embedded.algorithm=digest-sha-512: hex of user:realm:password.
    expected = hashlib.sha512(b"registry-admin:Quarkus:s3cret").hexdigest()
    assert password_digest("registry-admin", "s3cret") == expected


def test_secure_prepare_renders_https_only_basic_auth_and_roles(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ctx = _secure_ctx(home)
    Registry().prepare(ctx)
    conf = ctx.paths.conf_dir / "registry"
    secure = (conf / "secure.properties").read_text()
    tls = TlsPaths.under(home)
    assert "quarkus.http.ssl-port=28081" in secure
    assert "quarkus.http.insecure-requests=disabled" in secure
    assert f"quarkus.http.ssl.certificate.files={tls.cert('registry')}" in secure
    assert f"quarkus.http.ssl.certificate.key-files={tls.key('registry')}" in secure
    assert "quarkus.http.auth.basic=true" in secure
    assert "apicurio.auth.role-based-authorization=true" in secure
    assert "quarkus.security.users.embedded.roles.registry-admin=sr-admin" in secure
    assert "quarkus.security.users.embedded.roles.registry-reader=sr-readonly" in secure
    assert "quarkus.http.auth.permission.authenticated.policy=authenticated" in secure
    assert "quarkus.http.port=" not in secure  # no plain listener in the secure profile
    creds = credentials.load(home)
    for user in (credentials.REGISTRY_ADMIN, credentials.REGISTRY_READER):
        digest = password_digest(user, creds.password("registry", user).reveal())
        assert f"quarkus.security.users.embedded.users.{user}={digest}" in secure
    assert "${" not in secure
    assert stat.S_IMODE((conf / "secure.properties").stat().st_mode) == 0o600
    base = (conf / "application.properties").read_text()
    assert "quarkus.management.host=127.0.0.1" in base
    assert "quarkus.management.port=29081" in base
    assert not (conf / "plain.properties").exists()


def test_no_password_in_any_rendered_file_or_the_command_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    ctx = _secure_ctx(home)
    service = Registry()
    service.prepare(ctx)
    monkeypatch.setattr(registry, "find_java", lambda *a: type("J", (), {"executable": "java"}))
    command = service.command(ctx)
    argv = " ".join(command.argv)
    conf = ctx.paths.conf_dir / "registry"
    assert (f"-Dquarkus.config.locations={conf / 'application.properties'},"
            f"{conf / 'secure.properties'}") in command.argv
    texts = [argv, *command.env.values(),
             *(p.read_text() for p in home.rglob("*") if p.is_file() and "conf" in p.parts)]
    for password in _passwords(home):
        assert not any(password in text for text in texts)


def test_prepare_again_keeps_the_file_private(tmp_path: Path) -> None:
    ctx = _secure_ctx(tmp_path / "home")
    Registry().prepare(ctx)
    Registry().prepare(ctx)
    secure = ctx.paths.conf_dir / "registry" / "secure.properties"
    assert stat.S_IMODE(secure.stat().st_mode) == 0o600
    assert not list(secure.parent.glob("*.partial"))


def test_plain_prepare_is_http_without_auth(tmp_path: Path) -> None:
    ctx = _plain_ctx(tmp_path / "home")
    Registry().prepare(ctx)
    conf = ctx.paths.conf_dir / "registry"
    assert (conf / "plain.properties").read_text().strip().endswith("quarkus.http.port=28081")
    assert not (conf / "secure.properties").exists()
    base = (conf / "application.properties").read_text()
    assert "quarkus.http.auth" not in base and "quarkus.http.ssl" not in base


def test_secure_prepare_without_tls_names_the_missing_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ctx = _secure_ctx(home)
    TlsPaths.under(home).key("registry").unlink()
    with pytest.raises(ServiceError, match=r"registry\.key is missing"):
        Registry().prepare(ctx)


def test_secure_prepare_without_the_registry_users_says_so_without_secrets(
        tmp_path: Path) -> None:
    home = tmp_path / "home"
    ctx = _secure_ctx(home)
    path = credentials.path_under(home)
    passwords = _passwords(home)
    path.write_text('{"kafka": {}}')
    with pytest.raises(ServiceError) as info:
        Registry().prepare(ctx)
    assert str(path) in str(info.value)
    assert not any(p in str(info.value) for p in passwords)


class _Recorder:
    """Stands in for requests.request: records each call, answers ``status``."""

    def __init__(self, status: int, error: Exception | None = None) -> None:
        self.status = status
        self.error = error
        self.calls: list[dict[str, Any]] = []

    def __call__(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        self.calls.append({"method": method, "url": url, **kwargs})
        if self.error is not None:
            raise self.error
        resp = requests.Response()
        resp.status_code = self.status
        resp._content = b'{"message":"nope"}'
        return resp


def test_secure_probe_and_after_start_use_the_admin_and_the_ca(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    ctx = _secure_ctx(home)
    recorder = _Recorder(200)
    monkeypatch.setattr(registry.requests, "request", recorder)
    service = Registry()
    assert service.probe(ctx) is None
    service.after_start(ctx)
    admin = credentials.load(home).password("registry", credentials.REGISTRY_ADMIN).reveal()
    ca = str(home / "tls" / "ca.pem")
    probe, config = recorder.calls
    assert (probe["method"], probe["url"]) == ("GET", f"{URL}/subjects")
    assert (config["method"], config["url"]) == ("PUT", f"{URL}/config")
    assert config["json"] == {"compatibility": "BACKWARD"}
    for call in recorder.calls:
        assert call["auth"] == (credentials.REGISTRY_ADMIN, admin)
        # Per request: a session's verify would lose to REQUESTS_CA_BUNDLE.
        assert call["verify"] == ca


def test_plain_probe_sends_no_credentials_and_verifies_as_usual(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = _plain_ctx(tmp_path / "home")
    recorder = _Recorder(200)
    monkeypatch.setattr(registry.requests, "request", recorder)
    assert Registry().probe(ctx) is None
    [call] = recorder.calls
    assert call["auth"] is None
    assert call["verify"] is True


@pytest.mark.parametrize("status", [401, 403])
def test_probe_refused_names_the_setting_not_the_secret(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, status: int) -> None:
    home = tmp_path / "home"
    ctx = _secure_ctx(home)
    monkeypatch.setattr(registry.requests, "request", _Recorder(status))
    reason = Registry().probe(ctx)
    assert reason is not None
    assert str(status) in reason and "SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO" in reason
    assert not any(p in reason for p in _passwords(home))


def test_probe_on_a_certificate_it_does_not_trust_names_the_ca_setting(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = _secure_ctx(tmp_path / "home")
    error = requests.exceptions.SSLError("certificate verify failed")
    monkeypatch.setattr(registry.requests, "request", _Recorder(0, error))
    reason = Registry().probe(ctx)
    assert reason is not None and "SCHEMA_REGISTRY_SSL_CA_LOCATION" in reason


def test_after_start_refused_is_a_service_error_without_the_secret(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    ctx = _secure_ctx(home, STACK_ROLE="stream")  # registry-reader: no config change
    monkeypatch.setattr(registry.requests, "request", _Recorder(403))
    with pytest.raises(ServiceError, match="403") as info:
        Registry().after_start(ctx)
    assert not any(p in str(info.value) for p in _passwords(home))
