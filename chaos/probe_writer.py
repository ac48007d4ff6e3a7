"""A driver-side probe for Cassandra faults: it writes ``id`` 0, 1, 2, ... into a table of
its own, a few writes outstanding at once as a connector task keeps several, and remembers
which writes Cassandra acknowledged and when. After the fault, the acknowledged writes
that are gone are the ones the fault lost.

Two uses: against a single node that is killed, the probe stops at the first refused
write (the node is gone: :func:`chaos.durability.acked_writer`); against a ring that loses
one node, it writes on through the outage at a quorum, counting the writes refused by a
tolerated error (:func:`chaos.scenarios.cluster_node_kill.quorum_writer`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from cassandra import ConsistencyLevel, DriverException
from cassandra.cluster import NoHostAvailable

from config.clients import cassandra_session
from config.settings import Settings

IN_FLIGHT = 8  # writes outstanding at once
# What ends the probe when it is not tolerated: the node or the ring no longer answers.
STOPPING_ERRORS = (DriverException, NoHostAvailable, OSError)


@dataclass
class ProbeWriter:
    """Writes from ``first_id`` on until stopped, or until a write fails with an error
    that is not in ``tolerated`` (kept in ``errors``). ``acked``: the ids acknowledged,
    with the monotonic time; ``failed``: the ids refused by a tolerated error, by its
    class name."""

    settings: Settings
    keyspace: str
    table: str
    first_id: int = 0
    consistency: ConsistencyLevel | None = None  # None: the driver's default
    timeout: float = 5.0  # each write's, and the session's connect timeout
    tolerated: tuple[type[BaseException], ...] = ()
    acked: dict[int, float] = field(default_factory=dict)
    failed: dict[int, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    # The writing thread adds to ``acked`` while the test reads it: readers copy it under
    # this lock (iterating a dict that grows raises "changed size during iteration").
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _thread: threading.Thread | None = None

    @property
    def qualified_table(self) -> str:
        return f"{self.keyspace}.{self.table}"

    def create_table(self) -> None:
        with cassandra_session(self.settings) as session:
            session.execute(f"CREATE TABLE IF NOT EXISTS {self.qualified_table} "
                            "(id int PRIMARY KEY, written_at timestamp)", timeout=60)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._write, name=f"probe-{self.table}",
                                        daemon=True)
        self._thread.start()

    def _write(self) -> None:
        try:
            with cassandra_session(self.settings, timeout=self.timeout) as session:
                insert = session.prepare(f"INSERT INTO {self.qualified_table} (id, written_at) "
                                         "VALUES (?, toTimestamp(now()))")
                if self.consistency is not None:
                    insert.consistency_level = self.consistency
                next_id = self.first_id
                while not self._stop.is_set():
                    futures = [(i, session.execute_async(insert, [i], timeout=self.timeout))
                               for i in range(next_id, next_id + IN_FLIGHT)]
                    next_id += IN_FLIGHT
                    for i, future in futures:
                        try:
                            future.result()
                        except self.tolerated as exc:
                            self.failed[i] = type(exc).__name__
                        else:
                            with self._lock:
                                self.acked[i] = time.monotonic()
        except STOPPING_ERRORS as exc:
            self.errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")

    def stop(self, timeout: float = 60.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def acked_between(self, start: float, end: float) -> int:
        with self._lock:
            times = list(self.acked.values())
        return sum(1 for at in times if start <= at <= end)

    def wait_writing(self, count: int, timeout: float = 30.0) -> None:
        """Until ``count`` writes are acknowledged, the probe stopped, or the deadline."""
        deadline = time.monotonic() + timeout
        while len(self.acked) < count and time.monotonic() < deadline and not self.errors:
            time.sleep(0.05)

    def lost(self) -> list[int]:
        """Ids acknowledged that the table no longer has (read after the restart)."""
        with cassandra_session(self.settings) as session:
            present = {row.id for row in session.execute(
                f"SELECT id FROM {self.qualified_table}", timeout=60)}
        with self._lock:
            acked = set(self.acked)
        return sorted(acked - present)
