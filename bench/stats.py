"""Numbers from measurements: rates, percentiles, the best of repeated runs. Pure functions."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def rate(count: int, seconds: float) -> float:
    """``count / seconds``; a stage that took no measurable time has no rate."""
    if count < 0:
        raise ValueError(f"count must not be negative, got {count}")
    if seconds <= 0:
        raise ValueError(f"seconds must be positive, got {seconds} (for {count} items)")
    return count / seconds


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100), linear between closest ranks (numpy's default)."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"q must be within 0..100, got {q}")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class Distribution:
    count: int
    p50: float
    p95: float
    p99: float
    max: float
    mean: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Distribution:
        if not values:
            raise ValueError("distribution of no values")
        return cls(
            count=len(values),
            p50=percentile(values, 50),
            p95=percentile(values, 95),
            p99=percentile(values, 99),
            max=max(values),
            mean=sum(values) / len(values),
        )


def best(rates: Sequence[float]) -> float:
    """The best of repeated throughput runs: on a shared machine, noise only slows a run down."""
    if not rates:
        raise ValueError("best of no runs")
    return max(rates)


def per_second(timestamps_s: Sequence[float], start_s: float, end_s: float) -> list[int]:
    """How many events fell in each whole second of ``[start_s, end_s)`` (a rate over time)."""
    if end_s <= start_s:
        return []
    buckets = [0] * math.ceil(end_s - start_s)
    for t in timestamps_s:
        if start_s <= t < end_s:
            buckets[int(t - start_s)] += 1
    return buckets
