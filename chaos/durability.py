"""Acknowledged writes against a crash: a writer that remembers every write Cassandra
acknowledged, and after the crash and restart, which of those are gone.

The streaming job's own rows show a loss only when a kill lands in the short window
between a batch's last acknowledged write and its offsets' commit; this probe writes
continuously while the node is killed, so every kill tests the window: an acknowledged
write that is not there after the restart was lost by the node (``commitlog_sync``).
"""

from __future__ import annotations

from chaos.probe_writer import ProbeWriter
from config.settings import Settings

TABLE = "chaos_acked_writes"


def acked_writer(settings: Settings, keyspace: str, first_id: int = 0) -> ProbeWriter:
    """Writes at the driver's default consistency (ONE: the only replica) until the node
    stops answering; its first refused write ends it."""
    return ProbeWriter(settings, keyspace, TABLE, first_id=first_id, timeout=3)
