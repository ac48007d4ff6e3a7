"""producer-queue-full: the producer's local queue holds 50 records (librdkafka's
``queue.buffering.max.messages``), far fewer than a page.

librdkafka answers ``BufferError`` when its queue is full. The producer must wait for
room (serving delivery reports, which is what frees it), never drop a record and never
fail the page: the counts stay exact (fetched = produced + rejected, every record
acknowledged), and the stream stores every one. The recovery time is the longest the
producer waited for room.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from chaos.load import pipeline
from chaos.scenario import ChaosContext, Outcome
from producers.kafka_producer import ContractProducer, ProducerTuning
from producers.run import RunConfig, fetch_and_produce

QUEUE_MESSAGES = 50
WAIT_S = 180.0


@dataclass(frozen=True)
class ProducerQueueFull:
    name: str = "producer-queue-full"
    fault: str = (f"librdkafka's queue limited to {QUEUE_MESSAGES} records "
                  "(queue.buffering.max.messages)")
    fast: bool = False
    pages: int = 3
    batch_size: int = 2000

    def run(self, ctx: ChaosContext) -> Outcome:
        started = time.monotonic()
        notes: list[str] = []
        tuning = ProducerTuning(linger_ms=5, extra={
            "queue.buffering.max.messages": QUEUE_MESSAGES,
            "batch.num.messages": QUEUE_MESSAGES,
        })
        with pipeline(ctx, self.name) as pipe:
            tag = pipe.contract.topic
            pipe.start_stream()
            fetched = produced = rejected = waits = 0
            longest = 0.0
            exact = True
            began = time.time()
            for page in range(1, self.pages + 1):
                run = RunConfig(seed=tag, pages=1, batch_size=self.batch_size,
                                run_id=f"{tag}-{page}", first_page=page, source="local",
                                tuning=tuning)
                producer = ContractProducer(ctx.settings, pipe.contract, tuning=tuning)
                with producer:
                    summary = fetch_and_produce(ctx.settings, pipe.contract, run, sink=producer)
                stats = producer.stats
                fetched += summary.fetched
                produced += summary.produced
                rejected += summary.rejected
                waits += stats.queue_full_waits
                longest = max(longest, stats.longest_queue_wait_s)
                exact = exact and stats.complete and stats.produced == stats.delivered
                notes.append(f"page {page}: fetched {summary.fetched}, produced "
                             f"{summary.produced}, rejected {summary.rejected}, waited for "
                             f"room {stats.queue_full_waits} times")
            with pipe.load.lock:
                pipe.load.produced += produced
            written = pipe.wait_writing(began, WAIT_S)
            rec = pipe.reconcile()
            return Outcome.from_reconciliation(
                self, rec, recovery_seconds=round(longest, 3),
                checks={
                    "the queue was full (the producer had to wait)": waits > 0,
                    "every record handed to the producer was acknowledged": exact,
                    "fetched = produced + rejected": fetched == produced + rejected,
                    "every acknowledged record is in the topic": rec.produced == produced,
                    "the stream wrote them": written is not None,
                },
                notes=notes, started=started)
