"""RegistrySchemas against a fake confluent-kafka client: caching, unknown ids, outages."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import httpx
import pytest
from confluent_kafka.schema_registry import RegisteredSchema, Schema
from confluent_kafka.schema_registry.common.schema_registry_client import SchemaVersion
from confluent_kafka.schema_registry.error import SchemaRegistryError

from streaming.registry import (
    ReaderSchemaMissing,
    RegistrySchemas,
    RegistryUnavailable,
    StaticSchemas,
    WriterSchema,
)
from tests.fake_clock import FakeClock

SUBJECT = "users_created-value"
V1 = json.dumps({"type": "record", "name": "U", "fields": [{"name": "a", "type": "string"}]})
V2 = json.dumps(
    {
        "type": "record",
        "name": "U",
        "fields": [
            {"name": "a", "type": "string"},
            {"name": "b", "type": ["null", "int"], "default": None},
        ],
    }
)


@dataclass
class FakeClient:
    schemas: dict[int, str]
    latest: tuple[int, int, str] | None  # id, version, text
    versions: dict[int, int] = field(default_factory=dict)
    failure: Exception | None = None
    calls: list[str] = field(default_factory=list)

    def _maybe_fail(self, call: str) -> None:
        self.calls.append(call)
        if self.failure is not None:
            raise self.failure

    def get_schema(self, schema_id: int) -> Schema:
        self._maybe_fail(f"get_schema {schema_id}")
        if schema_id not in self.schemas:
            raise SchemaRegistryError(404, 40403, f"Schema {schema_id} not found")
        return Schema(self.schemas[schema_id], "AVRO")

    def get_schema_versions(self, schema_id: int) -> list[SchemaVersion]:
        self._maybe_fail(f"versions {schema_id}")
        if schema_id not in self.versions:
            raise SchemaRegistryError(404, 40403, "not found")
        return [SchemaVersion(SUBJECT, self.versions[schema_id]), SchemaVersion("other", 9)]

    def get_latest_version(self, subject: str) -> RegisteredSchema:
        self._maybe_fail(f"latest {subject}")
        if self.latest is None:
            raise SchemaRegistryError(404, 40401, f"Subject {subject} not found")
        schema_id, version, text = self.latest
        return RegisteredSchema(
            schema_id=schema_id, guid=None, schema=Schema(text, "AVRO"), subject=subject,
            version=version,
        )

    def clear_latest_caches(self) -> None:
        self.calls.append("clear")


def test_writer_schemas_are_fetched_once_per_id_including_unknown_ones() -> None:
    client = FakeClient({1: V1}, (1, 1, V1), versions={1: 1})
    schemas = RegistrySchemas(client, SUBJECT)  # type: ignore[arg-type]
    assert schemas.writer(1) == WriterSchema(1, V1, 1)
    assert schemas.writer(1) == WriterSchema(1, V1, 1)
    assert schemas.writer(99999) is None
    assert schemas.writer(99999) is None
    assert client.calls == ["get_schema 1", "versions 1", "get_schema 99999"]


def test_a_writer_version_the_registry_cannot_tell_is_none() -> None:
    client = FakeClient({2: V2}, (2, 2, V2))
    assert RegistrySchemas(client, SUBJECT).writer(2) == WriterSchema(2, V2, None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "failure",
    [
        SchemaRegistryError(500, 50001, "Error in the backend datastore"),
        SchemaRegistryError(401, 40101, "Unauthorized"),
        httpx.ConnectError("Connection refused"),
    ],
    ids=["5xx", "auth", "down"],
)
def test_a_registry_outage_raises_instead_of_marking_ids_unknown(failure: Exception) -> None:
    client = FakeClient({1: V1}, (1, 1, V1), failure=failure)
    schemas = RegistrySchemas(client, SUBJECT)  # type: ignore[arg-type]
    with pytest.raises(RegistryUnavailable, match="schema id 7"):
        schemas.writer(7)
    with pytest.raises(RegistryUnavailable, match="latest version"):
        schemas.reader()
    client.failure = None  # the registry is back: nothing was cached as unknown
    client.schemas[7] = V1
    assert schemas.writer(7) is not None


def test_the_reader_is_the_latest_version_refreshed_after_the_ttl() -> None:
    clock = FakeClock()
    client = FakeClient({1: V1, 2: V2}, (1, 1, V1))
    schemas = RegistrySchemas(client, SUBJECT, ttl_seconds=30, clock=clock)  # type: ignore[arg-type]
    first = schemas.reader()
    assert (first.schema_id, first.version, first.field_names) == (1, 1, ["a"])
    client.latest = (2, 2, V2)
    clock.now = 29
    assert schemas.reader().version == 1  # cached
    clock.now = 30
    second = schemas.reader()
    assert (second.schema_id, second.version, second.field_names) == (2, 2, ["a", "b"])
    assert client.calls.count("clear") == 2  # the client's own latest cache never expires


def test_an_unregistered_subject_is_a_clear_refusal() -> None:
    schemas = RegistrySchemas(FakeClient({}, None), SUBJECT)  # type: ignore[arg-type]
    with pytest.raises(ReaderSchemaMissing, match="users_created-value.*make schemas"):
        schemas.reader()


def test_static_schemas() -> None:
    schemas = StaticSchemas({1: V1}, V2, reader_version=2, writer_versions={1: 1})
    assert schemas.writer(1) == WriterSchema(1, V1, 1)
    assert schemas.writer(2) is None
    assert schemas.reader().version == 2


def test_a_registry_blip_during_the_periodic_refresh_keeps_the_cached_reader(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The cached reader reads every writer it read before: a failed re-read is no reason
    to fail the batch. Only what needs the registry (a new writer id, a forced refresh)
    still fails it, to be retried: an outage is never dead-lettered."""
    import logging

    from streaming.logs import LOGGER_NAME

    clock = FakeClock()
    client = FakeClient({1: V1, 2: V2}, (1, 1, V1), versions={1: 1})
    schemas = RegistrySchemas(client, SUBJECT, ttl_seconds=30, clock=clock)  # type: ignore[arg-type]
    assert schemas.reader().version == 1
    assert schemas.writer(1) is not None
    client.failure = httpx.ConnectError("Connection refused")
    clock.now = 30
    caplog.set_level(logging.INFO, logger=LOGGER_NAME)
    assert schemas.reader().version == 1  # kept
    events = [json.loads(r.getMessage()) for r in caplog.records if r.name == LOGGER_NAME]
    assert [e["event"] for e in events] == ["reader_refresh_failed"]
    assert events[0]["kept_version"] == 1 and "Connection refused" in events[0]["error"]
    assert schemas.writer(1) is not None  # cached: no registry call
    with pytest.raises(RegistryUnavailable, match="schema id 2"):
        schemas.writer(2)  # never fetched: the batch cannot decode it
    with pytest.raises(RegistryUnavailable, match="latest version"):
        schemas.refresh_reader()  # a batch that needs a newer reader fails, and is retried
    # The registry is back: the next re-read (tried again within a TTL) sees version 2.
    client.failure = None
    client.latest = (2, 2, V2)
    clock.now = 59
    assert schemas.reader().version == 2
