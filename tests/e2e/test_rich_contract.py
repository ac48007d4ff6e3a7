"""The rich contract (schemas/users_profile-value), end to end (issue 17).

A temporary CONTRACTS_DIR holds a copy of it with its own subject, topics and keyspace.
It is applied (`python -m schematool apply --contract-dir`: topic, UDTs, table, subject),
produced from the local randomuser API by the real producer (`python -m producers`, its
rules module producers.profile_mapping, the compiled encoder), streamed by
`python -m streaming run --available-now`, and read back two independent ways: Kafka's
values through confluent-kafka's ``AvroDeserializer`` (the registry's schema, not ours),
and the table through the cassandra-driver. Every field is reconciled, nested values,
collections, enums, exact decimals, dates and bytes included. Then a v2 (an optional field
inside the nested record, an enum symbol, an optional array) is applied and registered
while an in-process job runs, and followed without a restart. Everything it created is
removed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from config.clients import cassandra_session, schema_registry_client
from config.settings import PROJECT_ROOT, Settings
from contract.catalog import Contract, load_contract
from contract.cql import DEAD_LETTER_TABLE
from ops.reconcile import end_offsets, read_span
from producers.mapping import map_users
from schematool.migrate.apply import run_apply
from stack.randomuser.generator import NATIONALITY_CODES, generate_page
from streaming.job import Trigger, run
from tests.contract_support import produce_framed, remove_contract, stop_active_spark, table_rows
from tests.support import unique_name, wait_until

pytestmark = pytest.mark.e2e

COUNT = 40
EXAMPLE = PROJECT_ROOT / "schemas" / "users_profile-value"
V2 = PROJECT_ROOT / "docs" / "examples" / "users_profile-value.v2.avsc"
V3 = PROJECT_ROOT / "docs" / "examples" / "users_profile-value.v3.avsc"


@dataclass(frozen=True)
class Rich:
    contract: Contract
    env: dict[str, str]
    home: Path


def _run(args: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(args, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=timeout, check=False)


def _copy_example(directory: Path, name: str) -> None:
    """The example under its own subject, topics and keyspace (the schema unchanged)."""
    directory.mkdir(parents=True)
    sidecar = EXAMPLE.with_suffix(".toml").read_text(encoding="utf-8")
    sidecar = sidecar.replace('"users_profile-value"', f'"{name}-value"')
    sidecar = sidecar.replace('"users_profile"', f'"{name}"')
    sidecar = sidecar.replace('"users_profile.rejected"', f'"{name}.rejected"')
    sidecar = re.sub(r'keyspace = "\w+"', f'keyspace = "{name}"', sidecar)
    (directory / f"{name}-value.toml").write_text(sidecar, encoding="utf-8")
    avsc = EXAMPLE.with_suffix(".avsc").read_text(encoding="utf-8")
    (directory / f"{name}-value.avsc").write_text(avsc, encoding="utf-8")


@pytest.fixture(scope="module")
def rich(stack: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rich]:
    home = tmp_path_factory.mktemp("rich_contract")
    name = unique_name("e2e_rich")
    _copy_example(home / "schemas", name)
    contract = load_contract(f"{name}-value", home / "schemas")
    assert contract.keyspace == name and contract.topic == name
    env = {
        **os.environ,
        **stack.as_env(show_secrets=True),
        "CONTRACTS_DIR": str(home / "schemas"),
        "SPARK_CHECKPOINT_DIR": str(home / "checkpoints"),
        "RANDOMUSER_SOURCE": "local",
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    try:
        yield Rich(contract, env, home)
    finally:
        remove_contract(stack, contract)


@pytest.fixture(scope="module")
def produced(rich: Rich, stack: Settings) -> dict[str, dict[str, Any]]:
    """Applied and produced; Kafka's values as AvroDeserializer reads them, by key."""
    applied = _run([sys.executable, "-m", "schematool", "apply", "--contract-dir",
                    str(rich.home / "schemas")], rich.env, 300)
    assert applied.returncode == 0, applied.stdout[-3000:] + applied.stderr[-3000:]
    run = _run([sys.executable, "-m", "producers", "--subject", rich.contract.subject,
                "produce", "--count", str(COUNT), "--batch-size", "20",
                "--seed", unique_name("rich")], rich.env, 300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    contract = rich.contract
    end = end_offsets(stack, contract.topic, contract.partitions)
    assert sum(end.values()) == COUNT
    deserialize = AvroDeserializer(schema_registry_client(stack))
    context = SerializationContext(contract.topic, MessageField.VALUE)
    values = {}
    for message in read_span(stack, contract.topic, {}, end):
        assert message.key is not None
        values[message.key.decode()] = deserialize(message.value, context)
    assert len(values) == COUNT
    return values


def test_kafka_holds_every_shape_as_the_schema_says(produced: dict[str, dict[str, Any]]) -> None:
    for key, value in produced.items():
        assert str(value["id"]) == key
        assert value["gender"] in ("FEMALE", "MALE") and len(value["nationality"]) == 2
        assert isinstance(value["dob"], date)
        coordinates = value["location"]["coordinates"]
        for degrees in coordinates.values():
            assert isinstance(degrees, Decimal) and degrees.as_tuple().exponent == -4
        assert [p["kind"] for p in value["phones"]] == ["PHONE", "CELL"]
        assert "username" in value["ids"]
        assert isinstance(value["login_digest"], bytes) and len(value["login_digest"]) == 16
        assert set(value["picture"]) == {"large", "medium", "thumbnail"}


def _udt(value: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(value, name) for name in fields}


def _stored(row: Any) -> dict[str, Any]:
    """A Cassandra row as the Avro record it came from (the driver's UDT objects,
    Date, OrderedMap and null-for-empty collections turned back)."""
    location = row.location
    return {
        "id": str(row.id),
        "gender": row.gender,
        "nationality": row.nationality,
        "dob": row.dob.date() if row.dob is not None else None,
        "location": {
            "street": _udt(location.street, ("number", "name")),
            "city": location.city,
            "state": location.state,
            "country": location.country,
            "post_code": location.post_code,
            "coordinates": _udt(location.coordinates, ("latitude", "longitude")),
            "timezone": _udt(location.timezone, ("offset", "description")),
        },
        "phones": [_udt(p, ("kind", "number")) for p in row.phones or []],
        "ids": dict(row.ids or {}),
        "login_digest": row.login_digest,
        "picture": (_udt(row.picture, ("large", "medium", "thumbnail"))
                    if row.picture is not None else None),
    }


def _exact(value: Any) -> Any:
    """Decimals compared with their digits and scale, not only their value."""
    if isinstance(value, Decimal):
        return value.as_tuple()
    if isinstance(value, dict):
        return {k: _exact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_exact(v) for v in value]
    return value


def test_one_stream_stores_every_field_as_produced(rich: Rich, stack: Settings,
                                                   produced: dict[str, dict[str, Any]]) -> None:
    streamed = _run([sys.executable, "-m", "streaming", "run", "--available-now"], rich.env, 600)
    log = streamed.stdout + streamed.stderr
    assert streamed.returncode == 0, log[-4000:]
    contract = rich.contract
    with cassandra_session(stack) as session:
        rows = list(session.execute(f"SELECT * FROM {contract.qualified_table}"))
        dead = [r for p in range(contract.partitions) for r in session.execute(
            f"SELECT offset, error FROM {contract.keyspace}.{DEAD_LETTER_TABLE} "
            "WHERE topic = %s AND partition = %s", (contract.topic, p))]
    assert dead == []
    stored = {str(r.id): r for r in rows}
    assert stored.keys() == produced.keys()
    mismatches = []
    for key, value in produced.items():
        row = stored[key]
        assert row.writer_schema_id is not None and row.ingested_at is not None
        expected = _exact({**value, "id": str(uuid.UUID(str(value["id"])))})
        actual = _exact(_stored(row))
        mismatches += [f"{key}.{field}: {expected[field]!r} != {actual[field]!r}"
                       for field in expected if expected[field] != actual[field]]
    assert mismatches == []


# -- v2 while the stream runs --------------------------------------------------------------


@pytest.fixture
def evolving(stack: Settings, tmp_path: Path) -> Iterator[Contract]:
    name = unique_name("e2e_rich_v2")
    _copy_example(tmp_path / "schemas", name)
    contract = load_contract(f"{name}-value", tmp_path / "schemas").for_topology(
        stack.stack_topology)
    assert run_apply([contract], stack, out=lambda line: None) == 0
    try:
        yield contract
    finally:
        remove_contract(stack, contract)
        stop_active_spark()


def test_v2_and_v3_of_the_nested_shapes_are_followed_live_without_restart(
        stack: Settings, evolving: Contract, tmp_path: Path) -> None:
    """v2 adds an optional field inside the nested Location (ALTER TYPE ... ADD), a
    Nationality symbol and an optional array (ALTER TABLE ... ADD); v3 adds an optional
    field inside Timezone, a record nested in Location (ALTER TYPE ... ADD two levels
    down) and an optional nested record of a new type (CREATE TYPE, ALTER TABLE ... ADD).
    Each is applied and registered while the job runs: v1, v2 and v3 rows side by side,
    written by the same job, never restarted."""
    users = generate_page(unique_name("v2"), 1, 30, NATIONALITY_CODES)
    v1_records = list(map_users(users[:10], evolving).records)
    v2 = replace(evolving, schema_str=V2.read_text(encoding="utf-8"))
    v2_records = [
        {**record, "nationality": "JP", "emails": [f"{record['ids']['username']}@example.com"],
         "location": {**record["location"], "neighbourhood": f"Quarter {n}"}}
        for n, record in enumerate(map_users(users[10:20], evolving).records)
    ]
    v3 = replace(evolving, schema_str=V3.read_text(encoding="utf-8"))
    v3_records = list(map_users(users[20:], v3).records)  # the rules know v3's fields
    assert len(v3_records) == 10
    stop, errors = threading.Event(), []

    def stream() -> None:
        try:
            run(replace(stack, spark_checkpoint_dir=str(tmp_path / "checkpoints"),
                        stream_trigger_seconds=1), evolving, Trigger.PROCESSING_TIME, stop)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread below
            errors.append(exc)

    thread = threading.Thread(target=stream, name="rich-stream-under-test", daemon=True)
    thread.start()
    try:
        produce_framed(stack, evolving, v1_records)
        wait_until(lambda: errors or len(table_rows(stack, evolving)) >= 10, timeout=300,
                   message="v1 rows in Cassandra")
        assert errors == []
        assert run_apply([v2], stack, out=lambda line: None) == 0  # ALTER TYPE/TABLE, register
        produce_framed(stack, v2, v2_records)
        wait_until(lambda: errors or len(table_rows(stack, evolving)) >= 20, timeout=300,
                   message="v2 rows in Cassandra")
        assert thread.is_alive() and errors == [], f"the job restarted or died: {errors}"
        assert run_apply([v3], stack, out=lambda line: None) == 0  # CREATE TYPE, ALTER ...
        produce_framed(stack, v3, v3_records)
        rows = wait_until(lambda: r if len(r := table_rows(stack, evolving)) >= 30 or errors
                          else None, timeout=300, message="v3 rows in Cassandra")
        assert thread.is_alive() and errors == [], f"the job restarted or died: {errors}"
    finally:
        stop.set()
        thread.join(timeout=120)
    assert not thread.is_alive() and errors == []
    for record in v1_records:
        row = rows[record["id"]]
        assert row.writer_schema_version == 1
        assert row.location.neighbourhood is None and row.emails is None  # v2's defaults
        assert row.location.timezone.utc_offset_minutes is None and row.registered is None
        assert row.nationality == record["nationality"]
        assert _exact(_stored(row)) == _exact(record)
    for record in v2_records:
        row = rows[record["id"]]
        assert row.writer_schema_version == 2
        assert (row.nationality, row.location.neighbourhood, row.emails) == (
            "JP", record["location"]["neighbourhood"], record["emails"])
        assert row.location.coordinates.latitude.as_tuple() == (
            record["location"]["coordinates"]["latitude"].as_tuple())
        assert row.registered is None  # v3's default
    for record in v3_records:
        row = rows[record["id"]]
        assert row.writer_schema_version == 3
        timezone = record["location"]["timezone"]
        assert row.location.timezone.utc_offset_minutes == timezone["utc_offset_minutes"]
        assert row.location.timezone.offset == timezone["offset"]
        assert row.emails == record["emails"]
        registered = record["registered"]
        assert row.registered.age == registered["age"]
        assert row.registered.date.replace(tzinfo=UTC) == registered["date"]
        stored = {k: v for k, v in _stored(row).items() if k != "location"}  # checked above
        assert _exact(stored) == _exact({k: record[k] for k in stored})
        assert _exact(_stored(row)["location"]["coordinates"]) == _exact(
            record["location"]["coordinates"])
