"""The services of the native stack: how each is prepared, started and probed.

Every service answers three questions: what to write before it starts
(``prepare``), how to start it (``command``) and whether it serves real
requests (``probe``). The launcher (``stack.launcher``) does the rest.

A service the settings mark external (``STACK_EXTERNAL``, or an address that is not
loopback: ``Settings.external_services``) runs elsewhere: the launcher only probes it,
at its configured address, and never starts or stops it.
"""

from __future__ import annotations

from config.settings import Settings
from stack.services.airflow import Airflow
from stack.services.base import CONF_TEMPLATES, Command, Context, Service, ServiceError, render
from stack.services.cassandra import (
    COMMITLOG_SYNC_DEFAULT,
    COMMITLOG_SYNC_ENV,
    Cassandra,
    cassandra_cluster,
    commitlog_sync_spec,
)
from stack.services.console import Console
from stack.services.kafka import Kafka, kafka_cluster
from stack.services.randomuser import RandomUserLocal
from stack.services.registry import Registry
from stack.services.spark_cluster import spark_cluster
from stack.services.stream import STREAM_BACKOFF_CAP_S, Stream, supervise_env

__all__ = [
    "ALL_SERVICES", "CONF_TEMPLATES", "COMMITLOG_SYNC_DEFAULT", "COMMITLOG_SYNC_ENV",
    "OPTIONAL_SERVICES", "STREAM_BACKOFF_CAP_S", "Airflow", "Cassandra", "Command", "Console",
    "Context", "Kafka", "RandomUserLocal", "Registry", "Service", "ServiceError", "Stream",
    "by_name", "commitlog_sync_spec", "render", "services_for", "supervise_env",
]

# Start order (single topology): Kafka and Cassandra first (the slowest), the registry,
# then Airflow; the console last (it shows the others, and starts without them).
ALL_SERVICES: tuple[Service, ...] = (
    Kafka(), Cassandra(), Registry(), RandomUserLocal(), Airflow(), Console(),
)
# Services that `make up` does not start unless named.
OPTIONAL_SERVICES: tuple[Service, ...] = (Stream(),)


def services_for(settings: Settings) -> tuple[Service, ...]:
    """What `make up` starts for the settings' topology, in start order."""
    if settings.stack_topology != "cluster":
        return ALL_SERVICES
    return (*kafka_cluster(settings), *cassandra_cluster(settings), *spark_cluster(settings),
            Registry(), RandomUserLocal(), Airflow(), Console())


def by_name(name: str, settings: Settings | None = None) -> Service:
    """The service called ``name``; with ``settings``, among their topology's services."""
    known = (*(services_for(settings) if settings else ALL_SERVICES), *OPTIONAL_SERVICES)
    for service in known:
        if service.name == name:
            return service
    raise KeyError(f"unknown service {name!r}; known: {', '.join(s.name for s in known)}")
