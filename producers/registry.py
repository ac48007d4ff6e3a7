"""Look up the contract's schema in the Schema Registry (Confluent API).

The producer never registers schemas (``make schemas`` does, under the
subject's compatibility rule): it only asks whether the exact committed
schema is registered under its subject, and fails with a typed error naming
the subject when it is not.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import httpx
from confluent_kafka.schema_registry import RegisteredSchema, Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from contract.catalog import Contract
from producers.errors import RegistryError, RegistryUnavailable, SchemaNotRegistered


def public_url(url: str) -> str:
    """The URL without user:password, fit for messages and logs."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def lookup_contract_schema(
    registry: SchemaRegistryClient, contract: Contract, url: str
) -> RegisteredSchema:
    """The registered version of ``contract``'s schema under its subject (id, version)."""
    url = public_url(url)
    try:
        return registry.lookup_schema(contract.subject, Schema(contract.schema_str, "AVRO"))
    except SchemaRegistryError as exc:
        if exc.http_status_code == 404:
            raise SchemaNotRegistered(contract.subject, url, exc.error_message) from exc
        raise RegistryError(contract.subject, url, exc.http_status_code,
                            exc.error_message) from exc
    except (httpx.TransportError, OSError) as exc:
        raise RegistryUnavailable(url, f"{type(exc).__name__}: {exc}") from exc
