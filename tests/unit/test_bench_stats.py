"""bench.stats: rates, percentiles and the best of repeated runs."""

from __future__ import annotations

import pytest

from bench.stats import Distribution, best, per_second, percentile, rate


def test_rate_is_count_over_seconds() -> None:
    assert rate(5000, 2.0) == 2500.0


@pytest.mark.parametrize(("count", "seconds"), [(10, 0.0), (10, -1.0), (-1, 1.0)])
def test_rate_refuses_meaningless_input(count: int, seconds: float) -> None:
    with pytest.raises(ValueError):
        rate(count, seconds)


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([1, 2, 3, 4, 5], 50, 3.0),
        ([1, 2, 3, 4], 50, 2.5),  # between the two middle values
        ([10, 20, 30, 40, 50], 95, 48.0),
        ([10, 20, 30, 40, 50], 0, 10.0),
        ([10, 20, 30, 40, 50], 100, 50.0),
        ([7], 99, 7.0),
        ([5, 1, 4, 2, 3], 25, 2.0),  # unsorted input
    ],
)
def test_percentile_interpolates_between_ranks(values: list[float], q: float,
                                               expected: float) -> None:
    assert percentile(values, q) == pytest.approx(expected)


@pytest.mark.parametrize(("values", "q"), [([], 50), ([1.0], 101), ([1.0], -1)])
def test_percentile_refuses_bad_input(values: list[float], q: float) -> None:
    with pytest.raises(ValueError):
        percentile(values, q)


def test_distribution_summarises_values() -> None:
    d = Distribution.of([float(v) for v in range(1, 101)])
    assert (d.count, d.p50, d.max, d.mean) == (100, pytest.approx(50.5), 100.0, 50.5)
    assert d.p95 == pytest.approx(95.05)
    assert d.p99 == pytest.approx(99.01)


def test_best_is_the_fastest_run() -> None:
    assert best([900.0, 1200.0, 1100.0]) == 1200.0
    with pytest.raises(ValueError):
        best([])


def test_per_second_buckets_events_in_the_window() -> None:
    assert per_second([0.1, 0.5, 1.2, 2.9, 3.0, -1.0], 0.0, 3.0) == [2, 1, 1]
    assert per_second([1.0], 5.0, 5.0) == []
