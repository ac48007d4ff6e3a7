"""ops.forget: the plan (pure), its execution on a fake session, and the report."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import pytest

from contract.catalog import Contract, load_contract
from ops.forget import ForgetError, plan_forget, report, run_forget

USER = "3f1b1f3e-7c1a-4d7e-9a53-0c2b9d7a5e11"


@pytest.fixture
def users() -> Contract:
    return load_contract()


def _with_id_type(contract: Contract, avro_type: Any) -> Contract:
    schema = json.loads(contract.schema_str)
    schema["fields"][0]["type"] = avro_type
    return replace(contract, schema_str=json.dumps(schema))


class FakeSession:
    """Answers the statements ops.forget sends, from a dict of rows, and records them."""

    def __init__(self, rows: set[str], dead: dict[int, list[tuple[bytes, int]]],
                 gc_grace: int | None = 864000) -> None:
        self.rows = rows  # ids present in the table (as str)
        self.dead = dead  # partition -> [(key, offset)]
        self.gc_grace = gc_grace
        self.executed: list[tuple[str, tuple[Any, ...]]] = []

    def execute(self, cql: str, params: Sequence[Any] = ()) -> list[Any]:
        params = tuple(params)
        self.executed.append((cql, params))
        if cql.startswith("SELECT id FROM"):
            return [SimpleNamespace(id=params[0])] if str(params[0]) in self.rows else []
        if cql.startswith("DELETE FROM spark_streams.created_users"):
            self.rows.discard(str(params[0]))
            return []
        if cql.startswith("SELECT offset FROM"):
            _, partition, key = params
            return [SimpleNamespace(offset=o) for k, o in self.dead.get(partition, []) if k == key]
        if cql.startswith("DELETE FROM spark_streams.dead_letters"):
            _, partition, offset = params
            self.dead[partition] = [(k, o) for k, o in self.dead[partition] if o != offset]
            return []
        if cql.startswith("SELECT gc_grace_seconds"):
            return [] if self.gc_grace is None else [SimpleNamespace(
                gc_grace_seconds=self.gc_grace)]
        raise AssertionError(f"unexpected statement {cql}")


class FakeKafka:
    def __init__(self, partitions: int | None = 3,
                 retention: dict[str, int] | None = None) -> None:
        self._partitions = partitions
        self._retention = retention or {}

    def partitions(self, topic: str) -> int | None:
        return self._partitions

    def retention_ms(self, topic: str) -> int | None:
        return self._retention.get(topic)


def test_the_plan_binds_a_uuid_for_the_users_contract(users: Contract) -> None:
    plan = plan_forget([users], f"  {USER} ")
    (erase,) = plan.erases
    assert erase.key == uuid.UUID(USER) and erase.key_bytes == USER.encode()
    assert erase.delete_row == "DELETE FROM spark_streams.created_users WHERE id = %s"
    assert (erase.topic, erase.rejects_topic) == ("users_created", "users_created.rejected")
    assert plan.refusals == ()


def test_a_string_or_long_id_is_bound_as_such(users: Contract) -> None:
    assert plan_forget([_with_id_type(users, "string")], "abc").erases[0].key == "abc"
    assert plan_forget([_with_id_type(users, "long")], "42").erases[0].key == 42


def test_contracts_not_keyed_by_id_alone_are_refused_by_name(users: Contract) -> None:
    other = replace(users, subject="events-value", partition_key=("id", "day"))
    plan = plan_forget([users, other], USER)
    assert [e.subject for e in plan.erases] == ["users_created-value"]
    assert plan.refusals[0].subject == "events-value"
    assert "partition key is (id, day)" in plan.refusals[0].reason


@pytest.mark.parametrize(("user_id", "message"), [
    ("", "no user id given"),
    ("not-a-uuid", "is not a UUID"),
])
def test_nothing_is_planned_for_a_bad_id(users: Contract, user_id: str, message: str) -> None:
    with pytest.raises(ForgetError, match=message):
        plan_forget([users], user_id)


def test_no_contract_keyed_by_id_is_an_error(users: Contract) -> None:
    with pytest.raises(ForgetError, match="partition key is"):
        plan_forget([replace(users, partition_key=("username",))], USER)


def test_run_removes_the_row_and_only_this_users_dead_letters(users: Contract) -> None:
    other = b"99999999-7c1a-4d7e-9a53-0c2b9d7a5e11"
    session = FakeSession(rows={USER, other.decode()},
                          dead={0: [(USER.encode(), 5), (other, 6)], 2: [(USER.encode(), 9)]})
    plan = plan_forget([users], USER)
    (done,) = run_forget(plan, session, FakeKafka(partitions=3), lambda _: 1)
    assert done.rows == 1 and done.dead_letters == ((0, 5), (2, 9))
    assert session.rows == {other.decode()}
    assert session.dead == {0: [(other, 6)], 2: []}
    assert done.partitions_searched == 3 and done.gc_grace_seconds == 864000


def test_partitions_fall_back_to_the_sidecar_when_the_broker_does_not_say(
    users: Contract,
) -> None:
    session = FakeSession(rows=set(), dead={})
    (done,) = run_forget(plan_forget([users], USER), session, FakeKafka(partitions=None),
                         lambda subject: 2)
    assert done.partitions_searched == 2 and done.rows == 0
    searched = [p[1] for cql, p in session.executed if cql.startswith("SELECT offset")]
    assert searched == [0, 1]


def test_the_report_says_what_was_removed_and_what_remains(users: Contract) -> None:
    session = FakeSession(rows={USER}, dead={1: [(USER.encode(), 7)]})
    other = replace(users, subject="events-value", partition_key=("id", "day"))
    plan = plan_forget([users, other], USER)
    kafka = FakeKafka(retention={"users_created": 604_800_000})
    text = "\n".join(report(plan, run_forget(plan, session, kafka, lambda _: 3), kafka))
    assert "spark_streams.created_users (users_created-value): removed its row" in text
    assert "removed 1 dead letter(s) (partition:offset 1:7)" in text
    assert "events-value: NOT erased" in text
    assert "Kafka users_created: its Avro records" in text
    assert "retention.ms=604800000 (7 days" in text
    assert "Kafka users_created.rejected: any reject" in text
    assert "retention.ms unknown" in text  # the rejects topic's, not given by the fake
    assert "gc_grace_seconds (864000 s, 10 days)" in text


def test_the_cli_refuses_a_bad_id_before_any_service(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from ops.forget import main

    assert main(["not-a-uuid"]) == 2
    assert "is not a UUID" in capsys.readouterr().err
