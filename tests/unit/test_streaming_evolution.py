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
