"""PNG plots for docs/performance.md (matplotlib, no display). Small files: 100 dpi."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.results import Comparison, StageResult

DPI = 100
SHORT_LABELS = {
    "produce.contract_producer": "ContractProducer",
    "produce.producer_performance": "ProducerPerformance",
    "stream.read": "Spark read",
    "stream.consumer_performance": "ConsumerPerformance",
    "stream.decode": "Spark read + decode",
    "stream.udf": "Python UDF (cached)",
    "stream.cached_decode": "from_avro (cached)",
    "stream.job_rows": "read + job's row work",
    "stream.sink": "micro-batch -> Cassandra",
    "cassandra.limit": "independent writer (latte)",
    "e2e.throughput": "end to end",
}


def short_label(key: str, label: str) -> str:
    if key.startswith("derived.slowest_stage"):
        return "slowest stage alone"
    if key.startswith("derived.colocated_limit"):
        return "co-located limit"
    return SHORT_LABELS.get(key, label[:30])


def _pyplot() -> Any:
    import matplotlib  # inner: 2.4 s with pyplot, for the report's plots only

    matplotlib.use("Agg")  # no display; before pyplot is first imported
    import matplotlib.pyplot as plt

    return plt


def rate_series(t: Sequence[float], totals: Sequence[float]) -> tuple[list[float], list[float]]:
    """Cumulative counts sampled at ``t`` -> (midpoints, rate between samples). Pure."""
    mids, rates = [], []
    for i in range(1, len(t)):
        dt = t[i] - t[i - 1]
        if dt > 0:
            mids.append((t[i] + t[i - 1]) / 2)
            rates.append((totals[i] - totals[i - 1]) / dt)
    return mids, rates


def batch_rates(t: Sequence[float], rows: Sequence[float]) -> tuple[list[float], list[float]]:
    """Rows of each micro-batch over the time since the previous one ended. Pure."""
    out_t, out_r = [], []
    for i in range(1, len(t)):
        dt = t[i] - t[i - 1]
        if dt > 0:
            out_t.append(t[i])
            out_r.append(rows[i] / dt)
    return out_t, out_r


def stages_plot(rows: Sequence[Comparison], path: Path) -> Path | None:
    """Each throughput figure beside its limit (log scale: they span orders of magnitude)."""
    pairs = [c for c in rows if c.limit is not None and c.figure.unit.endswith("/s")]
    if not pairs:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 0.6 * len(pairs) + 1.2))
    labels = [short_label(c.figure.key, c.figure.label) for c in pairs]
    ys = list(range(len(pairs)))
    ax.barh([y + 0.2 for y in ys], [c.figure.value for c in pairs], height=0.4,
            label="figure", color="#3b7dd8")
    ax.barh([y - 0.2 for y in ys], [c.limit.value for c in pairs if c.limit], height=0.4,
            label="its limit", color="#bbbbbb")
    for y, c in zip(ys, pairs, strict=True):
        ax.text(c.figure.value, y + 0.2, f" {c.figure.value:,.0f}", va="center", fontsize=7)
        if c.limit is not None:
            ax.text(c.limit.value, y - 0.2,
                    f" {c.limit.value:,.0f} ({short_label(c.limit.key, c.limit.label)})",
                    va="center", fontsize=7, color="#555555")
    ax.set_yticks(ys, labels, fontsize=8)
    ax.set_xscale("log")
    ax.set_xlim(right=max(max(c.figure.value, c.limit.value if c.limit else 0) for c in pairs) * 8)
    ax.set_xlabel("records (rows) per second, log scale")
    ax.invert_yaxis()
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return _save(fig, path)


def e2e_throughput_plot(result: StageResult, path: Path) -> Path | None:
    s = result.series
    if not s.get("sample_t"):
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 3.5))
    t, r = rate_series(s["sample_t"], s["produced"])
    ax.plot(t, r, label="produced to Kafka (records/s)", color="#3b7dd8")
    bt, br = batch_rates(s.get("batch_t", []), s.get("batch_rows", []))
    ax.step(bt, br, where="pre", label="written to Cassandra per micro-batch (rows/s)",
            color="#d8773b")
    ax.set_xlabel("seconds since the load started")
    ax.set_ylabel("per second")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def e2e_latency_plot(result: StageResult, path: Path, budget_ms: float | None) -> Path | None:
    s = result.series
    bt = s.get("batch_t", [])
    if not bt:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 3.5))
    for key, label in (("batch_lag_p50_ms", "p50"), ("batch_lag_p95_ms", "p95"),
                       ("batch_lag_max_ms", "max")):
        points = [(t, v / 1000) for t, v in zip(bt, s.get(key, []), strict=False)
                  if not math.isnan(v)]
        if points:
            ax.plot(*zip(*points, strict=True), marker=".", label=f"{label} per micro-batch")
    if budget_ms is not None:
        ax.axhline(budget_ms / 1000, color="red", linestyle="--", linewidth=1,
                   label="goal: trigger + 2 s")
    ax.set_xlabel("seconds since the load started (batch end)")
    ax.set_ylabel("Kafka timestamp -> batch written (s)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def e2e_memory_plot(result: StageResult, path: Path) -> Path | None:
    s = result.series
    t = s.get("sample_t", [])
    keys = [k for k in s if k.startswith("pss_mib:")]
    if not t or not keys:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 3.5))
    for key in keys:
        ax.plot(t[: len(s[key])], s[key], label=key.split(":", 1)[1])
    ax.set_xlabel("seconds since the load started")
    ax.set_ylabel("PSS (MiB)")
    ax.legend(fontsize=8, ncol=3)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def scaling_plot(bars: Sequence[tuple[str, Sequence[float]]],
                 reference: tuple[str, float] | None, path: Path) -> Path | None:
    """Each variant's best run (bar), every run (dots), and a reference figure (a line):
    make bench-cluster's variants beside the single topology."""
    bars = [(label, runs) for label, runs in bars if runs]
    if not bars:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 3.8))
    xs = list(range(len(bars)))
    tops = [max(runs) for _, runs in bars]
    ax.bar(xs, tops, width=0.6, color="#3b7dd8", label="best run")
    for x, (_, runs) in zip(xs, bars, strict=True):
        ax.plot([x] * len(runs), runs, "o", color="#d8773b", markersize=4,
                label="each run" if x == 0 else None)
        ax.text(x, max(runs), f"{max(runs):,.0f}\n", ha="center", va="bottom", fontsize=8)
    if reference is not None:
        ax.axhline(reference[1], color="#555555", linestyle="--", linewidth=1,
                   label=f"{reference[0]}: {reference[1]:,.0f}")
    ax.set_xticks(xs, [label for label, _ in bars], fontsize=8)
    ax.set_ylim(0, max([*tops, reference[1] if reference else 0]) * 1.3)
    ax.set_ylabel("end to end, records/s")
    ax.legend(fontsize=8, loc="upper right")
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return _save(fig, path)


def _save(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    _pyplot().close(fig)
    return path
