"""``make forget ID=<user id>``: erase one user from Cassandra, and say what remains.

For each contract of ``CONTRACTS_DIR`` whose partition key is the one field ``id``, the
user's row (the whole partition) is deleted from the contract's table, and the user's dead
letters from the keyspace's ``dead_letters``: they are keyed by topic, partition and
offset, but keep the Kafka key, which is the user id, so the rows of the contract's topic
whose ``key`` is the id's bytes are found (``ALLOW FILTERING`` within each of the topic's
partitions) and deleted. A contract keyed otherwise is refused by name: its rows are not
addressable by a user id.

What it cannot erase, it reports: the topic and the rejects topic keep the user's records
(keyed by the same id) until their ``retention.ms`` (read from the broker); Cassandra keeps
tombstoned cells on disk until compaction after the table's ``gc_grace_seconds``.

:func:`plan_forget` is pure (contracts and an id in, statements out); :func:`run_forget`
executes a plan on a session and a :class:`KafkaFacts`; :func:`main` is the CLI.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from config.contracts import deployed_contracts
from config.settings import Settings
from contract.catalog import Contract, ContractError
from contract.cql import DEAD_LETTER_TABLE, quote_identifier

ID_FIELD = "id"
MS_PER_DAY = 86_400_000


class ForgetError(ValueError):
    """Nothing can be erased as asked (an id that is no id, no contract keyed by id)."""


@dataclass(frozen=True)
class TableErase:
    """The user's row of one contract's table, and its dead letters."""

    subject: str
    keyspace: str
    table: str
    topic: str
    rejects_topic: str
    key: Any  # the id as the driver binds it for the column (uuid.UUID, str or int)
    key_bytes: bytes  # the Kafka key the producer wrote: the id, UTF-8

    @property
    def qualified_table(self) -> str:
        return f"{self.keyspace}.{self.table}"

    @property
    def dead_letters(self) -> str:
        return f"{self.keyspace}.{DEAD_LETTER_TABLE}"

    @property
    def select_row(self) -> str:
        return f"SELECT {quote_identifier(ID_FIELD)} FROM {self.qualified_table} WHERE " \
               f"{quote_identifier(ID_FIELD)} = %s LIMIT 1"

    @property
    def delete_row(self) -> str:
        return f"DELETE FROM {self.qualified_table} WHERE {quote_identifier(ID_FIELD)} = %s"

    @property
    def select_dead_letters(self) -> str:
        # The key is no key column: filtering inside one (topic, partition) partition.
        return (f"SELECT offset FROM {self.dead_letters} WHERE topic = %s AND partition = %s "
                "AND key = %s ALLOW FILTERING")

    @property
    def delete_dead_letter(self) -> str:
        # By (topic, partition, offset) alone: a range over kafka_timestamp in today's key,
        # the whole row in the earlier ((topic, partition), offset) key.
        return f"DELETE FROM {self.dead_letters} WHERE topic = %s AND partition = %s " \
               "AND offset = %s"


@dataclass(frozen=True)
class Refusal:
    subject: str
    reason: str


@dataclass(frozen=True)
class ForgetPlan:
    user_id: str
    erases: tuple[TableErase, ...]
    refusals: tuple[Refusal, ...]


def plan_forget(contracts: Iterable[Contract], user_id: str) -> ForgetPlan:
    """What erasing ``user_id`` means for each contract. Raises :class:`ForgetError` when
    no contract can take it (so that nothing at all is done for a mistyped id)."""
    user_id = user_id.strip()
    if not user_id:
        raise ForgetError("no user id given: make forget ID=<the user's id>")
    erases: list[TableErase] = []
    refusals: list[Refusal] = []
    for contract in contracts:
        try:
            erases.append(_erase(contract, user_id))
        except _Refused as refused:
            refusals.append(Refusal(contract.subject, str(refused)))
    if not erases:
        detail = "; ".join(f"{r.subject}: {r.reason}" for r in refusals) or "no contract found"
        raise ForgetError(f"nothing to erase {user_id!r} from: {detail}")
    return ForgetPlan(user_id, tuple(erases), tuple(refusals))


class _Refused(Exception):
    pass


def _erase(contract: Contract, user_id: str) -> TableErase:
    if contract.partition_key != (ID_FIELD,):
        raise _Refused(f"its partition key is ({', '.join(contract.partition_key)}), not the "
                       f"one field {ID_FIELD!r}: its rows are not found by a user id")
    field = next(f for f in contract.fields if f["name"] == ID_FIELD)
    return TableErase(
        subject=contract.subject, keyspace=contract.keyspace, table=contract.table,
        topic=contract.topic, rejects_topic=contract.rejects_topic,
        key=_typed_key(field["type"], user_id), key_bytes=user_id.encode("utf-8"),
    )


def _typed_key(avro_type: Any, user_id: str) -> Any:
    """The id as the driver binds it for the column the schema's ``id`` field becomes."""
    if isinstance(avro_type, dict) and avro_type.get("logicalType") == "uuid":
        try:
            return uuid.UUID(user_id)
        except ValueError as exc:
            raise _Refused(f"{user_id!r} is not a UUID, and its id is one") from exc
    kind = avro_type.get("type") if isinstance(avro_type, dict) else avro_type
    if kind == "string":
        return user_id
    if kind in ("int", "long"):
        try:
            return int(user_id)
        except ValueError as exc:
            raise _Refused(f"{user_id!r} is not an integer, and its id is one") from exc
    raise _Refused(f"its id is of Avro type {avro_type!r}, which forget does not bind")


# ----------------------------------------------------------------------------- execution

class KafkaFacts(Protocol):
    """What the report needs from the broker (None: the broker did not say)."""

    def partitions(self, topic: str) -> int | None: ...

    def retention_ms(self, topic: str) -> int | None: ...


@dataclass(frozen=True)
class Erased:
    erase: TableErase
    rows: int  # 0 or 1: the row was there
    dead_letters: tuple[tuple[int, int], ...]  # (partition, offset) of each removed one
    partitions_searched: int
    gc_grace_seconds: int | None


def run_forget(plan: ForgetPlan, session: Any, kafka: KafkaFacts,
               fallback_partitions: Callable[[str], int]) -> list[Erased]:
    """Execute ``plan`` on ``session`` (a cassandra-driver session or a fake one)."""
    done: list[Erased] = []
    for erase in plan.erases:
        rows = len(list(session.execute(erase.select_row, (erase.key,))))
        session.execute(erase.delete_row, (erase.key,))
        partitions = kafka.partitions(erase.topic) or fallback_partitions(erase.subject)
        removed: list[tuple[int, int]] = []
        for partition in range(partitions):
            found = session.execute(erase.select_dead_letters,
                                    (erase.topic, partition, erase.key_bytes))
            for offset in sorted({row.offset for row in found}):
                session.execute(erase.delete_dead_letter, (erase.topic, partition, offset))
                removed.append((partition, offset))
        done.append(Erased(erase, rows, tuple(removed), partitions,
                           _gc_grace(session, erase.keyspace, erase.table)))
    return done


def _gc_grace(session: Any, keyspace: str, table: str) -> int | None:
    rows = list(session.execute(
        "SELECT gc_grace_seconds FROM system_schema.tables "
        "WHERE keyspace_name = %s AND table_name = %s", (keyspace, table)))
    return rows[0].gc_grace_seconds if rows else None


def report(plan: ForgetPlan, done: Sequence[Erased], kafka: KafkaFacts) -> list[str]:
    """What was removed, then what remains and until when."""
    lines = [f"forget {plan.user_id}:"]
    for item in done:
        e = item.erase
        row = "removed its row" if item.rows else "no row (nothing to remove)"
        lines.append(f"  {e.qualified_table} ({e.subject}): {row}")
        if item.dead_letters:
            where = ", ".join(f"{p}:{o}" for p, o in item.dead_letters)
            lines.append(f"  {e.dead_letters} (topic {e.topic}): removed "
                         f"{len(item.dead_letters)} dead letter(s) (partition:offset {where})")
        else:
            lines.append(f"  {e.dead_letters} (topic {e.topic}): no dead letter with this key "
                         f"(searched {item.partitions_searched} partition(s))")
    for refusal in plan.refusals:
        lines.append(f"  {refusal.subject}: NOT erased: {refusal.reason}")
    lines.append("What remains:")
    for item in done:
        e = item.erase
        for topic, what in ((e.topic, "its Avro records"),
                            (e.rejects_topic, "any reject of it (the raw API JSON)")):
            lines.append(f"  Kafka {topic}: {what}, key {plan.user_id!r}, until retention: "
                         f"{_retention(kafka.retention_ms(topic))}; Kafka cannot delete one "
                         "key from a topic that is not compacted")
        grace = item.gc_grace_seconds
        lines.append(
            f"  Cassandra {e.qualified_table}: the deleted cells stay on disk as tombstones "
            "until compaction after gc_grace_seconds"
            + (f" ({grace} s, {grace / 86400:g} days)" if grace is not None else "")
            + ", and in any snapshot or backup")
    lines.append("  The stream re-reading the topic from its start (a new checkpoint) or a DAG "
                 "run fetching this user again would write the row back.")
    return lines


def _retention(ms: int | None) -> str:
    if ms is None:
        return "retention.ms unknown (the broker did not say)"
    if ms < 0:
        return "retention.ms=-1: kept forever"
    return f"retention.ms={ms} ({ms / MS_PER_DAY:g} days after each record's timestamp)"


class AdminKafkaFacts:
    """:class:`KafkaFacts` from the Kafka admin API."""

    def __init__(self, admin: Any, timeout: float = 10.0) -> None:
        self._admin = admin
        self._timeout = timeout

    def partitions(self, topic: str) -> int | None:
        meta = self._admin.list_topics(topic=topic, timeout=self._timeout)
        found = meta.topics.get(topic)
        if found is None or found.error is not None:
            return None
        return len(found.partitions)

    def retention_ms(self, topic: str) -> int | None:
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import ConfigResource

        resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
        try:
            configs = self._admin.describe_configs([resource])[resource].result(
                timeout=self._timeout)
        except KafkaException:
            return None
        entry = configs.get("retention.ms")
        return int(entry.value) if entry is not None and entry.value is not None else None


def forget(settings: Settings, user_id: str, contracts_dir: Path | None = None,
           out: Callable[[str], None] = print) -> int:
    """Plan, erase and report; 0 when every contract was erased, 1 when one was refused."""
    from config.clients import cassandra_session, kafka_admin

    contracts = deployed_contracts(settings, contracts_dir)
    plan = plan_forget(contracts, user_id)
    partitions = {c.subject: c.partitions for c in contracts}
    kafka = AdminKafkaFacts(kafka_admin(settings))
    with cassandra_session(settings) as session:
        done = run_forget(plan, session, kafka, partitions.__getitem__)
    for line in report(plan, done, kafka):
        out(line)
    return 1 if plan.refusals else 0


def main(argv: list[str] | None = None) -> int:
    from cassandra import DriverException
    from cassandra.cluster import NoHostAvailable
    from confluent_kafka import KafkaException

    from config.settings import SettingsError, load_settings

    parser = argparse.ArgumentParser(prog="python -m ops.forget", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("user_id", help="the user's id (the contract's id field: login.uuid)")
    parser.add_argument("--contract-dir", type=Path, default=None,
                        help="where the contracts are (default: CONTRACTS_DIR)")
    args = parser.parse_args(argv)
    try:
        return forget(load_settings(), args.user_id, args.contract_dir)
    except (ForgetError, ContractError, SettingsError) as exc:
        print(f"forget: {exc}", file=sys.stderr)
        return 2
    except (DriverException, NoHostAvailable) as exc:  # NoHostAvailable: no DriverException
        print(f"forget: Cassandra: {exc}", file=sys.stderr)
        return 1
    except KafkaException as exc:
        print(f"forget: Kafka: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
