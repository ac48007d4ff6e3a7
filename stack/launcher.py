"""`make up`, `make down`, `make status`: the native stack's lifecycle.

An external service (``Service.external``) is never started or stopped here: ``up``
probes it at its configured address and fails if it does not answer, ``down`` leaves
it alone, ``status`` shows it as external (no pid, no memory).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass

from config import topology
from config.profile import stamp_of, write_stamp
from stack import maven, process
from stack.java import find_java
from stack.services import Context, Service, ServiceError, services_for

LOG_TAIL_LINES = 40
# What the whole clustered stack may take on the 24 GiB machine (issue 14), shown by status.
CLUSTER_MEMORY_BUDGET_GIB = 14
# How long `make up` waits for an external service to answer: it is not starting, so a
# few probes are enough to ride out a blip.
EXTERNAL_PROBE_TIMEOUT_S = 10.0


class StackError(RuntimeError):
    """A service did not come up; the message names it and shows its log's tail."""


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    address: str
    pid: int | None
    rss_bytes: int
    problem: str | None  # None: healthy
    external: bool = False
    probed: bool = True  # False: an external service nothing here can ask (the stream)

    @property
    def healthy(self) -> bool:
        return (self.external or self.pid is not None) and self.problem is None


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something already listens on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((host, port)) == 0


def log_tail(ctx: Context, service: Service, lines: int = LOG_TAIL_LINES) -> str:
    log = ctx.paths.log(service.name)
    if not log.exists():
        return f"(no log at {log})"
    text = log.read_text(errors="replace").splitlines()[-lines:]
    return "\n".join(f"    {line}" for line in text)


def fetch(ctx: Context) -> None:
    """Resolve every artifact into the caches, so later starts need no network."""
    for name in maven.CLASSPATH_SERVICES:
        jars = maven.classpath(name, ctx.paths)
        print(f"  {name}: {len(jars)} jars")
    dist = maven.registry_distribution(ctx.paths)
    print(f"  registry: {dist}")
    for service, low, high in (("Kafka/Cassandra/Spark", 17, 17), ("Apicurio Registry", 21, 25)):
        java = find_java(service, low, high)
        print(f"  java for {service}: {java.major} at {java.home}")


def up(ctx: Context, services: Sequence[Service] | None = None) -> list[Service]:
    """Start what is not running, then wait until every service answers a real request.

    Returns the services this call started (the others were already running).
    """
    services = services_for(ctx.settings) if services is None else services
    started = time.monotonic()
    spawned: list[Service] = []
    if any(not s.external(ctx) for s in services):
        # The data about to be made is this profile's and topology's (load_settings refuses
        # the others).
        if stamp_of(ctx.paths.home) is None:
            write_stamp(ctx.paths.home, ctx.settings.stack_profile)
        if topology.stamp_of(ctx.paths.home) is None:
            topology.write_stamp(ctx.paths.home, ctx.settings.stack_topology)
    for service in services:
        if service.external(ctx):
            print(f"  {service.name:<10} external at {service.address(ctx)}: not started here")
            continue
        pidfile = ctx.paths.pidfile(service.name)
        if process.running(pidfile):
            ctx.paths.wanted(service.name).touch()
            print(f"  {service.name:<10} already running (pid {process.running(pidfile).pid})")  # type: ignore[union-attr]
            continue
        process.stop(pidfile)  # leftovers of a group whose leader died; a no-op otherwise
        port = service.port(ctx)
        if port and port_in_use(port, service.bind_host(ctx)):
            # Another program (a compose stack, a stray broker) would answer our
            # probes while our own process failed to bind: refuse instead.
            raise StackError(
                f"{service.name}: port {port} is already in use by a process this stack did "
                f"not start (`ss -ltnp 'sport = :{port}'` shows which); stop it, or point "
                "the settings at another port"
            )
        try:
            service.prepare(ctx)
            command = service.command(ctx)
        except (ServiceError, maven.ArtifactError, RuntimeError) as exc:
            raise StackError(f"{service.name}: cannot start: {exc}") from exc
        record = process.spawn(
            command.argv,
            pidfile=pidfile,
            log=ctx.paths.log(service.name),
            env=command.env or None,
            cwd=command.cwd,
        )
        ctx.paths.wanted(service.name).touch()
        spawned.append(service)
        print(f"  {service.name:<10} started (pid {record.pid}), log {ctx.paths.log(service.name)}")
    for service in services:
        if service.external(ctx):
            wait_external(ctx, service)
        else:
            wait_healthy(ctx, service)
            service.after_start(ctx)  # idempotent: also repairs a start that failed half-way
        try:
            line = service.configure(ctx)
        except ServiceError as exc:
            raise StackError(str(exc)) from exc
        if line:
            print(f"  {service.name:<10} {line}")
    print(f"stack up in {time.monotonic() - started:.0f} s")
    return spawned


def wait_healthy(ctx: Context, service: Service) -> None:
    """Poll ``service.probe`` until it passes; fail fast if the process dies."""
    deadline = time.monotonic() + service.start_timeout
    pidfile = ctx.paths.pidfile(service.name)
    problem: str | None = "not probed"
    while time.monotonic() < deadline:
        if process.running(pidfile) is None:
            raise StackError(
                f"{service.name} exited during start-up. Last lines of "
                f"{ctx.paths.log(service.name)}:\n{log_tail(ctx, service)}"
            )
        problem = service.probe(ctx)
        if problem is None:
            print(f"  {service.name:<10} healthy at {service.address(ctx)}")
            return
        time.sleep(1.0)
    raise StackError(
        f"{service.name} did not become healthy within {service.start_timeout:.0f} s "
        f"({problem}). Last lines of {ctx.paths.log(service.name)}:\n{log_tail(ctx, service)}"
    )


def wait_external(ctx: Context, service: Service) -> None:
    """Probe an external service until it answers, or fail naming it and its address."""
    if not service.probed_when_external:
        print(f"  {service.name:<10} external: not probed (it has no address to ask)")
        return
    deadline = time.monotonic() + EXTERNAL_PROBE_TIMEOUT_S
    while (problem := service.probe(ctx)) is not None:
        if time.monotonic() >= deadline:
            raise StackError(
                f"external {service.name} at {service.address(ctx)} does not answer: {problem}"
                " (it is external by STACK_EXTERNAL or its address: this stack never starts "
                "it; start it where it runs, or fix the settings)"
            )
        time.sleep(1.0)
    print(f"  {service.name:<10} external, healthy at {service.address(ctx)}")


def down(ctx: Context, services: Sequence[Service] | None = None) -> None:
    """Stop every service the stack started, newest first, by pid; never an external one."""
    services = services_for(ctx.settings) if services is None else services
    for service in reversed(services):
        if service.external(ctx):
            print(f"  {service.name:<10} external at {service.address(ctx)}: not stopped")
            continue
        ctx.paths.wanted(service.name).unlink(missing_ok=True)
        if process.stop(ctx.paths.pidfile(service.name)):
            print(f"  {service.name:<10} stopped")
        else:
            print(f"  {service.name:<10} was not running")


def status(ctx: Context, services: Sequence[Service] | None = None) -> list[ServiceStatus]:
    services = services_for(ctx.settings) if services is None else services
    result = []
    for service in services:
        if service.external(ctx):
            problem = service.probe(ctx) if service.probed_when_external else None
            result.append(ServiceStatus(service.name, service.address(ctx), None, 0,
                                        problem, external=True,
                                        probed=service.probed_when_external))
            continue
        record = process.running(ctx.paths.pidfile(service.name))
        if record is None:
            result.append(ServiceStatus(service.name, service.address(ctx), None, 0, "not running"))
            continue
        result.append(
            ServiceStatus(
                service.name,
                service.address(ctx),
                record.pid,
                process.rss_bytes(record.pid),
                service.probe(ctx),
            )
        )
    return result


def print_status(ctx: Context, services: Sequence[Service] | None = None) -> bool:
    services = services_for(ctx.settings) if services is None else services
    rows = status(ctx, services)
    width = max(11, *(len(s.name) + 1 for s in services))
    print(f"{'service':<{width}}{'address':<42}{'pid':>8}{'memory':>10}  health")
    total = 0
    for row in rows:
        total += row.rss_bytes
        pid = "external" if row.external else str(row.pid) if row.pid else "-"
        mem = f"{row.rss_bytes / 2**20:.0f} MiB" if row.pid else "-"
        health = ("not probed" if not row.probed else "healthy" if row.healthy
                  else f"DOWN ({row.problem})")
        print(f"{row.name:<{width}}{row.address:<42}{pid:>8}{mem:>10}  {health}")
    budget = (f" (the cluster topology's budget: {CLUSTER_MEMORY_BUDGET_GIB} GiB)"
              if ctx.settings.stack_topology == "cluster" else "")
    print(f"{'total':<{width}}{'':<42}{'':>8}{total / 2**20:>6.0f} MiB{budget}")
    for service in services:
        hint = service.login_hint(ctx)
        if hint:
            print(f"{service.name} login: {hint}")
    print(f"state, logs, pids: {ctx.paths.home}")
    return all(r.healthy for r in rows)
