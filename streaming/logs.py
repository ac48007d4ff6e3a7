"""Structured logs: one JSON object per line, on stderr, for every event the job reports."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

LOGGER_NAME = "streaming"


def log_event(event: str, **fields: Any) -> None:
    """Log ``{"ts": ..., "event": event, **fields}`` as one JSON line (never secrets)."""
    record = {"ts": datetime.now(UTC).isoformat(timespec="milliseconds"), "event": event}
    record.update(fields)
    logging.getLogger(LOGGER_NAME).info(json.dumps(record, default=str, sort_keys=False))


def configure_logging(level: int = logging.INFO) -> None:
    """Send the job's JSON lines to stderr, unadorned (the line is the record)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger(LOGGER_NAME)
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False
