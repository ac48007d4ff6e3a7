"""Unit-test fixtures: one local SparkSession for the whole session, no services."""

from __future__ import annotations

import io
import json
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import fastavro
import pytest
from pyspark.sql import DataFrame, SparkSession

if TYPE_CHECKING:
    from streaming.registry import SchemaLookup
    from streaming.table_target import TableTarget
    from streaming.triage import Triage


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """local[2] Spark with the project's connector jars (spark-avro, Kafka, Cassandra).

    Built like the job's own session (streaming.session): the jars from
    ``stack.maven.spark_jars`` as ``spark.jars`` (already in ~/.m2: no ``--packages``, no
    network), the Avro read limits, UTC, UI off; only two shuffle partitions.
    """
    from config.settings import load_settings
    from stack.paths import StackPaths
    from stack.spark import spark_runtime
    from streaming.session import build_spark_session

    settings = load_settings()
    session = build_spark_session(
        settings,
        "userstream-unit-tests",
        runtime=spark_runtime(StackPaths.from_settings(settings)),
        master="local[2]",
        shuffle_partitions=2,
        extra={"spark.default.parallelism": "2", "spark.driver.host": "127.0.0.1"},
    )
    session.sparkContext.setLogLevel("ERROR")
    try:
        yield session
    finally:
        session.stop()


class FakeSink:
    """A :class:`streaming.cassandra_writer.Sink` that keeps what would have been written.

    Rows are collected at write time, as a real sink reads them: that action is also
    what fills the job's batch metrics.
    """

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.row_columns: list[str] = []
        self.dead_letters: list[dict[str, Any]] = []
        self.updates: list[dict[str, Any]] = []
        self.ensured: list[list[str]] = []

    def ensure_writable(self, spark: SparkSession, target: TableTarget) -> None:
        self.ensured.append(list(target.columns))

    def write_rows(self, rows: DataFrame) -> None:
        self.row_columns = rows.columns
        self.rows += [r.asDict() for r in rows.collect()]

    def write_dead_letters(self, dead_letters: DataFrame) -> None:
        self.dead_letters += [r.asDict() for r in dead_letters.collect()]

    def update_dead_letters(self, updates: DataFrame) -> None:
        self.updates += [r.asDict() for r in updates.collect()]


@pytest.fixture
def fake_sink() -> FakeSink:
    return FakeSink()


TriageBatch = Callable[["DataFrame", "SchemaLookup", "TableTarget"], "Triage"]


@pytest.fixture
def triage_batch() -> TriageBatch:
    """``triage_batch(kafka_rows, schemas, target)``: the job's triage of those records,
    every frame id of them resolved against the current reader (as replay runs it)."""
    from streaming.decode import batch_writers
    from streaming.frames import parse_frames
    from streaming.triage import triage

    def run(kafka_rows: DataFrame, schemas: SchemaLookup, target: TableTarget) -> Triage:
        framed = parse_frames(kafka_rows)
        reader, writers = batch_writers(framed, schemas)
        return triage(framed, reader, writers, target)

    return run


UserValue = Callable[..., bytes]


@pytest.fixture
def user_value() -> UserValue:
    """``user_value(n, schema_id=1)``: user ``n`` of the users contract, Confluent-framed."""
    from contract.catalog import load_contract
    from contract.wire import frame

    schema = fastavro.parse_schema(json.loads(load_contract().schema_str))

    def build(n: int, schema_id: int = 1) -> bytes:
        record = {
            "id": str(uuid.UUID(int=n)), "first_name": "A", "last_name": "B", "gender": None,
            "address": None, "post_code": None, "email": None, "username": f"u{n}",
            "dob": None, "registered_date": None, "phone": None, "picture": None,
        }
        out = io.BytesIO()
        fastavro.schemaless_writer(out, schema, record)
        return frame(schema_id, out.getvalue())

    return build


@dataclass
class FakeRegistry:
    """Answers the Confluent API's schema look-up (POST /subjects/<subject>)."""

    registered: dict[str, str] = field(default_factory=dict)  # subject -> schema text
    status: int | None = None  # force this status instead
    lookups: list[str] = field(default_factory=list)

    def answer(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        match = re.fullmatch(r"/subjects/([^/?]+)", path.split("?")[0])
        if self.status:
            return self.status, {"error_code": self.status * 100, "message": "forced"}
        if not match:
            return 404, {"error_code": 404, "message": "no such endpoint"}
        subject = match.group(1)
        self.lookups.append(subject)
        if subject not in self.registered:
            return 404, {"error_code": 40401, "message": f"Subject '{subject}' not found."}
        if json.loads(self.registered[subject]) != json.loads(body["schema"]):
            return 404, {"error_code": 40403, "message": "Schema not found"}
        return 200, {"subject": subject, "id": 7, "version": 1, "schema": body["schema"]}


@pytest.fixture
def registry() -> Iterator[tuple[str, FakeRegistry]]:
    fake = FakeRegistry()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # name required by http.server
            length = int(self.headers.get("Content-Length", 0))
            status, body = fake.answer(self.path, json.loads(self.rfile.read(length) or b"{}"))
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", fake
    finally:
        server.shutdown()
        server.server_close()
