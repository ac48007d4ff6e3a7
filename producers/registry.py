"""Look up the contract's schema in the Schema Registry (Confluent API).

The producer never registers schemas (``make schemas`` does, under the
subject's compatibility rule): it only asks whether the exact committed
schema is registered under its subject, and fails with a typed error naming
the subject when it is not.
"""

from __future__ import annotations

from confluent_kafka.schema_registry import RegisteredSchema, Schema, SchemaRegistryClient

from config.registry import RegistryFailure, client_errors, public_url
from contract.catalog import Contract
from producers.errors import RegistryError, RegistryUnavailable, SchemaNotRegistered


def lookup_contract_schema(
    registry: SchemaRegistryClient, contract: Contract, url: str
) -> RegisteredSchema:
    """The registered version of ``contract``'s schema under its subject (id, version)."""
    url = public_url(url)
    try:
        return registry.lookup_schema(contract.subject, Schema(contract.schema_str, "AVRO"))
    except client_errors() as exc:
        failure = RegistryFailure.of(exc)
        if failure.status is None:
            raise RegistryUnavailable(url, f"{type(exc).__name__}: {exc}") from exc
        if failure.status == 404:
            raise SchemaNotRegistered(contract.subject, url, failure.message) from exc
        raise RegistryError(contract.subject, url, failure.status, failure.message) from exc
