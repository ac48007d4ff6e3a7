"""Files only their owner may read (credentials, configuration holding a password)."""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_MODE = 0o600


def write_private(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` with mode 0600 from its first byte, replacing it whole.

    Never readable by others, not even for a moment: the file is created 0600 under a
    temporary name, then renamed over ``path``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    partial.replace(path)
    return path
