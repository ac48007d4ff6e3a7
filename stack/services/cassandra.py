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
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template

from cassandra import AuthenticationFailed
from cassandra.cluster import NoHostAvailable, Session

from config import credentials
from config.clients import cassandra_session
from config.settings import Secret, Settings
from stack import maven, process
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
        data = ctx.paths.data(self.name)
        data.mkdir(parents=True, exist_ok=True)
        conf = ctx.paths.conf_dir / self.name
        commitlog_sync, _ = commitlog_sync_spec(os.environ.get(COMMITLOG_SYNC_ENV))
        tls = TlsPaths.under(ctx.paths.home)
        if self.secure(ctx):
            missing = [str(p) for p in (tls.keystore("cassandra"), tls.ca_cert)
                       if not p.is_file()]
            if missing:
                raise ServiceError(f"no TLS files {', '.join(missing)}: `python -m stack up` "
                                   "(make up PROFILE=secure) writes them before it starts")
        target = render("cassandra/cassandra.yaml", conf / "cassandra.yaml",
                        port=self.port(ctx),
                        storage_port=ctx.settings.stack_cassandra_storage_port,
                        data_dir=data,
                        commitlog_sync=commitlog_sync,
                        security=security_yaml(ctx.settings.stack_profile, tls))
        self.adapt_yaml(ctx, target)
        render("cassandra/logback.xml", conf / "logback.xml")

    def adapt_yaml(self, ctx: Context, target: Path) -> None:
        """What a node of a cluster changes in the single node's cassandra.yaml: nothing."""

    def jvm_options(self) -> list[str]:
        return [
            line.strip()
            for line in (CONF_TEMPLATES / "cassandra" / "jvm17.options").read_text().splitlines()
            if line.strip() and not line.startswith("#")
        ]

    def gossip_options(self, ctx: Context) -> list[str]:
        # A single node: do not wait for a ring that will never form.
        return ["-Dcassandra.skip_wait_for_gossip_to_settle=0", "-Dcassandra.ring_delay_ms=1000"]

    def command(self, ctx: Context) -> Command:
        java = find_java("Cassandra 5.0", 11, 17)
        jars = maven.classpath("cassandra", ctx.paths)
        conf = ctx.paths.conf_dir / self.name
        jamm = next((j for j in jars if j.name.startswith("jamm-")), None)
        agent = [f"-javaagent:{jamm}"] if jamm else []
        return Command(
            [
                str(java.executable),
                *self.jvm_options(),
                *agent,
                f"-Dcassandra.config=file://{conf / 'cassandra.yaml'}",
                f"-Dlogback.configurationFile={conf / 'logback.xml'}",
                f"-Dcassandra.logdir={ctx.paths.logs_dir}",
                f"-Dcassandra.storagedir={ctx.paths.data(self.name)}",
                "-Dcassandra-foreground=yes",
                *self.gossip_options(ctx),
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


# The cluster topology's nodes (STACK_TOPOLOGY=cluster). Heap: 3 nodes beside 3 brokers,
# a Spark cluster, the registry and Airflow within 14 GiB; 768 MiB holds the memtables
# (128 MiB on heap) and caches this small machine's load needs.
CLUSTER_HEAP = "768m"
CLUSTER_REPLICATION_FACTOR = 3
# Gossip on loopback converges within a second or two: Cassandra's 30 s ring delay (how
# long a joining node listens before it takes tokens) only slows the start. The wait for
# gossip to settle is kept (about 5 s): a node must know which peers are up before it
# serves clients.
CLUSTER_RING_DELAY_MS = 5000


def replace_top_level_keys(text: str, overrides: str) -> str:
    """``text`` (YAML) without the top-level keys ``overrides`` sets, then ``overrides``.

    A key's block is its line and the indented lines under it; a comment above it stays.
    """
    keys = {line.split(":", 1)[0] for line in overrides.splitlines()
            if line and not line[0].isspace() and not line.startswith(("#", "-"))}
    kept: list[str] = []
    dropping = False
    for line in text.splitlines():
        top = bool(line) and not line[0].isspace() and not line.startswith("-")
        if top and not line.startswith("#"):
            dropping = line.split(":", 1)[0] in keys
        elif top:
            dropping = False
        if not dropping:
            kept.append(line)
    return "\n".join(kept).rstrip("\n") + "\n\n" + overrides


class CassandraNode(Cassandra):
    """One node of the cluster topology's ring: its own address, data and configuration.

    Nodes start one after the other: a node's ``prepare`` waits until the node before it
    (if this stack is starting it) has joined, since Cassandra refuses a node that
    bootstraps while another does, and a node whose seed is not up cannot start.
    """

    start_timeout = 240.0

    def __init__(self, index: int, host: str, seed: str, previous: CassandraNode | None):
        self.name = f"cassandra-{index}"
        self.index = index
        self.host = host
        self.seed = seed
        self.previous = previous

    def __repr__(self) -> str:
        return f"CassandraNode({self.name}, {self.host})"

    def address(self, ctx: Context) -> str:
        return f"{self.host}:{self.port(ctx)}"

    def bind_host(self, ctx: Context) -> str:
        return self.host

    def node_settings(self, settings: Settings) -> Settings:
        """The settings with this node as the only contact point."""
        return dataclasses.replace(settings, cassandra_hosts=self.host)

    def prepare(self, ctx: Context) -> None:
        if self.secure(ctx):
            # The roles would have to be made once the ring is whole (system_auth with 3
            # replicas): not built yet.
            raise ServiceError("the cluster topology's Cassandra runs the plain profile only "
                               "(STACK_PROFILE=plain)")
        self.wait_for_previous(ctx)
        super().prepare(ctx)

    def adapt_yaml(self, ctx: Context, target: Path) -> None:
        overrides = Template(
            (CONF_TEMPLATES / "cassandra" / "cluster-node.yaml").read_text()).substitute(
            host=self.host, seed=self.seed,
            storage_port=ctx.settings.stack_cassandra_storage_port,
            replication_factor=CLUSTER_REPLICATION_FACTOR)
        header = (f"# {self.name} of the cluster topology, on {self.host}: the single node's "
                  "configuration with cluster-node.yaml's keys.\n")
        target.write_text(header + replace_top_level_keys(target.read_text(), overrides))

    def jvm_options(self) -> list[str]:
        heap = [f"-Xms{CLUSTER_HEAP}", f"-Xmx{CLUSTER_HEAP}"]
        return [*heap, *(o for o in super().jvm_options() if not o.startswith(("-Xms", "-Xmx")))]

    def gossip_options(self, ctx: Context) -> list[str]:
        return [f"-Dcassandra.ring_delay_ms={CLUSTER_RING_DELAY_MS}"]

    def wait_for_previous(self, ctx: Context) -> None:
        """Until the node before this one has joined, when this stack runs it."""
        previous = self.previous
        if previous is None or previous.external(ctx):
            return
        pidfile = ctx.paths.pidfile(previous.name)
        deadline = time.monotonic() + previous.start_timeout
        problem = previous.probe(ctx)
        while problem is not None:
            if process.running(pidfile) is None:
                return  # not running: nothing to wait for (its own start will say why)
            if time.monotonic() > deadline:
                raise ServiceError(f"{previous.name} did not join the ring within "
                                   f"{previous.start_timeout:.0f} s ({problem}): {self.name} "
                                   "starts after it")
            time.sleep(1.0)
            problem = previous.probe(ctx)

    def probe(self, ctx: Context) -> str | None:
        """This node answers CQL, has joined the ring, and sees no node joining or leaving.

        The queries go to this node only (a pinned session): the virtual tables are each
        node's own view.
        """
        try:
            with cassandra_session(self.node_settings(ctx.settings), timeout=3,
                                   pinned=True) as session:
                return ring_problem(session, self.host)
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready yet"
            return f"CQL query failed: {_short(exc)}"


# A peer's gossip status while it takes or gives up tokens: a node may not join then.
# Another status is no obstacle: NORMAL, shutdown (stopped), LEFT (decommissioned), none
# (not heard of since this node started: down, or a whole ring starting one by one).
MOVING_STATES = ("BOOT", "LEAVING", "MOVING", "removing")


def ring_problem(session: Session, host: str) -> str | None:
    """None when ``host`` (the session's only host) is NORMAL in its own gossip and sees no
    node joining, leaving or moving (:data:`MOVING_STATES`); else what it sees.

    A peer that is down does not make this node unhealthy (LOCAL_QUORUM needs 2 of 3): the
    node is Up/Normal, as nodetool would say of it.
    """
    # STATUS_WITH_PORT: a peer gossips only it (STATUS is Cassandra 3's, and
    # storage_compatibility_mode NONE drops it).
    gossip = {row.address: row.status_with_port or row.status or "" for row in
              session.execute("SELECT address, status, status_with_port "
                              "FROM system_views.gossip_info")}
    if not gossip.get(host, "").startswith("NORMAL"):
        return f"{host} is {gossip.get(host) or 'not in its own gossip'} (not joined yet)"
    for peer, status in sorted(gossip.items()):
        if status.startswith(MOVING_STATES):
            return f"{host} sees {peer} {status.split(',')[0]}"
    return None


def cassandra_cluster(settings: Settings) -> list[Service]:
    """The cluster topology's Cassandra nodes, one per CASSANDRA_HOSTS address (127.0.0.1-3),
    in start order; the first is the seed."""
    hosts = settings.cassandra_host_list
    nodes: list[Service] = []
    previous: CassandraNode | None = None
    for index, host in enumerate(hosts, start=1):
        previous = CassandraNode(index, host, hosts[0], previous)
        nodes.append(previous)
    return nodes
