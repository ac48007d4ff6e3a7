"""The pure part of reconciliation: comparing produced records with stored rows."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from ops.reconcile import Reconciliation, compare, normalize

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
