"""Faults on the stack's own processes, found by their pid files, and their healing.

Only processes the stack started (a live pid file whose start time matches) or that a
scenario started itself (its supervised streaming job) are ever signalled; every signal
goes to one process group (a service started in its own session) or to the named
descendants of a supervisor. Loopback only: nothing here opens a connection.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time

from stack import launcher, process
from stack.services import Context, by_name

DEATH_TIMEOUT_S = 30.0


class FaultError(RuntimeError):
    """A fault could not be injected or healed; the message names the service and why."""


def service_record(ctx: Context, service: str) -> process.PidRecord:
    """The running service's pid record; FaultError if the stack does not run it."""
    record = process.running(ctx.paths.pidfile(service))
    if record is None:
        raise FaultError(f"{service} is not running (no live pid in "
                         f"{ctx.paths.pidfile(service)}): start it with `make up`")
    return record


def _wait_gone(pids: list[int], what: str) -> None:
    deadline = time.monotonic() + DEATH_TIMEOUT_S
    while any(process.is_running(pid) for pid in pids):
        if time.monotonic() > deadline:
            raise FaultError(f"{what} (pids {pids}) still alive {DEATH_TIMEOUT_S:.0f} s "
                             "after SIGKILL")
        for pid in pids:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
        time.sleep(0.1)


def kill9(ctx: Context, service: str) -> float:
    """SIGKILL the service's whole process group; returns when it is gone and its port no
    longer accepts connections (monotonic time)."""
    record = service_record(ctx, service)
    members = process.group_members(record.pid)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(record.pid, signal.SIGKILL)
    _wait_gone(members, f"{service}'s process group {record.pid}")
    _wait_port_closed(ctx, service)
    return time.monotonic()


def _wait_port_closed(ctx: Context, service: str) -> None:
    """Until nothing accepts on the service's port (the launcher refuses to start a service
    whose port answers); FaultError naming what listens there at the deadline."""
    target = by_name(service, ctx.settings)
    port, host = target.port(ctx), target.bind_host(ctx)
    if not port:
        return
    deadline = time.monotonic() + DEATH_TIMEOUT_S
    while launcher.port_in_use(port, host):
        if time.monotonic() > deadline:
            listeners = subprocess.run(["ss", "-ltnp", f"sport = :{port}"], capture_output=True,
                                       text=True, check=False).stdout
            raise FaultError(f"{service} was killed but port {port} still accepts "
                             f"connections {DEATH_TIMEOUT_S:.0f} s later:\n{listeners}")
        time.sleep(0.2)


def freeze(ctx: Context, service: str) -> process.PidRecord:
    """SIGSTOP the service's process group (it keeps its sockets, answers nothing)."""
    record = service_record(ctx, service)
    os.killpg(record.pid, signal.SIGSTOP)
    return record


def thaw(record: process.PidRecord) -> float:
    """SIGCONT a group :func:`freeze` stopped; the monotonic time it was resumed."""
    if not process.is_alive(record):
        raise FaultError(f"the frozen process {record.pid} is gone; cannot resume it")
    os.killpg(record.pid, signal.SIGCONT)
    return time.monotonic()


def restart(ctx: Context, service: str) -> float:
    """Start ``service`` again through the stack's launcher and wait until it answers
    a real request; the monotonic time it did (the fault is healed from then on)."""
    try:
        launcher.up(ctx, [by_name(service, ctx.settings)])
    except launcher.StackError as exc:
        raise FaultError(f"{service} did not come back after the fault: {exc}") from exc
    return time.monotonic()


def kill9_children(supervisor: process.PidRecord, what: str) -> list[int]:
    """SIGKILL everything a supervisor started (its job and the job's JVM), not the
    supervisor itself, which then restarts the job. The killed pids."""
    if not process.is_alive(supervisor):
        raise FaultError(f"the supervisor of {what} (pid {supervisor.pid}) is not running")
    victims = process.descendants(supervisor.pid)
    if not victims:
        raise FaultError(f"{what} has no running process under its supervisor "
                         f"(pid {supervisor.pid}); it is between restarts")
    for pid in victims:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    _wait_gone(victims, what)
    return victims
