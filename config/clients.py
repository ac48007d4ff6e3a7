"""Clients of the pipeline's services, configured from :class:`Settings` only.

Every module that talks to Cassandra, the registry or the Kafka admin API gets
its client here, so security settings (TLS, SASL, basic auth) apply everywhere.
"""

from __future__ import annotations

import ssl
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from confluent_kafka.admin import AdminClient

from config.settings import Settings

if TYPE_CHECKING:
    from cassandra.cluster import Session
    from confluent_kafka.schema_registry import SchemaRegistryClient


def consistency_level(name: str) -> int:
    """The driver's value of a consistency level's name (CASSANDRA_*_CONSISTENCY)."""
    from cassandra import ConsistencyLevel

    return int(ConsistencyLevel.name_to_value[name])


def write_consistency(settings: Settings) -> int:
    """What the pipeline's own writes through the driver run at (CASSANDRA_WRITE_CONSISTENCY):
    set it on the statement, e.g. ``prepared.consistency_level = write_consistency(s)``."""
    return consistency_level(settings.cassandra_write_consistency)


@contextmanager
def cassandra_session(
    settings: Settings, *, keyspace: str | None = None, timeout: float = 10.0,
    pinned: bool = False,
) -> Iterator[Session]:
    """A cassandra-driver session; the cluster is shut down on exit.

    Requests run at CASSANDRA_READ_CONSISTENCY unless a statement says otherwise
    (:func:`write_consistency`); LOCAL_QUORUM on the cluster topology's 3 replicas is 2 of
    them, so one node may be down. ``pinned``: every request goes to the first host only (a
    node's own view, e.g. its virtual tables), never to another coordinator.
    """
    # Imported here: cassandra-driver takes ~0.5 s to import, which the producer never needs.
    from cassandra.auth import PlainTextAuthProvider
    from cassandra.cluster import Cluster
    from cassandra.policies import (
        DCAwareRoundRobinPolicy,
        LoadBalancingPolicy,
        WhiteListRoundRobinPolicy,
    )

    auth = None
    if settings.cassandra_username:
        auth = PlainTextAuthProvider(
            settings.cassandra_username, settings.cassandra_password.reveal()
        )
    ssl_context = None
    if settings.cassandra_ssl_ca_location:
        ssl_context = ssl.create_default_context(cafile=settings.cassandra_ssl_ca_location)
    hosts = settings.cassandra_host_list[:1] if pinned else settings.cassandra_host_list
    policy: LoadBalancingPolicy = (
        WhiteListRoundRobinPolicy(hosts) if pinned
        else DCAwareRoundRobinPolicy(local_dc=settings.cassandra_local_dc))
    cluster = Cluster(
        hosts,
        port=settings.cassandra_port,
        auth_provider=auth,
        ssl_context=ssl_context,
        load_balancing_policy=policy,
        protocol_version=5,
        connect_timeout=timeout,
        control_connection_timeout=timeout,
    )
    try:
        session = cluster.connect(keyspace)
        session.default_timeout = max(timeout, 10.0)
        with warnings.catch_warnings():
            # The driver would have execution profiles instead, but those refuse the
            # session.row_factory its callers set (ops/reconcile, the console).
            warnings.simplefilter("ignore", DeprecationWarning)
            session.default_consistency_level = consistency_level(
                settings.cassandra_read_consistency)
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
