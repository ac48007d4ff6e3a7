"""The contracts as the running stack deploys them.

A contract's sidecar may say other partitions or replication for the cluster topology
(``[kafka.cluster]``, ``[cassandra.cluster]``); every reader of the settings' contracts goes
through here, so none counts offsets over the single topology's partitions on a cluster.
"""

from __future__ import annotations

from pathlib import Path

from config.settings import Settings
from contract.catalog import Contract, load_contracts


def deployed_contracts(settings: Settings, directory: Path | None = None) -> list[Contract]:
    """Every contract of ``directory`` (default: the settings' contracts dir), sorted by
    subject, for the settings' topology."""
    return load_contracts(Path(directory or settings.contracts_dir), settings.stack_topology)
