"""The Schema Registry's address and failures, said once for every program.

:func:`public_url` is the registry's address fit for messages and logs (no user info).

The registry client (confluent-kafka's, over httpx) raises ``SchemaRegistryError`` when
the registry answers with an error, and httpx's or the OS's errors when it does not
answer at all. :func:`client_errors` names those exceptions and
:meth:`RegistryFailure.of` tells them apart; producers, streaming and schematool then
raise their own typed errors, with their own messages.
:class:`RegistryUnavailable` is the base of the "the registry could not serve us" errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

__all__ = ["RegistryFailure", "RegistryUnavailable", "client_errors", "public_url"]


def public_url(url: str) -> str:
    """The URL without user:password, query or fragment, fit for messages and logs."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[-1], parts.path, "", ""))


class RegistryUnavailable(RuntimeError):
    """The registry could not serve a request: it did not answer (down, DNS, timeout, TLS)
    or answered with an error the caller cannot act on. Nothing was changed; retry later.

    Raised as is by the streaming job (its batch fails and is retried) and as
    :class:`producers.errors.RegistryUnavailable` (a preflight error) by the producer.
    """

    url: str | None = None  # public (no user info), when the raiser knows it


def client_errors() -> tuple[type[Exception], ...]:
    """What a registry client call raises when it fails: an error answer, or no answer."""
    # Imported when a call fails: confluent_kafka.schema_registry takes ~1 s to import,
    # which importers of this module that use no registry (StaticSchemas, tests) need not pay.
    import httpx
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    return (SchemaRegistryError, httpx.TransportError, OSError)


@dataclass(frozen=True)
class RegistryFailure:
    """One failed registry call, in place of the client's exception types."""

    error: Exception  # what the client raised: chain it (``raise ... from failure.error``)
    status: int | None = None  # the HTTP status of an error answer; None: no answer at all
    code: int | None = None  # the registry's error code (e.g. 40401), with an answer
    message: str = ""  # the registry's error message, or the network error's text

    @property
    def answered(self) -> bool:
        return self.status is not None

    @classmethod
    def of(cls, error: Exception) -> RegistryFailure:
        """``error``, one of :func:`client_errors`, told apart."""
        # Already imported: the caller caught ``error`` with client_errors().
        from confluent_kafka.schema_registry.error import SchemaRegistryError

        if isinstance(error, SchemaRegistryError):
            return cls(error, error.http_status_code, error.error_code, error.error_message)
        return cls(error, message=str(error))
