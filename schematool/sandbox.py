"""A throw-away copy of a contract: its own topic, subject and keyspace.

Benchmarks, chaos scenarios and ``make demo-evolve`` never touch ``users_created`` (the
running ``stream`` service consumes it and other people test on it). :func:`sandbox`
writes the committed ``.avsc`` and a sidecar with unique names into a temporary
directory, applies it like ``make schemas`` does (topics, CQL, compatibility,
registration) and removes all of it on exit.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import tomllib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cassandra import DriverException
from cassandra.cluster import NoHostAvailable
from confluent_kafka import KafkaException
from confluent_kafka.schema_registry.error import SchemaRegistryError

from config.clients import cassandra_session, kafka_admin, schema_registry_client
from config.settings import Settings
from contract.catalog import (
    DEFAULT_SUBJECT,
    Contract,
    load_contract,
    load_contract_file,
    topology_tables,
)
from schematool.migrate.apply import run_apply

log = logging.getLogger(__name__)
TOPIC_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Sandbox:
    contract: Contract
    directory: Path  # holds <subject>.avsc and .toml: load_contract(subject, directory)


def sandbox_name(prefix: str = "bench") -> str:
    """Unique, and valid as a topic, a subject and a CQL keyspace."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def sidecar_text(base: Contract, name: str, partitions: int) -> str:
    """The sidecar of the copy: the base contract's settings under new names."""
    clustering = ", ".join(f'"{c}"' for c in base.clustering_key)
    partition = ", ".join(f'"{c}"' for c in base.partition_key)
    return (
        f'subject = "{name}-value"\n'
        f'topic = "{name}"\n'
        f'compatibility = "{base.compatibility}"\n\n'
        "[kafka]\n"
        f"partitions = {partitions}\n"
        f"replication_factor = {base.replication_factor}\n"
        f'rejects_topic = "{name}.rejected"\n\n'
        "[cassandra]\n"
        f'keyspace = "{name}"\n'
        f'table = "{base.table}"\n'
        f"partition_key = [{partition}]\n"
        f"clustering_key = [{clustering}]\n"
        f"ttl_seconds = {base.ttl_seconds}\n\n"
        # the base's source and rules: a copy is produced like it
        "[source]\n"
        f'api = "{base.source_api}"\n'
        f'rules = "{base.rules_module}"\n\n'
        # the base's [kafka.cluster] / [cassandra.cluster]: a copy is placed like it
        + topology_tables(base, without=("partitions",))
    )


def write_contract(directory: Path, base: Contract, name: str, partitions: int) -> Contract:
    subject = f"{name}-value"
    avsc = directory / f"{subject}.avsc"
    shutil.copyfile(base.avsc_path, avsc)
    sidecar = sidecar_text(base, name, partitions)
    tomllib.loads(sidecar)  # fail here, not in the catalog, if a name broke the TOML
    avsc.with_suffix(".toml").write_text(sidecar)
    return load_contract_file(avsc)


@contextmanager
def sandbox(
    settings: Settings, *, prefix: str = "bench", partitions: int | None = None,
    base_subject: str = DEFAULT_SUBJECT, keep: bool = False,
) -> Iterator[Sandbox]:
    """A registered contract copy with its topics and tables; all removed on exit."""
    base = load_contract(base_subject)
    directory = Path(tempfile.mkdtemp(prefix=f"{prefix}-contract-"))
    contract = write_contract(directory, base, sandbox_name(prefix),
                              partitions or base.partitions)
    try:
        code = run_apply([contract], settings, out=lambda line: log.info("%s", line))
        if code != 0:
            raise RuntimeError(f"applying the sandbox contract {contract.subject} was refused")
        yield Sandbox(contract, directory)
    finally:
        if not keep:
            remove(settings, contract)
        shutil.rmtree(directory, ignore_errors=True)


def remove(settings: Settings, contract: Contract) -> None:
    """Drop the keyspace, delete the subject and the topics (whatever of them exists)."""
    problems: list[str] = []
    try:
        with cassandra_session(settings) as session:
            session.execute(f"DROP KEYSPACE IF EXISTS {contract.keyspace}", timeout=120)
    except (DriverException, NoHostAvailable) as exc:  # NoHostAvailable is not a DriverException
        problems.append(f"keyspace {contract.keyspace}: {exc}")
    registry = schema_registry_client(settings)
    for permanent in (False, True):
        try:
            registry.delete_subject(contract.subject, permanent=permanent)
        except SchemaRegistryError as exc:
            if exc.http_status_code != 404:
                problems.append(f"subject {contract.subject}: {exc}")
    admin = kafka_admin(settings)  # keep the handle alive until the futures resolve
    futures = admin.delete_topics([contract.topic, contract.rejects_topic])
    for topic, future in futures.items():
        try:
            future.result(timeout=TOPIC_TIMEOUT_S)
        except KafkaException as exc:
            if "UNKNOWN_TOPIC" not in str(exc):
                problems.append(f"topic {topic}: {exc}")
    if problems:
        # Cleanup must not hide the benchmark's own outcome: say what is left behind.
        log.warning("sandbox %s not fully removed: %s", contract.topic, "; ".join(problems))
