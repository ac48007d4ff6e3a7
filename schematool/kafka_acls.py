"""What each Kafka user may do, in the secure profile: its contracts' topics and nothing else.

The broker's StandardAuthorizer refuses whatever no ACL allows
(``allow.everyone.if.no.acl.found=false``, stack/conf/kafka/secure.properties); ``admin`` is
a super user. ``make schemas`` (as admin) creates the topics, then allows (config/credentials.py):

- ``producer`` (the DAG's tasks): WRITE and DESCRIBE on each contract's topic and its
  rejects topic. WRITE on a topic also allows the idempotent producer's InitProducerId
  (KIP-679), so no cluster ACL is needed.
- ``stream`` (the Spark job): READ and DESCRIBE on each contract's topic, and READ on the
  consumer groups whose name begins with ``spark-kafka-source-``: Spark 3.5's Kafka source
  names its groups ``spark-kafka-source-<query uuid>-<hash>-driver-0`` and ``...-executor``
  (its ``groupIdPrefix`` default); a new query gets new ones, hence the PREFIXED pattern.
  Offsets are listed by DESCRIBE on the topic (the job's checkpoint check, Spark's
  AdminClient offset reader). Spark 3.5's default source needs no group ACL at all (its
  driver lists offsets with an AdminClient, its executors assign partitions and commit
  nothing: a batch read and an availableNow query ran as ``stream`` without one); the group
  READ is for ``spark.sql.streaming.kafka.useDeprecatedOffsetFetching=true``, whose driver
  consumer subscribes, so joins its group.

Nobody but admin may create, delete or alter a topic, or read a rejects topic.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)

from config.credentials import KAFKA_USERS
from config.settings import Settings
from contract.catalog import Contract

PRODUCER = KAFKA_USERS["producer"]
STREAM = KAFKA_USERS["stream"]
# Spark 3.5's KafkaSourceProvider: s"spark-kafka-source-${UUID.randomUUID}-${params.hashCode}"
SPARK_GROUP_PREFIX = "spark-kafka-source-"
PRODUCER_TOPIC_OPERATIONS = ("WRITE", "DESCRIBE")
STREAM_TOPIC_OPERATIONS = ("READ", "DESCRIBE")


class AclError(RuntimeError):
    """The broker refused to create an ACL; the message names it."""


@dataclass(frozen=True, order=True)
class Grant:
    """One ALLOW ACL: ``user`` may do ``operation`` on the ``resource`` named ``name``
    (``pattern`` LITERAL: that name; PREFIXED: every name that begins with it), from any host."""

    user: str
    resource: str  # TOPIC or GROUP
    name: str
    operation: str  # READ, WRITE, DESCRIBE
    pattern: str = "LITERAL"

    @property
    def principal(self) -> str:
        return f"User:{self.user}"

    def __str__(self) -> str:
        prefixed = "*" if self.pattern == "PREFIXED" else ""
        return f"ALLOW {self.principal} {self.operation} {self.resource} {self.name}{prefixed}"


def contract_grants(contracts: Iterable[Contract]) -> list[Grant]:
    """Every ACL the producer and the stream need for ``contracts``, once each, sorted."""
    grants: set[Grant] = set()
    for contract in contracts:
        for topic in (contract.topic, contract.rejects_topic):
            grants.update(Grant(PRODUCER, "TOPIC", topic, op) for op in PRODUCER_TOPIC_OPERATIONS)
        grants.update(Grant(STREAM, "TOPIC", contract.topic, op) for op in STREAM_TOPIC_OPERATIONS)
        grants.add(Grant(STREAM, "GROUP", SPARK_GROUP_PREFIX, "READ", "PREFIXED"))
    return sorted(grants)


def apply_acls(settings: Settings, contracts: Iterable[Contract], *,
               timeout: float = 10.0) -> list[str]:
    """Create :func:`contract_grants` as the settings' user (admin); the ACLs, as lines.

    Only in the secure profile (the plain broker has no authorizer). Creating an ACL the
    broker already has changes nothing, so running it again is harmless.
    """
    if settings.stack_profile != "secure":
        return []
    grants = contract_grants(contracts)
    if not grants:
        return []
    bindings = {binding(g): g for g in grants}
    admin = AdminClient(settings.kafka_client_config())
    futures = admin.create_acls(list(bindings), request_timeout=timeout)
    for acl, future in futures.items():
        try:
            future.result(timeout=timeout)
        except KafkaException as exc:
            raise AclError(f"{bindings[acl]} as {settings.kafka_sasl_username or 'no user'} at "
                           f"{settings.kafka_bootstrap_servers}: {exc.args[0]}") from exc
    return [str(g) for g in grants]


def binding(grant: Grant) -> AclBinding:
    """``grant`` as confluent_kafka's ACL binding (any host)."""
    return AclBinding(ResourceType[grant.resource], grant.name,
                      ResourcePatternType[grant.pattern], grant.principal, "*",
                      AclOperation[grant.operation], AclPermissionType.ALLOW)
