"""make forget on the real stack: one user of a sandbox contract erased, the others left."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from config.clients import cassandra_session
from config.settings import Settings
from ops.forget import forget
from schematool.sandbox import Sandbox, sandbox

pytestmark = pytest.mark.integration

GONE = uuid.uuid4()
KEPT = (uuid.uuid4(), uuid.uuid4())


@pytest.fixture
def users(stack: Settings) -> Iterator[Sandbox]:
    with sandbox(stack, prefix="forget", partitions=2) as box:
        yield box


def test_forget_removes_one_user_and_its_dead_letters_only(stack: Settings,
                                                           users: Sandbox) -> None:
    contract = users.contract
    table, dead = contract.qualified_table, f"{contract.keyspace}.dead_letters"
    with cassandra_session(stack) as session:
        for user in (GONE, *KEPT):
            session.execute(f"INSERT INTO {table} (id, first_name, email) VALUES (%s, %s, %s)",
                            (user, "Ann", f"{user.hex[:6]}@example.com"))
        letters = [(0, 10, GONE), (1, 11, GONE), (1, 12, KEPT[0])]
        for partition, offset, user in letters:
            session.execute(
                f"INSERT INTO {dead} (topic, partition, offset, kafka_timestamp, key, value, "
                "error, stage) VALUES (%s, %s, %s, toTimestamp(now()), %s, %s, %s, %s)",
                (contract.topic, partition, offset, str(user).encode(), b"\x00", "test",
                 "decode"))

    out: list[str] = []
    assert forget(stack, str(GONE), users.directory, out=out.append) == 0
    text = "\n".join(out)
    assert f"{table} ({contract.subject}): removed its row" in text
    assert "removed 2 dead letter(s) (partition:offset 0:10, 1:11)" in text
    assert f"Kafka {contract.topic}: its Avro records" in text
    assert "retention.ms=604800000 (7 days" in text  # the native broker's 168 h
    assert "gc_grace_seconds (" in text

    with cassandra_session(stack) as session:
        ids = {row.id for row in session.execute(f"SELECT id FROM {table}")}
        left = {(r.partition, r.offset) for r in session.execute(
            f"SELECT partition, offset FROM {dead} WHERE topic = %s AND partition IN (0, 1)",
            (contract.topic,))}
    assert ids == set(KEPT)
    assert left == {(1, 12)}

    out.clear()
    assert forget(stack, str(GONE), users.directory, out=out.append) == 0
    assert any("no row (nothing to remove)" in line for line in out)
    assert any("no dead letter with this key (searched 2 partition(s))" in line for line in out)
