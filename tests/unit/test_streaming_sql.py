"""streaming.sql: CASE chains and the cache of Column expressions (local Spark)."""

from __future__ import annotations

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from streaming.sql import ExpressionCache, first_match, mapping_key


def test_first_match_is_the_first_true_condition(spark: SparkSession) -> None:
    df = spark.createDataFrame([(1,), (5,), (9,)], "n int")
    n = F.col("n")
    picked = first_match([(n < 3, F.lit("small")), (n < 7, F.lit("medium"))],
                         otherwise=F.lit("large"))
    assert [r[0] for r in df.select(picked).collect()] == ["small", "medium", "large"]


def test_a_cached_expression_is_built_once_and_serves_every_dataframe(
    spark: SparkSession,
) -> None:
    cache = ExpressionCache()
    builds: list[int] = []

    def build() -> list[object]:
        builds.append(1)
        return [(F.col("n") * 2).alias("twice")]

    for values in ([1, 2], [3]):
        df = spark.createDataFrame([(v,) for v in values], "n int")
        columns = cache.get(("twice",), build)
        assert [r.twice for r in df.select(*columns).collect()] == [v * 2 for v in values]
    assert len(builds) == 1


def test_a_failed_build_is_not_kept_and_the_oldest_entry_goes_first(
    spark: SparkSession,
) -> None:
    cache = ExpressionCache(max_entries=2)

    def failing() -> int:
        raise ValueError("table behind the reader")

    with pytest.raises(ValueError, match="behind"):
        cache.get("k", failing)
    assert cache.get("k", lambda: 1) == 1  # built now, not the failure remembered
    cache.get("a", lambda: 2)
    cache.get("b", lambda: 3)  # "k" is the oldest: evicted
    assert cache.get("k", lambda: 4) == 4
    assert cache.get("b", lambda: 5) == 3


def test_mapping_keys_ignore_insertion_order() -> None:
    assert mapping_key({2: "b", 1: "a"}) == mapping_key({1: "a", 2: "b"})
    assert hash(mapping_key({1: ("x",)})) == hash(mapping_key({1: ("x",)}))
