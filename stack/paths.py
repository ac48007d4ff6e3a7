"""Where the native stack keeps its runtime state: the rule lives in ``config.stack_paths``
(the console reads the stream's log by it too); the stack's modules import it from here."""

from __future__ import annotations

from config.stack_paths import StackPaths

__all__ = ["StackPaths"]
