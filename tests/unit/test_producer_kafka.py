"""Producer and preflight error paths that need no broker and no real registry."""

from __future__ import annotations

import json
import logging
import socket
from dataclasses import replace
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from config.settings import Settings, load_settings
from contract.catalog import load_contract
from producers.__main__ import main as cli
from producers.errors import (
    BrokerUnavailable,
    DeliveryError,
    MappingError,
    PartitionMismatch,
    RegistryError,
    RegistryUnavailable,
    SchemaNotRegistered,
    TopicMissing,
)
from producers.kafka_producer import ContractProducer, ProducerTuning
from producers.mapping import to_record
from producers.rejects import make_reject
from producers.run import preflight
from stack.randomuser.generator import generate_page, normalize_nats

CONTRACT = load_contract()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def settings_for(registry_url: str, bootstrap: str | None = None) -> Settings:
    return load_settings({
        "SCHEMA_REGISTRY_URL": registry_url,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap or f"127.0.0.1:{closed_port()}",
    })


def records(n: int) -> list[dict[str, Any]]:
    return [to_record(u) for u in generate_page("kafka", 1, n, normalize_nats(None))]


# -- registry look-up ------------------------------------------------------------


def test_unregistered_subject_is_a_typed_error_naming_the_subject(registry: Any) -> None:
    url, fake = registry
    with pytest.raises(SchemaNotRegistered) as caught, \
            ContractProducer(settings_for(url), CONTRACT):
        pytest.fail("the body must not run")
    assert caught.value.subject == "users_created-value"
    assert "users_created-value" in str(caught.value) and "not found" in str(caught.value)
    assert fake.lookups == ["users_created-value"]


def test_a_different_registered_schema_is_not_ours(registry: Any) -> None:
    url, fake = registry
    fake.registered[CONTRACT.subject] = json.dumps({"type": "record", "name": "Other",
                                                    "fields": []})
    with pytest.raises(SchemaNotRegistered, match="Schema not found"), \
            ContractProducer(settings_for(url), CONTRACT):
        pass


def test_registry_server_error_is_typed(registry: Any) -> None:
    url, fake = registry
    fake.status = 401
    with pytest.raises(RegistryError) as caught, ContractProducer(settings_for(url), CONTRACT):
        pass
    assert caught.value.status == 401


def test_unreachable_registry_is_typed() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(RegistryUnavailable, match="unreachable"), \
            ContractProducer(settings_for(url), CONTRACT):
        pass


def test_registry_credentials_never_show_in_errors() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    settings = load_settings({"SCHEMA_REGISTRY_URL": url,
                              "SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO": "me:s3cret"})
    with pytest.raises(RegistryUnavailable) as caught, ContractProducer(settings, CONTRACT):
        pass
    assert "s3cret" not in str(caught.value)


# -- delivery --------------------------------------------------------------------


FAST_FAIL = ProducerTuning(message_timeout_ms=1500, flush_timeout_s=20, linger_ms=5)


def test_unreachable_broker_raises_delivery_error_with_counts(registry: Any) -> None:
    url, fake = registry
    fake.registered[CONTRACT.subject] = CONTRACT.schema_str
    with pytest.raises(DeliveryError) as caught, \
            ContractProducer(settings_for(url), CONTRACT, tuning=FAST_FAIL) as producer:
        assert producer.schema_id == 7
        for record in records(5):
            producer.produce(record)
    err = caught.value
    assert (err.delivered, err.failed, err.undelivered) == (0, 5, 0)
    assert err.first_errors and "MSG_TIMED_OUT" in err.first_errors[0]
    assert err.topic == "users_created"


def test_rejects_are_counted_too(registry: Any) -> None:
    url, fake = registry
    fake.registered[CONTRACT.subject] = CONTRACT.schema_str
    user = generate_page("kafka", 1, 1, normalize_nats(None), broken=1)[0]
    reject = make_reject(user, MappingError("missing", "login.uuid"), subject=CONTRACT.subject,
                         run_id="r", now=datetime.now(UTC))
    producer = ContractProducer(settings_for(url), CONTRACT, tuning=FAST_FAIL)
    with producer:
        producer.produce(records(1)[0])
        producer.produce_reject(reject)
        with pytest.raises(DeliveryError) as caught:
            producer.finish()
    stats = producer.stats
    assert (stats.produced, stats.rejects_produced) == (1, 1)
    assert (stats.failed, stats.rejects_failed) == (1, 1)
    assert caught.value.failed == 2 and "users_created.rejected" in caught.value.topic


def test_the_body_error_wins_over_delivery_failures(registry: Any) -> None:
    url, fake = registry
    fake.registered[CONTRACT.subject] = CONTRACT.schema_str
    with pytest.raises(KeyError), \
            ContractProducer(settings_for(url), CONTRACT, tuning=FAST_FAIL) as producer:
        producer.produce(records(1)[0])
        raise KeyError("boom")
    assert producer.stats.failed == 1


@pytest.mark.parametrize("one_call", [False, True], ids=["one by one", "one batch"])
def test_a_full_queue_waits_for_librdkafkas_verdict_and_drops_nothing(
    registry: Any, one_call: bool
) -> None:
    # Two records fill the queue; the broker is unreachable, so they leave it only when
    # librdkafka fails them (message timeout, 1.5 s). The producer must wait that long for
    # room, not give up after its own shorter wait (0.2 s) while they are still in retry.
    # In one batch call, librdkafka refuses the third (QUEUE_FULL in its "_error"): it
    # waits the same way.
    url, fake = registry
    fake.registered[CONTRACT.subject] = CONTRACT.schema_str
    tuning = ProducerTuning(message_timeout_ms=1500, flush_timeout_s=20, linger_ms=5,
                            queue_full_timeout_s=0.2,
                            extra={"queue.buffering.max.messages": 2})
    producer = ContractProducer(settings_for(url), CONTRACT, tuning=tuning)
    with producer:
        if one_call:
            producer.produce_all(records(3))
        else:
            for record in records(3):
                producer.produce(record)  # the third waits for room, and is queued
        with pytest.raises(DeliveryError) as caught:
            producer.finish()
    stats = producer.stats
    assert stats.produced == 3 and stats.failed == 3 and stats.undelivered == 0
    assert stats.queue_full_waits == 1 and stats.longest_queue_wait_s > 0
    assert caught.value.failed == 3


def test_a_registry_failing_after_entry_is_a_typed_error_on_the_first_record(
    registry: Any,
) -> None:
    # AvroSerializer looks the schema up again on its first record; the registry is out by
    # then (seen in make chaos SCENARIO=registry-outage: httpx's ConnectError leaked).
    url, fake = registry
    fake.registered[CONTRACT.subject] = CONTRACT.schema_str
    with ContractProducer(settings_for(url), CONTRACT, tuning=FAST_FAIL) as producer:
        fake.status = 503
        with pytest.raises(RegistryError) as caught:
            producer.produce(records(1)[0])
        assert caught.value.status == 503 and caught.value.subject == CONTRACT.subject
        fake.status = None
        producer.produce(records(1)[0])  # the registry is back: the record goes
        with pytest.raises(DeliveryError):
            producer.finish()  # (no broker here)


# -- the AvroSerializer fallback is visible (issue "Contract breadth") -------------


def test_a_record_outside_the_plain_case_is_encoded_by_the_fallback_counted_and_named(
    registry: Any, caplog: pytest.LogCaptureFixture,
) -> None:
    url, fake = registry
    fake.registered[CONTRACT.subject] = CONTRACT.schema_str
    plain, other, no_gender = records(3)
    del no_gender["gender"]  # AvroSerializer writes the default; the compiled encoder refuses
    producer = ContractProducer(settings_for(url), CONTRACT, tuning=FAST_FAIL)
    with caplog.at_level(logging.WARNING, logger="producers.kafka_producer"), producer:
        producer.produce(plain)  # checked against AvroSerializer: the compiled encoder's
        producer.produce(no_gender)
        producer.produce(other)
        with pytest.raises(DeliveryError):
            producer.finish()  # (no broker here)
    assert producer.stats.fallback_encoded == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING
                and "AvroSerializer encodes instead" in r.getMessage()]
    assert len(warnings) == 1
    assert CONTRACT.subject in warnings[0] and "'gender'" in warnings[0]


def test_a_schema_the_encoder_cannot_compile_falls_back_for_every_record(
    registry: Any, caplog: pytest.LogCaptureFixture,
) -> None:
    schema = json.loads(CONTRACT.schema_str)
    field = next(f for f in schema["fields"] if f["name"] == "phone")
    field["type"] = ["null", "string", "long"]  # a wider union than [null, T]
    contract = replace(CONTRACT, schema_str=json.dumps(schema))
    url, fake = registry
    fake.registered[contract.subject] = contract.schema_str
    producer = ContractProducer(settings_for(url), contract, tuning=FAST_FAIL)
    with caplog.at_level(logging.WARNING, logger="producers.kafka_producer"), producer:
        for record in records(3):
            producer.produce(record)
        with pytest.raises(DeliveryError):
            producer.finish()
    assert producer.stats.fallback_encoded == 3
    warning = next(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING
                   and "AvroSerializer encodes instead" in r.getMessage())
    assert contract.subject in warning and "field phone" in warning and "union" in warning


def test_produce_outside_the_with_block_is_refused() -> None:
    with pytest.raises(RuntimeError, match="with"):
        ContractProducer(load_settings({}), CONTRACT).produce(records(1)[0])


def test_tuning_reaches_librdkafka() -> None:
    conf = ProducerTuning(linger_ms=50, batch_size=1 << 20, compression="zstd",
                          extra={"queue.buffering.max.kbytes": 65536}).librdkafka_config()
    assert conf["enable.idempotence"] is True and conf["acks"] == "all"
    assert (conf["linger.ms"], conf["batch.size"], conf["compression.type"]) == \
        (50, 1 << 20, "zstd")
    assert conf["queue.buffering.max.kbytes"] == 65536


# -- preflight -------------------------------------------------------------------


def metadata(topics: dict[str, int]) -> SimpleNamespace:
    return SimpleNamespace(topics={
        name: SimpleNamespace(error=None, partitions={i: None for i in range(n)})
        for name, n in topics.items()
    })


class FakeAdmin:
    def __init__(self, topics: dict[str, int]):
        self._metadata = metadata(topics)

    def list_topics(self, timeout: float) -> SimpleNamespace:
        return self._metadata


@pytest.mark.parametrize(
    ("topics", "error"),
    [
        ({}, TopicMissing),
        ({"users_created": 3}, TopicMissing),  # no rejects topic
        ({"users_created.rejected": 1}, TopicMissing),
        ({"users_created": 1, "users_created.rejected": 1}, PartitionMismatch),
    ],
)
def test_preflight_topic_errors(registry: Any, topics: dict[str, int], error: type) -> None:
    url, fake = registry
    fake.registered[CONTRACT.subject] = CONTRACT.schema_str
    with pytest.raises(error):
        preflight(settings_for(url), CONTRACT, admin=FakeAdmin(topics))


def test_preflight_passes(registry: Any) -> None:
    url, fake = registry
    fake.registered[CONTRACT.subject] = CONTRACT.schema_str
    admin = FakeAdmin({"users_created": 3, "users_created.rejected": 1})
    report = preflight(settings_for(url), CONTRACT, admin=admin)
    assert (report.schema_id, report.partitions, report.topic) == (7, 3, "users_created")


def test_preflight_unreachable_broker(registry: Any) -> None:
    url, fake = registry
    fake.registered[CONTRACT.subject] = CONTRACT.schema_str
    with pytest.raises(BrokerUnavailable):
        preflight(settings_for(url), CONTRACT, timeout_s=1)


def test_preflight_unregistered_subject_comes_first(registry: Any) -> None:
    url, _ = registry
    with pytest.raises(SchemaNotRegistered):
        preflight(settings_for(url), CONTRACT, admin=FakeAdmin({}))


# -- command line ----------------------------------------------------------------


def test_cli_failure_is_one_line_and_non_zero(
    registry: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url, _ = registry
    monkeypatch.setenv("SCHEMA_REGISTRY_URL", url)
    assert cli(["preflight"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("error: SchemaNotRegistered: ")
