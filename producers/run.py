"""The producer's orchestration, shared by the Airflow DAG and the CLI.

``preflight`` checks that the environment is ready (registry, subject, topics);
``fetch_and_produce_all`` fetches the pages a :class:`RunConfig` names once, maps every
user to each contract, produces each contract's records and rejects to its own topics, and
returns counts and timings per subject (``fetch_and_produce``: the same for one contract).
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.schema_registry import SchemaRegistryClient

from config.clients import schema_registry_client
from config.settings import Settings
from contract.catalog import Contract
from producers.errors import (
    BrokerUnavailable,
    PartitionMismatch,
    TooManyRejects,
    TopicMissing,
)
from producers.kafka_producer import ContractProducer, DeliveryStats, ProducerTuning
from producers.mapping import map_users
from producers.randomuser_client import MAX_RESULTS, Page, RandomUserClient
from producers.read_ahead import PageReadAhead
from producers.registry import lookup_contract_schema
from producers.rejects import make_reject

__all__ = [
    "ContractsSummary",
    "PreflightReport",
    "RejectPolicy",
    "RunConfig",
    "RunSummary",
    "fetch_and_produce",
    "fetch_and_produce_all",
    "merge_runs",
    "merge_summaries",
    "pages_needed",
    "preflight",
    "seed_for_run",
]

log = logging.getLogger(__name__)


# -- pure helpers ---------------------------------------------------------------


def seed_for_run(dag_id: str, logical_date_or_run_id: datetime | str) -> str:
    """The API seed of a run: the same run (and its retries) fetches the same users."""
    key = logical_date_or_run_id
    if isinstance(key, datetime):
        key = (key if key.tzinfo else key.replace(tzinfo=UTC)).astimezone(UTC).isoformat()
    return hashlib.sha256(f"{dag_id}|{key}".encode()).hexdigest()[:16]


def pages_needed(count: int, batch_size: int) -> int:
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    if not 1 <= batch_size <= MAX_RESULTS:
        raise ValueError(f"batch_size must be between 1 and {MAX_RESULTS}, got {batch_size}")
    return math.ceil(count / batch_size)


@dataclass(frozen=True)
class RunSummary:
    """What a run did: counts and seconds per stage (XCom-safe: numbers only)."""

    fetched: int = 0
    produced: int = 0  # acknowledged by Kafka
    rejected: int = 0  # sent to the rejects topic
    pages: int = 0
    fetch_seconds: float = 0.0  # waiting for the API: a page is fetched while the last is produced
    map_seconds: float = 0.0
    produce_seconds: float = 0.0  # queueing plus the final flush
    total_seconds: float = 0.0
    fallback_encoded: int = 0  # records AvroSerializer encoded, not the compiled encoder

    def to_dict(self) -> dict[str, int | float]:
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunSummary:
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


def merge_summaries(summaries: Iterable[RunSummary | Mapping[str, Any]]) -> RunSummary:
    """Sum of several runs (e.g. the DAG's mapped page tasks); seconds are summed task-time."""
    total: dict[str, Any] = {f.name: 0 for f in fields(RunSummary)}
    for item in summaries:
        summary = item if isinstance(item, RunSummary) else RunSummary.from_dict(item)
        for name in total:
            total[name] += getattr(summary, name)
    return RunSummary(**total)


# A run over several contracts sees every user once per contract: these count the run
# (the same in every subject's summary), the others add up across subjects.
_SHARED = ("fetched", "pages", "fetch_seconds", "total_seconds")


@dataclass(frozen=True)
class ContractsSummary:
    """One run over several contracts: each subject's :class:`RunSummary`.

    Each subject's ``fetched`` is every user the run fetched, so each subject has
    ``fetched = produced + rejected`` on its own. :meth:`total` counts the fetch once
    (``fetched``, ``pages``, ``fetch_seconds``, ``total_seconds``) and adds up the rest.
    """

    by_subject: Mapping[str, RunSummary]

    @property
    def subjects(self) -> list[str]:
        return list(self.by_subject)

    def total(self) -> RunSummary:
        summaries = list(self.by_subject.values())
        if not summaries:
            return RunSummary()
        values = {
            f.name: (max if f.name in _SHARED else sum)(getattr(s, f.name) for s in summaries)
            for f in fields(RunSummary)
        }
        return RunSummary(**values)

    def unbalanced(self) -> list[str]:
        """The subjects whose counts do not add up (``fetched != produced + rejected``)."""
        return [subject for subject, s in self.by_subject.items()
                if s.fetched != s.produced + s.rejected]

    def to_dict(self) -> dict[str, Any]:
        """XCom-safe: the totals at the top, ``subjects``: subject -> its counts."""
        return {**self.total().to_dict(),
                "subjects": {k: v.to_dict() for k, v in self.by_subject.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ContractsSummary:
        return cls({k: RunSummary.from_dict(v) for k, v in data["subjects"].items()})


def merge_runs(runs: Iterable[ContractsSummary | Mapping[str, Any]]) -> ContractsSummary:
    """Several runs over the same contracts (the DAG's page tasks), added up per subject."""
    per_subject: dict[str, list[RunSummary]] = {}
    for item in runs:
        run = item if isinstance(item, ContractsSummary) else ContractsSummary.from_dict(item)
        for subject, summary in run.by_subject.items():
            per_subject.setdefault(subject, []).append(summary)
    return ContractsSummary({k: merge_summaries(v) for k, v in per_subject.items()})


@dataclass(frozen=True)
class RejectPolicy:
    """How many bad API records a page may hold before the run stops.

    A few are expected and go to the rejects topic; many mean the API's shape
    changed, and producing on would only fill the rejects topic.
    """

    max_ratio: float = 0.5

    def check(self, page: int, rejected: int, fetched: int, example: str) -> None:
        if fetched and rejected / fetched > self.max_ratio:
            raise TooManyRejects(page=page, rejected=rejected, fetched=fetched,
                                 max_ratio=self.max_ratio, example=example)


# -- preflight --------------------------------------------------------------------


@dataclass(frozen=True)
class PreflightReport:
    subject: str
    schema_id: int
    version: int | None
    topic: str
    partitions: int
    rejects_topic: str


def preflight(
    settings: Settings,
    contract: Contract,
    *,
    registry: SchemaRegistryClient | None = None,
    admin: AdminClient | None = None,
    timeout_s: float = 10.0,
) -> PreflightReport:
    """Registry reachable, our exact schema registered, topics present as the contract says."""
    registered = lookup_contract_schema(registry or schema_registry_client(settings), contract,
                                        settings.schema_registry_url)
    admin = admin or AdminClient(settings.kafka_client_config())
    try:
        # All topics, not one: asking for a named topic may auto-create it.
        metadata = admin.list_topics(timeout=timeout_s)
    except KafkaException as exc:
        raise BrokerUnavailable(settings.kafka_bootstrap_servers, str(exc.args[0])) from exc
    topics = metadata.topics
    for topic in (contract.topic, contract.rejects_topic):
        if topic not in topics or topics[topic].error is not None:
            raise TopicMissing(topic, settings.kafka_bootstrap_servers)
    partitions = len(topics[contract.topic].partitions)
    if partitions != contract.partitions:
        raise PartitionMismatch(contract.topic, contract.partitions, partitions)
    return PreflightReport(contract.subject, registered.schema_id, registered.version,
                           contract.topic, partitions, contract.rejects_topic)


# -- the run ----------------------------------------------------------------------


class RecordSink(Protocol):
    """What the run needs of a producer (:class:`ContractProducer` inside its ``with``)."""

    def produce_all(self, records: Sequence[Mapping[str, Any]]) -> None: ...
    def produce_reject(self, reject: Any) -> None: ...
    def finish(self) -> DeliveryStats: ...


@dataclass(frozen=True)
class RunConfig:
    """What one run fetches and how it produces: pages ``first_page .. first_page+pages-1``
    of ``batch_size`` users, with the API ``seed``.

    ``limit`` caps the users kept in total: the last page is still fetched whole (so page
    boundaries stay the same for a given batch size) and cut. ``source`` (``live`` or
    ``local``) pins the API; None chooses it from the settings. Built once from the
    settings and the CLI's or the DAG's parameters; validated when built.
    """

    seed: str
    pages: int
    batch_size: int
    run_id: str  # stamped on the rejects
    first_page: int = 1
    limit: int | None = None
    nat: str | tuple[str, ...] | None = None  # nationalities: "US,GB" or ("US", "GB")
    source: str | None = None
    tuning: ProducerTuning = field(default_factory=ProducerTuning)
    reject_policy: RejectPolicy = field(default_factory=RejectPolicy)

    def __post_init__(self) -> None:
        if self.pages < 1 or self.first_page < 1:
            raise ValueError(
                f"pages and first_page must be at least 1, got {self.pages}, {self.first_page}"
            )
        pages_needed(self.limit or self.batch_size, self.batch_size)  # validates batch_size

    def page(self, number: int) -> RunConfig:
        """Page ``number`` alone (one DAG task): the same users as in the whole run."""
        if not self.first_page <= number < self.first_page + self.pages:
            raise ValueError(f"page {number} is not one of this run's pages")
        before = (number - self.first_page) * self.batch_size
        limit = None if self.limit is None else min(self.batch_size, self.limit - before)
        return replace(self, first_page=number, pages=1, limit=limit)


def fetch_and_produce(
    settings: Settings,
    contract: Contract,
    run: RunConfig,
    *,
    client: RandomUserClient | None = None,
    sink: RecordSink | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> RunSummary:
    """:func:`fetch_and_produce_all` for one contract."""
    sinks = None if sink is None else {contract.subject: sink}
    return fetch_and_produce_all(settings, [contract], run, client=client, sinks=sinks,
                                 clock=clock).by_subject[contract.subject]


def fetch_and_produce_all(
    settings: Settings,
    contracts: Sequence[Contract],
    run: RunConfig,
    *,
    client: RandomUserClient | None = None,
    sinks: Mapping[str, RecordSink] | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ContractsSummary:
    """Fetch the pages ``run`` names once, map every user to each contract, produce.

    One API call per page whatever the number of contracts; each contract's records and
    rejects go to its own topics through its own producer, whose every delivery is checked.
    ``client`` (the randomuser API) and ``sinks`` (Kafka, by subject) are opened from the
    settings unless given, and then closed here.
    """
    if not contracts:
        raise ValueError("no contract to produce")
    with ExitStack() as owned:
        if client is None:
            client = owned.enter_context(RandomUserClient.from_settings(settings, run.source))
        if sinks is None:
            sinks = {c.subject: owned.enter_context(ContractProducer(settings, c,
                                                                    tuning=run.tuning))
                     for c in contracts}
        return _run_pages(contracts, client, sinks, run, clock)


def _run_pages(
    contracts: Sequence[Contract],
    client: RandomUserClient,
    sinks: Mapping[str, RecordSink],
    run: RunConfig,
    clock: Callable[[], datetime],
) -> ContractsSummary:
    started = time.perf_counter()
    fetch_s = 0.0
    map_s = dict.fromkeys(sinks, 0.0)
    produce_s = dict.fromkeys(sinks, 0.0)
    fetched = pages_done = 0
    remaining = run.limit if run.limit is not None else run.pages * run.batch_size
    last_page = run.first_page + run.pages - 1

    def fetch(number: int) -> Page:
        return client.fetch_page(results=run.batch_size, page=number, seed=run.seed, nat=run.nat)

    with PageReadAhead(fetch) as reader:
        for page in range(run.first_page, last_page + 1):  # bounded: no `while True`
            if remaining <= 0:
                break
            t0 = time.perf_counter()
            answer = reader.take(page)
            users = answer.users[:remaining]
            fetch_s += time.perf_counter() - t0
            if page < last_page and remaining > len(users):  # the pages it would fetch anyway
                reader.request(page + 1)
            # Every contract's mapping and reject check first: a page that fails one contract's
            # policy produces nothing, to any contract (its retry would produce it again).
            pages_mapped = []
            for contract in contracts:
                t1 = time.perf_counter()
                mapped = map_users(users, contract)
                if mapped.rejected:
                    example = f"{contract.subject}: {mapped.rejected[0][1]}"
                    run.reject_policy.check(page, len(mapped.rejected), len(users), example)
                map_s[contract.subject] += time.perf_counter() - t1
                pages_mapped.append((contract, mapped))
            now = clock()
            for contract, mapped in pages_mapped:
                t2 = time.perf_counter()
                sink = sinks[contract.subject]
                sink.produce_all(mapped.records)
                for user, error in mapped.rejected:
                    sink.produce_reject(make_reject(user, error, subject=contract.subject,
                                                    run_id=run.run_id, now=now))
                produce_s[contract.subject] += time.perf_counter() - t2
                log.info("page %d, %s: %d fetched, %d rejected", page, contract.subject,
                         len(users), len(mapped.rejected))
            fetched += len(users)
            remaining -= len(users)
            pages_done += 1
    summaries: dict[str, RunSummary] = {}
    for contract in contracts:
        t_flush = time.perf_counter()
        stats = sinks[contract.subject].finish()
        produce_s[contract.subject] += time.perf_counter() - t_flush
        summaries[contract.subject] = RunSummary(
            fetched=fetched, produced=stats.delivered, rejected=stats.rejects_delivered,
            pages=pages_done, fetch_seconds=fetch_s, map_seconds=map_s[contract.subject],
            produce_seconds=produce_s[contract.subject], total_seconds=0.0,
            fallback_encoded=stats.fallback_encoded,
        )
    elapsed = time.perf_counter() - started
    return ContractsSummary({k: replace(v, total_seconds=elapsed) for k, v in summaries.items()})
