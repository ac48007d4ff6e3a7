"""Where the Pipeline page's data comes from: Kafka's offsets and the stream's checkpoint,
Cassandra's counts, the stream's log, and Airflow's DAG runs.

Each is read by the code ``make status`` runs (:mod:`ops.status`, :mod:`config.airflow_api`)
and the job log's one parser (:mod:`streaming.batch_log`), one service per call, so that
one service's outage is a banner on its own panel only. A service that does not answer
raises :class:`~schematool.migrate.observe.ServiceUnavailable`; one that answers with an
error, :class:`~schematool.migrate.observe.ServiceRefused`. Unit tests use a fake.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from config.airflow_api import AirflowApi, AirflowApiError, AirflowUnreachable, DagRun
from config.clients import cassandra_session, kafka_admin
from config.contracts import deployed_contracts
from config.settings import Settings
from config.stack_paths import StackPaths
from console.sources import TIMEOUT_S, TopicState, one_service
from contract.catalog import Contract
from ops.demo import DAG_ID
from ops.status import TopicPosition, stored_counts, topic_position
from schematool.migrate.observe import (
    ServiceRefused,
    ServiceUnavailable,
    cassandra_errors,
    topic_states,
)
from streaming.batch_log import BatchEvent, parse_job_log

# The stream's log grows for as long as the stream runs: only its end is read, enough for
# the last MAX_BATCHES batch lines between Spark's own (sometimes long) lines.
LOG_TAIL_BYTES = 2 * 1024 * 1024
MAX_BATCHES = 60
RUNS = 5  # the last DAG runs shown


@dataclass(frozen=True)
class ContractTopics:
    """A contract's two topics as Kafka has them, and the stream's position on the first."""

    contract: Contract
    states: Mapping[str, TopicState]  # partitions as Kafka has them (None: no such topic)
    position: TopicPosition | None  # None when the topic does not exist


@dataclass(frozen=True)
class StreamLog:
    path: str
    found: bool  # False: no log here (a stream this checkout did not start logs elsewhere)
    batches: tuple[BatchEvent, ...]  # the last MAX_BATCHES, oldest first


@dataclass(frozen=True)
class RunSummary:
    run: DagRun
    summary: Mapping[str, Any] | None  # the summary task's XCom; None until it succeeded
    note: str = ""  # why a finished run has no summary


class PipelineSources(Protocol):
    airflow_url: str

    def contracts(self) -> list[Contract]: ...
    def topics(self, contract: Contract) -> ContractTopics: ...
    def stored(self, contract: Contract) -> tuple[int, int]: ...
    def stream_log(self) -> StreamLog: ...
    def dag_runs(self) -> list[RunSummary]: ...


def tail_lines(path: Path, max_bytes: int = LOG_TAIL_BYTES) -> list[str]:
    """The complete lines in the last ``max_bytes`` of ``path``."""
    with path.open("rb") as log:
        size = log.seek(0, 2)
        log.seek(max(0, size - max_bytes))
        data = log.read()
    lines = data.decode("utf-8", errors="replace").splitlines()
    return lines[1:] if size > max_bytes else lines  # the first may be cut


class LivePipelineSources:
    """The real services and the stack's stream log, from the pipeline's :class:`Settings`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.airflow_url = settings.airflow_url.rstrip("/")

    def contracts(self) -> list[Contract]:
        return deployed_contracts(self.settings)

    def topics(self, contract: Contract) -> ContractTopics:
        from confluent_kafka import KafkaError, KafkaException

        from streaming.checkpoint import OffsetsUnavailable

        # Metadata first, with its short timeout: a broker that does not answer is one
        # banner at once, not a wait on every partition's offsets.
        services = one_service(self.settings, admin=kafka_admin(self.settings))
        states = topic_states(services, (contract.topic, contract.rejects_topic))
        if any(state.partitions is None for state in states.values()):
            return ContractTopics(contract, states, None)
        address = self.settings.kafka_bootstrap_servers
        try:
            return ContractTopics(contract, states, topic_position(self.settings, contract))
        except OffsetsUnavailable as exc:
            raise ServiceUnavailable("kafka", address, str(exc)) from exc
        except KafkaException as exc:
            error = exc.args[0]
            if isinstance(error, KafkaError) and error.code() in (
                KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_PARTITION
            ):
                raise ServiceRefused(f"kafka at {address}, topic {contract.topic}: "
                                     f"{error.str()}") from exc
            raise ServiceUnavailable("kafka", address, str(error)) from exc

    def stored(self, contract: Contract) -> tuple[int, int]:
        from cassandra import InvalidRequest
        from cassandra.cluster import NoHostAvailable

        address = f"{self.settings.cassandra_hosts}:{self.settings.cassandra_port}"
        try:
            with (cassandra_session(self.settings, timeout=TIMEOUT_S) as session,
                  cassandra_errors(one_service(self.settings, session=session))):
                try:
                    return stored_counts(session, contract)
                except InvalidRequest as exc:  # answered: no such keyspace or table
                    raise ServiceRefused(f"cassandra at {address}: {exc}; "
                                         "make schemas creates the tables") from exc
        except NoHostAvailable as exc:
            reasons = "; ".join(str(e) for e in exc.errors.values()) or str(exc)
            raise ServiceUnavailable("cassandra", address, reasons) from exc

    def stream_log(self) -> StreamLog:
        path = StackPaths.from_settings(self.settings).log("stream")
        try:
            lines = tail_lines(path)
        except FileNotFoundError:
            return StreamLog(str(path), False, ())
        return StreamLog(str(path), True, tuple(parse_job_log(lines)[-MAX_BATCHES:]))

    def dag_runs(self) -> list[RunSummary]:
        import requests

        try:
            with AirflowApi(self.settings, timeout=TIMEOUT_S) as api:
                return [self._summary(api, run) for run in api.recent_runs(DAG_ID, limit=RUNS)]
        except AirflowUnreachable as exc:
            cause = exc.__cause__.__class__.__name__ if exc.__cause__ else str(exc)
            raise ServiceUnavailable("airflow", self.airflow_url, cause) from exc
        except requests.RequestException as exc:
            raise ServiceUnavailable("airflow", self.airflow_url,
                                     exc.__class__.__name__) from exc
        except AirflowApiError as exc:
            raise ServiceRefused(f"airflow at {self.airflow_url}: {exc}") from exc

    @staticmethod
    def _summary(api: AirflowApi, run: DagRun) -> RunSummary:
        if run.state != "success":
            return RunSummary(run, None)
        try:
            summary = api.xcom_result(DAG_ID, run.run_id, "summary")
        except AirflowApiError as exc:
            return RunSummary(run, None, f"no summary: {exc}")
        return RunSummary(run, summary if isinstance(summary, Mapping) else None)
