"""Cassandra: one node, its commit log synced before a write is acknowledged."""

from __future__ import annotations

import os

from config.clients import cassandra_session
from stack import maven
from stack.java import find_java
from stack.services.base import CONF_TEMPLATES, Command, Context, Service, ServiceError, render

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
        render("cassandra/cassandra.yaml", conf / "cassandra.yaml",
               port=self.port(ctx), storage_port=ctx.settings.stack_cassandra_storage_port,
               data_dir=data,
               commitlog_sync=commitlog_sync)
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
                "-cp",
                ":".join([str(conf), *(str(j) for j in jars)]),
                "org.apache.cassandra.service.CassandraDaemon",
            ]
        )

    def probe(self, ctx: Context) -> str | None:
        try:
            with cassandra_session(ctx.settings, timeout=3) as session:
                row = session.execute("SELECT release_version FROM system.local").one()
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready yet"
            return f"CQL query failed: {exc.__class__.__name__}: {str(exc)[:200]}"
        return None if row else "system.local is empty"
