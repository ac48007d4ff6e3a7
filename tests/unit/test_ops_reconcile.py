"""The pure part of reconciliation: comparing produced records with stored rows."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from contract.catalog import load_contract
from ops.reconcile import (
    WRITTEN_AT,
    Message,
    Reconciliation,
    RowSource,
    account,
    compare,
    normalize,
)

USER_ID = "6f1c2c5e-3a7e-4e0f-9d4e-6f2b1c0a9e11"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (uuid.UUID(USER_ID), USER_ID),
        (datetime(2020, 1, 2, 3, 4, 5, 678000, tzinfo=UTC), 1577934245678),
        # Cassandra's driver returns naive UTC datetimes
        (datetime(2020, 1, 2, 3, 4, 5, 678000), 1577934245678),
        ("text", "text"),
        (None, None),
    ],
)
def test_normalize(value: object, expected: object) -> None:
    assert normalize(value) == expected


def test_compare_equal_across_representations() -> None:
    record = {"id": USER_ID, "dob": datetime(1990, 5, 1, tzinfo=UTC), "email": None}
    row = {"id": uuid.UUID(USER_ID), "dob": datetime(1990, 5, 1), "email": None}
    assert compare(record, row, ["id", "dob", "email"]) == []


def test_compare_nested_shapes_as_the_driver_returns_them() -> None:
    """A record with nested records, an array of records, a map, a date and a decimal
    against the cassandra-driver's UDT named tuples, OrderedMap, Date and Decimal."""
    from collections import namedtuple
    from datetime import date
    from decimal import Decimal

    from cassandra.cqltypes import UTF8Type
    from cassandra.util import Date, OrderedMapSerializedKey

    coordinates = namedtuple("coordinates", ["latitude", "longitude"])
    phone = namedtuple("phone", ["kind", "number"])
    ids = OrderedMapSerializedKey(UTF8Type, 3)
    ids._insert_unchecked("username", b"username", "lazy_owl")
    record = {"id": USER_ID, "dob": date(1990, 5, 1),
              "where": {"latitude": Decimal("1.2300"), "longitude": Decimal("-4.5600")},
              "phones": [{"kind": "CELL", "number": "1"}], "ids": {"username": "lazy_owl"},
              "emails": []}
    row = {"id": uuid.UUID(USER_ID), "dob": Date(date(1990, 5, 1)),
           "where": coordinates(Decimal("1.2300"), Decimal("-4.5600")),
           "phones": [phone("CELL", "1")], "ids": ids, "emails": None}
    fields = list(record)
    assert compare(record, row, fields) == []
    # the scale of a decimal is part of the value
    row["where"] = coordinates(Decimal("1.23"), Decimal("-4.5600"))
    assert [d.split(":")[0] for d in compare(record, row, fields)] == [f"{USER_ID}.where"]


def test_compare_names_the_field_that_differs() -> None:
    record = {"id": USER_ID, "post_code": "01234"}
    row = {"id": uuid.UUID(USER_ID), "post_code": "1234"}
    assert compare(record, row, ["id", "post_code"]) == [
        f"{USER_ID}.post_code: produced '01234' != stored '1234'"
    ]


def test_reconciles_only_when_every_record_is_accounted_for() -> None:
    assert Reconciliation(produced=3, stored=2, dead_lettered=1).reconciles
    assert not Reconciliation(produced=3, stored=2, dead_lettered=0).reconciles
    assert not Reconciliation(produced=1, stored=1, mismatches=["x"]).reconciles


# -- account(): the span's messages against a fake row source -------------------------------

CONTRACT = load_contract()
PRODUCED_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z, the Kafka timestamp of the records


def _record(n: int) -> dict[str, Any]:
    return {
        "id": str(uuid.UUID(int=n + 1)), "first_name": "Ada", "last_name": f"L{n}",
        "gender": None, "address": None, "post_code": None, "email": None,
        "username": f"u{n}", "dob": datetime(1990, 1, 2, tzinfo=UTC), "registered_date": None,
        "phone": None, "picture": None,
    }


def _span(records: list[dict[str, Any]], produced_ms: int = PRODUCED_MS) -> tuple[
    list[Message], dict[tuple[int, int], dict[str, Any] | None]
]:
    messages = [Message(0, i, produced_ms, r["id"].encode(), b"") for i, r in enumerate(records)]
    return messages, {(0, i): r for i, r in enumerate(records)}


def _rows(records: list[dict[str, Any]], ingested_ms: int | None,
          written_ms: int | None = None) -> RowSource:
    """Cassandra's rows for ``records``, as the driver returns them (naive UTC), with the
    write time ``stored_rows`` asks for (microseconds; by default when ingested)."""
    ingested = (None if ingested_ms is None
                else datetime.fromtimestamp(ingested_ms / 1000, UTC).replace(tzinfo=None))
    written = written_ms if written_ms is not None else ingested_ms
    table = {r["id"]: {**r, "id": uuid.UUID(r["id"]), "dob": r["dob"].replace(tzinfo=None),
                       "ingested_at": ingested,
                       WRITTEN_AT: None if written is None else written * 1000}
             for r in records}
    return lambda ids: {k: table[k] for k in ids if k in table}


def test_rows_written_for_this_span_reconcile() -> None:
    records = [_record(n) for n in range(3)]
    messages, values = _span(records)
    rec = account(CONTRACT, messages, values, {}, _rows(records, PRODUCED_MS + 1500))
    assert rec.reconciles and rec.stored == 3 and rec.missing == [] and rec.stale == []
    assert rec.latencies_ms == [1500, 1500, 1500]


def test_latency_runs_to_the_row_s_write_time_not_to_when_its_batch_was_planned() -> None:
    """ingested_at is stamped once per batch before any row is sent; the row's write time
    (WRITETIME) is when the connector sent it: the latency includes the write."""
    records = [_record(n) for n in range(2)]
    messages, values = _span(records)
    rows = _rows(records, PRODUCED_MS + 1500, written_ms=PRODUCED_MS + 2700)
    rec = account(CONTRACT, messages, values, {}, rows)
    assert rec.reconciles and rec.latencies_ms == [2700, 2700]


def test_rows_ingested_before_the_records_were_produced_are_stale_not_stored() -> None:
    """A cleared DAG run re-produces the same users (seed from the run id): with the stream
    down, the rows of the first run match field by field, but were not written for these
    records."""
    records = [_record(n) for n in range(3)]
    messages, values = _span(records)
    an_hour_earlier = PRODUCED_MS - 3_600_000
    rec = account(CONTRACT, messages, values, {}, _rows(records, an_hour_earlier))
    assert not rec.reconciles
    assert rec.stored == 0
    assert rec.missing == ["0:0", "0:1", "0:2"]  # not stored, as far as anyone counts
    assert len(rec.stale) == 3
    assert rec.stale[0].startswith(f"0:0 {records[0]['id']}: ingested at ")
    assert "before it was produced" in rec.stale[0]


def test_a_row_without_ingested_at_proves_nothing() -> None:
    records = [_record(0)]
    messages, values = _span(records)
    rec = account(CONTRACT, messages, values, {}, _rows(records, None))
    assert not rec.reconciles and rec.missing == ["0:0"] and len(rec.stale) == 1


def test_only_the_stale_rows_of_a_span_are_missing() -> None:
    records = [_record(n) for n in range(4)]
    messages, values = _span(records)
    fresh = _rows(records[:2], PRODUCED_MS + 10)
    old = _rows(records[2:], PRODUCED_MS - 60_000)
    rec = account(CONTRACT, messages, values, {},
                  lambda ids: {**fresh(ids), **old(ids)})
    assert rec.stored == 2 and rec.missing == ["0:2", "0:3"] and not rec.reconciles


def test_a_key_produced_twice_needs_a_row_written_after_the_later_record() -> None:
    first, again = _record(0), {**_record(0), "last_name": "Again"}
    messages = [Message(0, 0, PRODUCED_MS, b"k", b""), Message(0, 1, PRODUCED_MS + 60_000,
                                                             b"k", b"")]
    values: dict[tuple[int, int], dict[str, Any] | None] = {(0, 0): first, (0, 1): again}
    stored_after_the_first_only = _rows([again], PRODUCED_MS + 1000)
    rec = account(CONTRACT, messages, values, {}, stored_after_the_first_only)
    assert not rec.reconciles and rec.stored == 0
    assert rec.missing == ["0:0", "0:1"]  # neither record of the key is proven stored
    rec = account(CONTRACT, messages, values, {}, _rows([again], PRODUCED_MS + 61_000))
    assert rec.reconciles and rec.stored == 2 and rec.duplicate_keys == 1


def test_dead_letters_and_undecodable_records_are_counted_apart() -> None:
    records = [_record(n) for n in range(3)]
    messages, values = _span(records)
    values[(0, 2)] = None
    rec = account(CONTRACT, messages, values, {(0, 1, PRODUCED_MS): {"stage": "decode"}},
                  _rows(records, PRODUCED_MS + 5))
    assert rec.stored == 1 and rec.dead_lettered == 1 and rec.missing == ["0:2"]


def test_an_earlier_incarnations_dead_letter_at_the_same_offset_does_not_count() -> None:
    """A recreated topic starts its offsets again: the old record's dead letter is not ours."""
    records = [_record(n) for n in range(2)]
    messages, values = _span(records)
    values[(0, 1)] = None  # undecodable here, and not dead-lettered for this incarnation
    earlier = {(0, 1, PRODUCED_MS - 86_400_000): {"stage": "frame"}}
    rec = account(CONTRACT, messages, values, earlier, _rows(records, PRODUCED_MS + 5))
    assert rec.dead_lettered == 0 and rec.missing == ["0:1"] and not rec.reconciles
