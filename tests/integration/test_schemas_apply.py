"""``python -m schematool apply|diff`` against the real registry, Kafka and Cassandra.

Every test writes its own contract (unique subject, topics and keyspace) into ``tmp_path``
and removes what it created at the end.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import NewTopic
from confluent_kafka.schema_registry import Schema

from config.clients import cassandra_session, kafka_admin, schema_registry_client
from config.settings import PROJECT_ROOT, Settings
from contract.catalog import Contract, load_contracts
from contract.cql import DEAD_LETTER_COLUMNS, LINEAGE_COLUMNS
from schematool.migrate.apply import apply_plans, plan_contracts, run_apply
from schematool.migrate.drift import run_diff
from schematool.migrate.observe import ServiceUnavailable, connect
from tests.support import unique_name

pytestmark = pytest.mark.integration


def _doc(field: dict[str, Any]) -> dict[str, Any]:
    return {**field, "doc": field["name"]}


ADDRESS_V1 = {
    "type": "record", "name": "Address",
    "fields": [_doc({"name": "city", "type": ["null", "string"], "default": None})],
}
ADDRESS_V2 = {
    **ADDRESS_V1,
    "fields": [*ADDRESS_V1["fields"], _doc({"name": "zip", "type": ["null", "string"],
                                             "default": None})],
}
V1 = [
    _doc({"name": "id", "type": {"type": "string", "logicalType": "uuid"}}),
    _doc({"name": "name", "type": "string"}),
    _doc({"name": "age", "type": ["null", "int"], "default": None}),
    _doc({"name": "address", "type": ["null", ADDRESS_V1], "default": None}),
]
NATIONALITY = _doc({"name": "nationality", "type": ["null", "string"], "default": None})
V2 = [*V1[:3], _doc({"name": "address", "type": ["null", ADDRESS_V2], "default": None}),
      NATIONALITY]


def _with(fields: list[dict[str, Any]], name: str, **change: Any) -> list[dict[str, Any]]:
    return [{**f, **change} if f["name"] == name else f for f in fields]


@dataclass
class Sandbox:
    """A contract under unique names, rewritten by each test; cleaned up at the end."""

    settings: Settings
    directory: Path
    topic: str = field(default_factory=lambda: unique_name("it_apply"))
    partitions: int = 2
    compatibility: str = "BACKWARD"
    out: list[str] = field(default_factory=list)

    @property
    def subject(self) -> str:
        return f"{self.topic}-value"

    @property
    def keyspace(self) -> str:
        return self.topic

    @property
    def rejects_topic(self) -> str:
        return f"{self.topic}.rejected"

    def contract(self, fields: list[dict[str, Any]]) -> Contract:
        schema = {"type": "record", "name": "Person", "namespace": "it.apply",
                  "doc": "integration test", "fields": fields}
        (self.directory / f"{self.subject}.avsc").write_text(json.dumps(schema, indent=2))
        (self.directory / f"{self.subject}.toml").write_text(
            f'subject = "{self.subject}"\ntopic = "{self.topic}"\n'
            f'compatibility = "{self.compatibility}"\n'
            f'[kafka]\npartitions = {self.partitions}\nreplication_factor = 1\n'
            f'rejects_topic = "{self.rejects_topic}"\n'
            f'[cassandra]\nkeyspace = "{self.keyspace}"\ntable = "people"\n'
            'partition_key = ["id"]\nclustering_key = []\nttl_seconds = 0\n'
        )
        [contract] = load_contracts(self.directory)
        return contract

    def apply(self, fields: list[dict[str, Any]], dry_run: bool = False) -> int:
        self.out.clear()
        return run_apply([self.contract(fields)], self.settings, dry_run=dry_run,
                         out=self.out.append)

    def diff(self, fields: list[dict[str, Any]]) -> int:
        self.out.clear()
        return run_diff([self.contract(fields)], self.settings, out=self.out.append)

    # -- what the services hold ----------------------------------------------------------

    def versions(self) -> list[int]:
        client = schema_registry_client(self.settings)
        return client.get_versions(self.subject) if self.subject in client.get_subjects() else []

    def columns(self, table: str = "people") -> dict[str, str]:
        with cassandra_session(self.settings) as session:
            rows = session.execute(
                "SELECT column_name, type FROM system_schema.columns "
                "WHERE keyspace_name = %s AND table_name = %s", (self.keyspace, table))
            return {r.column_name: r.type for r in rows}

    def type_fields(self, name: str) -> list[str]:
        with cassandra_session(self.settings) as session:
            row = session.execute(
                "SELECT field_names FROM system_schema.types "
                "WHERE keyspace_name = %s AND type_name = %s", (self.keyspace, name)).one()
            return list(row.field_names) if row else []

    def topics(self) -> dict[str, int]:
        metadata = kafka_admin(self.settings).list_topics(timeout=10)
        return {name: len(metadata.topics[name].partitions)
                for name in (self.topic, self.rejects_topic) if name in metadata.topics}

    def cleanup(self) -> None:
        client = schema_registry_client(self.settings)
        if self.subject in client.get_subjects():
            client.delete_subject(self.subject)
            client.delete_subject(self.subject, permanent=True)
        admin = kafka_admin(self.settings)
        existing = [t for t in self.topics()]
        if existing:
            for future in admin.delete_topics(existing).values():
                future.result(timeout=30)
        with cassandra_session(self.settings) as session:
            session.execute(f"DROP KEYSPACE IF EXISTS {self.keyspace}")


@pytest.fixture
def sandbox(stack: Settings, tmp_path: Path) -> Iterator[Sandbox]:
    box = Sandbox(stack, tmp_path)
    try:
        yield box
    finally:
        box.cleanup()


def test_register_evolve_and_rerun(sandbox: Sandbox) -> None:
    assert sandbox.apply(V1, dry_run=True) == 0
    assert "would" in sandbox.out[0] and sandbox.versions() == [] and sandbox.topics() == {}

    assert sandbox.apply(V1) == 0, sandbox.out
    assert "registry: compatibility BACKWARD set, v1 (id" in sandbox.out[0]
    assert sandbox.versions() == [1]
    assert schema_registry_client(sandbox.settings).get_compatibility(sandbox.subject) == "BACKWARD"
    assert sandbox.topics() == {sandbox.topic: 2, sandbox.rejects_topic: 2}
    assert sandbox.columns() == {
        "id": "uuid", "name": "text", "age": "int", "address": "frozen<address>",
        **LINEAGE_COLUMNS,
    }
    assert sandbox.type_fields("address") == ["city"]
    assert sandbox.columns("dead_letters") == dict(DEAD_LETTER_COLUMNS)

    assert sandbox.apply(V2) == 0, sandbox.out
    line = sandbox.out[0]
    assert f"ALTER TABLE {sandbox.keyspace}.people ADD nationality text" in line
    assert f"ALTER TYPE {sandbox.keyspace}.address ADD zip text" in line
    assert "topics: up to date" in line and "v2 (id" in line
    assert sandbox.versions() == [1, 2]
    assert sandbox.columns()["nationality"] == "text"
    assert sandbox.type_fields("address") == ["city", "zip"]

    columns = sandbox.columns()
    assert sandbox.apply(V2) == 0
    assert len(sandbox.out) == 1
    assert re.fullmatch(
        rf"{sandbox.subject}: topics: up to date; cassandra {sandbox.keyspace}\.people: "
        r"up to date; registry v2 \(id \d+\): up to date", sandbox.out[0]), sandbox.out
    assert sandbox.versions() == [1, 2] and sandbox.columns() == columns

    assert sandbox.diff(V2) == 0, sandbox.out
    assert "in sync" in sandbox.out[0]


NO_DEFAULT = _doc({"name": "score", "type": "int"})


@pytest.mark.parametrize(
    ("v3", "expected"),
    [
        pytest.param(_with(V2, "name", type="int"), ["registry refuses", "[avro-backward] name:",
                                                     "cassandra:", "name: the table has text"],
                     id="type-change"),
        pytest.param([*V2, NO_DEFAULT], ["registry refuses", "[avro-backward] score:",
                                         "added without a default"], id="no-default"),
        pytest.param(_with(V2, "age", type=["null", "long"]),
                     ["cassandra:", "age: the table has int, the schema wants bigint"],
                     id="avro-ok-cassandra-unsafe"),
    ],
)
def test_refused_change_touches_nothing(
    sandbox: Sandbox, v3: list[dict[str, Any]], expected: list[str]
) -> None:
    assert sandbox.apply(V1) == 0 and sandbox.apply(V2) == 0, sandbox.out
    columns, topics = sandbox.columns(), sandbox.topics()

    assert sandbox.apply(v3) == 1
    report = "\n".join(sandbox.out)
    assert report.startswith(f"{sandbox.subject}: REFUSED, nothing applied")
    for text in expected:
        assert text in report, report
    assert sandbox.versions() == [1, 2]
    assert sandbox.columns() == columns and sandbox.topics() == topics
    if "cassandra:" not in expected:
        assert "cassandra:" not in report  # only the registry refused: the add was fine
        assert "score" not in columns


def test_avro_compatible_cassandra_unsafe_leaves_registry_untouched(sandbox: Sandbox) -> None:
    """The registry alone would accept int -> long; the plan refuses before registering."""
    assert sandbox.apply(V1) == 0
    v2 = _with(V1, "age", type=["null", "long"])
    client = schema_registry_client(sandbox.settings)
    assert client.test_compatibility(sandbox.subject, Schema(json.dumps(
        {"type": "record", "name": "Person", "namespace": "it.apply", "fields": v2}), "AVRO"))
    assert sandbox.apply(v2) == 1
    assert "registry" not in "\n".join(sandbox.out[1:])
    assert sandbox.versions() == [1]


def test_partition_mismatch_is_refused_before_anything(sandbox: Sandbox) -> None:
    admin = kafka_admin(sandbox.settings)
    admin.create_topics([NewTopic(sandbox.topic, 1, 1)])[sandbox.topic].result(timeout=30)
    assert sandbox.apply(V1) == 1
    assert "has 1 partitions, the sidecar says 2" in "\n".join(sandbox.out)
    assert sandbox.versions() == [] and sandbox.columns("dead_letters") == {}
    assert sandbox.topics() == {sandbox.topic: 1}


@pytest.mark.parametrize("service", ["registry", "cassandra", "kafka"])
def test_unreachable_service_changes_nothing(sandbox: Sandbox, service: str) -> None:
    down = {"registry": {"schema_registry_url": "http://127.0.0.1:9/apis/ccompat/v7"},
            "cassandra": {"cassandra_port": 9},
            "kafka": {"kafka_bootstrap_servers": "127.0.0.1:9"}}[service]
    settings = replace(sandbox.settings, **down)
    with pytest.raises(ServiceUnavailable, match=f"^{service} at .*:9.* is unreachable"):
        run_apply([sandbox.contract(V1)], settings, out=sandbox.out.append)
    assert sandbox.topics() == {} and sandbox.versions() == []
    assert sandbox.columns("dead_letters") == {}


def test_diff_reports_drift(sandbox: Sandbox) -> None:
    assert sandbox.apply(V1) == 0
    assert sandbox.diff(V1) == 0, sandbox.out

    # git moved on (v2 committed) but nobody applied it.
    assert sandbox.diff(V2) == 1
    report = "\n".join(sandbox.out)
    assert "registry latest v1 differs from" in report
    assert "field nationality missing" in report
    assert "cassandra missing column nationality (text)" in report
    assert "cassandra missing field address.zip (text)" in report

    # Someone registered a schema straight into the registry and added a column by hand.
    client = schema_registry_client(sandbox.settings)
    bypass = [*V1, _doc({"name": "foo", "type": ["null", "string"], "default": None})]
    client.register_schema(sandbox.subject, Schema(json.dumps(
        {"type": "record", "name": "Person", "namespace": "it.apply", "doc": "integration test",
         "fields": bypass}), "AVRO"))
    with cassandra_session(sandbox.settings) as session:
        session.execute(f"ALTER TABLE {sandbox.keyspace}.people ADD foo text")
    assert sandbox.diff(V1) == 1
    report = "\n".join(sandbox.out)
    assert "registry latest v2 differs from" in report and "(schemas/" in report
    assert "field foo not in git" in report
    assert "cassandra has extra column foo (text)" in report

    # apply keeps both (it only adds; git's schema is registered as v1 already).
    assert sandbox.apply(V1) == 0
    assert "is registered as v1, but the subject's latest is v2" in "\n".join(sandbox.out)
    assert sandbox.versions() == [1, 2]


# -- two `make schemas` at once ----------------------------------------------------------

V1_COLUMNS = {"id": "uuid", "name": "text", "age": "int", "address": "frozen<address>",
              **LINEAGE_COLUMNS}


def _assert_one_state(sandbox: Sandbox, versions: list[int], columns: dict[str, str],
                      address: list[str]) -> None:
    assert sandbox.versions() == versions
    assert sandbox.topics() == {sandbox.topic: 2, sandbox.rejects_topic: 2}
    assert sandbox.columns() == columns
    assert sandbox.type_fields("address") == address
    assert sandbox.columns("dead_letters") == dict(DEAD_LETTER_COLUMNS)
    assert schema_registry_client(sandbox.settings).get_compatibility(sandbox.subject) == "BACKWARD"


def test_two_plans_from_one_state_both_apply(sandbox: Sandbox) -> None:
    """The interleaving that broke `make schemas` run twice at once, made certain: both
    plan from the same live state, then both apply it (CREATE TOPIC, CREATE/ALTER ... ADD,
    set the level, register)."""
    for fields, versions, columns, address in [
        (V1, [1], V1_COLUMNS, ["city"]),  # from nothing: topics, keyspace, tables, v1
        (V2, [1, 2], {**V1_COLUMNS, "nationality": "text"}, ["city", "zip"]),  # ALTER ADDs
    ]:
        contracts = [sandbox.contract(fields)]
        with connect(sandbox.settings) as services:
            first = plan_contracts(services, contracts)
            second = plan_contracts(services, contracts)
            assert first == second and first[0].actions
            done = apply_plans(services, first)
            again = apply_plans(services, second)  # planned before the first applied
        assert done[0].subject == again[0].subject == sandbox.subject
        _assert_one_state(sandbox, versions, columns, address)


def _apply_processes(sandbox: Sandbox, fields: list[dict[str, Any]], n: int = 2) -> list[
    subprocess.CompletedProcess[str]
]:
    """``python -m schematool apply`` ``n`` times at once, on the sandbox's contract."""
    sandbox.contract(fields)
    schemas = sandbox.directory / "repo" / "schemas"
    schemas.mkdir(parents=True, exist_ok=True)
    for written in sandbox.directory.glob(f"{sandbox.subject}.*"):
        shutil.copy(written, schemas / written.name)
    env = {**os.environ, **sandbox.settings.as_env(show_secrets=True),
           "PYTHONPATH": str(PROJECT_ROOT)}
    command = [sys.executable, "-m", "schematool", "apply", "--repo", str(schemas.parent)]
    running = [subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
               for _ in range(n)]
    results = []
    for process in running:
        output, _ = process.communicate(timeout=300)
        results.append(subprocess.CompletedProcess(command, process.returncode, output))
    return results


def test_two_apply_processes_at_once_both_exit_0_and_leave_one_state(sandbox: Sandbox) -> None:
    for fields, versions, columns, address in [
        (V1, [1], V1_COLUMNS, ["city"]),
        (V2, [1, 2], {**V1_COLUMNS, "nationality": "text"}, ["city", "zip"]),
    ]:
        runs = _apply_processes(sandbox, fields)
        assert [r.returncode for r in runs] == [0, 0], [r.stdout[-2000:] for r in runs]
        _assert_one_state(sandbox, versions, columns, address)
    assert sandbox.apply(V2) == 0 and "registry v2" in sandbox.out[0]
    assert sandbox.out[0].count("up to date") == 3, sandbox.out  # nothing left to do
