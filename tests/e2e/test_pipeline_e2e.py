"""End to end, as `make demo` does it, on a small N: every count reconciles exactly.

API (local server) -> a real DAG run in the running Airflow, producing both contracts of
schemas/ from one fetch -> Kafka (Avro) -> the supervised streaming job -> Cassandra.
Three poison messages are slipped into the same span of the users_created topic: they
must end in the dead letters, and the users around them in Cassandra, equal field by
field. The users_profile subject (nested records, decimals, a date, enums, an array of
records, a map, fixed bytes) is read back through confluent-kafka's AvroDeserializer and
the cassandra-driver and reconciled field by field too.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace

import pytest
from confluent_kafka import Producer

from config.contracts import deployed_contracts
from config.settings import Settings
from contract.catalog import Contract, load_contract, select_contracts
from ops.demo import PipelineResult, SubjectResult, prepare, run_pipeline
from ops.reconcile import dead_letters, end_offsets, reconcile
from stack import launcher
from stack.services import Context, by_name
from userstream.demo import NativeServices

pytestmark = pytest.mark.e2e

POISON = [
    b"\x00\x00\x01\x86\x9f" + b"\x02abc",  # magic 0, unknown schema id 99999
    b"\x01" + bytes(16) + b"\x02",  # magic byte 1 (GUID framing)
    os.urandom(40).replace(b"\x00", b"\x07", 1),  # random bytes, not magic 0
]


@pytest.fixture(scope="module")
def pipeline(stack: Settings, stack_context: Context) -> Iterator[Context]:
    stream = by_name("stream")
    was_running = launcher.status(stack_context, [stream])[0].pid is not None
    prepare(NativeServices(stack_context), print)
    yield stack_context
    if not was_running and os.environ.get("KEEP_STACK") != "1":
        launcher.down(stack_context, [stream])


def _produce_poison(settings: Settings, contract: Contract) -> None:
    producer = Producer(settings.kafka_client_config())
    for i, value in enumerate(POISON):
        producer.produce(contract.topic, key=f"poison-{i}".encode(), value=value,
                         partition=i % contract.partitions)
    assert producer.flush(30) == 0


@pytest.fixture(scope="module")
def run_result(pipeline: Context) -> PipelineResult:
    """One DAG run, with the poison just before it in the same span of the topic."""
    contract = load_contract()
    start = end_offsets(pipeline.settings, contract.topic, contract.partitions)
    _produce_poison(pipeline.settings, contract)
    # Followed from before the poison: a batch's rows are written before its dead
    # letters, so the run's users being stored does not mean the poison is handled.
    contracts = select_contracts(deployed_contracts(pipeline.settings), api="randomuser")
    assert {c.subject for c in contracts} >= {"users_created-value", "users_profile-value"}
    return run_pipeline(pipeline.settings, NativeServices(pipeline), contracts, count=60,
                        batch_size=20, source="local", progress=print,
                        start={contract.subject: start})


@pytest.fixture(scope="module")
def result(pipeline: Context, run_result: PipelineResult) -> SubjectResult:
    """The run's users_created subject, reconciled from before the poison."""
    contract = load_contract()
    one = run_result.of(contract.subject)
    start = one.start
    assert run_result.summary["subjects"][contract.subject] == one.summary
    rec = reconcile(pipeline.settings, contract, start, one.end)
    return replace(one, start=start, reconciliation=rec)


def test_fetched_equals_produced_plus_rejected(result: SubjectResult) -> None:
    s = result.summary
    assert s["fetched"] == 60
    assert s["fetched"] == s["produced"] + s["rejected"]


def test_produced_equals_stored_plus_dead_lettered(result: SubjectResult) -> None:
    r = result.reconciliation
    assert r.produced == result.summary["produced"] + len(POISON)
    assert r.dead_lettered == len(POISON)
    assert r.stored == result.summary["produced"]
    assert r.produced == r.stored + r.dead_lettered
    assert r.missing == []
    assert r.duplicate_keys == 0


def test_stored_rows_equal_the_produced_records_field_by_field(result: SubjectResult) -> None:
    assert result.reconciliation.mismatches == []
    assert result.reconciliation.reconciles


def test_dag_run_is_a_real_run_in_airflow(run_result: PipelineResult) -> None:
    assert run_result.dag_run.state == "success"
    assert run_result.dag_run.run_id.startswith("manual__")
    # (Not counts_reconcile: the span followed holds the poison too, which the DAG did not
    # produce; `result` accounts for it.)


def test_the_poison_frames_are_kept_with_their_reasons(
    result: SubjectResult, pipeline: Context
) -> None:
    kept = dead_letters(pipeline.settings, load_contract(), result.start, result.end)
    reasons = " | ".join(sorted(row["error"] for row in kept.values()))
    assert len(kept) == len(POISON)
    assert "99999" in reasons
    assert "magic byte 1" in reasons


def test_the_nested_contract_of_the_same_fetch_reconciles_field_by_field(
    run_result: PipelineResult,
) -> None:
    profile = run_result.of("users_profile-value")
    s, r = profile.summary, profile.reconciliation
    assert s["fetched"] == 60 and s["fetched"] == s["produced"] + s["rejected"]
    assert r.produced == s["produced"] == r.stored and r.dead_lettered == 0
    assert r.missing == [] and r.duplicate_keys == 0
    assert r.mismatches == [] and r.reconciles
