"""Start and stop the stack's processes by pid, and only those.

Each service runs in a new session (its own process group), so stopping it
reaches the children it spawned (Airflow's scheduler, api-server, ...) and
nothing else. A pid file records the pid and the process's start time: a pid
that the kernel has since given to another program is never signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PidRecord:
    pid: int
    start_ticks: int

    def dump(self) -> str:
        return f"{self.pid} {self.start_ticks}\n"

    @classmethod
    def load(cls, path: Path) -> PidRecord | None:
        try:
            pid, ticks = path.read_text().split()
            return cls(int(pid), int(ticks))
        except (OSError, ValueError):
            return None


def _stat(pid: int) -> list[str] | None:
    """Fields 3.. of /proc/<pid>/stat (state, ppid, pgrp, ...), or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces; the fields after it are plain.
    return stat[stat.rindex(")") + 2 :].split()


def start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat)."""
    fields = _stat(pid)
    return int(fields[19]) if fields else None


def is_alive(record: PidRecord) -> bool:
    fields = _stat(record.pid)
    if fields is None:
        return False
    return int(fields[19]) == record.start_ticks and fields[0] != "Z"


def orphaned_group(record: PidRecord) -> list[int]:
    """Members of our group left behind by a leader that died (e.g. a crashed supervisor).

    While any member is alive the kernel does not hand the group's id out as a pid
    again, so these are ours, unless the pid itself now names another process.
    """
    fields = _stat(record.pid)
    ours_dead = fields is None or (fields[0] == "Z" and int(fields[19]) == record.start_ticks)
    return group_members(record.pid) if ours_dead else []


def running(pidfile: Path) -> PidRecord | None:
    """The live process recorded in ``pidfile``, or None (a stale file is removed)."""
    record = PidRecord.load(pidfile)
    if record is None:
        return None
    if is_alive(record):
        return record
    if not orphaned_group(record):  # keep the file while leftovers of the group live
        pidfile.unlink(missing_ok=True)
    return None


def spawn(
    argv: Sequence[str],
    *,
    pidfile: Path,
    log: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> PidRecord:
    """Start ``argv`` in its own session, output appended to ``log``, pid recorded."""
    log.parent.mkdir(parents=True, exist_ok=True)
    pidfile.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        out.write(f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {argv[0]}\n".encode())
        out.flush()
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
        )
    ticks = start_ticks(proc.pid)
    record = PidRecord(proc.pid, ticks if ticks is not None else -1)
    pidfile.write_text(record.dump())
    return record


def _live_processes() -> Iterator[tuple[int, list[str]]]:
    """(pid, fields 3.. of its stat) of every live, non-zombie process, from /proc."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat(int(entry.name))
        if fields is not None and fields[0] != "Z":
            yield int(entry.name), fields


def group_members(pgid: int) -> list[int]:
    """Pids of the live processes in process group ``pgid``."""
    return [pid for pid, fields in _live_processes() if int(fields[2]) == pgid]


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (children first)."""
    children: dict[int, list[int]] = {}
    for child, fields in _live_processes():
        children.setdefault(int(fields[1]), []).append(child)
    found: list[int] = []
    frontier = [pid]
    while frontier:
        kids = children.get(frontier.pop(), [])
        found.extend(kids)
        frontier.extend(kids)
    return found


def is_running(pid: int) -> bool:
    """The pid names a live process (not a zombie), whoever it is."""
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


def stop(pidfile: Path, *, grace_seconds: float = 30.0) -> bool:
    """SIGTERM the recorded process group, SIGKILL what remains after the grace period.

    Returns True when something was stopped. Only the group we started (its
    leader's pid is the recorded pid) is signalled.
    """
    record = PidRecord.load(pidfile)
    if record is None or not (is_alive(record) or orphaned_group(record)):
        pidfile.unlink(missing_ok=True)
        return False
    pgid = record.pid  # start_new_session makes the child its group's leader
    with contextlib.suppress(ProcessLookupError):  # the group may have exited already
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    while time.monotonic() < deadline and group_members(pgid):
        _reap(record.pid)
        time.sleep(0.2)
    if group_members(pgid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        kill_deadline = time.monotonic() + 10
        while time.monotonic() < kill_deadline and group_members(pgid):
            _reap(record.pid)
            time.sleep(0.1)
    _reap(record.pid)
    pidfile.unlink(missing_ok=True)
    return True


def _reap(pid: int) -> None:
    """Collect the exit status if the process is our own child (avoids zombies)."""
    with contextlib.suppress(ChildProcessError):  # not our child: init reaps it
        os.waitpid(pid, os.WNOHANG)


def rss_bytes(pgid: int) -> int:
    """Resident memory of a whole process group, in bytes.

    Counted as PSS (each shared page split between the processes sharing it),
    so forked workers that share their parent's pages are not counted twice.
    """
    total = 0
    for pid in group_members(pgid):
        total += _pss_bytes(pid)
    return total


def cpu_seconds(pgid: int) -> float:
    """CPU time (user + system) its live processes have used, for a whole process group.

    Cumulative: the difference of two readings is the CPU the group used between them
    (a member that exited in between takes its seconds with it).
    """
    ticks = 0
    for pid in group_members(pgid):
        fields = _stat(pid)
        if fields is not None:
            ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return ticks / os.sysconf("SC_CLK_TCK")


def _pss_bytes(pid: int) -> int:
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:  # the process just exited, or its memory map is not ours to read
        return 0
    for line in rollup.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return 0
