"""Small Spark Column helpers shared by the job's transforms."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, TypeVar

from pyspark import SparkContext
from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

T = TypeVar("T")


def first_match(cases: Sequence[tuple[Column, Column]], otherwise: Column | None = None) -> Column:
    """``CASE WHEN c1 THEN v1 WHEN c2 THEN v2 ... END``: the value of the first true condition."""
    if not cases:
        return otherwise if otherwise is not None else F.lit(None)
    (condition, value), *rest = cases
    chain = F.when(condition, value)
    for condition, value in rest:
        chain = chain.when(condition, value)
    return chain.otherwise(otherwise) if otherwise is not None else chain


class ExpressionCache:
    """Column expressions built once and reused by every micro-batch.

    Each ``F.*`` call is a Py4J round trip to the JVM (0.2-0.4 ms on a 2-core machine);
    the job's frames, decoder, checks and metrics are ~1000 of them, the same for every
    batch with the same reader, writers and table. Columns are unresolved expressions,
    so one built for a batch serves the next. Entries are per SparkContext (a Column
    belongs to its JVM) and the oldest goes first beyond ``max_entries``.
    """

    def __init__(self, max_entries: int = 64) -> None:
        self._entries: OrderedDict[tuple[Any, Hashable], Any] = OrderedDict()
        self.max_entries = max_entries

    def get(self, key: Hashable, build: Callable[[], T]) -> T:
        # The context itself, not its id: an entry keeps it referenced, so a later
        # context can never be taken for it.
        full_key = (SparkContext._active_spark_context, key)
        if full_key in self._entries:
            self._entries.move_to_end(full_key)
            return self._entries[full_key]
        value = build()  # a build that raises is not kept: the next batch raises again
        self._entries[full_key] = value
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return value


EXPRESSIONS = ExpressionCache()


def mapping_key(mapping: Mapping[Any, Any]) -> tuple[tuple[Any, Any], ...]:
    """A hashable, order-independent key for a mapping of hashable keys and values."""
    return tuple(sorted(mapping.items(), key=lambda item: repr(item[0])))


def struct_type(json_struct: Mapping[str, Any]) -> StructType:
    """A struct in Spark's JSON representation (as :mod:`contract.spark_types` gives it)
    as a ``StructType``."""
    return StructType.fromJson(dict(json_struct))
