"""Where the streaming query keeps its checkpoint, and what its last committed batch read.

No Spark here: ``make status`` reads the checkpoint without starting a JVM.
"""

from __future__ import annotations

import json
from pathlib import Path

from config.settings import Settings
from contract.catalog import Contract

Offsets = dict[int, int]  # partition -> offset


def query_name(contract: Contract) -> str:
    return f"{contract.topic}_to_{contract.keyspace}_{contract.table}"


def checkpoint_location(settings: Settings, contract: Contract) -> Path:
    return Path(settings.spark_checkpoint_dir) / query_name(contract)


def committed_offsets(checkpoint: Path, topic: str) -> Offsets | None:
    """The source offsets of the last committed micro-batch in a Spark checkpoint.

    ``offsets/<n>`` holds a version line, batch metadata, then one JSON line per
    source; ``commits/<n>`` exists once batch ``n`` is done. The offsets of a
    committed batch are where the next one starts, i.e. what has been processed.
    """
    commits = [int(p.name) for p in (checkpoint / "commits").glob("[0-9]*")]
    if not commits:
        return None
    lines = (checkpoint / "offsets" / str(max(commits))).read_text().splitlines()
    for line in lines[2:]:
        source = json.loads(line)
        if topic in source:
            return {int(p): int(o) for p, o in source[topic].items()}
    return None
