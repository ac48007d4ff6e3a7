"""Spark standalone on this machine (the cluster topology): a master and its workers."""

from __future__ import annotations

from config.settings import Settings
from stack.services.base import Service, ServiceError


def spark_cluster(settings: Settings) -> list[Service]:
    """The cluster topology's Spark master and workers, in start order."""
    raise ServiceError("the cluster topology is not built yet")
