"""Kafka: one KRaft node, broker and controller in one process.

In the secure profile (config/profile.py) clients reach it on a SASL_SSL listener with
SCRAM-SHA-512; the controller listener is mutual TLS; the StandardAuthorizer allows nothing
an ACL does not (schematool/kafka_acls.py). The SCRAM users are written into the metadata
log when the storage is formatted, their passwords through a java @argfile (mode 0600,
deleted at once), so that no password is ever in a process's arguments.
"""

from __future__ import annotations

import base64
import os
import subprocess
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from string import Template

from confluent_kafka.admin import AdminClient

from config import credentials
from config.settings import Secret, Settings
from stack import maven
from stack.java import find_java
from stack.services.base import CONF_TEMPLATES, Command, Context, Service, ServiceError, render
from stack.tls import TlsPaths

SCRAM_MECHANISM = "SCRAM-SHA-512"
# The broker's own user on its SASL_SSL listener: a super user.
INTER_BROKER_USER = credentials.KAFKA_USERS["admin"]
PRIVATE_MODE = 0o600


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


def server_properties(profile: str, *, port: int, controller_port: int, data_dir: Path,
                      tls: TlsPaths, admin_password: Secret) -> str:
    """The whole server.properties of one node: the plain one, whose listener lines the
    secure profile replaces with its own."""
    plain = _fill("kafka/server.properties", port=port, controller_port=controller_port,
                  data_dir=data_dir)
    if profile != "secure":
        return plain
    return override(plain, secure_properties(port=port, controller_port=controller_port,
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


def write_private(path: Path, text: str) -> Path:
    """Write ``text`` with mode 0600 from its first byte, replacing ``path`` whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    partial.replace(path)
    return path


def _fill(template: str, **values: object) -> str:
    return Template((CONF_TEMPLATES / template).read_text()).substitute(
        {k: str(v) for k, v in values.items()}
    )


class Kafka(Service):
    name = "kafka"
    start_timeout = 90.0

    def port(self, ctx: Context) -> int:
        first = ctx.settings.kafka_bootstrap_servers.split(",")[0]
        return int(first.rsplit(":", 1)[1])

    def address(self, ctx: Context) -> str:
        return ctx.settings.kafka_bootstrap_servers

    def controller_port(self, ctx: Context) -> int:
        return self.port(ctx) + 1

    def secure(self, ctx: Context) -> bool:
        return ctx.settings.stack_profile == "secure"

    def _java_args(self, ctx: Context, main: str, *args: str, heap: str = "512m") -> list[str]:
        """The java command line after the executable."""
        cp = ":".join(str(j) for j in maven.classpath("kafka", ctx.paths))
        log4j = ctx.paths.conf_dir / "kafka" / "log4j2.properties"
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
        data = ctx.paths.data("kafka")
        data.mkdir(parents=True, exist_ok=True)
        conf = self._write_server_properties(ctx, data)
        render("kafka/log4j2.properties", ctx.paths.conf_dir / "kafka" / "log4j2.properties")
        if (data / "meta.properties").exists():
            return
        # First start: format the log directory for a new KRaft cluster.
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        args = self._java_args(ctx, "kafka.tools.StorageTool", "format",
                               # "=": an id may begin with "-" (base64url), not an option
                               f"--cluster-id={cluster_id}",
                               "-c", str(conf), *self._scram_users(ctx), heap="256m")
        self._run_storage_tool(ctx, args, data)

    def _write_server_properties(self, ctx: Context, data: Path) -> Path:
        conf_dir = ctx.paths.conf_dir / "kafka"
        target = conf_dir / "server.properties"
        tls = TlsPaths.under(ctx.paths.home)
        admin_password = Secret("")
        if self.secure(ctx):
            admin_password = self._passwords(ctx)[INTER_BROKER_USER]
            if not tls.keystore("kafka").is_file():
                raise ServiceError(f"kafka: no keystore at {tls.keystore('kafka')}: "
                                   "`make up PROFILE=secure` writes it")
        text = server_properties(ctx.settings.stack_profile, port=self.port(ctx),
                                 controller_port=self.controller_port(ctx), data_dir=data,
                                 tls=tls, admin_password=admin_password)
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
        argfile = ctx.paths.conf_dir / "kafka" / "storage-format.args"
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
            raise ServiceError(f"kafka: formatting storage in {data} failed:\n{output}")

    def command(self, ctx: Context) -> Command:
        conf = ctx.paths.conf_dir / "kafka" / "server.properties"
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


def kafka_cluster(settings: Settings) -> list[Service]:
    """The cluster topology's three KRaft brokers, in start order."""
    raise ServiceError("the cluster topology is not built yet")
