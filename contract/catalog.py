"""The contracts: every ``schemas/<subject>.avsc`` with its ``<subject>.toml`` sidecar.

This is the one place that reads schema files. The producer, the streaming job,
the CQL generator and the checks all ask this module for a :class:`Contract`
instead of declaring fields themselves.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

SCHEMAS_DIR = Path(__file__).resolve().parent.parent / "schemas"
DEFAULT_SUBJECT = "users_created-value"
COMPATIBILITY_LEVELS = (
    "BACKWARD",
    "BACKWARD_TRANSITIVE",
    "FORWARD",
    "FORWARD_TRANSITIVE",
    "FULL",
    "FULL_TRANSITIVE",
    "NONE",
)
# The source APIs the producer has a fetcher for: a contract names one in [source] api.
SOURCE_APIS = ("randomuser",)
DEFAULT_SOURCE_API = "randomuser"
# The module whose FIELD_RULES say where each field comes from in the API's JSON.
DEFAULT_RULES_MODULE = "producers.mapping"
_MODULE_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
# [sensitivity]'s labels, each a list of field names (docs/your-own-contract.md):
# personal: identifies or describes the person (make forget erases its row);
# pseudonymous: an identifier that points at a person only through this pipeline's data;
# public: about no one.
SENSITIVITY_LABELS = ("personal", "pseudonymous", "public")
# The stack's topologies (config/topology.py, STACK_TOPOLOGY): the sidecar's [kafka] and
# [cassandra] values are the single one's; a [kafka.cluster] / [cassandra.cluster] table
# replaces those it names in the cluster topology (Contract.for_topology).
DEFAULT_TOPOLOGY = "single"
TOPOLOGIES = (DEFAULT_TOPOLOGY, "cluster")
# Per section, each key a topology table may hold -> the Contract field it sets.
TOPOLOGY_KEYS: dict[str, dict[str, str]] = {
    "kafka": {"partitions": "partitions", "replication_factor": "replication_factor",
              "min_insync_replicas": "min_insync_replicas"},
    "cassandra": {"replication_factor": "keyspace_replication_factor"},
}
_OTHER_TOPOLOGIES = frozenset(TOPOLOGIES) - {DEFAULT_TOPOLOGY}
# Every key a sidecar may hold, by section ("" is the top level). The catalog reads the
# keys it knows and ignores others, as it always has; `make schemas-check` flags them.
SIDECAR_KEYS: dict[str, frozenset[str]] = {
    "": frozenset({"subject", "topic", "compatibility", "kafka", "cassandra", "source",
                   "sensitivity"}),
    "kafka": frozenset({"partitions", "replication_factor", "min_insync_replicas",
                        "rejects_topic", *_OTHER_TOPOLOGIES}),
    "cassandra": frozenset({"keyspace", "table", "partition_key", "clustering_key",
                            "ttl_seconds", "replication_factor", *_OTHER_TOPOLOGIES}),
    "source": frozenset({"api", "rules"}),
    "sensitivity": frozenset(SENSITIVITY_LABELS),
    **{f"{section}.{topology}": frozenset(keys)
       for section, keys in TOPOLOGY_KEYS.items() for topology in sorted(_OTHER_TOPOLOGIES)},
}


class ContractError(ValueError):
    """A schema file or its sidecar is malformed; the message names the file."""


@dataclass(frozen=True)
class Contract:
    """One subject: its Avro schema (the source of truth) and where it lives."""

    subject: str
    topic: str
    compatibility: str
    partitions: int
    replication_factor: int
    rejects_topic: str
    keyspace: str
    table: str
    partition_key: tuple[str, ...]
    clustering_key: tuple[str, ...]
    ttl_seconds: int
    avsc_path: Path
    schema_str: str  # the .avsc text as committed
    source_api: str = DEFAULT_SOURCE_API  # [source] api: which fetcher feeds it
    rules_module: str = DEFAULT_RULES_MODULE  # [source] rules: where its FIELD_RULES are
    # [sensitivity]: (label, field names) per label the sidecar lists, in SENSITIVITY_LABELS
    # order; not checked against the schema here (make schemas-check: sensitivity-fields).
    sensitivity: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # Where the data lives beyond partitions and replicas: the topics' min.insync.replicas
    # (a topic config) and the keyspace's replication factor, for ``topology``.
    min_insync_replicas: int = 1
    keyspace_replication_factor: int = 1
    topology: str = DEFAULT_TOPOLOGY
    # Each topology's placement values (field -> value), the default one's included, so that
    # for_topology can go from any topology to any other.
    placements: tuple[tuple[str, tuple[tuple[str, int], ...]], ...] = ()

    def for_topology(self, topology: str) -> Contract:
        """This contract as the ``topology`` deploys it: its partitions, replication
        factors and min.insync.replicas from the sidecar's table of that topology."""
        if topology not in TOPOLOGIES:
            raise ContractError(f"unknown topology {topology!r}; known: {', '.join(TOPOLOGIES)}")
        if topology == self.topology:
            return self
        placements = dict(self.placements)
        values = {**dict(placements.get(DEFAULT_TOPOLOGY, ())),
                  **dict(placements.get(topology, ()))}
        if not values:  # made by hand, without a sidecar: nothing differs
            return replace(self, topology=topology)
        return replace(
            self, topology=topology, partitions=values["partitions"],
            replication_factor=values["replication_factor"],
            min_insync_replicas=values["min_insync_replicas"],
            keyspace_replication_factor=values["keyspace_replication_factor"],
        )

    @cached_property
    def schema(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.schema_str)
        return parsed

    @property
    def fields(self) -> list[dict[str, Any]]:
        return list(self.schema["fields"])

    @property
    def field_names(self) -> list[str]:
        return [f["name"] for f in self.fields]

    @property
    def primary_key(self) -> tuple[str, ...]:
        return self.partition_key + self.clustering_key

    @property
    def qualified_table(self) -> str:
        return f"{self.keyspace}.{self.table}"

    @property
    def source(self) -> str:
        """The schema file, as messages name it (``schemas/<subject>.avsc``)."""
        return f"schemas/{self.avsc_path.name}"

    @property
    def sidecar_path(self) -> Path:
        return self.avsc_path.with_suffix(".toml")

    def labelled(self, label: str) -> tuple[str, ...]:
        """The fields ``[sensitivity]`` gives ``label`` (``personal``...), as listed."""
        return dict(self.sensitivity).get(label, ())

    @property
    def labels(self) -> dict[str, str]:
        """Each labelled field's label (a field listed twice: its first label)."""
        found: dict[str, str] = {}
        for label, names in self.sensitivity:
            for name in names:
                found.setdefault(name, label)
        return found


def _require(table: dict[str, Any], key: str, kind: type, where: Path) -> Any:
    if key not in table:
        raise ContractError(f"{where}: missing key {key!r}")
    value = table[key]
    if not isinstance(value, kind):
        raise ContractError(f"{where}: {key!r} must be {kind.__name__}, got {value!r}")
    return value


def load_contract_file(avsc_path: Path) -> Contract:
    """Read one ``.avsc`` and its sidecar ``.toml``; raise :class:`ContractError` on any defect."""
    avsc_path = Path(avsc_path)
    sidecar = avsc_path.with_suffix(".toml")
    try:
        schema_str = avsc_path.read_text(encoding="utf-8")
        schema = json.loads(schema_str)
    except OSError as exc:
        raise ContractError(f"{avsc_path}: cannot read: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise ContractError(f"{avsc_path}:{exc.lineno}: not valid JSON: {exc.msg}") from exc
    if not isinstance(schema, dict) or schema.get("type") != "record":
        raise ContractError(f"{avsc_path}: the top-level schema must be a record")
    try:
        meta = tomllib.loads(sidecar.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ContractError(f"{sidecar}: cannot read the sidecar: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ContractError(f"{sidecar}: not valid TOML: {exc}") from exc

    subject = _require(meta, "subject", str, sidecar)
    if subject != avsc_path.stem:
        raise ContractError(
            f"{sidecar}: subject {subject!r} must match the file name {avsc_path.stem!r}"
        )
    compatibility = _require(meta, "compatibility", str, sidecar).upper()
    if compatibility not in COMPATIBILITY_LEVELS:
        raise ContractError(f"{sidecar}: unknown compatibility {compatibility!r}")
    kafka = _require(meta, "kafka", dict, sidecar)
    cassandra = _require(meta, "cassandra", dict, sidecar)
    partition_key = tuple(_require(cassandra, "partition_key", list, sidecar))
    if not partition_key:
        raise ContractError(f"{sidecar}: cassandra.partition_key must name at least one field")
    source_api, rules_module = _source_section(meta, sidecar)
    placements = _placements(kafka, cassandra, sidecar)
    single = dict(placements[0][1])
    return Contract(
        subject=subject,
        topic=_require(meta, "topic", str, sidecar),
        compatibility=compatibility,
        partitions=single["partitions"],
        replication_factor=single["replication_factor"],
        rejects_topic=_require(kafka, "rejects_topic", str, sidecar),
        keyspace=_require(cassandra, "keyspace", str, sidecar),
        table=_require(cassandra, "table", str, sidecar),
        partition_key=partition_key,
        clustering_key=tuple(cassandra.get("clustering_key", [])),
        ttl_seconds=int(cassandra.get("ttl_seconds", 0)),
        avsc_path=avsc_path,
        schema_str=schema_str,
        source_api=source_api,
        rules_module=rules_module,
        sensitivity=_sensitivity_section(meta, sidecar),
        min_insync_replicas=single["min_insync_replicas"],
        keyspace_replication_factor=single["keyspace_replication_factor"],
        placements=placements,
    )


def _placements(
    kafka: dict[str, Any], cassandra: dict[str, Any], sidecar: Path
) -> tuple[tuple[str, tuple[tuple[str, int], ...]], ...]:
    """Each topology's partitions, replication factors and min.insync.replicas: the single
    one's from [kafka] / [cassandra], another's from its table there ([kafka.cluster]),
    falling back to the single one's for a key it does not name."""
    single = {
        "partitions": _require(kafka, "partitions", int, sidecar),
        "replication_factor": _require(kafka, "replication_factor", int, sidecar),
        "min_insync_replicas": kafka.get("min_insync_replicas", 1),
        "keyspace_replication_factor": cassandra.get("replication_factor", 1),
    }
    found = [(DEFAULT_TOPOLOGY, single)]
    for topology in TOPOLOGIES[1:]:
        values = dict(single)
        for section_name, section in (("kafka", kafka), ("cassandra", cassandra)):
            table = section.get(topology, {})
            if not isinstance(table, dict):
                raise ContractError(f"{sidecar}: [{section_name}.{topology}] must be a table, "
                                    f"got {table!r}")
            for key, field_name in TOPOLOGY_KEYS[section_name].items():
                if key in table:
                    values[field_name] = table[key]
        found.append((topology, values))
    for topology, values in found:
        _check_placement(topology, values, sidecar)
    return tuple((t, tuple(sorted(v.items()))) for t, v in found)


def _check_placement(topology: str, values: dict[str, Any], sidecar: Path) -> None:
    where = "" if topology == DEFAULT_TOPOLOGY else f" ({topology} topology)"
    for name, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ContractError(f"{sidecar}: {name} must be a positive int{where}, "
                                f"got {value!r}")
    if values["min_insync_replicas"] > values["replication_factor"]:
        # acks=all could never be satisfied: every write refused (NOT_ENOUGH_REPLICAS)
        raise ContractError(
            f"{sidecar}: min_insync_replicas {values['min_insync_replicas']} is more than "
            f"replication_factor {values['replication_factor']}{where}: no write with "
            "acks=all could ever succeed"
        )


def _source_section(meta: dict[str, Any], sidecar: Path) -> tuple[str, str]:
    """``[source]``: (api, rules module); both optional. Only parsed and checked here: the
    producer imports the rules module (the core imports nothing of the project's)."""
    source = meta.get("source", {})
    if not isinstance(source, dict):
        raise ContractError(f"{sidecar}: [source] must be a table, got {source!r}")
    api = source.get("api", DEFAULT_SOURCE_API)
    if api not in SOURCE_APIS:
        raise ContractError(
            f"{sidecar}: source.api {api!r} has no fetcher; known: {', '.join(SOURCE_APIS)}"
        )
    rules = source.get("rules", DEFAULT_RULES_MODULE)
    if not isinstance(rules, str) or not _MODULE_PATH.match(rules):
        raise ContractError(
            f"{sidecar}: source.rules must be a Python module path (e.g. "
            f"{DEFAULT_RULES_MODULE!r}), got {rules!r}"
        )
    return api, rules


def _sensitivity_section(
    meta: dict[str, Any], sidecar: Path
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``[sensitivity]``: label = [field names]; optional. An unknown label is ignored here
    like any unknown key (``sidecar-keys`` flags it); a value that is not a list of names
    is a :class:`ContractError`."""
    section = meta.get("sensitivity", {})
    if not isinstance(section, dict):
        raise ContractError(f"{sidecar}: [sensitivity] must be a table, got {section!r}")
    parsed: list[tuple[str, tuple[str, ...]]] = []
    for label in SENSITIVITY_LABELS:
        if label not in section:
            continue
        names = section[label]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ContractError(
                f"{sidecar}: sensitivity.{label} must be a list of field names, got {names!r}"
            )
        parsed.append((label, tuple(names)))
    return tuple(parsed)


def unknown_sidecar_keys(meta: dict[str, Any]) -> list[str]:
    """Keys of a parsed sidecar that no section knows (``kafka.partition``,
    ``kafka.cluster.replicas``: typos)."""
    unknown = [k for k in meta if k not in SIDECAR_KEYS[""]]
    for section, known in SIDECAR_KEYS.items():
        table: Any = meta if section else None
        for part in section.split(".") if section else ():
            table = table.get(part) if isinstance(table, dict) else None
        if isinstance(table, dict):
            unknown += [f"{section}.{k}" for k in table
                        if k not in known and f"{section}.{k}" not in SIDECAR_KEYS]
    return unknown


def topology_tables(contract: Contract, *, without: Iterable[str] = ()) -> str:
    """The sidecar's per-topology tables (``[kafka.cluster]``...) as TOML: each value that
    differs from the default topology's, but those named in ``without`` (``partitions``: a
    copy that sets its own for every topology). What a copy of the contract
    (schematool/sandbox.py) writes to be placed like it."""
    placements = {t: dict(v) for t, v in contract.placements}
    single = placements.get(DEFAULT_TOPOLOGY, {})
    lines: list[str] = []
    for topology in TOPOLOGIES[1:]:
        values = placements.get(topology, {})
        for section, keys in TOPOLOGY_KEYS.items():
            lines.append(f"[{section}.{topology}]")
            lines += [f"{key} = {values[field]}" for key, field in keys.items()
                      if key not in without and field in values
                      and values[field] != single.get(field)]
            lines.append("")
    return "\n".join(lines)


def load_contracts(
    schemas_dir: Path = SCHEMAS_DIR, topology: str = DEFAULT_TOPOLOGY
) -> list[Contract]:
    """Every contract under ``schemas_dir``, sorted by subject, as ``topology`` deploys it."""
    return [load_contract_file(p).for_topology(topology)
            for p in sorted(Path(schemas_dir).glob("*.avsc"))]


def load_contract(
    subject: str = DEFAULT_SUBJECT, schemas_dir: Path = SCHEMAS_DIR,
    topology: str = DEFAULT_TOPOLOGY,
) -> Contract:
    """The contract of one subject, as ``topology`` deploys it."""
    path = Path(schemas_dir) / f"{subject}.avsc"
    if not path.exists():
        raise ContractError(f"no schema for subject {subject!r} (expected {path})")
    return load_contract_file(path).for_topology(topology)


def select_contracts(
    contracts: Sequence[Contract], subjects: Iterable[str] | None = None, *,
    api: str | None = None,
) -> list[Contract]:
    """The contracts named by ``subjects`` (None or empty: all), of source ``api`` if given.

    A named subject that is not there, or not of that source, is a :class:`ContractError`:
    a run asked for it, and silently producing less would hide the mistake.
    """
    by_subject = {c.subject: c for c in contracts}
    wanted = [s for s in (subjects or ()) if s]
    for subject in wanted:
        if subject not in by_subject:
            raise ContractError(
                f"no contract for subject {subject!r}; known: {', '.join(by_subject) or 'none'}"
            )
        if api is not None and by_subject[subject].source_api != api:
            raise ContractError(f"subject {subject!r} is fed by source.api "
                                f"{by_subject[subject].source_api!r}, not {api!r}")
    chosen = [by_subject[s] for s in dict.fromkeys(wanted)] if wanted else list(contracts)
    chosen = [c for c in chosen if api is None or c.source_api == api]
    if not chosen:
        raise ContractError(f"no contract to run (source {api or 'any'}, subjects {wanted})")
    return chosen
