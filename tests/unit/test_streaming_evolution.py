"""Following schema evolution without a restart: reader refresh, live table columns."""

from __future__ import annotations

import threading

import pytest

from contract.cql import TableSpec
from streaming.decode import current_reader
from streaming.job import EXIT_STUCK, BatchProcessor
from streaming.registry import ReaderSchema, WriterSchema
from streaming.table_target import TableTarget, columns_to_write

V1 = '{"type":"record","name":"U","fields":[{"name":"id","type":"string"}]}'
V2 = ('{"type":"record","name":"U","fields":[{"name":"id","type":"string"},'
      '{"name":"nationality","type":["null","string"],"default":null}]}')


class Registry:
    """A registry whose latest version moves from v1 to v2 while the job runs."""

    def __init__(self) -> None:
        self.latest = ReaderSchema("s", 1, 1, V1)
        self.cached = self.latest
        self.refreshes = 0
        self.writers = {1: WriterSchema(1, V1, 1)}

    def register_v2(self) -> None:
        self.latest = ReaderSchema("s", 2, 2, V2)
        self.writers[2] = WriterSchema(2, V2, 2)

    def reader(self) -> ReaderSchema:
        return self.cached  # stale until its TTL passes

    def refresh_reader(self) -> ReaderSchema:
        self.refreshes += 1
        self.cached = self.latest
        return self.cached

    def writer(self, schema_id: int) -> WriterSchema | None:
        return self.writers.get(schema_id)


def test_a_writer_newer_than_the_reader_refreshes_it_at_once() -> None:
    registry = Registry()
    assert current_reader([1], registry).version == 1
    registry.register_v2()
    assert current_reader([1], registry).version == 1  # nothing new in this batch
    assert registry.refreshes == 0
    assert current_reader([1, 2], registry).version == 2
    assert registry.refreshes == 1


def test_unknown_ids_do_not_refresh() -> None:
    registry = Registry()
    assert current_reader([99999], registry).version == 1
    assert registry.refreshes == 0


def test_a_target_with_live_columns_writes_the_new_field() -> None:
    spec = TableSpec("ks", "t", (("id", "text"), ("writer_schema_id", "int")), ("id",))
    target = TableTarget.from_spec(spec, source="x")
    reader_fields = ["id", "nationality"]
    live = target.with_columns({"id": "text", "nationality": "text", "writer_schema_id": "int"})
    assert "nationality" in columns_to_write(reader_fields, live)


def test_a_stuck_batch_exits_so_the_supervisor_restarts_the_job() -> None:
    exited: list[int] = []
    done = threading.Event()

    class Hanging(BatchProcessor):
        def process(self, batch, batch_id):  # type: ignore[no-untyped-def]
            done.wait(5)  # stands for a driver call that never returns
            raise RuntimeError("released")

    def on_stuck(code: int) -> None:
        exited.append(code)
        done.set()

    processor = Hanging(schemas=None, target=None, sink=None,  # type: ignore[arg-type]
                        batch_timeout_seconds=0.2, on_stuck=on_stuck)
    with pytest.raises(RuntimeError, match="released"):
        processor(None, 7)  # type: ignore[arg-type]
    assert exited == [EXIT_STUCK]


def test_new_fields_refresh_the_reader_though_the_writer_version_is_unknown() -> None:
    """The registry could not tell the writer's version (a 4xx from /schemas/ids/2/versions):
    its content still says the reader is stale, and v2's field must not be dropped."""
    registry = Registry()
    registry.register_v2()
    registry.writers[2] = WriterSchema(2, V2, None)
    reader = current_reader([1, 2], registry)
    assert (reader.version, registry.refreshes) == (2, 1)
    assert "nationality" in reader.field_names


def test_a_latest_version_still_lacking_a_writer_field_fails_the_batch() -> None:
    from streaming.decode import ReaderBehindWriter

    registry = Registry()  # latest stays v1: the writer's schema is not under the subject
    registry.writers[2] = WriterSchema(2, V2, None)
    with pytest.raises(ReaderBehindWriter, match=r"writer schema id 2 .*\['nationality'\]"):
        current_reader([2], registry)
    assert registry.refreshes == 1  # the reader was re-read before giving up


@pytest.mark.parametrize("writer_version", [2, None], ids=["version", "id"])
def test_a_field_dropped_by_a_later_version_is_not_an_error(writer_version: int | None) -> None:
    """v3 removed v2's field on purpose: v2's records are read into v3 without it."""
    registry = Registry()
    registry.latest = registry.cached = ReaderSchema("s", 3, 3, V1)
    registry.writers[2] = WriterSchema(2, V2, writer_version)
    assert current_reader([2], registry).version == 3


def test_missing_fields_follows_nested_records_and_aliases() -> None:
    from streaming.decode import missing_fields

    inner = {"type": "record", "name": "Addr", "fields": [{"name": "city", "type": "string"}]}
    writer = {"type": "record", "name": "U", "fields": [
        {"name": "old_name", "type": "string"},
        {"name": "address", "type": ["null", {**inner, "fields": [
            *inner["fields"], {"name": "zip", "type": "string"}]}]},
    ]}
    reader = {"type": "record", "name": "U", "fields": [
        {"name": "name", "type": "string", "aliases": ["old_name"]},
        {"name": "address", "type": ["null", inner]},
    ]}
    import json

    assert missing_fields(json.dumps(writer), json.dumps(reader)) == ["address.zip"]
    assert missing_fields(json.dumps(reader), json.dumps(reader)) == []
