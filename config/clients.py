"""Clients of the pipeline's services, configured from :class:`Settings` only.

Every module that talks to Cassandra, the registry or the Kafka admin API gets
its client here, so security settings (TLS, SASL, basic auth) apply everywhere.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from confluent_kafka.admin import AdminClient

from config.settings import Settings

if TYPE_CHECKING:
    from cassandra.cluster import Session
    from confluent_kafka.schema_registry import SchemaRegistryClient


@contextmanager
def cassandra_session(
    settings: Settings, *, keyspace: str | None = None, timeout: float = 10.0
) -> Iterator[Session]:
    """A cassandra-driver session; the cluster is shut down on exit."""
    # Imported here: cassandra-driver takes ~0.5 s to import, which the producer never needs.
    from cassandra.auth import PlainTextAuthProvider
    from cassandra.cluster import Cluster
    from cassandra.policies import DCAwareRoundRobinPolicy

    auth = None
    if settings.cassandra_username:
        auth = PlainTextAuthProvider(
            settings.cassandra_username, settings.cassandra_password.reveal()
        )
    ssl_context = None
    if settings.cassandra_ssl_ca_location:
        ssl_context = ssl.create_default_context(cafile=settings.cassandra_ssl_ca_location)
    cluster = Cluster(
        settings.cassandra_host_list,
        port=settings.cassandra_port,
        auth_provider=auth,
        ssl_context=ssl_context,
        load_balancing_policy=DCAwareRoundRobinPolicy(local_dc=settings.cassandra_local_dc),
        protocol_version=5,
        connect_timeout=timeout,
        control_connection_timeout=timeout,
    )
    try:
        session = cluster.connect(keyspace)
        session.default_timeout = max(timeout, 10.0)
        yield session
    finally:
        cluster.shutdown()


def schema_registry_client(settings: Settings, *, timeout: float = 10.0) -> SchemaRegistryClient:
    """A registry client whose every request gives up after ``timeout`` seconds (httpx)."""
    # Imported here: it takes ~0.9 s to import (httpx, authlib), which users of Cassandra
    # alone (e.g. ops evolve) need not pay.
    from confluent_kafka.schema_registry import SchemaRegistryClient

    return SchemaRegistryClient({**settings.schema_registry_config(), "timeout": timeout})


def kafka_admin(settings: Settings) -> AdminClient:
    return AdminClient(settings.kafka_client_config())
