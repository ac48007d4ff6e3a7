"""Acknowledged writes against a crash: a writer that remembers every write Cassandra
acknowledged, and after the crash and restart, which of those are gone.

The streaming job's own rows show a loss only when a kill lands in the short window
between a batch's last acknowledged write and its offsets' commit; this probe writes
continuously while the node is killed, so every kill tests the window: an acknowledged
write that is not there after the restart was lost by the node (``commitlog_sync``).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from cassandra import DriverException
from cassandra.cluster import NoHostAvailable

from config.clients import cassandra_session
from config.settings import Settings

TABLE = "chaos_acked_writes"
IN_FLIGHT = 8  # writes outstanding at once, as a connector task keeps several


@dataclass
class AckedWriter:
    """Writes ``id`` 0, 1, 2, ... until the node stops answering; ``acked`` are the ids the
    node acknowledged (consistency ONE: the only replica)."""

    settings: Settings
    keyspace: str
    first_id: int = 0
    acked: set[int] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def create_table(self) -> None:
        with cassandra_session(self.settings) as session:
            session.execute(f"CREATE TABLE IF NOT EXISTS {self.keyspace}.{TABLE} "
                            "(id int PRIMARY KEY, written_at timestamp)", timeout=60)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._write, name="acked-writer", daemon=True)
        self._thread.start()

    def _write(self) -> None:
        try:
            with cassandra_session(self.settings, timeout=3) as session:
                insert = session.prepare(
                    f"INSERT INTO {self.keyspace}.{TABLE} (id, written_at) "
                    "VALUES (?, toTimestamp(now()))")
                next_id = self.first_id
                while not self._stop.is_set():
                    futures = [(i, session.execute_async(insert, [i], timeout=3))
                               for i in range(next_id, next_id + IN_FLIGHT)]
                    next_id += IN_FLIGHT
                    for i, future in futures:
                        future.result()  # raises once the node is gone: the writer stops
                        self.acked.add(i)
        except (DriverException, NoHostAvailable, OSError) as exc:
            self.errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def lost(self) -> list[int]:
        """Ids the node acknowledged that it no longer has (read after the restart)."""
        with cassandra_session(self.settings) as session:
            present = {row.id for row in session.execute(
                f"SELECT id FROM {self.keyspace}.{TABLE}", timeout=60)}
        return sorted(self.acked - present)


def wait_until_writing(writer: AckedWriter, count: int, timeout: float = 30.0) -> None:
    """Until the writer has ``count`` acknowledged writes (or the deadline)."""
    deadline = time.monotonic() + timeout
    while len(writer.acked) < count and time.monotonic() < deadline and not writer.errors:
        time.sleep(0.05)
