"""Cassandra in the secure profile, on a node of the test's own (a tmp STACK_HOME, free ports):
the roles the stack makes, the pipeline's grants, who is refused, and Spark over verified TLS.

The shared stack is not touched: this node is started and stopped here.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from cassandra import Unauthorized
from cassandra.cluster import NoHostAvailable

from config import credentials
from config.clients import cassandra_session
from config.settings import Secret, Settings, load_settings
from contract.catalog import load_contract
from schematool.cassandra_grants import apply_grants, pipeline_grants
from stack import launcher, secure
from stack.paths import StackPaths
from stack.services import Cassandra, Context
from stack.services.cassandra import ensure_roles
from stack.spark import with_spark_runtime
from stack.tls import ensure_tls
from streaming.session import (
    CASSANDRA_CIPHER_SUITES,
    DRIVER_PROFILE_PATH,
    build_spark_session,
    cassandra_spark_conf,
    write_driver_profile,
)
from tests.support import unique_name, wait_until

pytestmark = pytest.mark.integration

CASSANDRA_FORMAT = "org.apache.spark.sql.cassandra"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class SecureNode:
    env: dict[str, str]
    ctx: Context
    creds: credentials.StackCredentials

    def settings(self, role: str = "admin") -> Settings:
        return load_settings({**self.env, "STACK_ROLE": role})

    def superuser(self) -> Settings:
        user = credentials.CASSANDRA_SUPERUSER
        return self.as_user(user, self.creds.password("cassandra", user).reveal())

    def as_user(self, user: str, password: str) -> Settings:
        return replace(self.settings(), cassandra_username=user,
                       cassandra_password=Secret(password))


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureNode]:
    home = tmp_path_factory.mktemp("cassandra-secure")
    env = {**os.environ, "STACK_PROFILE": "secure", "STACK_HOME": str(home),
           "CASSANDRA_PORT": str(free_port()),
           "STACK_CASSANDRA_STORAGE_PORT": str(free_port())}
    for name in ("STACK_ROLE", "CASSANDRA_USERNAME", "CASSANDRA_PASSWORD",
                 "CASSANDRA_SSL_CA_LOCATION", "KAFKA_SASL_USERNAME"):
        env.pop(name, None)
    secure.prepare(env)  # the CA, the certificates and the passwords, as `make up` does
    settings = load_settings(env)
    ctx = Context(settings, StackPaths.from_settings(settings))
    launcher.up(ctx, [Cassandra()])
    try:
        yield SecureNode(env, ctx, credentials.load(home))
    finally:
        launcher.down(ctx, [Cassandra()])


@pytest.fixture(scope="module")
def keyspaces(node: SecureNode) -> tuple[str, str]:
    """Two keyspaces the migrator makes: the pipeline is granted the first only."""
    granted, other = unique_name("it_sec"), unique_name("it_sec_other")
    with cassandra_session(node.settings()) as session:
        for keyspace in (granted, other):
            session.execute(f"CREATE KEYSPACE {keyspace} WITH replication = "
                            "{'class': 'SimpleStrategy', 'replication_factor': 1}")
            session.execute(f"CREATE TABLE {keyspace}.users (id int PRIMARY KEY, name text)")
    contracts = [replace(load_contract(), keyspace=granted)]
    assert apply_grants(node.settings(), contracts) == pipeline_grants(contracts)
    assert apply_grants(node.settings(), contracts)  # again: a no-op, no error
    return granted, other


def refusal(settings: Settings) -> Exception | None:
    """The error a login with ``settings`` gets, or None if it is let in."""
    try:
        with cassandra_session(settings, timeout=5) as session:
            session.execute("SELECT release_version FROM system.local")
    except NoHostAvailable as exc:
        return exc
    return None


def errors_of(exc: Exception | None) -> str:
    assert isinstance(exc, NoHostAvailable), exc
    return " | ".join(f"{e.__class__.__name__}: {e}" for e in exc.errors.values())


def test_the_stack_replaced_the_default_superuser_with_the_pipelines_roles(
        node: SecureNode) -> None:
    with cassandra_session(node.superuser()) as session:
        roles = {row.role: (row.super, row.login) for row in session.execute("LIST ROLES")}
        pipeline = list(session.execute(
            f"LIST ALL PERMISSIONS OF {credentials.CASSANDRA_PIPELINE} NORECURSIVE"))
    assert roles == {credentials.CASSANDRA_SUPERUSER: (True, True),
                     credentials.CASSANDRA_MIGRATOR: (False, True),
                     credentials.CASSANDRA_PIPELINE: (False, True)}
    # Nothing but what make schemas grants it (the keyspaces fixture, if it ran first).
    assert all(p.permission in ("MODIFY", "SELECT") and p.resource.startswith("<keyspace ")
               for p in pipeline), pipeline
    assert ensure_roles(node.ctx) is None  # idempotent: as userstream_superuser, nothing new


def test_the_default_superuser_is_refused(node: SecureNode) -> None:
    # Waited for: a login made just before the drop may still be in the 2 s credentials cache.
    refused = wait_until(lambda: refusal(node.as_user("cassandra", "cassandra")), timeout=10,
                         message="cassandra/cassandra refused")
    assert "AuthenticationFailed" in errors_of(refused)


def test_a_wrong_password_is_refused_with_a_clear_error(node: SecureNode) -> None:
    refused = refusal(node.as_user(credentials.CASSANDRA_PIPELINE, "not-the-password"))
    message = errors_of(refused)
    assert "AuthenticationFailed" in message
    assert "Provided username userstream_pipeline and/or password are incorrect" in message


def test_a_client_in_the_clear_is_refused(node: SecureNode) -> None:
    clear = replace(node.settings(), cassandra_ssl_ca_location="")
    # Dropped before any login (the node resets the connection): TLS is not optional.
    assert "AuthenticationFailed" not in errors_of(refusal(clear))


def test_a_client_not_trusting_the_ca_is_refused(node: SecureNode, tmp_path: Path) -> None:
    ensure_tls(tmp_path)  # another CA, as a client of another stack would trust
    stranger = replace(node.settings(), cassandra_ssl_ca_location=str(tmp_path / "tls/ca.pem"))
    assert "certificate verify failed" in errors_of(refusal(stranger))


def test_the_pipeline_writes_and_reads_its_keyspace_and_nothing_else(
        node: SecureNode, keyspaces: tuple[str, str]) -> None:
    granted, other = keyspaces
    with cassandra_session(node.settings("stream")) as session:
        session.execute(f"INSERT INTO {granted}.users (id, name) VALUES (1, 'Ada')")
        assert session.execute(f"SELECT name FROM {granted}.users WHERE id = 1").one().name == (
            "Ada")
        refused = [
            f"SELECT * FROM {other}.users",
            f"INSERT INTO {other}.users (id, name) VALUES (1, 'Eve')",
            f"DROP TABLE {granted}.users",
            f"CREATE TABLE {granted}.extra (id int PRIMARY KEY)",
            "CREATE KEYSPACE it_sec_nope WITH replication = "
            "{'class': 'SimpleStrategy', 'replication_factor': 1}",
            f"GRANT SELECT ON KEYSPACE {other} TO {credentials.CASSANDRA_PIPELINE}",
        ]
        for statement in refused:
            with pytest.raises(Unauthorized):
                session.execute(statement)


def test_spark_writes_and_reads_over_verified_tls_and_refuses_a_name_not_in_the_cert(
        node: SecureNode, keyspaces: tuple[str, str]) -> None:
    granted, _ = keyspaces
    stream = with_spark_runtime(node.settings("stream"))
    spark = build_spark_session(stream, "test-cassandra-secure", master="local[1]")
    try:
        # Per DataFrame too: a session another test built first is joined, not rebuilt.
        options = {**cassandra_spark_conf(stream), "keyspace": granted, "table": "users"}
        rows = spark.createDataFrame([(10, "Grace"), (11, "Edsger")], "id int, name string")
        rows.write.format(CASSANDRA_FORMAT).options(**options).mode("append").save()
        read = spark.read.format(CASSANDRA_FORMAT).options(**options).load()
        assert {(r.id, r.name) for r in read.where("id >= 10").collect()} == {
            (10, "Grace"), (11, "Edsger")}

        # The job's connections, as the node sees them (a superuser's view): TLS 1.3 with
        # one of our suites.
        with cassandra_session(node.superuser()) as session:
            clients = [c for c in session.execute(
                "SELECT username, ssl_enabled, ssl_protocol, ssl_cipher_suite "
                "FROM system_views.clients") if c.username == credentials.CASSANDRA_PIPELINE]
        assert clients, "the connector's session is kept open after a read"
        for client in clients:
            assert client.ssl_enabled and client.ssl_protocol == "TLSv1.3"
            assert client.ssl_cipher_suite in CASSANDRA_CIPHER_SUITES

        # "vm" is this machine (/etc/hosts) but not in the certificate's SANs.
        if socket.gethostbyname("vm") != "127.0.0.1":
            pytest.skip("no name other than the SANs' resolves to 127.0.0.1 here")
        elsewhere = write_driver_profile(stream, hosts=["vm"], target=Path(
            stream.stack_home) / "spark" / "cassandra-by-another-name.conf")
        with pytest.raises(Exception, match="No subject alternative DNS name matching vm"):
            spark.read.format(CASSANDRA_FORMAT).options(
                **{**options, DRIVER_PROFILE_PATH: elsewhere.as_uri()}).load().collect()
    finally:
        spark.stop()


def test_no_password_in_logs_conf_or_process_arguments(node: SecureNode) -> None:
    secrets = node.creds.every_secret()
    home = node.ctx.paths.home
    leaked = [str(path) for path in home.rglob("*")
              if path.is_file() and path.parent.name not in ("secrets", "spark")
              and any(s.encode() in path.read_bytes() for s in secrets)]
    assert leaked == []
    for path in (home / "spark").glob("*.conf"):
        assert path.stat().st_mode & 0o077 == 0, path  # holds the pipeline's password
    arguments = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True,
                               check=True).stdout
    assert not any(s in arguments for s in secrets)
    log = node.ctx.paths.log("cassandra").read_text()
    assert re.search(r"Starting listening for CQL clients on \S+ \(encrypted\)", log)


def test_the_roles_survive_a_restart(node: SecureNode, keyspaces: tuple[str, str]) -> None:
    launcher.down(node.ctx, [Cassandra()])
    launcher.up(node.ctx, [Cassandra()])
    with cassandra_session(node.settings("stream")) as session:
        assert session.execute(f"SELECT name FROM {keyspaces[0]}.users WHERE id = 1").one()
    log = node.ctx.paths.log("cassandra").read_text()
    assert log.count("Created default superuser role 'cassandra'") == 1
