"""The prose of docs/performance.md: what each stage measures, and what its numbers say.

Sentences that depend on the outcome are chosen from the figures of the run, so the
document never claims a goal that the run did not meet. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bench.results import Comparison, StageResult, find


def commands() -> list[str]:
    return [
        "make up && make schemas          # the stack, as for everything else",
        "make bench                       # python -m bench all: every stage, this document",
        "make bench-produce               # python -m bench produce [--records 50000]",
        "make bench-stream                # python -m bench stream [--records 200000]",
        "python -m bench cassandra        # the independent write load alone",
        "BENCH_E2E_SECONDS=60 python -m bench e2e   # a shorter end-to-end run",
        "python -m bench report           # re-render this file from .stack/bench/results",
        "cargo install latte-cli --root .stack/bench-tools   # the Cassandra load tool (once)",
    ]


def _unmet(rows: Sequence[Comparison]) -> list[Comparison]:
    return [c for c in rows if c.met is False]


def sections(results: Mapping[str, StageResult],
             rows: Sequence[Comparison]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    unmet = _unmet(rows)
    if unmet:
        out["summary"] = ["Goals not met in this run: "
                          + "; ".join(f"{c.figure.label} ({c.goal.text if c.goal else ''})"
                                      for c in unmet)
                          + ". Why, in each stage's section below.", ""]
    else:
        out["summary"] = ["Every goal was met in this run.", ""]
    out["produce"] = _produce(results)
    out["stream"] = _stream(results)
    out["cassandra"] = _cassandra(results)
    out["e2e"] = _e2e(results)
    return out


def _produce(results: Mapping[str, StageResult]) -> list[str]:
    lines = [
        "Users are fetched once from the local randomuser-compatible server (pages of 5000), "
        "then each step is timed alone. `ContractProducer` serializes (confluent-kafka's "
        "`AvroSerializer`) and produces with `acks=all` and idempotence; Kafka's "
        "`ProducerPerformance` sends records of our average serialized size with the same "
        "durability, linger, batch size and compression. Both are measured twice, "
        "interleaved; the best run of each counts.",
    ]
    fetch = find(results, "produce.fetch")
    run = find(results, "produce.fetch_and_produce")
    if fetch and run:
        lines += ["", f"The producer run as the DAG does it (`fetch_and_produce`) reaches "
                      f"{run.value:,.0f} records/s; fetching alone reaches {fetch.value:,.0f}: "
                      "the local server generating the JSON is the producer's bottleneck, and "
                      "the run fetches, maps and produces one after the other."]
    return lines


def _stream(results: Mapping[str, StageResult]) -> list[str]:
    return [
        "The topic is filled with real contract records (each with its own id), then each "
        "variant reads all of it as a bounded batch with the streaming job's Kafka source "
        "on one SparkSession (`local[2]`), after one warm-up read. `sink` is the job's own "
        "`BatchProcessor` on that batch: what a micro-batch of that size costs, Cassandra "
        "writes included.",
    ]


def _cassandra(results: Mapping[str, StageResult]) -> list[str]:
    return [
        "An independent client writes the same table shape (every column of the contract's "
        "table, text as long as in real records, one new partition per row) as fast as "
        "Cassandra takes it, for a fixed time.",
    ]


def _e2e(results: Mapping[str, StageResult]) -> list[str]:
    return [
        "The producer code runs in a loop (`fetch_and_produce`, two pages of 5000 per call) "
        "for a fixed time, into a sandbox topic that a streaming job of our own "
        "(`python -m bench.job`, processing-time trigger) writes to Cassandra. When the "
        "load stops the job catches up, is stopped, and every produced record is reconciled "
        "with `ops/reconcile.py` (span by span; keys counted over the whole span). Latency "
        "is the row's `ingested_at` minus the record's Kafka timestamp. Memory is PSS per "
        "process group, sampled every 2 s.",
    ]
