"""``make schemas``: plan every contract against the live services, then apply, in stream order.

Plan first, for every contract: read the registry, the topics and the Cassandra schema
(:mod:`schematool.migrate.observe`) and decide (:mod:`schematool.migrate.plan`). If any
step of any contract is refused, or a service is unreachable, nothing is applied anywhere.
Otherwise, per contract:
topics, then CQL (new nullable columns are harmless to the running writer), then the
subject's compatibility level, then the schema is registered, so that no record written
with the new schema can reach a table that lacks its column. A second run finds nothing to do.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cassandra import DriverException
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import NewTopic

from config.registry import RegistryFailure, client_errors
from config.settings import Settings
from contract.catalog import Contract
from schematool.cassandra_grants import apply_grants
from schematool.kafka_acls import apply_acls
from schematool.migrate.observe import (
    ServiceRefused,
    Services,
    ServiceUnavailable,
    connect,
    live_state,
    registry_errors,
)
from schematool.migrate.plan import (
    Action,
    CreateTopic,
    RegisterSchema,
    RunCql,
    SetCompatibility,
    StepPlan,
    SubjectPlan,
    plan_subject,
    validate_contracts,
)

if TYPE_CHECKING:
    from confluent_kafka.schema_registry import RegisteredSchema, Schema

TOPIC_TIMEOUT_S = 30.0


class PlanRefused(RuntimeError):
    """At least one contract cannot be applied; nothing was changed."""

    def __init__(self, plans: Sequence[SubjectPlan]) -> None:
        self.plans = tuple(plans)
        refused = [p.subject for p in plans if p.refusals]
        super().__init__(f"refused, nothing applied: {', '.join(refused)}")


class ApplyError(RuntimeError):
    """A step failed while applying; the message says what was already done."""


@dataclass
class SubjectResult:
    subject: str
    done: dict[str, list[str]] = field(default_factory=dict)  # service -> outcomes


# -- planning --------------------------------------------------------------------------


def plan_contracts(
    services: Services, contracts: Sequence[Contract], replication_factor: int | None = None
) -> list[SubjectPlan]:
    return [
        plan_subject(contract, live_state(services, contract), replication_factor)
        for contract in contracts
    ]


# -- applying --------------------------------------------------------------------------


class _Executor:
    """Runs actions; a statement or topic two contracts share (a keyspace) runs once."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._seen: set[Action] = set()

    def run(self, action: Action) -> str | None:
        if action in self._seen:
            return None
        self._seen.add(action)
        if isinstance(action, CreateTopic):
            return self._create_topic(action)
        if isinstance(action, RunCql):
            return self._run_cql(action)
        if isinstance(action, SetCompatibility):
            return self._set_compatibility(action)
        return self._register(action)

    def _create_topic(self, action: CreateTopic) -> str:
        """Create the topic; one created meanwhile (another ``make schemas``) with the
        sidecar's partitions is success, with other partitions a :class:`ServiceRefused`."""
        topic = NewTopic(action.name, action.partitions, action.replication_factor,
                         config=action.config)
        future = self.services.admin.create_topics([topic])[action.name]
        created = True
        try:
            future.result(timeout=TOPIC_TIMEOUT_S)
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            if not isinstance(error, KafkaError) or error.code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
            created = False
        # The controller has it; wait until brokers serve it too, so that a producer
        # started right after `make schemas` finds it (and its partitions can be counted).
        partitions = self._served_partitions(action.name)
        if partitions != action.partitions:
            raise ServiceRefused(
                f"topic {action.name} was created meanwhile with {partitions} partitions, the "
                f"sidecar says {action.partitions}: see python -m schematool diff"
            )
        if created:
            return f"{action.name} created ({action.partitions} partitions)"
        return f"{action.name} already created ({action.partitions} partitions)"

    def _served_partitions(self, name: str) -> int:
        """The topic's partition count once the broker serves it; TimeoutError otherwise."""
        deadline = time.monotonic() + TOPIC_TIMEOUT_S
        while True:
            listed = self.services.admin.list_topics(timeout=5).topics
            topic = listed.get(name)
            if topic is not None and topic.error is None and topic.partitions:
                return len(topic.partitions)
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"topic {name} is not in the broker's metadata {TOPIC_TIMEOUT_S:.0f} s "
                    "after its creation"
                )
            time.sleep(0.2)

    def _run_cql(self, action: RunCql) -> str:
        self.services.session.execute(action.statement)
        return action.describe()

    def _set_compatibility(self, action: SetCompatibility) -> str:
        with registry_errors(self.services, action.subject):
            try:
                self.services.registry.set_compatibility(action.subject, action.level)
            except client_errors() as exc:
                # Another `make schemas` may have set it first (a rule created twice is a
                # conflict for some registries): the level asked for is what counts.
                if not _answered(exc) or self._subject_level(action.subject) != action.level:
                    raise
                return f"compatibility {action.level} already set"
        return f"compatibility {action.level} set"

    def _subject_level(self, subject: str) -> str | None:
        try:
            return str(self.services.registry.get_compatibility(subject)).upper()
        except client_errors() as exc:
            if not _answered(exc):
                raise
            return None

    def _register(self, action: RegisterSchema) -> str:
        # inner: 1.3 s of import (-X importtime) that the CLI's --help and check skip
        from confluent_kafka.schema_registry import Schema

        schema = Schema(action.schema_str, "AVRO")
        with registry_errors(self.services, action.subject):
            try:
                self.services.registry.register_schema(action.subject, schema)
            except client_errors() as exc:
                # Another `make schemas` may have registered it first (two creations of one
                # subject conflict): the same schema already registered is success.
                found = self._registered(action.subject, schema) if _answered(exc) else None
                if found is None:
                    raise
                return f"v{found.version} (id {found.schema_id}) already registered"
            # The Confluent API answers a registration with the id only; ask for the version.
            found = self.services.registry.lookup_schema(action.subject, schema)
        return f"v{found.version} (id {found.schema_id}) registered"

    def _registered(self, subject: str, schema: Schema) -> RegisteredSchema | None:
        """The subject's version of ``schema``; None when the registry says it has none."""
        try:
            return self.services.registry.lookup_schema(subject, schema)
        except client_errors() as exc:
            if not _answered(exc):
                raise
            return None


def _answered(exc: Exception) -> bool:
    """An error answer of the registry (not: no answer at all)."""
    return RegistryFailure.of(exc).answered


def apply_plans(services: Services, plans: Sequence[SubjectPlan]) -> list[SubjectResult]:
    """Apply every plan, or none: :class:`PlanRefused` when any has a refusal."""
    if any(p.refusals for p in plans):
        raise PlanRefused(plans)
    executor = _Executor(services)
    results = []
    for plan in plans:
        result = SubjectResult(plan.subject)
        results.append(result)
        for step in plan.steps:
            outcomes = result.done.setdefault(step.service, [])
            for action in step.actions:
                try:
                    outcome = executor.run(action)
                except _service_errors() as exc:
                    raise ApplyError(_failure(plan.subject, step, action, exc, results)) from exc
                if outcome is not None:
                    outcomes.append(outcome)
    return results


def _service_errors() -> tuple[type[Exception], ...]:
    """What a service may raise while applying (the registry's are already ServiceRefused)."""
    from cassandra.cluster import NoHostAvailable  # inner: 0.6 s the CLI's --help/check skip

    return (
        DriverException,
        NoHostAvailable,
        KafkaException,
        TimeoutError,
        ServiceRefused,
        ServiceUnavailable,
    )


def _failure(
    subject: str, step: StepPlan, action: Action, exc: Exception, results: list[SubjectResult]
) -> str:
    applied = [
        f"{r.subject} {service}: {outcome}"
        for r in results
        for service, outcomes in r.done.items()
        for outcome in outcomes
    ]
    already = "; ".join(applied) if applied else "nothing"
    reason = " ".join(str(exc).split()) or type(exc).__name__
    return (
        f"{subject}: {step.service}: {action.describe()} failed: {reason} "
        f"(already applied: {already})"
    )


# -- output ----------------------------------------------------------------------------


def _step_text(step: StepPlan, outcomes: list[str] | None) -> str:
    """``registry: v2 (id 7) registered`` / ``topics: up to date`` / the planned actions."""
    if outcomes is None:  # dry run: what would happen
        if not step.actions:
            return _up_to_date(step)
        return f"{step.service}: would " + ", ".join(a.describe() for a in step.actions)
    if not outcomes:
        return _up_to_date(step)
    return f"{step.service}: " + ", ".join(outcomes)


def _up_to_date(step: StepPlan) -> str:
    current = f" {step.current}" if step.current else ""
    return f"{step.service}{current}: up to date"


def format_plan(plan: SubjectPlan, result: SubjectResult | None = None) -> list[str]:
    """One line per subject, then indented notes and refusals."""
    if plan.refusals:
        lines = [f"{plan.subject}: REFUSED, nothing applied"]
        lines.extend(f"  {r}" for r in plan.refusals)
    else:
        steps = [
            _step_text(s, None if result is None else result.done.get(s.service, []))
            for s in plan.steps
        ]
        suffix = " (dry run)" if result is None else ""
        lines = [f"{plan.subject}{suffix}: " + "; ".join(steps)]
    lines.extend(f"  note: {n}" for s in plan.steps for n in s.notes)
    return lines


# -- the command -----------------------------------------------------------------------


def run_apply(
    contracts: Sequence[Contract],
    settings: Settings,
    *,
    dry_run: bool = False,
    replication_factor: int | None = None,
    out: Callable[[str], None] = print,
) -> int:
    """``python -m schematool apply``: 0 applied or up to date (or a clean dry run), 1 refused.

    The contracts are placed as the settings' topology deploys them (``STACK_TOPOLOGY``:
    ``[kafka.cluster]`` and ``[cassandra.cluster]`` in the cluster one); the keyspaces get
    ``replication_factor`` when given (``--replication-factor``), else the sidecar's.

    Raises :class:`~schematool.migrate.observe.ServiceUnavailable`, :class:`ApplyError`,
    :class:`~contract.avro_types.SchemaError` for the command line to report.
    """
    validate_contracts(contracts)
    contracts = [c.for_topology(settings.stack_topology) for c in contracts]
    with connect(settings) as services:
        plans = plan_contracts(services, contracts, replication_factor)
        if dry_run or any(p.refusals for p in plans):
            for plan in plans:
                for line in format_plan(plan):
                    out(line)
            return 1 if any(p.refusals for p in plans) else 0
        results = apply_plans(services, plans)
    for plan, result in zip(plans, results, strict=True):
        for line in format_plan(plan, result):
            out(line)
    # The secure profile: each contract's users may use what was just made, nothing else.
    for line in apply_acls(settings, contracts):
        out(f"  acl {line}")
    for statement in apply_grants(settings, contracts):
        out(f"  cassandra {statement}")
    return 0
