"""A record sink in memory (the run's RecordSink, as ContractProducer is one): what a run
produced, without a broker."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from producers.kafka_producer import DeliveryStats
from producers.rejects import RejectRecord


class MemorySink:
    def __init__(self) -> None:
        self.records: list[Mapping[str, Any]] = []
        self.rejects: list[RejectRecord] = []
        self.finished = 0

    def produce_all(self, records: Sequence[Mapping[str, Any]]) -> None:
        self.records.extend(records)

    def produce_reject(self, reject: RejectRecord) -> None:
        self.rejects.append(reject)

    def finish(self) -> DeliveryStats:
        self.finished += 1
        n, r = len(self.records), len(self.rejects)
        return DeliveryStats(n, n, 0, r, r, 0, ())
