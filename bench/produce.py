"""bench-produce: fetch, mapping, serialization and producing, beside Kafka's ProducerPerformance.

One sandbox topic (the contract's partition count). The same users are fetched once from
the local randomuser-compatible server in pages of 5000, then each step is timed on its
own: mapping (API JSON -> contract record), Avro serialization, producing through
:class:`ContractProducer` (which serializes too: that is what a run pays), and sending
pre-serialized bytes through a bare librdkafka producer with the same settings (the
client's own cost). ``ProducerPerformance`` sends records of our average serialized size
with ``acks=all``, idempotence and the same linger, batch size and compression.
Every other contract of ``CONTRACTS_DIR`` (``users_profile-value``) gets its own rows:
mapping, both encoders and ContractProducer, with the records the compiled encoder left
to AvroSerializer counted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from confluent_kafka import Producer
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from bench import kafka_tools
from bench.cpu import CpuMeter, cpu_figure
from bench.results import Figure, StageResult
from bench.stats import best, rate
from bench.stream import unique_records
from config.clients import schema_registry_client
from config.settings import Settings
from contract.catalog import Contract
from producers.kafka_producer import ContractProducer, DeliveryStats, ProducerTuning
from producers.mapping import map_users
from producers.randomuser_client import RandomUserClient, base_url_for
from producers.run import RunConfig, fetch_and_produce, pages_needed

log = logging.getLogger(__name__)
PAGE_SIZE = 5000
SEED = "bench-produce"


@dataclass(frozen=True)
class ProduceConfig:
    records: int = 50_000  # fetched, mapped and serialized
    # Both producers send this many (the users above, cycled with new ids): a producer's
    # start (the idempotent producer's id from the broker, ~0.5 s) weighs the same on both.
    tool_records: int = 200_000
    # Sent first by both producers and left out of their figures: a producer's start
    # (the idempotent producer's id, the JVM's warm-up) is not its steady rate.
    warmup_records: int = 50_000
    repeats: int = 4
    tunings: Sequence[ProducerTuning] = (
        ProducerTuning(),
        ProducerTuning(linger_ms=5),
        ProducerTuning(linger_ms=50, batch_size=1024 * 1024),
        ProducerTuning(batch_size=64 * 1024),
        ProducerTuning(compression="zstd"),
        ProducerTuning(compression="none"),
    )


def tuning_label(tuning: ProducerTuning) -> str:
    return f"linger.ms={tuning.linger_ms} batch.size={tuning.batch_size // 1024}KiB " \
           f"compression={tuning.compression}"


def tool_props(tuning: ProducerTuning) -> dict[str, Any]:
    """Java producer settings matching ``tuning`` (the durability ones are fixed)."""
    return {
        "acks": "all",
        "enable.idempotence": "true",
        "compression.type": tuning.compression,
        "linger.ms": tuning.linger_ms,
        "batch.size": tuning.batch_size,
    }


def timed(action: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    value = action()
    return value, time.perf_counter() - started


# -- the steps --------------------------------------------------------------------------------


def fetch_users(settings: Settings, records: int) -> tuple[list[dict[str, Any]], float]:
    """``records`` users from the local server in pages of 5000; seconds spent fetching."""
    users: list[dict[str, Any]] = []
    seconds = 0.0
    with RandomUserClient(base_url_for(settings, "local")) as client:
        page = 1
        while len(users) < records:
            size = min(PAGE_SIZE, records - len(users))
            answer, took = timed(lambda s=size, p=page: client.fetch_page(  # type: ignore[misc]
                results=s, page=p, seed=SEED))
            users.extend(answer.users)
            seconds += took
            page += 1
    return users, seconds


def serialize_all(settings: Settings, contract: Contract,
                  records: Sequence[dict[str, Any]]) -> tuple[list[bytes], float]:
    """The Confluent-framed Avro values by confluent-kafka's AvroSerializer; seconds spent."""
    serializer = AvroSerializer(schema_registry_client(settings), contract.schema_str,
                                conf={"auto.register.schemas": False,
                                      "use.latest.version": False})
    ctx = SerializationContext(contract.topic, MessageField.VALUE)
    serializer(records[0], ctx)  # the registry look-up, outside the timing
    values, seconds = timed(lambda: [serializer(r, ctx) for r in records])
    return values, seconds


def encode_all(settings: Settings, contract: Contract,
               records: Sequence[dict[str, Any]]) -> tuple[list[bytes], float]:
    """The same values by ContractProducer's encoder (compiled from the contract)."""
    with ContractProducer(settings, contract, client_id="userstream-bench-encode") as producer:
        producer.encode(records[0])  # the check against AvroSerializer, outside the timing
        return timed(lambda: [producer.encode(r) for r in records])


def both_encodings(settings: Settings, contract: Contract, records: Sequence[dict[str, Any]],
                   ) -> tuple[list[bytes], float, float]:
    """The framed values, and the seconds AvroSerializer and the compiled encoder each took;
    a RuntimeError if the two disagree on any byte."""
    values, serializer_s = serialize_all(settings, contract, records)
    encoded, encoder_s = encode_all(settings, contract, records)
    if encoded != values:
        raise RuntimeError(f"{contract.subject}: the compiled encoder and AvroSerializer "
                           "disagree")
    return values, serializer_s, encoder_s


def produce_records(settings: Settings, contract: Contract, records: Sequence[dict[str, Any]],
                    tuning: ProducerTuning) -> float:
    """Records/s through ContractProducer (serialize + send + flush, acks=all)."""
    return produce_counted(settings, contract, records, tuning)[0]


def produce_counted(settings: Settings, contract: Contract, records: Sequence[dict[str, Any]],
                    tuning: ProducerTuning, warmup: Sequence[dict[str, Any]] = (),
                    ) -> tuple[float, DeliveryStats]:
    """:func:`produce_records`, with the run's delivery stats (its fallback count). The
    ``warmup`` records go first, through the same producer, and are acknowledged before
    the clock starts (as ProducerPerformance's ``--warmup-records``). Pages of PAGE_SIZE,
    as a DAG task hands them over."""
    with ContractProducer(settings, contract, tuning=tuning,
                          client_id="userstream-bench") as producer:
        if warmup:
            producer.produce_all(warmup)
            producer.drain()
        started = time.perf_counter()
        for start in range(0, len(records), PAGE_SIZE):
            producer.produce_all(records[start:start + PAGE_SIZE])
        stats = producer.finish()
        seconds = time.perf_counter() - started
    if stats.delivered != len(records) + len(warmup):
        raise RuntimeError(f"only {stats.delivered} of {len(records) + len(warmup)} records "
                           "delivered")
    return rate(len(records), seconds), stats


def send_bytes(settings: Settings, topic: str, values: Sequence[bytes],
               keys: Sequence[bytes], tuning: ProducerTuning) -> float:
    """Records/s of pre-serialized values through librdkafka with the same settings."""
    producer = Producer({**settings.kafka_client_config(), "client.id": "userstream-bench-raw",
                         **tuning.librdkafka_config()})
    failed: list[str] = []

    def on_delivery(err: Any, _msg: Any) -> None:
        if err is not None:
            failed.append(str(err))

    started = time.perf_counter()
    for key, value in zip(keys, values, strict=True):
        while True:
            try:
                producer.produce(topic, key=key, value=value, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    remaining = producer.flush(120)
    seconds = time.perf_counter() - started
    if remaining or failed:
        raise RuntimeError(f"raw send: {remaining} undelivered, {len(failed)} failed: {failed[:3]}")
    return rate(len(values), seconds)


def run_producer(settings: Settings, contract: Contract, records: int,
                 tuning: ProducerTuning) -> dict[str, float]:
    """The real orchestration (``fetch_and_produce``): records/s overall and per step."""
    summary = fetch_and_produce(settings, contract, RunConfig(
        seed=SEED + "-run", pages=pages_needed(records, PAGE_SIZE), batch_size=PAGE_SIZE,
        run_id="bench-produce", limit=records, source="local", tuning=tuning,
    ))
    return {"total": rate(summary.produced, summary.total_seconds),
            "fetch_s": summary.fetch_seconds, "map_s": summary.map_seconds,
            "produce_s": summary.produce_seconds}


# -- the stage --------------------------------------------------------------------------------


def run(settings: Settings, contract: Contract, config: ProduceConfig,
        result: StageResult) -> StageResult:
    n = config.records
    with CpuMeter(settings, ("randomuser",)) as fetch_cpu:
        users, fetch_s = fetch_users(settings, n)
    result.add(Figure("produce.fetch", "fetch from the local randomuser server (pages of 5000)",
                      rate(n, fetch_s), "records/s", f"{n:,} users in {fetch_s:.2f} s"))
    result.add(cpu_figure("produce.fetch_cpu", "CPU per record: fetch (client + server)",
                          [fetch_cpu.seconds], n, fetch_cpu.services))
    with CpuMeter(settings) as map_cpu:
        mapped, map_s = timed(lambda: map_users(users, contract))
    result.add(cpu_figure("produce.map_cpu", "CPU per record: mapping", [map_cpu.seconds], n,
                          map_cpu.services))
    records = list(mapped.records)
    if mapped.rejected:
        result.notes.append(f"{len(mapped.rejected)} of {n} users rejected by the mapping")
    result.add(Figure("produce.map", "mapping API JSON -> contract record (validated)",
                      rate(len(records), map_s), "records/s", f"{len(records):,} in {map_s:.2f} s"))
    values, ser_s, enc_s = both_encodings(settings, contract, records)
    result.add(Figure("produce.serialize", "Avro serialization (AvroSerializer, framed)",
                      rate(len(values), ser_s), "records/s", f"{len(values):,} in {ser_s:.2f} s"))
    result.add(Figure("produce.encode", "Avro serialization (ContractProducer's compiled "
                      "encoder, framed)", rate(len(values), enc_s), "records/s",
                      f"{len(values):,} in {enc_s:.2f} s, the same bytes as AvroSerializer"))
    result.add(Figure("produce.map_serialize", "mapping + serialization",
                      rate(len(values), map_s + enc_s), "records/s",
                      f"{len(values):,} in {map_s + enc_s:.2f} s (the compiled encoder)"))
    size = round(sum(len(v) for v in values) / len(values))
    result.add(Figure("produce.record_size", "average serialized record (Kafka value)",
                      size, "bytes", "5-byte Confluent header + Avro body"))
    keys = [str(r["id"]).encode() for r in records]
    sent = list(unique_records(records, config.warmup_records + config.tool_records,
                               f"{contract.topic}-produce"))
    warmup, sent = sent[:config.warmup_records], sent[config.warmup_records:]

    default = config.tunings[0]
    ours: list[float] = []
    tool: list[kafka_tools.ProducerPerf] = []
    producer_cpu: list[float] = []

    def ours_once() -> None:
        with CpuMeter(settings, ("kafka",)) as meter:
            ours.append(produce_counted(settings, contract, sent, default, warmup)[0])
        producer_cpu.append(meter.seconds)

    def tool_once() -> None:
        tool.append(kafka_tools.producer_performance(
            settings, contract.topic, records=config.tool_records, record_size=size,
            producer_props=tool_props(default), warmup_records=config.warmup_records))

    # Interleaved, the order swapped every round, so drift hits both alike; each side's
    # warm-up is sent first and left out of its figure.
    for attempt in range(config.repeats):
        for side in (ours_once, tool_once) if attempt % 2 == 0 else (tool_once, ours_once):
            side()
        log.info("attempt %d: ContractProducer %.0f/s, ProducerPerformance %.0f/s",
                 attempt + 1, ours[-1], tool[-1].records_per_s)
    result.add(Figure("produce.contract_producer",
                      "ContractProducer: serialize + produce, acks=all, idempotent",
                      best(ours), "records/s",
                      f"{len(sent):,} records after {len(warmup):,} of warm-up, "
                      f"{tuning_label(default)}, interleaved runs: "
                      + ", ".join(f"{r:,.0f}" for r in ours),
                      runs=tuple(ours)))
    result.add(cpu_figure("produce.contract_producer_cpu",
                          "CPU per record: serialize + produce (client + broker)",
                          producer_cpu, len(sent), ("kafka",)))
    best_tool = max(tool, key=lambda t: t.records_per_s)
    result.add(Figure("produce.producer_performance",
                      f"Kafka ProducerPerformance ({size} B records, same settings)",
                      best_tool.records_per_s, "records/s",
                      f"{config.tool_records:,} records after {config.warmup_records:,} of "
                      "warm-up, interleaved runs: "
                      + ", ".join(f"{t.records_per_s:,.0f}" for t in tool)
                      + f"; its p99 latency {best_tool.p99_ms} ms",
                      runs=tuple(t.records_per_s for t in tool)))

    for tuning in config.tunings:
        raw = send_bytes(settings, contract.topic, cycled(values, len(sent)),
                         cycled(keys, len(sent)), tuning)
        full = produce_records(settings, contract, sent, tuning)
        result.tunings.append({"tuning": tuning_label(tuning), "send_only": round(raw),
                               "contract_producer": round(full)})
        log.info("tuning %s: send-only %.0f/s, ContractProducer %.0f/s",
                 tuning_label(tuning), raw, full)
    raw_default = result.tunings[0]["send_only"]
    result.add(Figure("produce.send_only", "librdkafka send of pre-serialized values",
                      raw_default, "records/s", tuning_label(default)))

    overall = run_producer(settings, contract, n, default)
    result.add(Figure("produce.fetch_and_produce",
                      "producer run (fetch_and_produce: fetch -> map -> produce, sequential)",
                      overall["total"], "records/s",
                      f"{n:,} users; fetch {overall['fetch_s']:.1f} s, map "
                      f"{overall['map_s']:.1f} s, produce {overall['produce_s']:.1f} s"))
    return result


def run_contract(settings: Settings, contract: Contract, base_subject: str, records: int,
                 produced: int, result: StageResult) -> None:
    """Every other contract the pipeline carries (issue 17): its mapping and both encoders
    (the same bytes, or a RuntimeError) on ``records`` users, then ContractProducer
    sending ``produced`` records (new ids), counting those the compiled encoder did not
    take (``fallback_encoded``). Figures ``produce.<base subject>.*``; ``contract`` is the
    base's sandbox copy."""
    key = f"produce.{base_subject}"
    users, _ = fetch_users(settings, records)
    mapped, map_s = timed(lambda: map_users(users, contract))
    rows = list(mapped.records)
    if mapped.rejected:
        result.notes.append(f"{base_subject}: {len(mapped.rejected)} of {records} users "
                            "rejected by the mapping")
    result.add(Figure(f"{key}.map", f"{base_subject}: mapping API JSON -> contract record",
                      rate(len(rows), map_s), "records/s", f"{len(rows):,} in {map_s:.2f} s"))
    values, ser_s, enc_s = both_encodings(settings, contract, rows)
    result.add(Figure(f"{key}.serialize", f"{base_subject}: AvroSerializer, framed",
                      rate(len(values), ser_s), "records/s", f"{len(values):,} in {ser_s:.2f} s"))
    result.add(Figure(f"{key}.encode", f"{base_subject}: ContractProducer's encoder, framed",
                      rate(len(values), enc_s), "records/s",
                      f"{len(values):,} in {enc_s:.2f} s, the same bytes as AvroSerializer"))
    # As many as the main contract's producer sends: its start weighs the same.
    sent = list(unique_records(rows, produced, f"{contract.topic}-produce"))
    records_per_s, stats = produce_counted(settings, contract, sent, ProducerTuning())
    result.add(Figure(f"{key}.contract_producer",
                      f"{base_subject}: ContractProducer, serialize + produce",
                      records_per_s, "records/s",
                      f"{len(sent):,} records, {tuning_label(ProducerTuning())}"))
    result.add(Figure(f"{key}.fallback_encoded",
                      f"{base_subject}: records AvroSerializer encoded (compiled encoder "
                      "fallback)", stats.fallback_encoded, "records",
                      f"of {len(sent):,} produced"))


def cycled(items: Sequence[bytes], count: int) -> list[bytes]:
    """``count`` items, going round ``items`` as often as needed."""
    return [items[i % len(items)] for i in range(count)]


def best_tuning(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The tuning row with the highest ContractProducer rate."""
    return max(rows, key=lambda r: r["contract_producer"])


def with_tuning(tuning: ProducerTuning, **changes: Any) -> ProducerTuning:
    return replace(tuning, **changes)
