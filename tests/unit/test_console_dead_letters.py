"""The Dead letters page with a fake store and a fake replay runner (no services)."""

from __future__ import annotations

import io
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import fastavro
import pytest
from starlette.testclient import TestClient

from config.settings import Secret
from console.app import create_app
from console.dead_letter_decode import decode_value
from console.dead_letter_store import (
    DeadLetter,
    DeadLetterFilter,
    DeadLetterKey,
    FilterError,
    browse_statement,
    count_statement,
    newest,
    one_statement,
)
from console.dead_letters import DeadLetterDeps, select
from console.replay_action import (
    AUDIT_LOGGER,
    NO_TOKEN,
    ReplayRequest,
    ReplayResult,
    replay_command,
    token_refusal,
)
from contract.catalog import Contract, load_contract
from contract.cql import DEAD_LETTER_COLUMNS
from contract.wire import frame
from schematool.migrate.observe import ServiceUnavailable
from tests.unit.test_console_app import FakeSources

CONTRACT = load_contract()
WRITER = {"type": "record", "name": "W", "fields": [{"name": "id", "type": "string"},
                                                    {"name": "age", "type": "int"}]}
WRITER_ID = 7
TOKEN = "s3cret-token"
TS = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def payload(record: dict[str, object]) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(WRITER), record)
    return out.getvalue()


GOOD = frame(WRITER_ID, payload({"id": "not-a-uuid", "age": 41}))
POISON = b"\x7f" + b"garbage"


def letter(offset: int, value: bytes, stage: str, error: str, error_class: str,
           minute: int = 0) -> DeadLetter:
    return DeadLetter(CONTRACT.topic, 0, offset, TS, b"k", value, {}, WRITER_ID, error,
                      error_class, stage, TS.replace(minute=minute))


LETTERS = [
    letter(1, POISON, "frame", "unknown magic byte 0x7f", "unknown_magic_byte", 1),
    letter(2, GOOD, "sink", "column id is not a uuid: 'not-a-uuid'", "invalid_uuid", 2),
]


@dataclass
class FakeStore:
    letters: list[DeadLetter] = field(default_factory=lambda: list(LETTERS))
    down: set[str] = field(default_factory=set)
    asked: list[DeadLetterFilter] = field(default_factory=list)

    def _check(self, service: str) -> None:
        if service in self.down:
            raise ServiceUnavailable(service, f"{service}-host:1", "Connection refused")

    def browse(self, contract: Contract, chosen: DeadLetterFilter) -> list[DeadLetter]:
        self._check("cassandra")
        self.asked.append(chosen)
        found = [d for d in self.letters if chosen.stage in (None, d.stage)
                 and chosen.error_class in (None, d.error_class)]
        return newest(found, chosen.limit)

    def one(self, contract: Contract, key: DeadLetterKey) -> DeadLetter | None:
        self._check("cassandra")
        return next((d for d in self.letters if d.ref == key), None)

    def replayable(self, contract: Contract, chosen: DeadLetterFilter) -> int:
        return len(self.browse(contract, chosen))

    def writer_schema(self, schema_id: int) -> str | None:
        self._check("registry")
        return json.dumps(WRITER) if schema_id == WRITER_ID else None


@dataclass
class FakeRunner:
    commands: list[list[str]] = field(default_factory=list)

    def __call__(self, command: list[str]) -> ReplayResult:
        self.commands.append(command)
        return ReplayResult(tuple(command), 0, '{"event": "replay", "selected": 1}')


def app(store: FakeStore | None = None, token: str = TOKEN,
        runner: FakeRunner | None = None) -> TestClient:
    deps = DeadLetterDeps(store or FakeStore(), lambda: [CONTRACT], Path("/c"), Secret(token),
                          runner or FakeRunner())
    return TestClient(create_app(FakeSources(), dead_letters=deps))


# -- decoding -----------------------------------------------------------------------------------

def lookup(schema_id: int) -> str | None:
    return json.dumps(WRITER) if schema_id == WRITER_ID else None


def test_a_good_frame_decodes_with_its_writer_schema() -> None:
    decoded = decode_value(GOOD, {}, lookup)
    assert decoded.ok and decoded.schema_id == WRITER_ID
    assert json.loads(decoded.record_json) == {"id": "not-a-uuid", "age": 41}


def test_a_bad_frame_an_unknown_id_and_a_truncated_payload_say_why() -> None:
    assert decode_value(POISON, {}, lookup).problem == (
        "not a frame this pipeline reads: unknown magic byte 0x7f")
    assert decode_value(frame(99, b"\x00"), {}, lookup).problem == (
        "the registry has no schema with id 99")
    truncated = decode_value(GOOD[:8], {}, lookup)
    assert not truncated.ok and "does not decode with writer schema 7" in truncated.problem
    assert "not a frame" in decode_value(GOOD, {"__value_schema_id": b"x"}, lookup).problem


# -- filters to CQL ----------------------------------------------------------------------------

def test_filters_become_bound_parameters_not_cql_text() -> None:
    since = datetime(2024, 1, 1, tzinfo=UTC)
    hostile = "x' OR 1=1 --"
    chosen = DeadLetterFilter(stage="decode", error_class=hostile, since=since, limit=20)
    statement = browse_statement(CONTRACT, 2, chosen)
    assert statement.cql == (
        f"SELECT {', '.join(DEAD_LETTER_COLUMNS)} FROM {CONTRACT.keyspace}.dead_letters "
        "WHERE topic = ? AND partition = ? AND stage = ? AND error_class = ? "
        "AND dead_lettered_at >= ? ORDER BY offset DESC LIMIT ? ALLOW FILTERING")
    assert statement.params == (CONTRACT.topic, 2, "decode", hostile, since, 20)
    assert hostile not in statement.cql
    bare = browse_statement(CONTRACT, 0, DeadLetterFilter())
    assert "stage" not in bare.cql.split("WHERE")[1] and bare.params == (CONTRACT.topic, 0, 50)
    count = count_statement(CONTRACT, 1, DeadLetterFilter(stage="sink"))
    assert count.cql.startswith("SELECT replayed_at ") and "LIMIT" not in count.cql
    assert count.params == (CONTRACT.topic, 1, "sink")
    one = one_statement(CONTRACT, DeadLetterKey(1, 5, 1717243200000))
    assert one.params == (CONTRACT.topic, 1, 5, TS)


def test_filter_values_are_checked() -> None:
    with pytest.raises(FilterError, match="unknown stage"):
        DeadLetterFilter(stage="sinks")
    with pytest.raises(FilterError, match="limit"):
        DeadLetterFilter(limit=100_000)
    assert "snake_case" in select({"error_class": "x' OR"}, [CONTRACT]).problem
    assert "expected an ISO 8601" in select({"since": "yesterday"}, [CONTRACT]).problem
    assert "no contract 'nope'" in select({"subject": "nope"}, [CONTRACT]).problem
    chosen = select({"since": "2h", "stage": "frame"}, [CONTRACT]).chosen
    assert chosen is not None and chosen.stage == "frame" and chosen.since is not None


def test_newest_first_and_at_most_the_limit() -> None:
    assert [d.offset for d in newest(LETTERS, 5)] == [2, 1]
    assert [d.offset for d in newest(LETTERS, 1)] == [2]


# -- the page ----------------------------------------------------------------------------------

def test_the_page_lists_newest_first_with_the_reason_and_filters() -> None:
    store = FakeStore()
    page = app(store).get("/dead-letters")
    assert page.status_code == 200
    assert page.text.index('data-offset="2"') < page.text.index('data-offset="1"')
    assert "unknown magic byte 0x7f" in page.text and 'data-error-class="invalid_uuid"' in page.text
    assert 'href="/dead-letters"' in page.text  # in the navigation
    only = app(store).get("/panels/dead-letters?stage=frame&error_class=unknown_magic_byte")
    assert "<html" not in only.text and 'data-offset="1"' in only.text
    assert 'data-offset="2"' not in only.text
    assert store.asked[-1] == DeadLetterFilter("frame", "unknown_magic_byte")


def test_a_dead_letter_decoded_and_one_that_is_not() -> None:
    good = app().get(f"/dead-letters/{CONTRACT.subject}/{LETTERS[1].ref.path}")
    assert good.status_code == 200 and 'id="decoded-record"' in good.text
    assert "&#34;age&#34;: 41" in good.text or '"age": 41' in good.text
    assert "column id is not a uuid" in good.text  # the stored reason
    bad = app().get(f"/dead-letters/{CONTRACT.subject}/{LETTERS[0].ref.path}")
    assert "not a frame this pipeline reads: unknown magic byte 0x7f" in bad.text
    assert app().get(f"/dead-letters/{CONTRACT.subject}/0/999/1").status_code == 404


def test_outages_are_banners_on_the_affected_panel_only() -> None:
    listing = app(FakeStore(down={"cassandra"})).get("/dead-letters")
    assert listing.status_code == 200 and 'data-service="cassandra"' in listing.text
    assert "Traceback" not in listing.text
    one = app(FakeStore(down={"registry"})).get(
        f"/dead-letters/{CONTRACT.subject}/{LETTERS[1].ref.path}")
    assert 'data-service="registry"' in one.text
    assert "column id is not a uuid" in one.text  # the row itself still shows


# -- replay ------------------------------------------------------------------------------------

def test_the_replay_command_line() -> None:
    since = datetime(2024, 6, 1, 12, tzinfo=UTC)
    request = ReplayRequest(CONTRACT.subject, Path("/c"), "sink", "invalid_uuid", since)
    assert replay_command(request, python="py") == [
        "py", "-m", "stack", "spark", "streaming", "replay-dead-letters",
        f"--subject={CONTRACT.subject}", "--contract-dir=/c", "--stage=sink",
        "--since=2024-06-01T12:00:00+00:00", "--error-class=invalid_uuid",
    ]
    assert replay_command(ReplayRequest("s", Path("/c")), python="py")[6:] == [
        "--subject=s", "--contract-dir=/c"]


def test_token_refusal_and_acceptance() -> None:
    assert token_refusal(Secret(""), "anything") == NO_TOKEN
    assert token_refusal(Secret(TOKEN), "") == "the admin token is required to replay"
    assert "wrong admin token" in (token_refusal(Secret(TOKEN), "guess") or "")
    assert token_refusal(Secret(TOKEN), TOKEN) is None


FORM = {"subject": CONTRACT.subject, "stage": "sink", "error_class": "", "since": ""}


def test_replay_confirms_the_count_then_runs_with_the_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runner = FakeRunner()
    client = app(runner=runner)
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)

    first = client.post("/dead-letters/replay", data=FORM)
    assert first.status_code == 200 and runner.commands == []
    assert 'id="replay-count"' in first.text and "<strong>1</strong>" in first.text
    assert 'name="confirm" value="yes"' in first.text

    refused = client.post("/dead-letters/replay", data={**FORM, "confirm": "yes",
                                                        "token": "guess"})
    assert refused.status_code == 403 and "wrong admin token" in refused.text
    assert runner.commands == []

    done = client.post("/dead-letters/replay", data={**FORM, "confirm": "yes", "token": TOKEN})
    assert done.status_code == 200 and "replay finished (exit 0)" in done.text
    assert [c[6:] for c in runner.commands] == [
        [f"--subject={CONTRACT.subject}", "--contract-dir=/c", "--stage=sink"]]
    assert '&#34;selected&#34;: 1' in done.text

    logged = [json.loads(r.getMessage()) for r in caplog.records if r.name == AUDIT_LOGGER]
    assert [r["outcome"] for r in logged] == ["asked", "refused", "accepted", "done"]
    assert all(r["stage"] == "sink" and r["who"] for r in logged)
    assert TOKEN not in caplog.text and "guess" not in caplog.text


def test_without_a_configured_token_replay_is_disabled_with_the_reason() -> None:
    runner = FakeRunner()
    client = app(token="", runner=runner)
    page = client.get("/dead-letters")
    assert 'id="replay-disabled"' in page.text and "no CONSOLE_ADMIN_TOKEN" in page.text
    refused = client.post("/dead-letters/replay", data={**FORM, "confirm": "yes", "token": "x"})
    assert refused.status_code == 403 and runner.commands == []


def test_replay_is_post_only() -> None:
    assert app().get("/dead-letters/replay").status_code == 405


def test_a_value_its_logical_type_refuses_is_shown_plain_with_a_note() -> None:
    schema = {"type": "record", "name": "U", "fields": [
        {"name": "id", "type": {"type": "string", "logicalType": "uuid"}}]}
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(schema), {"id": "not-a-uuid"})
    decoded = decode_value(frame(3, out.getvalue()), {}, lambda _: json.dumps(schema))
    assert decoded.ok and json.loads(decoded.record_json) == {"id": "not-a-uuid"}
    assert decoded.note.startswith("shown without logical types: with them, the payload does "
                                   "not decode with writer schema 3: ValueError")
