"""The running job follows a schema evolution, and resumes from its checkpoint.

One contract copy per module (unique topic, subject, keyspace), set up with
`make schemas`' own code (schematool.migrate.apply.run_apply), as a user would.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from config.clients import cassandra_session
from config.settings import PROJECT_ROOT, Settings
from contract.catalog import Contract, load_contract
from schematool.migrate.apply import run_apply
from streaming.job import Trigger, run
from tests.contract_support import produce_framed, remove_contract, stop_active_spark, table_rows
from tests.support import unique_name, wait_until

pytestmark = pytest.mark.integration

NATIONALITY = {
    "name": "nationality",
    "type": ["null", "string"],
    "default": None,
    "doc": "nat: the user's nationality code (added in v2).",
}


def _v2(contract: Contract) -> Contract:
    schema = json.loads(contract.schema_str)
    schema["fields"].append(NATIONALITY)
    return replace(contract, schema_str=json.dumps(schema, indent=2))


@pytest.fixture
def contract(stack: Settings) -> Iterator[Contract]:
    name = unique_name("it_evolve")
    contract = replace(
        load_contract(), subject=f"{name}-value", topic=name, rejects_topic=f"{name}.rejected",
        keyspace=name, partitions=2,
    )
    assert run_apply([contract], stack, out=lambda line: None) == 0
    try:
        yield contract
    finally:
        remove_contract(stack, contract)


def _record(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()), "first_name": "Grace", "last_name": f"H{n}", "gender": "female",
        "address": None, "post_code": str(10000 + n), "email": None, "username": f"gh{n}",
        "dob": datetime(1985, 12, 9, tzinfo=UTC), "registered_date": None, "phone": None,
        "picture": None, **extra,
    }


Running = tuple[threading.Thread, threading.Event, list[BaseException]]


def _start(settings: Settings, contract: Contract, checkpoints: Path) -> Running:
    stop, errors = threading.Event(), []

    def target() -> None:
        try:
            run(replace(settings, spark_checkpoint_dir=str(checkpoints), stream_trigger_seconds=1),
                contract, Trigger.PROCESSING_TIME, stop)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread below
            errors.append(exc)

    thread = threading.Thread(target=target, name="stream-under-test", daemon=True)
    thread.start()
    return thread, stop, errors


def _stop(thread: threading.Thread, stop: threading.Event, errors: list[BaseException]) -> None:
    stop.set()
    thread.join(timeout=120)
    assert not thread.is_alive(), "the query did not stop"
    assert errors == []


@pytest.fixture(autouse=True)
def _stop_spark() -> Iterator[None]:
    yield
    stop_active_spark()


def test_v2_registered_while_the_job_runs_is_followed_without_restart(
    stack: Settings, contract: Contract, tmp_path: Path
) -> None:
    thread, stop, errors = _start(stack, contract, tmp_path)
    try:
        v1_records = [_record(i) for i in range(10)]
        produce_framed(stack, contract, v1_records)
        wait_until(lambda: len(table_rows(stack, contract)) >= 10, timeout=240,
                   message="v1 rows in Cassandra")

        v2 = _v2(contract)
        assert run_apply([v2], stack, out=lambda line: None) == 0  # ALTER ... ADD, register v2
        v2_records = [_record(100 + i, nationality="NZ") for i in range(10)]
        produce_framed(stack, v2, v2_records)
        rows = wait_until(lambda: r if len(r := table_rows(stack, contract)) >= 20 else None,
                          timeout=240, message="v2 rows in Cassandra")
        assert thread.is_alive() and not errors, "the job restarted or died"
    finally:
        _stop(thread, stop, errors)

    for record in v1_records:
        row = rows[record["id"]]
        assert row.nationality is None  # v1 rows read with v2's default
        assert row.writer_schema_version == 1
        assert row.post_code == record["post_code"]
    for record in v2_records:
        row = rows[record["id"]]
        assert row.nationality == "NZ"
        assert row.writer_schema_version == 2
        assert row.last_name == record["last_name"]


# The job as its own process, so that the test can kill -9 it (and its Spark JVM) mid-batch.
# The settings travel as the environment (as for `make stream`), the contract copy pickled.
_JOB_PROCESS = """
import pickle, sys, threading
from config.settings import load_settings
from streaming.job import Trigger, run
with open(sys.argv[1], "rb") as f:
    contract = pickle.load(f)
run(load_settings(), contract, Trigger.PROCESSING_TIME, threading.Event())
"""


def _start_process(settings: Settings, contract: Contract, workdir: Path) -> subprocess.Popen:
    arguments = workdir / "contract.pickle"
    arguments.write_bytes(pickle.dumps(contract))
    env = {**os.environ, **settings.as_env(show_secrets=True), "PYTHONPATH": str(PROJECT_ROOT)}
    with (workdir / "job.log").open("wb") as log:
        return subprocess.Popen(  # its own session: killpg reaches its JVM, and only it
            [sys.executable, "-c", _JOB_PROCESS, str(arguments)], cwd=PROJECT_ROOT, env=env,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )


def _kill_9(job: subprocess.Popen) -> None:
    """SIGKILL the job's process group (python and its Spark JVM); return once all are gone."""
    os.killpg(job.pid, signal.SIGKILL)
    job.wait(timeout=60)

    def gone() -> bool:
        try:
            os.killpg(job.pid, 0)
        except ProcessLookupError:
            return True
        return False

    wait_until(gone, timeout=60, message="the job's process group to be gone")


def test_killed_mid_stream_then_restarted_from_the_checkpoint_loses_and_duplicates_nothing(
    stack: Settings, contract: Contract, tmp_path: Path
) -> None:
    """kill -9 of the job while batches are being written: no graceful stop, no offsets
    committed for the batch in flight. The restart replays it from the checkpoint."""
    first = [_record(i) for i in range(300)]
    produce_framed(stack, contract, first)
    settings = replace(stack, spark_checkpoint_dir=str(tmp_path / "checkpoints"),
                       stream_max_offsets_per_trigger=50, stream_trigger_seconds=2)
    job = _start_process(settings, contract, tmp_path)
    try:
        wait_until(lambda: job.poll() is not None or len(table_rows(stack, contract)) > 0,
                   timeout=240, interval=0.2, message="the first rows")
        assert job.poll() is None, (tmp_path / "job.log").read_text()[-3000:]
    finally:
        _kill_9(job)
    stored_at_kill = len(table_rows(stack, contract))  # final: nothing of that job runs any more
    # Mid-stream: 300 were waiting, in batches of 50 every 2 s; the kill came after the first
    # rows and long before the last (otherwise this test proves nothing about a restart).
    assert 0 < stored_at_kill < 300

    second = [_record(1000 + i) for i in range(100)]
    produce_framed(stack, contract, second)
    run(replace(settings, stream_max_offsets_per_trigger=100_000), contract,
        Trigger.AVAILABLE_NOW, threading.Event())

    rows = table_rows(stack, contract)
    assert set(rows) == {r["id"] for r in first + second}  # no loss; one row per key
    for record in first + second:
        row = rows[record["id"]]
        assert (row.last_name, row.post_code, row.writer_schema_version) == (
            record["last_name"], record["post_code"], 1)
    with cassandra_session(stack) as session:
        dead = session.execute(
            f"SELECT count(*) FROM {contract.keyspace}.dead_letters"
        ).one()[0]
    assert dead == 0  # the batch in flight was replayed, not dead-lettered
