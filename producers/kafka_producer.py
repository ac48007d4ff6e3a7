"""Produce contract records to Kafka as Avro (Confluent wire format) and rejects as JSON.

:class:`ContractProducer` is a context manager. On entry it looks the
contract's schema up in the registry (never registers it); on exit it flushes
with a deadline and raises :class:`DeliveryError` unless every record was
acknowledged. Every delivery report is counted.

Records are encoded by an encoder compiled from the contract
(:mod:`producers.avro_encoder`), checked against confluent-kafka's ``AvroSerializer``
on the first record of every run; ``AvroSerializer`` encodes whatever the compiled
encoder does not take (and everything, if the schema does not compile). That fallback is
visible: a WARNING names the subject and the field or shape that caused it (once per
run), and :attr:`DeliveryStats.fallback_encoded` counts the records it encoded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from confluent_kafka import KafkaError, Message, Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import (
    MessageField,
    SerializationContext,
    SerializationError,
)

from config.clients import schema_registry_client
from config.registry import RegistryFailure, client_errors, public_url
from config.settings import Settings
from contract.catalog import Contract
from producers.avro_encoder import Encoder, NotCompilable, compile_encoder
from producers.errors import (
    DeliveryError,
    PreflightError,
    RegistryError,
    RegistryUnavailable,
    SerializationFailed,
)
from producers.registry import lookup_contract_schema
from producers.rejects import RejectRecord

__all__ = ["ContractProducer", "DeliveryError", "DeliveryStats", "ProducerTuning"]

log = logging.getLogger(__name__)
MAX_ERRORS_KEPT = 5
# Records handed to librdkafka in one call, and between two polls for delivery reports.
BATCH = 1000
# What the compiled encoder raises on a record outside its plain case (a missing field, a
# value of another type): AvroSerializer then encodes it, with its own rules and messages.
NOT_PLAIN = (KeyError, TypeError, AttributeError, ValueError, OverflowError, IndexError)


@dataclass(frozen=True)
class ProducerTuning:
    """Throughput and durability knobs; the defaults favour batching (to be benchmarked)."""

    linger_ms: int = 20
    batch_size: int = 512 * 1024  # bytes per partition batch
    compression: str = "lz4"
    message_timeout_ms: int = 120_000  # a record not acknowledged by then is failed
    flush_timeout_s: float = 150.0  # > message_timeout_ms, so reports arrive before it
    # How long produce() waits for room in librdkafka's queue (queue.buffering.max.*), at
    # least message_timeout_ms (see queue_wait_s): every queued record is acknowledged or
    # failed by then, so the queue has room again. Waiting less (it was 60 s < 120 s)
    # failed the page on a broker that was only restarting, its records still in retry.
    queue_full_timeout_s: float = 150.0
    extra: Mapping[str, Any] = field(default_factory=dict)  # any other librdkafka setting

    @property
    def queue_wait_s(self) -> float:
        """The wait for room: never shorter than librdkafka's own verdict on a record."""
        return max(self.queue_full_timeout_s, self.message_timeout_ms / 1000 + 5.0)

    def librdkafka_config(self) -> dict[str, Any]:
        return {
            "enable.idempotence": True,  # no duplicates or reordering from internal retries
            "acks": "all",
            "compression.type": self.compression,
            "linger.ms": self.linger_ms,
            "batch.size": self.batch_size,
            "message.timeout.ms": self.message_timeout_ms,
            **self.extra,
        }


@dataclass(frozen=True)
class DeliveryStats:
    produced: int  # records handed to the client
    delivered: int
    failed: int
    rejects_produced: int
    rejects_delivered: int
    rejects_failed: int
    first_errors: tuple[str, ...]
    queue_full_waits: int = 0  # records that waited for room in librdkafka's queue
    longest_queue_wait_s: float = 0.0
    fallback_encoded: int = 0  # records encoded by AvroSerializer, not the compiled encoder

    @property
    def undelivered(self) -> int:
        """Neither acknowledged nor failed: still queued (or purged) at the deadline."""
        return (self.produced + self.rejects_produced - self.delivered - self.failed
                - self.rejects_delivered - self.rejects_failed)

    @property
    def complete(self) -> bool:
        return self.failed == 0 and self.rejects_failed == 0 and self.undelivered == 0


class _Counter:
    """Delivery reports of one kind of message."""

    def __init__(self, errors: list[str]) -> None:
        self.produced = self.delivered = self.failed = 0
        self._errors = errors

    def on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        if err is None:
            self.delivered += 1
            return
        self.failed += 1
        if len(self._errors) < MAX_ERRORS_KEPT:
            self._errors.append(f"{msg.topic()}: {err.name()}: {err.str()}")


class ContractProducer:
    """Avro records of one contract to its topic; rejects as JSON to its rejects topic."""

    def __init__(
        self,
        settings: Settings,
        contract: Contract,
        *,
        tuning: ProducerTuning | None = None,
        registry: SchemaRegistryClient | None = None,
        client_id: str = "userstream-producer",
    ):
        self.settings = settings
        self.contract = contract
        self.tuning = tuning or ProducerTuning()
        self._registry = registry
        self._client_id = client_id
        self._errors: list[str] = []
        self._records = _Counter(self._errors)
        self._rejects = _Counter(self._errors)
        self._producer: Producer | None = None
        self._serializer: AvroSerializer | None = None
        self._fast: Encoder | None = None  # set on entry when the schema compiles
        self._fast_checked = False
        self._fallbacks = 0  # records AvroSerializer encoded instead (DeliveryStats)
        self._fallback_warned = False
        self._queue_full_waits = 0
        self._longest_queue_wait_s = 0.0
        self._value_ctx = SerializationContext(contract.topic, MessageField.VALUE)
        self._on_record_delivery = self._records.on_delivery  # bound once, not per record
        self.schema_id: int | None = None

    # -- lifecycle ---------------------------------------------------------------

    def __enter__(self) -> ContractProducer:
        registry = self._registry or schema_registry_client(self.settings)
        registered = lookup_contract_schema(registry, self.contract,
                                            self.settings.schema_registry_url)
        self.schema_id = registered.schema_id
        # Same client: the look-up above is cached, so the serializer makes no second call.
        self._serializer = AvroSerializer(
            registry, self.contract.schema_str,
            conf={"auto.register.schemas": False, "use.latest.version": False},
        )
        try:
            self._fast = compile_encoder(self.contract.schema_str, registered.schema_id)
        except NotCompilable as exc:
            self._warn_fallback(f"the schema is outside the compiled encoder's scope ({exc}): "
                                "every record")
            self._fast = None
        self._fast_checked = False
        self._producer = Producer({
            **self.settings.kafka_client_config(),
            "client.id": self._client_id,
            **self.tuning.librdkafka_config(),
            "logger": logging.getLogger("producers.librdkafka"),
        })
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._producer is None:
            return
        if exc is None:
            self.finish()
            return
        # The body failed: still flush what was produced, but let its error propagate.
        stats = self._flush()
        log.warning("producer closed after an error; deliveries: %s", stats)

    # -- producing ---------------------------------------------------------------

    def produce(self, record: Mapping[str, Any]) -> None:
        """Queue one contract record (already mapped and validated); key = its id."""
        self.produce_all((record,))

    def produce_all(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Queue contract records (a page, already mapped and validated); key = each id.

        The hot path (every record of a run): the compiled encoder once it has been checked,
        then one call into librdkafka for ``BATCH`` records (``produce_batch``: the call's
        cost is paid once, not per record) and a poll for their delivery reports. A record
        the batch call could not queue (a full queue) waits for room as ``_enqueue`` does.
        """
        producer, _ = self._started()
        topic = self.contract.topic
        on_delivery = self._on_record_delivery
        fast = self._fast if self._fast_checked else None
        for start in range(0, len(records), BATCH):
            messages: list[dict[str, bytes]] = []
            append = messages.append
            for record in records[start:start + BATCH]:
                record_id = str(record.get("id"))
                if fast is not None:
                    try:
                        value = fast(record)
                    except NOT_PLAIN as exc:
                        value = self._fallback(record_id, record, exc)
                else:  # the first record is checked against AvroSerializer here
                    value = self.encode(record, record_id)
                    fast = self._fast if self._fast_checked else None
                append({"value": value, "key": record_id.encode("utf-8")})
            queued = producer.produce_batch(topic, messages, on_delivery=on_delivery)
            self._records.produced += queued
            if queued < len(messages):
                # Refused records carry "_error"; produce() raises for anything but a full
                # queue, as a single record's produce would.
                for message in messages:
                    if "_error" in message:
                        self._enqueue(producer, topic, message["key"], message["value"],
                                      self._records)
            producer.poll(0)  # serve delivery reports as they come

    def encode(self, record: Mapping[str, Any], record_id: str | None = None) -> bytes:
        """The record's Kafka value: the compiled encoder for the plain case, else
        AvroSerializer; :class:`SerializationFailed` when the record does not fit."""
        self._started()
        record_id = str(record.get("id")) if record_id is None else record_id
        if self._fast is None:
            return self._fallback(record_id, record, None)
        try:
            value = self._fast(record)
        except NOT_PLAIN as exc:
            return self._fallback(record_id, record, exc)
        if not self._fast_checked:
            return self._check_fast(record_id, record, value)
        return value

    def _fallback(self, record_id: str, record: Mapping[str, Any],
                  error: Exception | None) -> bytes:
        """AvroSerializer's encoding of a record the compiled encoder did not take, counted
        (``error``: what the encoder raised on it; None: there is no compiled encoder)."""
        value = self._serialize(record_id, record)
        self._fallbacks += 1
        if error is not None:
            self._warn_fallback(f"record {record_id} is outside the compiled encoder's plain "
                                f"case ({type(error).__name__}: {error})")
        return value

    def _warn_fallback(self, why: str) -> None:
        """Once per run: the fallback is slower, so its cause is worth a WARNING."""
        if self._fallback_warned:
            return
        self._fallback_warned = True
        log.warning("%s: AvroSerializer encodes instead of the compiled encoder: %s; "
                    "the produce summary counts these records (fallback_encoded)",
                    self.contract.subject, why)

    def _serialize(self, record_id: str, record: Mapping[str, Any]) -> bytes:
        _, serializer = self._started()
        try:
            value = serializer(record, self._value_ctx)
        except (SerializationError, ValueError, TypeError, AttributeError) as exc:
            raise SerializationFailed(record_id, f"{type(exc).__name__}: {exc}") from exc
        except client_errors() as exc:
            # AvroSerializer looks its schema up again on its first record (its own cache
            # key): a registry outage after __enter__ is a typed error naming the registry,
            # not httpx's ConnectError from the middle of a page.
            raise self._registry_failure(exc) from exc
        return bytes(value) if value is not None else b""

    def _registry_failure(self, exc: Exception) -> PreflightError:
        failure = RegistryFailure.of(exc)
        url = public_url(self.settings.schema_registry_url)
        if failure.status is None:
            return RegistryUnavailable(url, f"{type(exc).__name__}: {exc}")
        return RegistryError(self.contract.subject, url, failure.status, failure.message)

    def _check_fast(self, record_id: str, record: Mapping[str, Any], value: bytes) -> bytes:
        """The first record of a run is encoded both ways; the encoder is kept if equal."""
        self._fast_checked = True
        reference = self._serialize(record_id, record)
        if value != reference:
            log.error("compiled Avro encoder disagrees with AvroSerializer on record %s; "
                      "using AvroSerializer for this run", record_id)
            self._warn_fallback(f"the compiled encoder disagreed with it on record {record_id}"
                                ": every record")
            self._fast = None
            self._fallbacks += 1
        return reference

    def produce_reject(self, reject: RejectRecord) -> None:
        """Queue one reject, as JSON, to the contract's rejects topic."""
        producer, _ = self._started()
        key = reject.key.encode("utf-8") if reject.key else None
        self._enqueue(producer, self.contract.rejects_topic, key, reject.to_json(), self._rejects)

    def _enqueue(
        self, producer: Producer, topic: str, key: bytes | None, value: bytes | None,
        counter: _Counter,
    ) -> None:
        """Queue one message, waiting (serving delivery reports) while the queue is full:
        a full queue is never a reason to drop a record, only to wait for the broker."""
        began = time.monotonic()
        deadline = began + self.tuning.queue_wait_s
        waited = False
        while not self._try_produce(producer, topic, key, value, counter):
            if not waited:
                waited = True
                self._queue_full_waits += 1
            if time.monotonic() > deadline:
                raise self._delivery_error(
                    f"local queue still full after {self.tuning.queue_wait_s:.0f}s"
                )
            producer.poll(0.1)  # serve delivery reports: that is what frees the queue
        if waited:
            self._longest_queue_wait_s = max(self._longest_queue_wait_s,
                                             time.monotonic() - began)
        counter.produced += 1
        producer.poll(0)

    @staticmethod
    def _try_produce(
        producer: Producer, topic: str, key: bytes | None, value: bytes | None,
        counter: _Counter,
    ) -> bool:
        try:
            producer.produce(topic, key=key, value=value, on_delivery=counter.on_delivery)
        except BufferError:
            return False
        return True

    def _started(self) -> tuple[Producer, AvroSerializer]:
        if self._producer is None or self._serializer is None:
            raise RuntimeError("ContractProducer is used outside its `with` block")
        return self._producer, self._serializer

    # -- completion --------------------------------------------------------------

    @property
    def stats(self) -> DeliveryStats:
        return DeliveryStats(
            self._records.produced, self._records.delivered, self._records.failed,
            self._rejects.produced, self._rejects.delivered, self._rejects.failed,
            tuple(self._errors), self._queue_full_waits, self._longest_queue_wait_s,
            self._fallbacks,
        )

    def drain(self) -> DeliveryStats:
        """Wait (within the flush deadline) until what is queued is acknowledged or failed,
        and keep producing after; the counts so far."""
        producer, _ = self._started()
        producer.flush(self.tuning.flush_timeout_s)
        return self.stats

    def finish(self) -> DeliveryStats:
        """Flush within the deadline; :class:`DeliveryError` unless all were acknowledged."""
        stats = self._flush()
        if not stats.complete:
            raise self._delivery_error(None)
        return stats

    def _flush(self) -> DeliveryStats:
        producer, _ = self._started()
        remaining = producer.flush(self.tuning.flush_timeout_s)
        if remaining:
            # Give up on what is left, and serve its (purge) reports so the counts add up.
            producer.purge()
            producer.flush(1.0)
        self._producer = None
        return self.stats

    def _delivery_error(self, extra: str | None) -> DeliveryError:
        stats = self.stats
        errors = list(stats.first_errors) + ([extra] if extra else [])
        topic = self.contract.topic
        if stats.rejects_produced:
            topic += f" (+ {self.contract.rejects_topic})"
        return DeliveryError(
            topic=topic,
            delivered=stats.delivered + stats.rejects_delivered,
            failed=stats.failed + stats.rejects_failed,
            undelivered=stats.undelivered,
            first_errors=errors,
        )
