"""Cassandra in the secure profile, without a node: the rendered cassandra.yaml, the roles'
CQL, the probe's bootstrap decision, the pipeline's grants and the Spark driver profile."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from config import credentials
from config.settings import Secret, Settings, load_settings
from contract.catalog import load_contract
from schematool import cassandra_grants
from schematool.cassandra_grants import PIPELINE_PERMISSIONS, apply_grants, pipeline_grants
from stack.paths import StackPaths
from stack.services import cassandra as cassandra_service
from stack.services.base import Context, ServiceError, render
from stack.services.cassandra import (
    TLS_CIPHER_SUITES,
    Cassandra,
    commitlog_sync_spec,
    ensure_roles,
    role_statements,
    security_yaml,
    superuser_statement,
)
from stack.tls import TlsPaths, ensure_tls
from streaming.session import (
    CASSANDRA_CIPHER_SUITES,
    DRIVER_PROFILE_PATH,
    cassandra_spark_conf,
    driver_profile,
)


def rendered_yaml(tmp_path: Path, profile: str) -> dict[str, Any]:
    target = render("cassandra/cassandra.yaml", tmp_path / "cassandra.yaml", port=9042,
                    storage_port=7000, data_dir=tmp_path / "data",
                    commitlog_sync=commitlog_sync_spec(None)[0],
                    security=security_yaml(profile, TlsPaths.under(tmp_path)))
    loaded: dict[str, Any] = yaml.safe_load(target.read_text())
    return loaded


def test_plain_profile_keeps_no_authentication_and_no_tls(tmp_path: Path) -> None:
    conf = rendered_yaml(tmp_path, "plain")
    assert conf["authenticator"] == "AllowAllAuthenticator"
    assert conf["authorizer"] == "AllowAllAuthorizer"
    assert "client_encryption_options" not in conf
    assert "role_manager" not in conf


def test_secure_profile_requires_passwords_permissions_and_tls(tmp_path: Path) -> None:
    conf = rendered_yaml(tmp_path, "secure")
    assert conf["authenticator"] == "PasswordAuthenticator"
    assert conf["authorizer"] == "CassandraAuthorizer"
    assert conf["role_manager"] == "CassandraRoleManager"
    tls = conf["client_encryption_options"]
    assert tls["enabled"] is True
    assert tls["optional"] is False  # no clear-text client on the same port
    assert tls["ssl_context_factory"]["class_name"] == (
        "org.apache.cassandra.security.PEMBasedSslContextFactory")
    assert tls["keystore"] == str(tmp_path / "tls" / "cassandra-keystore.pem")
    assert tls["truststore"] == str(tmp_path / "tls" / "ca.pem")
    assert tls["accepted_protocols"] == ["TLSv1.3", "TLSv1.2"]
    assert tls["cipher_suites"] == list(TLS_CIPHER_SUITES)
    assert not any("CBC" in s or s.startswith("TLS_RSA_") for s in tls["cipher_suites"])
    assert "keystore_password" not in tls  # nothing secret in the file


def test_the_server_accepts_every_suite_the_spark_job_offers() -> None:
    assert set(CASSANDRA_CIPHER_SUITES) <= set(TLS_CIPHER_SUITES)


def test_role_statements_replace_the_default_superuser_and_grant_the_migrator_only() -> None:
    creds = credentials.generate()
    statements = role_statements(creds)
    cql = [s.cql for s in statements]
    assert cql[0] == "DROP ROLE IF EXISTS cassandra"
    for user in (credentials.CASSANDRA_MIGRATOR, credentials.CASSANDRA_PIPELINE):
        password = creds.password("cassandra", user).reveal()
        assert (f"CREATE ROLE IF NOT EXISTS {user} WITH LOGIN = true "
                f"AND PASSWORD = '{password}'") in cql
        assert f"ALTER ROLE {user} WITH LOGIN = true AND PASSWORD = '{password}'" in cql
    grants = [c for c in cql if c.startswith("GRANT")]
    assert grants == ["GRANT CREATE ON ALL KEYSPACES TO userstream_migrator"]
    assert not any("SUPERUSER" in c for c in cql)
    for statement in statements:  # what an error may show
        assert not any(secret in statement.label for secret in creds.every_secret())


def test_superuser_statement_quotes_the_password() -> None:
    statement = superuser_statement(Secret("it's"))
    assert statement.cql == ("CREATE ROLE IF NOT EXISTS userstream_superuser WITH SUPERUSER = "
                             "true AND LOGIN = true AND PASSWORD = 'it''s'")
    assert "it" not in statement.label.replace("create role userstream_superuser", "")


def secure_context(tmp_path: Path, **changes: Any) -> Context:
    settings = replace(load_settings({}), **{"stack_home": str(tmp_path),
                                             "stack_profile": "secure", **changes})
    return Context(settings, StackPaths.from_settings(settings))


def test_the_probe_makes_the_roles_only_when_its_user_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter([("login refused", True), (None, False)])
    monkeypatch.setattr(cassandra_service, "_query", lambda settings: next(answers))
    made: list[Context] = []
    monkeypatch.setattr(cassandra_service, "ensure_roles", lambda ctx: made.append(ctx))
    ctx = secure_context(tmp_path)
    assert Cassandra().probe(ctx) is None
    assert made == [ctx]


@pytest.mark.parametrize("changes", [{"stack_profile": "plain"}, {"stack_external": "cassandra"}])
def test_the_probe_never_changes_a_plain_or_external_node(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, changes: dict[str, str]) -> None:
    monkeypatch.setattr(cassandra_service, "_query", lambda settings: ("login refused", True))
    monkeypatch.setattr(cassandra_service, "ensure_roles",
                        lambda ctx: pytest.fail("no roles made"))
    assert Cassandra().probe(secure_context(tmp_path, **changes)) == "login refused"


def test_a_failed_role_statement_never_shows_the_password(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    creds = credentials.ensure(tmp_path)

    class QuotingSession:
        def execute(self, cql: str) -> None:
            raise RuntimeError(f"line 1:60 mismatched input in {cql}")  # a server's echo

    @contextmanager
    def session(settings: Settings, **_: object) -> Iterator[QuotingSession]:
        yield QuotingSession()

    monkeypatch.setattr(cassandra_service, "cassandra_session", session)
    with pytest.raises(ServiceError) as raised:
        ensure_roles(secure_context(tmp_path))
    assert "drop role cassandra failed (RuntimeError)" in str(raised.value)
    assert not any(secret in str(raised.value) for secret in creds.every_secret())


def test_pipeline_grants_cover_each_keyspace_once_and_nothing_else() -> None:
    contract = load_contract()
    contracts = [contract, replace(contract, keyspace="b_ks"), replace(contract, table="t2")]
    assert pipeline_grants(contracts) == [
        "GRANT MODIFY ON KEYSPACE b_ks TO userstream_pipeline",
        "GRANT SELECT ON KEYSPACE b_ks TO userstream_pipeline",
        f"GRANT MODIFY ON KEYSPACE {contract.keyspace} TO userstream_pipeline",
        f"GRANT SELECT ON KEYSPACE {contract.keyspace} TO userstream_pipeline",
    ]
    assert PIPELINE_PERMISSIONS == ("MODIFY", "SELECT")
    assert pipeline_grants([replace(contract, keyspace="Mixed")]) == [
        'GRANT MODIFY ON KEYSPACE "Mixed" TO userstream_pipeline',
        'GRANT SELECT ON KEYSPACE "Mixed" TO userstream_pipeline',
    ]


def test_apply_grants_does_nothing_in_the_plain_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cassandra_grants, "cassandra_session",
                        lambda *a, **k: pytest.fail("no connection in the plain profile"))
    assert apply_grants(load_settings({}), [load_contract()]) == []


def test_apply_grants_runs_each_grant_as_the_settings_user(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[str] = []

    class Session:
        def execute(self, cql: str) -> None:
            ran.append(cql)

    @contextmanager
    def session(settings: Settings, **_: object) -> Iterator[Session]:
        yield Session()

    monkeypatch.setattr(cassandra_grants, "cassandra_session", session)
    settings = replace(load_settings({}), stack_profile="secure")
    assert apply_grants(settings, [load_contract()]) == ran == pipeline_grants([load_contract()])


@pytest.fixture()
def tls_settings(tmp_path: Path) -> Settings:
    ensure_tls(tmp_path)
    return load_settings({
        "STACK_HOME": str(tmp_path),
        "CASSANDRA_SSL_CA_LOCATION": str(TlsPaths.under(tmp_path).ca_cert),
        "CASSANDRA_USERNAME": "userstream_pipeline",
        "CASSANDRA_PASSWORD": "pipeline-secret",
        "CASSANDRA_PORT": "29042",
    })


def test_spark_over_tls_verifies_the_server_through_a_driver_profile(
        tls_settings: Settings, tmp_path: Path) -> None:
    conf = cassandra_spark_conf(tls_settings)
    assert not any("password" in key or "ssl" in key for key in conf)  # the file has them
    profile_file = Path(conf[DRIVER_PROFILE_PATH].removeprefix("file://"))
    assert conf[DRIVER_PROFILE_PATH] == profile_file.as_uri()
    assert stat.S_IMODE(profile_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(profile_file.parent.stat().st_mode) == 0o700
    driver = json.loads(profile_file.read_text())["datastax-java-driver"]
    ssl = driver["advanced"]["ssl-engine-factory"]
    assert ssl["hostname-validation"] is True
    assert ssl["cipher-suites"] == list(CASSANDRA_CIPHER_SUITES)
    assert Path(ssl["truststore-path"]).is_file()
    assert driver["advanced"]["auth-provider"] == {
        "class": "PlainTextAuthProvider", "username": "userstream_pipeline",
        "password": "pipeline-secret"}
    assert driver["basic"]["contact-points"] == ["127.0.0.1:29042"]
    assert driver["basic"]["load-balancing-policy"]["local-datacenter"] == "datacenter1"
    # What the connector would set itself, had the file not replaced its settings.
    assert driver["advanced"]["netty"]["daemon"] is True
    assert driver["advanced"]["retry-policy"]["max-retry-count"] == 60


def test_driver_profile_without_a_user_has_no_auth_provider(tls_settings: Settings) -> None:
    anonymous = replace(tls_settings, cassandra_username="", cassandra_password=Secret(""))
    profile = driver_profile(anonymous, Path("/ts.p12"), hosts=["vm"])
    driver = profile["datastax-java-driver"]
    assert isinstance(driver, dict)
    assert "auth-provider" not in driver["advanced"]
    assert driver["basic"]["contact-points"] == ["vm:29042"]


def test_the_plain_profile_keeps_the_connectors_own_settings() -> None:
    conf = cassandra_spark_conf(load_settings({"CASSANDRA_USERNAME": "app",
                                               "CASSANDRA_PASSWORD": "pw"}))
    assert DRIVER_PROFILE_PATH not in conf
    assert conf["spark.cassandra.auth.username"] == "app"
