"""Kafka: one KRaft node, broker and controller in one process."""

from __future__ import annotations

import base64
import subprocess
import uuid

from confluent_kafka.admin import AdminClient

from stack import maven
from stack.java import find_java
from stack.services.base import Command, Context, Service, ServiceError, render


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

    def _java_cmd(self, ctx: Context, main: str, *args: str, heap: str = "512m") -> list[str]:
        java = find_java("Kafka 4", 17, 23)
        cp = ":".join(str(j) for j in maven.classpath("kafka", ctx.paths))
        log4j = ctx.paths.conf_dir / "kafka" / "log4j2.properties"
        return [
            str(java.executable),
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

    def prepare(self, ctx: Context) -> None:
        data = ctx.paths.data("kafka")
        data.mkdir(parents=True, exist_ok=True)
        conf = render(
            "kafka/server.properties",
            ctx.paths.conf_dir / "kafka" / "server.properties",
            port=self.port(ctx),
            controller_port=self.controller_port(ctx),
            data_dir=data,
        )
        render("kafka/log4j2.properties", ctx.paths.conf_dir / "kafka" / "log4j2.properties")
        if (data / "meta.properties").exists():
            return
        # First start: format the log directory for a new KRaft cluster.
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        argv = self._java_cmd(
            ctx, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(conf),
            heap="256m",
        )
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise ServiceError(
                f"kafka: formatting storage in {data} failed:\n{result.stdout}{result.stderr}"
            )

    def command(self, ctx: Context) -> Command:
        conf = ctx.paths.conf_dir / "kafka" / "server.properties"
        return Command(self._java_cmd(ctx, "kafka.Kafka", str(conf)))

    def probe(self, ctx: Context) -> str | None:
        admin = AdminClient(
            {**ctx.settings.kafka_client_config(), "socket.connection.setup.timeout.ms": 3000}
        )
        try:
            metadata = admin.list_topics(timeout=3)
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready yet"
            return f"metadata request failed: {exc}"
        return None if metadata.brokers else "no broker in metadata"
