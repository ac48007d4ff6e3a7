"""The native stack's own logic: Java versions, classpaths, pids, templates, supervision.

Real local processes (sleep, sh) stand in for services here: what is tested is
how the launcher starts, finds and stops a process group, not Kafka itself.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from config.settings import load_settings
from stack import process
from stack.java import parse_major
from stack.maven import _artifact_name
from stack.paths import StackPaths
from stack.services import Context, Stream, render
from stack.supervise import backoff_seconds
from stack.supervise import main as supervise
from tests.support import wait_until


@pytest.mark.parametrize(
    ("output", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15', 17),
        ('openjdk version "21.0.8" 2025-07-15 LTS', 21),
        ('java version "1.8.0_402"', 8),
        ('openjdk version "25" 2025-09-16', 25),
        ("no version here", None),
    ],
)
def test_parse_major(output: str, major: int | None) -> None:
    assert parse_major(output) == major


@pytest.mark.parametrize(
    ("jar", "name"),
    [
        ("kafka-clients-3.4.1.jar", "kafka-clients"),
        ("spark-sql-kafka-0-10_2.12-3.5.7.jar", "spark-sql-kafka-0-10_2.12"),
        ("java-driver-core-shaded-4.18.1.jar", "java-driver-core-shaded"),
        ("HdrHistogram-2.1.12.jar", "HdrHistogram"),
        ("config-1.4.1.jar", "config"),
    ],
)
def test_artifact_name_drops_the_version(jar: str, name: str) -> None:
    assert _artifact_name(jar) == name


def test_spawn_records_the_group_and_stop_ends_parent_and_children(tmp_path: Path) -> None:
    pidfile, log = tmp_path / "svc.pid", tmp_path / "svc.log"
    # A parent that starts a child, like `airflow standalone` does.
    record = process.spawn(["sh", "-c", "sleep 300 & sleep 300; wait"], pidfile=pidfile, log=log)
    wait_until(lambda: len(process.group_members(record.pid)) >= 2, timeout=10, interval=0.05,
               message="the service and its child")
    assert process.running(pidfile) == record
    assert process.rss_bytes(record.pid) > 0

    assert process.stop(pidfile, grace_seconds=5) is True
    assert process.group_members(record.pid) == []
    assert not pidfile.exists()
    assert process.stop(pidfile) is False  # twice is harmless


def test_a_stale_pidfile_is_not_trusted(tmp_path: Path) -> None:
    pidfile = tmp_path / "old.pid"
    # Our own pid with a start time that is not ours: a recycled pid, never signalled.
    pidfile.write_text(f"{process.PidRecord(1, 12345).dump()}")
    assert process.running(pidfile) is None
    assert not pidfile.exists()


def test_render_fills_a_template(tmp_path: Path) -> None:
    target = render("kafka/server.properties", tmp_path / "server.properties",
                    port=19092, controller_port=19093, data_dir=tmp_path / "data")
    text = target.read_text()
    assert "listeners=PLAINTEXT://localhost:19092,CONTROLLER://localhost:19093" in text
    assert f"log.dirs={tmp_path / 'data'}" in text
    assert "$" not in text.replace("${", "")


def test_backoff_doubles_up_to_a_cap() -> None:
    assert [backoff_seconds(n) for n in (1, 2, 3, 4)] == [2, 4, 8, 16]
    assert backoff_seconds(20) == 60


def test_supervisor_restarts_a_failing_job_then_gives_up(tmp_path: Path) -> None:
    counter = tmp_path / "runs"
    job = (
        f"import pathlib,sys; p=pathlib.Path({str(counter)!r}); "
        "p.write_text(p.read_text()+'x' if p.exists() else 'x'); sys.exit(1)"
    )
    code = supervise(["--max-restarts", "1", "--", sys.executable, "-c", job])
    assert code == 1
    assert counter.read_text() == "xx"  # first run + one restart


def test_supervisor_does_not_restart_a_refused_start(tmp_path: Path) -> None:
    counter = tmp_path / "runs"
    job = f"import pathlib,sys; pathlib.Path({str(counter)!r}).write_text('x'); sys.exit(2)"
    assert supervise(["--", sys.executable, "-c", job]) == 2


@pytest.mark.parametrize(
    ("lines", "healthy"),
    [
        (['==== supervise: starting x', '{"event": "query_started"}'], True),
        (['{"event": "query_started"}', '==== supervise: starting x'], False),
        (['==== supervise: starting x', '{"event": "refused", "error": "no table"}'], False),
        ([], False),
    ],
)
def test_stream_health_comes_from_its_log(tmp_path: Path, lines: list[str], healthy: bool) -> None:
    settings = load_settings({"STACK_HOME": str(tmp_path)})
    ctx = Context(settings, StackPaths.from_settings(settings))
    ctx.paths.logs_dir.mkdir(parents=True)
    ctx.paths.log("stream").write_text("\n".join(lines))
    assert (Stream().probe(ctx) is None) is healthy


def test_stop_reaches_the_children_of_a_leader_that_died(tmp_path: Path) -> None:
    import os
    import signal

    pidfile, log = tmp_path / "svc.pid", tmp_path / "svc.log"
    record = process.spawn(["sh", "-c", "sleep 300 & sleep 300; wait"], pidfile=pidfile, log=log)
    wait_until(lambda: len(process.group_members(record.pid)) >= 2, timeout=10, interval=0.05,
               message="the service and its child")
    os.kill(record.pid, signal.SIGKILL)  # the leader dies (a crashed supervisor), children live
    wait_until(lambda: not process.is_alive(record), timeout=10, interval=0.05,
               message="the leader to die")
    assert process.running(pidfile) is None
    assert pidfile.exists()  # kept: its group still has members
    assert process.stop(pidfile, grace_seconds=5) is True
    assert process.group_members(record.pid) == []
    assert not pidfile.exists()


def test_up_refuses_a_port_another_program_holds(tmp_path: Path) -> None:
    import socket

    from stack.launcher import StackError, port_in_use, up
    from stack.services import RandomUserLocal

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        assert port_in_use(port)
        settings = load_settings({"STACK_HOME": str(tmp_path),
                                  "RANDOMUSER_LOCAL_URL": f"http://127.0.0.1:{port}/api/"})
        ctx = Context(settings, StackPaths.from_settings(settings))
        with pytest.raises(StackError, match=f"port {port} is already in use"):
            up(ctx, [RandomUserLocal()])
    assert not ctx.paths.pidfile("randomuser").exists()  # nothing was started
