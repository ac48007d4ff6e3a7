"""Small Spark Column helpers shared by the job's transforms."""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column
from pyspark.sql import functions as F


def first_match(cases: Sequence[tuple[Column, Column]], otherwise: Column | None = None) -> Column:
    """``CASE WHEN c1 THEN v1 WHEN c2 THEN v2 ... END``: the value of the first true condition."""
    if not cases:
        return otherwise if otherwise is not None else F.lit(None)
    (condition, value), *rest = cases
    chain = F.when(condition, value)
    for condition, value in rest:
        chain = chain.when(condition, value)
    return chain.otherwise(otherwise) if otherwise is not None else chain
