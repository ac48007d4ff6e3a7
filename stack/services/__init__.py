"""The services of the native stack: how each is prepared, started and probed.

Every service answers three questions: what to write before it starts
(``prepare``), how to start it (``command``) and whether it serves real
requests (``probe``). The launcher (``stack.launcher``) does the rest.

A service the settings mark external (``STACK_EXTERNAL``, or an address that is not
loopback: ``Settings.external_services``) runs elsewhere: the launcher only probes it,
at its configured address, and never starts or stops it.
"""

from __future__ import annotations

from stack.services.airflow import Airflow
from stack.services.base import CONF_TEMPLATES, Command, Context, Service, ServiceError, render
from stack.services.cassandra import (
    COMMITLOG_SYNC_DEFAULT,
    COMMITLOG_SYNC_ENV,
    Cassandra,
    commitlog_sync_spec,
)
from stack.services.console import Console
from stack.services.kafka import Kafka
from stack.services.randomuser import RandomUserLocal
from stack.services.registry import Registry
from stack.services.stream import STREAM_BACKOFF_CAP_S, Stream, supervise_env

__all__ = [
    "ALL_SERVICES", "CONF_TEMPLATES", "COMMITLOG_SYNC_DEFAULT", "COMMITLOG_SYNC_ENV",
    "OPTIONAL_SERVICES", "STREAM_BACKOFF_CAP_S", "Airflow", "Cassandra", "Command", "Console",
    "Context", "Kafka", "RandomUserLocal", "Registry", "Service", "ServiceError", "Stream",
    "by_name", "commitlog_sync_spec", "render", "supervise_env",
]

# Start order: Kafka and Cassandra first (the slowest), the registry, then Airflow; the
# console last (it shows the others, and starts without them).
ALL_SERVICES: tuple[Service, ...] = (
    Kafka(), Cassandra(), Registry(), RandomUserLocal(), Airflow(), Console(),
)
# Services that `make up` does not start unless named.
OPTIONAL_SERVICES: tuple[Service, ...] = (Stream(),)


def by_name(name: str) -> Service:
    for service in (*ALL_SERVICES, *OPTIONAL_SERVICES):
        if service.name == name:
            return service
    known = ", ".join(s.name for s in (*ALL_SERVICES, *OPTIONAL_SERVICES))
    raise KeyError(f"unknown service {name!r}; known: {known}")
