"""Kafka: one KRaft node, broker and controller in one process; in the cluster topology
three of them (:func:`kafka_cluster`), one per bootstrap server, with a static quorum.

In the secure profile (config/profile.py) clients reach it on a SASL_SSL listener with
SCRAM-SHA-512; the controller listener is mutual TLS; the StandardAuthorizer allows nothing
an ACL does not (schematool/kafka_acls.py). The SCRAM users are written into the metadata
log when the storage is formatted, their passwords through a java @argfile (mode 0600,
deleted at once), so that no password is ever in a process's arguments. The cluster's
nodes do the same, each with the one ``kafka`` certificate: brokers talk SASL_SSL as admin,
controllers mutual TLS.
"""

from __future__ import annotations

import base64
import subprocess
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from string import Template

from confluent_kafka.admin import AdminClient

from config import credentials
from config.private_file import write_private
from config.settings import Secret, Settings
from config.topology import KafkaNode, kafka_nodes
from stack import maven
from stack.java import find_java
from stack.services.base import CONF_TEMPLATES, Command, Context, Service, ServiceError, render
from stack.tls import TlsPaths

SCRAM_MECHANISM = "SCRAM-SHA-512"
# The broker's own user on its SASL_SSL listener: a super user.
INTER_BROKER_USER = credentials.KAFKA_USERS["admin"]
# The cluster topology's one cluster id, under <STACK_HOME>/data: every node is formatted with it.
CLUSTER_ID_FILE = "kafka-cluster.id"


def secure_properties(*, port: int, controller_port: int, tls: TlsPaths,
                      admin_password: Secret) -> str:
    """The secure profile's listener and security lines (stack/conf/kafka/secure.properties)."""
    return _fill(
        "kafka/secure.properties",
        port=port,
        controller_port=controller_port,
        inter_broker_user=INTER_BROKER_USER,
        inter_broker_password=admin_password.reveal(),
        keystore=tls.keystore("kafka"),
        ca=tls.ca_cert,
    )


def override(base: str, lines: str) -> str:
    """``base`` without the keys ``lines`` sets, then ``lines``: one value per key."""
    keys = {_key(line) for line in lines.splitlines()} - {None}
    kept = [line for line in base.splitlines() if _key(line) not in keys]
    return "\n".join(kept).rstrip("\n") + "\n\n" + lines


def _key(line: str) -> str | None:
    stripped = line.strip()
    if not stripped or stripped.startswith("#") or "=" not in stripped:
        return None
    return stripped.split("=", 1)[0].strip()


def cluster_properties(node: KafkaNode, nodes: Sequence[KafkaNode]) -> str:
    """The cluster topology's lines of one node (stack/conf/kafka/cluster.properties)."""
    return _fill("kafka/cluster.properties", node_id=node.node_id, voters=quorum_voters(nodes))


def quorum_voters(nodes: Sequence[KafkaNode]) -> str:
    """``controller.quorum.voters``: ``1@localhost:9093,2@localhost:9193,...``."""
    return ",".join(f"{n.node_id}@{n.host}:{n.controller_port}" for n in nodes)


def server_properties(profile: str, *, port: int, controller_port: int, data_dir: Path,
                      tls: TlsPaths, admin_password: Secret, cluster: str = "") -> str:
    """The whole server.properties of one node: the plain one, whose node and replication
    lines the cluster topology replaces with ``cluster``'s, and whose listener lines the
    secure profile replaces with its own."""
    text = _fill("kafka/server.properties", port=port, controller_port=controller_port,
                 data_dir=data_dir)
    if cluster:
        text = override(text, cluster)
    if profile != "secure":
        return text
    return override(text, secure_properties(port=port, controller_port=controller_port,
                                            tls=tls, admin_password=admin_password))


def scram_arguments(passwords: Mapping[str, Secret]) -> list[str]:
    """StorageTool's ``--add-scram`` arguments, one per user (they hold the passwords)."""
    args: list[str] = []
    for user, password in passwords.items():
        args += ["--add-scram", f"{SCRAM_MECHANISM}=[name={user},password={password.reveal()}]"]
    return args


def argfile_text(args: Sequence[str]) -> str:
    """``args`` as a java launcher @argfile: one double-quoted argument a line."""
    def quoted(arg: str) -> str:
        return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'

    return "".join(quoted(a) + "\n" for a in args)


def random_cluster_id() -> str:
    """A new KRaft cluster id: 16 random bytes, base64url without padding."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def _fill(template: str, **values: object) -> str:
    return Template((CONF_TEMPLATES / template).read_text()).substitute(
        {k: str(v) for k, v in values.items()}
    )


class Kafka(Service):
    name = "kafka"
    start_timeout = 90.0
    heap = "512m"

    def port(self, ctx: Context) -> int:
        first = ctx.settings.kafka_bootstrap_servers.split(",")[0]
        return int(first.rsplit(":", 1)[1])

    def address(self, ctx: Context) -> str:
        return ctx.settings.kafka_bootstrap_servers

    def controller_port(self, ctx: Context) -> int:
        return self.port(ctx) + 1

    def secure(self, ctx: Context) -> bool:
        return ctx.settings.stack_profile == "secure"

    def conf_dir(self, ctx: Context) -> Path:
        return ctx.paths.conf_dir / self.name

    def cluster_lines(self, ctx: Context) -> str:
        """What the cluster topology changes in server.properties; "" for the one node."""
        return ""

    def new_cluster_id(self, ctx: Context) -> str:
        """The id the log directory is formatted with, the first time."""
        return random_cluster_id()

    def _java_args(self, ctx: Context, main: str, *args: str, heap: str = "") -> list[str]:
        """The java command line after the executable."""
        heap = heap or self.heap
        cp = ":".join(str(j) for j in maven.classpath("kafka", ctx.paths))
        log4j = self.conf_dir(ctx) / "log4j2.properties"
        return [
            f"-Xms{heap}",
            f"-Xmx{heap}",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={log4j}",
            "-cp",
            cp,
            main,
            *args,
        ]

    def _java(self) -> str:
        return str(find_java("Kafka 4", 17, 23).executable)

    def prepare(self, ctx: Context) -> None:
        data = ctx.paths.data(self.name)
        data.mkdir(parents=True, exist_ok=True)
        conf = self._write_server_properties(ctx, data)
        render("kafka/log4j2.properties", self.conf_dir(ctx) / "log4j2.properties")
        if (data / "meta.properties").exists():
            return
        # First start: format the log directory for a new KRaft cluster.
        cluster_id = self.new_cluster_id(ctx)
        args = self._java_args(ctx, "kafka.tools.StorageTool", "format",
                               # "=": an id may begin with "-" (base64url), not an option
                               f"--cluster-id={cluster_id}",
                               "-c", str(conf), *self._scram_users(ctx), heap="256m")
        self._run_storage_tool(ctx, args, data)

    def _write_server_properties(self, ctx: Context, data: Path) -> Path:
        target = self.conf_dir(ctx) / "server.properties"
        tls = TlsPaths.under(ctx.paths.home)
        admin_password = Secret("")
        if self.secure(ctx):
            admin_password = self._passwords(ctx)[INTER_BROKER_USER]
            if not tls.keystore("kafka").is_file():
                raise ServiceError(f"kafka: no keystore at {tls.keystore('kafka')}: "
                                   "`make up PROFILE=secure` writes it")
        text = server_properties(ctx.settings.stack_profile, port=self.port(ctx),
                                 controller_port=self.controller_port(ctx), data_dir=data,
                                 tls=tls, admin_password=admin_password,
                                 cluster=self.cluster_lines(ctx))
        # Secure: it holds the inter-broker password. Plain: the same mode does no harm.
        return write_private(target, text)

    def _passwords(self, ctx: Context) -> dict[str, Secret]:
        try:
            creds = credentials.load(ctx.paths.home)
            return {user: creds.password("kafka", user)
                    for user in credentials.KAFKA_USERS.values()}
        except credentials.CredentialsError as exc:
            raise ServiceError(f"kafka: {exc}") from exc

    def _scram_users(self, ctx: Context) -> list[str]:
        return scram_arguments(self._passwords(ctx)) if self.secure(ctx) else []

    def _run_storage_tool(self, ctx: Context, args: list[str], data: Path) -> None:
        # The arguments go through an @argfile the java launcher expands itself: `ps` and
        # /proc/<pid>/cmdline show `java @file`, never the SCRAM passwords.
        argfile = self.conf_dir(ctx) / "storage-format.args"
        write_private(argfile, argfile_text(args))
        try:
            result = subprocess.run([self._java(), f"@{argfile}"], capture_output=True,
                                    text=True, check=False)
        finally:
            argfile.unlink(missing_ok=True)
        if result.returncode != 0:
            output = result.stdout + result.stderr
            for secret in self._passwords(ctx).values() if self.secure(ctx) else ():
                output = output.replace(secret.reveal(), "***")
            raise ServiceError(f"{self.name}: formatting storage in {data} failed:\n{output}")

    def command(self, ctx: Context) -> Command:
        conf = self.conf_dir(ctx) / "server.properties"
        return Command([self._java(), *self._java_args(ctx, "kafka.Kafka", str(conf))])

    def probe(self, ctx: Context) -> str | None:
        # The settings' own client: admin's SCRAM user over TLS in the secure profile.
        admin = AdminClient(
            {**ctx.settings.kafka_client_config(), "socket.connection.setup.timeout.ms": 3000}
        )
        try:
            metadata = admin.list_topics(timeout=3)
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready yet"
            return f"metadata request failed: {exc}"
        return None if metadata.brokers else "no broker in metadata"


class KafkaClusterNode(Kafka):
    """One node of the cluster topology: broker and controller of node id ``node.node_id``,
    its own port, controller port, log directory and configuration, one of a static quorum
    of ``nodes``; all formatted with the one cluster id in ``<STACK_HOME>/data``."""

    # Three brokers beside three Cassandra nodes and a Spark cluster in 14 GiB: a broker of
    # this pipeline needs little heap (its data lives in the page cache, not the heap).
    heap = "384m"

    def __init__(self, node: KafkaNode, nodes: Sequence[KafkaNode]) -> None:
        self.node = node
        self.nodes = tuple(nodes)
        self.name = f"kafka-{node.node_id}"

    def __repr__(self) -> str:
        return f"KafkaClusterNode({self.name}, {self.node.host}:{self.node.port})"

    def port(self, ctx: Context) -> int:
        return self.node.port

    def controller_port(self, ctx: Context) -> int:
        return self.node.controller_port

    def address(self, ctx: Context) -> str:
        return f"{self.node.host}:{self.node.port}"

    def external(self, ctx: Context) -> bool:
        # STACK_EXTERNAL names the engine ("kafka"), and a non-loopback broker makes it so.
        return "kafka" in ctx.settings.external_services()

    def cluster_lines(self, ctx: Context) -> str:
        return cluster_properties(self.node, self.nodes)

    def new_cluster_id(self, ctx: Context) -> str:
        """The cluster's one id: made by the first node formatted, read by the others."""
        path = ctx.paths.data_dir / CLUSTER_ID_FILE
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(path.name + ".partial")
            partial.write_text(random_cluster_id() + "\n")
            partial.replace(path)
        return path.read_text().strip()

    def probe(self, ctx: Context) -> str | None:
        """This node, asked alone, answers metadata that lists it among the live brokers
        (registered with the quorum, not fenced) and names an active controller."""
        admin = AdminClient({**ctx.settings.kafka_client_config(),
                             "bootstrap.servers": self.address(ctx),
                             "socket.connection.setup.timeout.ms": 3000})
        try:
            metadata = admin.list_topics(timeout=3)
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready yet"
            return f"metadata request failed: {exc}"
        if self.node.node_id not in metadata.brokers:
            live = sorted(metadata.brokers)
            return f"node {self.node.node_id} not among the live brokers {live}"
        if metadata.controller_id < 0:
            return "no active controller (no quorum)"
        return None


def kafka_cluster(settings: Settings) -> list[KafkaClusterNode]:
    """The cluster topology's KRaft nodes, one per bootstrap server, in start order.

    The launcher starts them all before it waits for the first: a node answers only once a
    majority of the quorum runs.
    """
    nodes = kafka_nodes(settings.kafka_bootstrap_servers)
    return [KafkaClusterNode(node, nodes) for node in nodes]
