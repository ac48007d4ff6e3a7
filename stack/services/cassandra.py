"""Cassandra: one node, its commit log synced before a write is acknowledged.

In the secure profile (config/profile.py) clients must use TLS and a password, and the node
gets the pipeline's roles on its first start (:func:`ensure_roles`): the default superuser
``cassandra``/``cassandra`` is replaced by ``userstream_superuser``, which only makes the
migrator (the admin role: keyspaces, tables, grants) and the pipeline (the stream: what the
migrator grants it, schematool/cassandra_grants.py).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass
from string import Template

from cassandra import AuthenticationFailed
from cassandra.cluster import NoHostAvailable

from config import credentials
from config.clients import cassandra_session
from config.settings import Secret, Settings
from stack import maven
from stack.java import find_java
from stack.services.base import CONF_TEMPLATES, Command, Context, Service, ServiceError, render
from stack.tls import TlsPaths

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


# The server's TLS suites (secure profile): AEAD with forward secrecy only, TLS 1.3's and
# TLS 1.2's ECDHE-ECDSA ones (stack/tls.py makes EC certificates, so an RSA suite could not
# be negotiated). Java's defaults would also offer CBC and SHA-1 suites.
TLS_CIPHER_SUITES = (
    "TLS_AES_256_GCM_SHA384",
    "TLS_AES_128_GCM_SHA256",
    "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
)
DEFAULT_SUPERUSER = "cassandra"  # and its password: Cassandra creates it on a new cluster


def security_yaml(profile: str, tls: TlsPaths) -> str:
    """cassandra.yaml's authentication, authorization and client encryption lines."""
    template = Template((CONF_TEMPLATES / "cassandra" / f"security-{profile}.yaml").read_text())
    return template.substitute(
        keystore=tls.keystore("cassandra"),
        truststore=tls.ca_cert,
        cipher_suites=", ".join(TLS_CIPHER_SUITES),
    ).rstrip("\n")


@dataclass(frozen=True)
class RoleStatement:
    """One CQL statement of the roles' set-up; ``label`` is what an error may show (the
    statement itself may hold a password)."""

    label: str
    cql: str


def _quoted(secret: Secret) -> str:
    return "'" + secret.reveal().replace("'", "''") + "'"


def superuser_statement(password: Secret) -> RoleStatement:
    """Run as the default superuser: the stack's own superuser, then used for the rest."""
    user = credentials.CASSANDRA_SUPERUSER
    return RoleStatement(
        f"create role {user}",
        f"CREATE ROLE IF NOT EXISTS {user} WITH SUPERUSER = true AND LOGIN = true "
        f"AND PASSWORD = {_quoted(password)}",
    )


def role_statements(creds: credentials.StackCredentials) -> list[RoleStatement]:
    """Run as ``userstream_superuser``: the pipeline's roles, idempotent.

    ``IF NOT EXISTS`` then ``ALTER``: a role made by an earlier start gets the password the
    credentials file holds now. The migrator may create keyspaces (it then owns them and
    may grant on them: make schemas grants the pipeline its keyspaces); the pipeline gets
    nothing here.
    """
    statements = [RoleStatement(f"drop role {DEFAULT_SUPERUSER}",
                                f"DROP ROLE IF EXISTS {DEFAULT_SUPERUSER}")]
    for user in (credentials.CASSANDRA_MIGRATOR, credentials.CASSANDRA_PIPELINE):
        password = _quoted(creds.password("cassandra", user))
        statements += [
            RoleStatement(f"create role {user}",
                          f"CREATE ROLE IF NOT EXISTS {user} WITH LOGIN = true "
                          f"AND PASSWORD = {password}"),
            RoleStatement(f"set the password of {user}",
                          f"ALTER ROLE {user} WITH LOGIN = true AND PASSWORD = {password}"),
        ]
    statements.append(RoleStatement(
        f"grant CREATE on all keyspaces to {credentials.CASSANDRA_MIGRATOR}",
        f"GRANT CREATE ON ALL KEYSPACES TO {credentials.CASSANDRA_MIGRATOR}"))
    return statements


def as_user(settings: Settings, user: str, password: Secret) -> Settings:
    return dataclasses.replace(settings, cassandra_username=user, cassandra_password=password)


def login_refused(exc: Exception) -> bool:
    """Whether the node answered and refused the credentials (not: it is not up yet)."""
    return isinstance(exc, NoHostAvailable) and any(
        isinstance(error, AuthenticationFailed) for error in exc.errors.values())


def _run(settings: Settings, statements: Sequence[RoleStatement]) -> None:
    with cassandra_session(settings, timeout=5) as session:
        for statement in statements:
            try:
                session.execute(statement.cql)
            except Exception as exc:  # noqa: BLE001 - the driver's errors may quote the CQL
                # Only the class: a server message may quote the statement, password and all.
                raise ServiceError(f"cassandra: {statement.label} failed "
                                   f"({exc.__class__.__name__})") from None


def ensure_roles(ctx: Context) -> str | None:
    """Make the secure profile's roles (idempotent); None when done, else why not yet.

    The first start: logs in as ``cassandra``/``cassandra`` (Cassandra creates it once the
    node is up), creates ``userstream_superuser``, then as that one drops ``cassandra`` and
    makes the migrator and the pipeline. A later call logs in as ``userstream_superuser``
    at once. Passwords only travel inside CQL, over TLS (client_encryption_options is
    required), and never into a message: a statement's error names its label only.
    """
    try:
        creds = credentials.load(ctx.paths.home)
    except credentials.CredentialsError as exc:
        raise ServiceError(f"cassandra: {exc}") from None
    superuser = as_user(ctx.settings, credentials.CASSANDRA_SUPERUSER,
                        creds.password("cassandra", credentials.CASSANDRA_SUPERUSER))
    try:
        _run(superuser, role_statements(creds))
        return None
    except NoHostAvailable as exc:
        if not login_refused(exc):
            return f"CQL as {credentials.CASSANDRA_SUPERUSER} failed: {_short(exc)}"
    default = as_user(ctx.settings, DEFAULT_SUPERUSER, Secret(DEFAULT_SUPERUSER))
    try:
        _run(default, [superuser_statement(superuser.cassandra_password)])
    except NoHostAvailable as exc:
        return (f"neither {credentials.CASSANDRA_SUPERUSER} nor the default superuser may log "
                f"in yet ({_short(exc)})")
    _run(superuser, role_statements(creds))
    return None


def _short(exc: Exception) -> str:
    return f"{exc.__class__.__name__}: {str(exc)[:200]}"


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
        tls = TlsPaths.under(ctx.paths.home)
        if self.secure(ctx):
            missing = [str(p) for p in (tls.keystore("cassandra"), tls.ca_cert)
                       if not p.is_file()]
            if missing:
                raise ServiceError(f"no TLS files {', '.join(missing)}: `python -m stack up` "
                                   "(make up PROFILE=secure) writes them before it starts")
        render("cassandra/cassandra.yaml", conf / "cassandra.yaml",
               port=self.port(ctx), storage_port=ctx.settings.stack_cassandra_storage_port,
               data_dir=data,
               commitlog_sync=commitlog_sync,
               security=security_yaml(ctx.settings.stack_profile, tls))
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
                # The secure profile replaces the default superuser as soon as it exists:
                # create it at once, not 10 s after start.
                *(["-Dcassandra.superuser_setup_delay_ms=0"] if self.secure(ctx) else []),
                "-cp",
                ":".join([str(conf), *(str(j) for j in jars)]),
                "org.apache.cassandra.service.CassandraDaemon",
            ]
        )

    def secure(self, ctx: Context) -> bool:
        return ctx.settings.stack_profile == "secure"

    def probe(self, ctx: Context) -> str | None:
        """A query as the settings' user (the migrator in the admin role).

        The secure profile's roles are made here, by the probe itself, when the node is this
        stack's and refuses that user: the launcher only runs after_start once the probe
        passes, and the probe must not pass before the roles exist. So the first probes fail
        (not up yet), then one logs in as the default superuser and makes the roles
        (:func:`ensure_roles`), and the query as the settings' user passes. On a running
        node the first query passes and nothing else is tried; an external node is never
        changed.
        """
        problem, refused = _query(ctx.settings)
        if refused and self.secure(ctx) and not self.external(ctx):
            try:
                problem = ensure_roles(ctx) or _query(ctx.settings)[0]
            except ServiceError as exc:
                problem = str(exc)
        return problem


def _query(settings: Settings) -> tuple[str | None, bool]:
    """(None, False) when the node answers a query, else (why not, whether it refused the
    login)."""
    try:
        with cassandra_session(settings, timeout=3) as session:
            row = session.execute("SELECT release_version FROM system.local").one()
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready yet"
        return f"CQL query failed: {_short(exc)}", login_refused(exc)
    return (None if row else "system.local is empty"), False


def cassandra_cluster(settings: Settings) -> list[Service]:
    """The cluster topology's three Cassandra nodes on 127.0.0.1-3, in start order."""
    raise ServiceError("the cluster topology is not built yet")
