"""The console's pages with fake sources: what each shows, and a banner per outage."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from config.settings import SettingsError
from console.app import create_app
from console.settings import load_console_settings
from console.sources import CassandraState, SubjectHistory
from contract.catalog import Contract, load_contract
from schematool.migrate.live import (
    KeyspaceState,
    RegisteredVersion,
    RegistryState,
    TableState,
    TopicState,
)
from schematool.migrate.observe import ServiceRefused, ServiceUnavailable

CONTRACT = load_contract()


def record(*fields: dict[str, Any]) -> str:
    base = [{"name": "id", "type": "string"}]
    return json.dumps({"type": "record", "name": "Sandbox", "fields": [*base, *fields]})


V1 = record({"name": "age", "type": "int"})
V2 = record({"name": "age", "type": "int"},
            {"name": "email", "type": ["null", "string"], "default": None})
SANDBOX = SubjectHistory(
    "sandbox-value", "BACKWARD", True,
    (RegisteredVersion(1, 11, V1), RegisteredVersion(2, 12, V2)),
)


def down(service: str) -> ServiceUnavailable:
    return ServiceUnavailable(service, f"{service}-host:1", "Connection refused")


@dataclass
class FakeSources:
    histories: dict[str, SubjectHistory] = field(default_factory=lambda: {"sandbox-value":
                                                                           SANDBOX})
    down: set[str] = field(default_factory=set)
    contract_list: list[Contract] = field(default_factory=lambda: [CONTRACT])

    def _check(self, service: str) -> None:
        if service in self.down:
            raise down(service)

    def contracts(self) -> list[Contract]:
        return self.contract_list

    def subject_names(self) -> list[str]:
        self._check("registry")
        return sorted(self.histories)

    def subject(self, name: str) -> SubjectHistory:
        self._check("registry")
        return self.histories.get(name, SubjectHistory(name, "BACKWARD", False, ()))

    def registry_state(self, contract: Contract) -> RegistryState:
        self._check("registry")
        version = RegisteredVersion(1, 1, contract.schema_str)
        return RegistryState(contract.subject, (version,), version, "BACKWARD", "BACKWARD")

    def topics(self, names: tuple[str, ...]) -> Mapping[str, TopicState]:
        self._check("kafka")
        return {n: TopicState(n, 3, 1) for n in names if n != "users_created.rejected"}

    def cassandra(self, contract: Contract) -> CassandraState:
        self._check("cassandra")
        return CassandraState(
            KeyspaceState(contract.keyspace),
            TableState(contract.keyspace, contract.table),
            TableState(contract.keyspace, "dead_letters"),
        )


def client(sources: FakeSources | None = None) -> TestClient:
    return TestClient(create_app(sources or FakeSources()))


def test_subjects_lists_versions_ids_level_and_latest_fields() -> None:
    page = client().get("/subjects")
    assert page.status_code == 200
    text = page.text
    assert 'data-subject="sandbox-value"' in text
    assert 'data-version="2"' in text and "<td>12</td>" in text
    assert "BACKWARD" in text and "set on the subject" in text
    assert "<code>email</code>" in text and "null | string" in text
    assert "/subjects/sandbox-value/diff?a=1&amp;b=2" in text
    assert 'hx-get="/panels/subjects"' in text and 'hx-trigger="every 5s"' in text


def test_subjects_panel_is_a_fragment() -> None:
    text = client().get("/panels/subjects").text
    assert "<html" not in text and 'data-subject="sandbox-value"' in text


def test_registry_outage_is_a_banner_not_a_trace() -> None:
    sources = FakeSources(down={"registry"})
    for path in ("/subjects", "/panels/subjects", "/subjects/sandbox-value/diff?a=1&b=2"):
        page = client(sources).get(path)
        assert page.status_code == 200, path
        assert 'role="alert" data-service="registry"' in page.text
        assert "registry at registry-host:1 is unreachable: Connection refused" in page.text
        assert "Traceback" not in page.text


def test_refused_answer_is_a_banner_too() -> None:
    class Refusing(FakeSources):
        def subject_names(self) -> list[str]:
            raise ServiceRefused("registry at r:1: HTTP 500 (error 50001): boom")

    page = client(Refusing()).get("/panels/subjects")
    assert "registry unavailable" in page.text and "HTTP 500" in page.text


def test_diff_labels_each_change_with_both_verdicts() -> None:
    page = client().get("/subjects/sandbox-value/diff?a=1&b=2")
    assert page.status_code == 200
    assert 'data-path="email" data-label="added with default"' in page.text
    assert "compatible (BACKWARD)" in page.text and "safe: a new column" in page.text
    assert "v1 (id 11)" in page.text and "v2 (id 12)" in page.text  # side by side


def test_diff_of_a_promotion_is_flagged_unsafe() -> None:
    promoted = record({"name": "age", "type": "long"})
    history = SubjectHistory("p-value", "BACKWARD", True,
                             (RegisteredVersion(1, 1, V1), RegisteredVersion(2, 2, promoted)))
    page = client(FakeSources(histories={"p-value": history})).get(
        "/subjects/p-value/diff?a=1&b=2"
    )
    assert 'data-label="promoted"' in page.text and "type-promotion" in page.text
    assert "unsafe" in page.text


def test_diff_of_unknown_version_is_404_and_bad_query_400() -> None:
    assert client().get("/subjects/sandbox-value/diff?a=1&b=9").status_code == 404
    assert client().get("/subjects/sandbox-value/diff?a=x").status_code == 400


def test_check_candidate_gives_the_gate_verdicts_and_registers_nothing() -> None:
    sources = FakeSources()
    candidate = record({"name": "age", "type": "long"},
                       {"name": "email", "type": ["null", "string"], "default": None})
    page = client(sources).post("/check", data={"subject": "sandbox-value", "schema": candidate})
    assert page.status_code == 200
    assert "compatible at BACKWARD against registry v2" in page.text
    assert "not Cassandra-safe" in page.text and "type-promotion" in page.text
    assert "no contract for sandbox-value in schemas/" in page.text
    assert len(sources.histories["sandbox-value"].versions) == 2


def test_check_an_uploaded_avsc_of_the_contract_shows_cql_and_alters() -> None:
    schema = json.loads(CONTRACT.schema_str)
    schema["fields"].append({"name": "age", "type": ["null", "int"], "default": None,
                             "doc": "age"})
    history = SubjectHistory(CONTRACT.subject, "BACKWARD", True,
                             (RegisteredVersion(1, 1, CONTRACT.schema_str),))
    page = client(FakeSources(histories={CONTRACT.subject: history})).post(
        "/check",
        data={"subject": CONTRACT.subject},
        files={"file": ("next.avsc", json.dumps(schema).encode(), "application/json")},
    )
    assert "compatible at BACKWARD" in page.text and "Cassandra-safe" in page.text
    assert 'data-label="added with default"' in page.text
    assert "CREATE TABLE IF NOT EXISTS spark_streams.created_users" in page.text
    # the fake's Cassandra has nothing yet: make schemas would create it all
    assert "CREATE KEYSPACE" in page.text


def test_check_a_candidate_that_does_not_parse() -> None:
    page = client().post("/check", data={"subject": "sandbox-value", "schema": "{nope"})
    assert 'id="parse-problem"' in page.text and "not valid JSON" in page.text


def test_check_with_cassandra_down_still_gives_the_avro_verdicts() -> None:
    page = client(FakeSources(down={"cassandra"})).post(
        "/check", data={"subject": CONTRACT.subject, "schema": CONTRACT.schema_str}
    )
    assert "compatible at BACKWARD" in page.text
    assert 'data-service="cassandra"' in page.text and "cassandra unavailable" in page.text


def test_drift_is_green_or_red_per_service_with_a_banner_for_an_outage() -> None:
    page = client(FakeSources(down={"cassandra"})).get("/drift")
    text = page.text
    assert 'class="drift-item ok" data-service="registry"' in text
    assert 'class="drift-item bad" data-service="kafka"' in text
    assert "kafka has no topic users_created.rejected" in text
    assert 'class="drift-item down" data-service="cassandra"' in text
    assert "cassandra at cassandra-host:1 is unreachable" in text


def test_broken_schemas_dir_is_a_banner() -> None:
    from contract.catalog import ContractError

    class Broken(FakeSources):
        def contracts(self) -> list[Contract]:
            raise ContractError("schemas/x.toml: missing key 'topic'")

    page = client(Broken()).get("/panels/drift")
    assert "schemas/ unavailable" in page.text and "missing key" in page.text


def test_static_htmx_and_health() -> None:
    c = client()
    assert c.get("/static/vendor/htmx/htmx.min.js").status_code == 200
    assert c.get("/healthz").text == "ok"
    assert c.get("/", follow_redirects=False).headers["location"] == "/subjects"


def test_console_settings_from_env() -> None:
    settings = load_console_settings({})
    assert (settings.host, settings.port, bool(settings.admin_token)) == ("127.0.0.1", 9021,
                                                                          False)
    custom = load_console_settings({"CONSOLE_PORT": "9400", "CONSOLE_ADMIN_TOKEN": "s3cr3t-token"})
    assert custom.port == 9400 and custom.admin_token.reveal() == "s3cr3t-token"
    assert "s3cr3t-token" not in repr(custom)
    with pytest.raises(SettingsError, match="CONSOLE_PORT"):
        load_console_settings({"CONSOLE_PORT": "x"})
    assert Path(settings.repo, "schemas").is_dir()
