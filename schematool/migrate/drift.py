"""``make schemas-diff``: where git, the registry, Kafka and Cassandra disagree.

Git (the working tree's contract) is the reference. The registry's latest version is compared
as parsed JSON (formatting and key order do not count, a doc or a default does); the table
with the columns the schema implies, lineage columns included; the topics with the sidecar.
Pure functions of a contract and its :class:`~schematool.migrate.live.LiveState`;
:func:`run_diff` reads.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from config.settings import Settings
from contract.catalog import Contract
from contract.cql import DEAD_LETTER_COLUMNS, table_spec, unquote_identifier
from contract.migration import normalize_cql_type
from schematool.migrate.live import KeyspaceState, LiveState, RegistryState, TableState, TopicState
from schematool.migrate.observe import connect, live_state
from schematool.migrate.plan import key_text, source_of, validate_contracts


def registry_drift(contract: Contract, state: RegistryState) -> list[str]:
    source = source_of(contract)
    latest = state.latest
    if latest is None:
        return [f"registry has no version of {contract.subject}: {source} is not registered"]
    found: list[str] = []
    differences = schema_differences(contract.schema, json.loads(latest.schema_str))
    if differences:
        where = ""
        if state.match is not None:
            where = f" ({source} is v{state.match.version})"
        found.append(
            f"registry latest v{latest.version} differs from {source}{where}: "
            + "; ".join(differences)
        )
    level = contract.compatibility
    if state.effective_level != level or state.subject_level != level:
        how = "set on the subject" if state.subject_level == state.effective_level else (
            "inherited from the global level"
        )
        found.append(
            f"registry level of {contract.subject} is {state.effective_level} ({how}), "
            f"the sidecar says {level}"
        )
    return found


def schema_differences(git: Mapping[str, Any], registry: Mapping[str, Any]) -> list[str]:
    """Field by field, what the registry's schema lacks, adds or changes (top level)."""
    if git == registry:
        return []
    ours = {f["name"]: f for f in git.get("fields", [])}
    theirs = {f["name"]: f for f in registry.get("fields", [])}
    found = [f"field {name} missing" for name in ours if name not in theirs]
    found += [f"field {name} not in git" for name in theirs if name not in ours]
    for name, field in ours.items():
        if name in theirs and field != theirs[name]:
            keys = sorted(k for k in {*field, *theirs[name]} if field.get(k) != theirs[name].get(k))
            found.append(f"field {name} differs ({', '.join(keys)})")
    for key in sorted({*git, *registry} - {"fields"}):
        if git.get(key) != registry.get(key):
            found.append(f"record {key} differs")
    if not found:
        found.append("field order differs")
    return found


def topic_drift(contract: Contract, topics: Mapping[str, TopicState]) -> list[str]:
    found = []
    for name in dict.fromkeys((contract.topic, contract.rejects_topic)):
        state = topics.get(name, TopicState(name))
        if not state.exists:
            found.append(f"kafka has no topic {name}")
            continue
        if state.partitions != contract.partitions:
            found.append(
                f"kafka topic {name} has {state.partitions} partitions, "
                f"the sidecar says {contract.partitions}"
            )
        if state.replication_factor not in (None, contract.replication_factor):
            found.append(
                f"kafka topic {name} has replication factor {state.replication_factor}, "
                f"the sidecar says {contract.replication_factor} ({contract.topology} topology)"
            )
        if state.min_insync_replicas not in (None, contract.min_insync_replicas):
            found.append(
                f"kafka topic {name} has min.insync.replicas {state.min_insync_replicas}, "
                f"the sidecar says {contract.min_insync_replicas} ({contract.topology} topology)"
            )
    return found


def column_drift(
    prefix: str, expected: Mapping[str, str], live: Mapping[str, str]
) -> list[str]:
    """Missing, extra and retyped columns; ``prefix`` + name says which (``column ``,
    ``field address.``)."""
    wanted = {unquote_identifier(name): cql for name, cql in expected.items()}
    found = [
        f"cassandra missing {prefix}{name} ({cql})" for name, cql in wanted.items()
        if name not in live
    ]
    found += [
        f"cassandra has extra {prefix}{name} ({cql})" for name, cql in live.items()
        if name not in wanted
    ]
    found += [
        f"cassandra {prefix}{name} is {live[name]}, the schema wants {cql}"
        for name, cql in wanted.items()
        if name in live and normalize_cql_type(live[name]) != normalize_cql_type(cql)
    ]
    return found


def cassandra_drift(
    contract: Contract, keyspace: KeyspaceState, table: TableState, dead_letters: TableState
) -> list[str]:
    spec = table_spec(contract)
    if not keyspace.exists:
        return [f"cassandra has no keyspace {spec.keyspace}"]
    found = []
    if keyspace.replication_factor not in (None, contract.keyspace_replication_factor):
        found.append(
            f"cassandra keyspace {spec.keyspace} has replication factor "
            f"{keyspace.replication_factor}, the sidecar says "
            f"{contract.keyspace_replication_factor} ({contract.topology} topology)"
        )
    for udt in spec.user_types:
        live_type = keyspace.types.get(udt.name)
        if live_type is None:
            found.append(f"cassandra has no type {spec.keyspace}.{udt.name}")
        else:
            found += column_drift(f"field {udt.name}.", dict(udt.fields), live_type)
    if not table.exists:
        found.append(f"cassandra has no table {spec.qualified_table}")
    else:
        found += column_drift("column ", spec.column_map, table.columns)
        partition, clustering = spec.partition_key, spec.clustering_key  # names as stored
        if (table.partition_key, table.clustering_key) != (partition, clustering):
            found.append(
                f"cassandra {spec.qualified_table} primary key is "
                f"{key_text(table.partition_key, table.clustering_key)}, "
                f"the sidecar says {key_text(partition, clustering)}"
            )
        if table.ttl_seconds != spec.ttl_seconds:
            found.append(
                f"cassandra {spec.qualified_table} default_time_to_live is {table.ttl_seconds}, "
                f"the sidecar says {spec.ttl_seconds}"
            )
    if not dead_letters.exists:
        found.append(f"cassandra has no table {dead_letters.keyspace}.{dead_letters.table}")
    else:
        prefix = f"column {dead_letters.table}."
        found += column_drift(prefix, DEAD_LETTER_COLUMNS, dead_letters.columns)
    return found


def drift(contract: Contract, live: LiveState) -> list[str]:
    """Every disagreement for one contract; empty when git and the services are in sync."""
    return [
        *registry_drift(contract, live.registry),
        *topic_drift(contract, live.topics),
        *cassandra_drift(contract, live.keyspace, live.table, live.dead_letters),
    ]


def format_drift(contract: Contract, live: LiveState, found: Sequence[str]) -> list[str]:
    if not found:
        latest = live.registry.latest
        version = f"v{latest.version} (id {latest.schema_id})" if latest else "?"
        return [
            f"{contract.subject}: in sync (registry {version}, cassandra "
            f"{contract.qualified_table}, topics {contract.topic}, {contract.rejects_topic})"
        ]
    return [f"{contract.subject}: {line}" for line in found]


def run_diff(
    contracts: Sequence[Contract], settings: Settings, out: Callable[[str], None] = print
) -> int:
    """``python -m schematool diff``: 0 in sync, 1 drift; the contracts as the settings'
    topology deploys them (replication factors, min.insync.replicas)."""
    validate_contracts(contracts)
    contracts = [c.for_topology(settings.stack_topology) for c in contracts]
    any_drift = False
    with connect(settings) as services:
        for contract in contracts:
            live = live_state(services, contract, judge=False)
            found = drift(contract, live)
            any_drift = any_drift or bool(found)
            for line in format_drift(contract, live, found):
                out(line)
    return 1 if any_drift else 0
