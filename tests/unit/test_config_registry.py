"""The registry's address and failures, shared by producers, streaming and schematool."""

from __future__ import annotations

import httpx
import pytest
from confluent_kafka.schema_registry.error import SchemaRegistryError

from config import registry
from config.registry import RegistryFailure, client_errors, public_url
from producers import errors as producer_errors
from schematool.migrate import observe
from streaming import registry as streaming_registry


@pytest.mark.parametrize(
    ("url", "public"),
    [
        ("http://me:s3cret@registry:8081/apis/ccompat/v7", "http://registry:8081/apis/ccompat/v7"),
        ("https://a@b@host/x?token=s3cret#frag", "https://host/x"),
        ("http://localhost:8081", "http://localhost:8081"),
    ],
)
def test_public_url_drops_user_info_query_and_fragment(url: str, public: str) -> None:
    assert public_url(url) == public


def test_an_error_answer_keeps_its_status_code_and_message() -> None:
    error = SchemaRegistryError(404, 40401, "Subject not found")
    failure = RegistryFailure.of(error)
    assert (failure.status, failure.code, failure.message) == (404, 40401, "Subject not found")
    assert failure.answered and failure.error is error


@pytest.mark.parametrize(
    "error", [httpx.ConnectError("Connection refused"), ConnectionRefusedError("refused")]
)
def test_no_answer_is_told_apart(error: Exception) -> None:
    assert isinstance(error, client_errors())
    failure = RegistryFailure.of(error)
    assert not failure.answered and failure.status is None and failure.message == str(error)


def test_one_registry_unavailable_for_every_program() -> None:
    assert streaming_registry.RegistryUnavailable is registry.RegistryUnavailable
    produced = producer_errors.RegistryUnavailable("http://registry:8081", "ConnectError: no")
    assert isinstance(produced, producer_errors.PreflightError)
    assert isinstance(produced, registry.RegistryUnavailable)
    assert produced.url == "http://registry:8081"
    assert str(produced) == "schema registry at http://registry:8081 is unreachable: " \
        "ConnectError: no"


def test_schematool_uses_the_shared_public_url() -> None:
    assert observe.public_url is public_url
