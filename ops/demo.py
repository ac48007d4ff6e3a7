"""`make demo`: the whole pipeline from a fresh clone, with a summary that reconciles.

Starts the services, registers the schemas and migrates the tables (`make schemas`),
starts the streaming job, triggers a real DAG run in the running Airflow (every contract
of the randomuser source, or the subjects asked for), waits until every record produced to
each contract is in Cassandra or in the dead letters, and prints what happened, per
subject. The end-to-end test drives the same functions.

Whatever runs the services is passed in as a ``Services`` (the native stack's is
``userstream.demo.NativeServices``, which ``python -m userstream demo`` wires in): neither
ops nor the stack imports the other; userstream, above both, joins them.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from cassandra import DriverException
from cassandra.cluster import NoHostAvailable
from confluent_kafka import KafkaException
from confluent_kafka.schema_registry.error import SchemaRegistryError

from config.airflow_api import AirflowApi, DagRun
from config.clients import schema_registry_client
from config.settings import PROJECT_ROOT, Settings
from contract.catalog import Contract
from ops.reconcile import Offsets, Reconciliation, end_offsets, reconcile
from producers.randomuser_client import choose_source

DAG_ID = "user_automation"
Progress = Callable[[str], None]


class DemoError(RuntimeError):
    """A step of the demo failed; the message names the step and what to look at."""


class Services(Protocol):
    """What the demo needs from whatever runs the services and the streaming job."""

    @property
    def logs_dir(self) -> Path:
        """Where the services' logs are (Airflow's task logs under ``airflow/``)."""
        ...

    def log(self, service: str) -> Path:
        """The log file of ``service`` (``stream``: the streaming job's)."""
        ...

    def up(self) -> None:
        """Start the services that are not running; return once every one is healthy."""

    def start_stream(self) -> None:
        """Start the streaming job (supervised) unless it runs; return once it is healthy."""

    def stream_pid(self) -> int | None:
        """The running streaming job's pid, None when it does not run."""

    def stream_starts(self) -> int:
        """How many times the streaming job has been started (restarts included)."""


@dataclass(frozen=True)
class SubjectResult:
    """One contract of the run: its counts in the DAG's summary, followed into Cassandra."""

    contract: Contract
    summary: dict[str, Any]  # this subject's counts: fetched, produced, rejected, timings
    start: Offsets
    end: Offsets
    reconciliation: Reconciliation
    schema_versions: list[int]
    compatibility: str

    @property
    def latency_ms(self) -> dict[str, float]:
        values = sorted(self.reconciliation.latencies_ms)
        if not values:
            return {}
        q = statistics.quantiles(values, n=100) if len(values) > 1 else values * 99
        return {"p50": q[49], "p95": q[94], "max": values[-1]}

    @property
    def counts_reconcile(self) -> bool:
        s, r = self.summary, self.reconciliation
        return (
            s["fetched"] == s["produced"] + s["rejected"]
            and s["produced"] == r.produced
            and r.reconciles
        )


@dataclass(frozen=True)
class PipelineResult:
    source: str
    dag_run: DagRun
    summary: dict[str, Any]  # the DAG's `summary` task: totals, and `subjects`
    subjects: tuple[SubjectResult, ...]  # every contract the run produced
    seconds: float

    @property
    def counts_reconcile(self) -> bool:
        return bool(self.subjects) and all(s.counts_reconcile for s in self.subjects)

    def of(self, subject: str) -> SubjectResult:
        return next(s for s in self.subjects if s.contract.subject == subject)


def resolve_source(settings: Settings, source: str) -> tuple[str, str]:
    """(``live`` or ``local``, a sentence saying why)."""
    chosen = choose_source(replace(settings, randomuser_source=source).validate())
    if source == "auto" and chosen == "local":
        why = (f"{settings.randomuser_url} did not answer: using the bundled "
               f"randomuser-compatible server at {settings.randomuser_local_url}")
    elif chosen == "local":
        why = f"the bundled randomuser-compatible server at {settings.randomuser_local_url}"
    else:
        why = f"the live API at {settings.randomuser_url}"
    return chosen, why


def run_module(progress: Progress, *args: str) -> None:
    """``python -m <args>`` in the project, its output shown as progress; fail on non-zero."""
    result = subprocess.run([sys.executable, "-m", *args], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, check=False)
    for line in (result.stdout + result.stderr).strip().splitlines():
        progress(f"  {line}")
    if result.returncode != 0:
        raise DemoError(f"`python -m {' '.join(args)}` failed (exit {result.returncode})")


def prepare(services: Services, progress: Progress) -> None:
    """Services up, schemas registered and tables migrated, streaming job running."""
    progress("starting the stack (make up)")
    services.up()
    progress("registering schemas and migrating tables (make schemas)")
    run_module(progress, "schematool", "apply")
    progress("starting the streaming job (make stream-up)")
    services.start_stream()


def run_pipeline(
    settings: Settings,
    services: Services,
    contracts: Sequence[Contract],
    *,
    count: int,
    batch_size: int,
    source: str,
    progress: Progress,
    dag_timeout: float = 1800.0,
    stream_timeout: float = 600.0,
    start: Mapping[str, Offsets] | None = None,
) -> PipelineResult:
    """Trigger one DAG run producing ``contracts`` and follow each one's records into
    Cassandra.

    Each subject's span starts at ``start[subject]`` (default: its topic's end before the
    run), so a caller that produced records of its own just before can have them followed
    too: the job writes a batch's rows before its dead letters, so the run's rows being
    stored does not mean that earlier records of the same batch are accounted for.
    """
    started = time.monotonic()
    starts = {c.subject: (start or {}).get(c.subject)
              or end_offsets(settings, c.topic, c.partitions) for c in contracts}
    with AirflowApi(settings) as api:
        api.wait_for_dag(DAG_ID)
        api.unpause(DAG_ID)
        run = api.trigger(DAG_ID, {"count": count, "batch_size": batch_size, "source": source,
                                   "subjects": [c.subject for c in contracts]})
        progress(f"DAG run {run.run_id} triggered: {settings.airflow_url}/dags/{DAG_ID}")
        last: list[str] = []

        def on_poll(current: DagRun) -> None:
            states = api.task_states(DAG_ID, current.run_id)
            line = f"  DAG {current.state}: " + ", ".join(
                f"{n} {s}" for s, n in sorted(states.items())
            )
            if line != (last[0] if last else None):
                last[:] = [line]
                progress(line)

        run = api.wait(DAG_ID, run.run_id, timeout=dag_timeout, on_poll=on_poll)
        if run.state != "success":
            raise DemoError(
                f"DAG run {run.run_id} ended {run.state}: see its task logs in the UI "
                f"({settings.airflow_url}) or {services.logs_dir / 'airflow'}"
            )
        summary = api.xcom_result(DAG_ID, run.run_id, "summary")
    registry = schema_registry_client(settings)
    results = []
    for contract in contracts:
        counts = summary["subjects"][contract.subject]
        begin = starts[contract.subject]
        end = end_offsets(settings, contract.topic, contract.partitions)
        produced = sum(end[p] - begin.get(p, 0) for p in end)
        progress(f"DAG done, {contract.subject}: {counts['fetched']} fetched, "
                 f"{counts['produced']} produced, {counts['rejected']} rejected; following "
                 f"{produced} records into Cassandra")
        rec = follow(settings, contract, begin, end, timeout=stream_timeout,
                     progress=progress, stream_log=services.log("stream"))
        results.append(SubjectResult(
            contract=contract,
            summary=counts,
            start=begin,
            end=end,
            reconciliation=rec,
            schema_versions=registry.get_versions(contract.subject),
            compatibility=registry.get_compatibility(contract.subject),
        ))
    return PipelineResult(source=source, dag_run=run, summary=summary,
                          subjects=tuple(results), seconds=time.monotonic() - started)


# A service the follower reads (Kafka, the registry, Cassandra) not answering: the demo
# waits for it, saying so, instead of failing on a transient outage.
SERVICE_DOWN: tuple[type[BaseException], ...] = (
    NoHostAvailable, DriverException, KafkaException, SchemaRegistryError, TimeoutError,
)
RETRY_PAUSE_S = 3.0


def follow(
    settings: Settings,
    contract: Contract,
    start: Offsets,
    end: Offsets,
    *,
    timeout: float,
    progress: Progress,
    stream_log: Path,
    reconcile_span: Callable[[Settings, Contract, Offsets, Offsets], Reconciliation] = reconcile,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Reconciliation:
    """Until every record of the span is stored or dead-lettered (or ``timeout`` s).

    A service that does not answer (Cassandra restarting, the broker down) is waited for
    until the same deadline, with a line saying which one and why; past the deadline it
    is a :class:`DemoError` naming it.
    """
    deadline = clock() + timeout
    while True:
        try:
            rec = reconcile_span(settings, contract, start, end)
        except SERVICE_DOWN as exc:
            what = _service_of(exc)
            if clock() > deadline:
                raise DemoError(
                    f"{what} did not answer within {timeout:.0f} s while following the run "
                    f"({type(exc).__name__}: {str(exc)[:200]}); `make status` shows which "
                    "service is down, `make up` starts it again"
                ) from exc
            progress(f"  waiting for {what} ({type(exc).__name__}: {str(exc)[:120]}); "
                     f"retrying for up to {deadline - clock():.0f} s more")
            sleep(RETRY_PAUSE_S)
            continue
        accounted = rec.stored + rec.dead_lettered
        progress(f"  stream: {rec.stored} stored, {rec.dead_lettered} dead-lettered "
                 f"of {rec.produced}")
        if rec.reconciles:
            return rec
        if accounted >= rec.produced and clock() > deadline:
            return rec  # everything is accounted for, not everything equal: the summary says so
        if clock() > deadline:
            raise DemoError(
                f"after {timeout:.0f} s only {accounted} of {rec.produced} records are "
                f"in Cassandra; see {stream_log}"
            )
        sleep(RETRY_PAUSE_S)


def _service_of(exc: BaseException) -> str:
    if isinstance(exc, NoHostAvailable | DriverException):
        return f"Cassandra ({', '.join(getattr(exc, 'errors', {}) or ['its contact points'])})"
    if isinstance(exc, KafkaException | TimeoutError):
        return "Kafka"
    return "the schema registry"


def format_summary(result: PipelineResult) -> str:
    """The run, then one block per subject; the last line says whether all reconcile."""
    lines = [
        "",
        "=" * 72,
        " userstream demo: " + ", ".join(
            f"{s.contract.topic} -> {s.contract.qualified_table}" for s in result.subjects),
        "=" * 72,
        f" source             {result.source}",
        f" DAG run            {result.dag_run.run_id} ({result.dag_run.state})",
        f" users fetched      {result.summary['fetched']}   (one API call per page, "
        f"mapped to {len(result.subjects)} contract(s))",
    ]
    for subject in result.subjects:
        lines += _subject_lines(subject, several=len(result.subjects) > 1)
    lines += [
        f" took               {result.seconds:.0f} s",
        f" counts reconcile   {'yes' if result.counts_reconcile else 'NO'}: fetched = produced"
        " + rejected; produced = stored + dead-lettered" + (
            ", for every subject" if len(result.subjects) > 1 else ""),
        "=" * 72,
    ]
    for subject in result.subjects:
        r = subject.reconciliation
        for problem in (r.mismatches + [f"missing {m}" for m in r.missing])[:10]:
            lines.append(f" ! {subject.contract.subject}: {problem}")
    return "\n".join(lines)


def _subject_lines(result: SubjectResult, *, several: bool) -> list[str]:
    contract = result.contract
    s, r = result.summary, result.reconciliation
    latency = result.latency_ms
    lines = [f" -- {contract.subject}"] if several else []
    lines += [
        f" produced           {s['produced']}   (to Kafka, acknowledged)",
        f" rejected           {s['rejected']}   (to {contract.rejects_topic}, with reasons)",
        f" stored             {r.stored}   (rows in Cassandra, equal field by field: "
        f"{'yes' if not r.mismatches else 'NO'})",
        f" dead-lettered      {r.dead_lettered}   ({contract.keyspace}.dead_letters)",
        f" schema versions    {contract.subject}: {result.schema_versions} "
        f"({result.compatibility})",
    ]
    if latency:
        lines.append(
            f" end-to-end latency p50 {latency['p50'] / 1000:.1f} s, p95 "
            f"{latency['p95'] / 1000:.1f} s, max {latency['max'] / 1000:.1f} s "
            "(Kafka timestamp -> row written)"
        )
    if several:
        lines.append(f" reconciles         {'yes' if result.counts_reconcile else 'NO'}")
    return lines
