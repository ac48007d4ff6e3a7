"""Typed errors of the producer side. Each carries the context needed to act on it."""

from __future__ import annotations

from collections.abc import Sequence

from config import registry


class ProducerError(Exception):
    """Base of every error raised by :mod:`producers`."""


# -- source API ---------------------------------------------------------------


class RandomUserError(ProducerError):
    """The randomuser API answered something unusable (not worth retrying)."""

    def __init__(self, message: str, *, url: str | None = None, status: int | None = None):
        self.url = url
        self.status = status
        where = f" ({url}" + (f", HTTP {status}" if status is not None else "") + ")" if url else ""
        super().__init__(f"{message}{where}")


class RandomUserUnavailable(RandomUserError):
    """The randomuser API kept failing transiently; we gave up after ``attempts``."""

    def __init__(self, message: str, *, url: str, status: int | None, attempts: int):
        self.attempts = attempts
        super().__init__(f"gave up after {attempts} attempts: {message}", url=url, status=status)


# -- mapping ------------------------------------------------------------------


class MappingError(ProducerError):
    """An API record does not fit the contract; goes to the rejects topic."""

    def __init__(self, reason: str, field_path: str):
        self.reason = reason
        self.field_path = field_path
        super().__init__(f"{field_path}: {reason}")


class ContractDriftError(ProducerError):
    """The mapping and the contract disagree on the field list (a code bug, not bad data)."""


class RulesModuleError(ProducerError):
    """A contract's ``[source] rules`` module cannot be used (a setup error, not bad data)."""

    def __init__(self, sidecar: object, module: str, problem: str):
        self.sidecar, self.module, self.problem = sidecar, module, problem
        super().__init__(f"{sidecar}: source.rules = {module!r}: {problem}")


class TooManyRejects(ProducerError):
    """More records were rejected than the reject policy tolerates."""

    def __init__(self, *, page: int, rejected: int, fetched: int, max_ratio: float, example: str):
        self.page, self.rejected, self.fetched = page, rejected, fetched
        super().__init__(
            f"page {page}: {rejected} of {fetched} records rejected (more than "
            f"{max_ratio:.0%} allowed); first: {example}"
        )


# -- environment checks (registry, broker, topics) ----------------------------


class PreflightError(ProducerError):
    """The environment is not ready for producing: registry, broker or topic."""


class RegistryUnavailable(PreflightError, registry.RegistryUnavailable):
    """The registry did not answer (its error answers are :class:`RegistryError`)."""

    def __init__(self, url: str, detail: str):
        self.url = url
        super().__init__(f"schema registry at {url} is unreachable: {detail}")


class SchemaNotRegistered(PreflightError):
    def __init__(self, subject: str, url: str, detail: str):
        self.subject = subject
        self.url = url
        super().__init__(
            f"subject {subject!r} has no version matching schemas/{subject}.avsc in the "
            f"registry at {url} ({detail}); register it first (make schemas)"
        )


class RegistryError(PreflightError):
    """The registry answered with an unexpected error (auth, server error...)."""

    def __init__(self, subject: str, url: str, status: int, detail: str):
        self.subject, self.url, self.status = subject, url, status
        super().__init__(f"registry at {url}, subject {subject!r}: HTTP {status}: {detail}")


class BrokerUnavailable(PreflightError):
    def __init__(self, bootstrap: str, detail: str):
        self.bootstrap = bootstrap
        super().__init__(f"Kafka at {bootstrap} is unreachable: {detail}")


class TopicMissing(PreflightError):
    def __init__(self, topic: str, bootstrap: str):
        self.topic = topic
        super().__init__(f"topic {topic!r} does not exist on {bootstrap}; create it first")


class PartitionMismatch(PreflightError):
    def __init__(self, topic: str, expected: int, actual: int):
        self.topic, self.expected, self.actual = topic, expected, actual
        super().__init__(
            f"topic {topic!r} has {actual} partitions; the contract says {expected}"
        )


# -- delivery -----------------------------------------------------------------


class DeliveryError(ProducerError):
    """Some records were not acknowledged by Kafka."""

    def __init__(
        self, *, topic: str, delivered: int, failed: int, undelivered: int,
        first_errors: Sequence[str],
    ):
        self.topic = topic
        self.delivered, self.failed, self.undelivered = delivered, failed, undelivered
        self.first_errors = tuple(first_errors)
        errors = "; ".join(self.first_errors) or "none reported"
        super().__init__(
            f"{topic}: {delivered} delivered, {failed} failed, {undelivered} still queued "
            f"at the flush deadline; first errors: {errors}"
        )


class SerializationFailed(ProducerError):
    """A mapped record could not be serialized: the mapping let through what it must not."""

    def __init__(self, record_id: str, detail: str):
        self.record_id = record_id
        super().__init__(f"record {record_id}: cannot serialize: {detail}")
