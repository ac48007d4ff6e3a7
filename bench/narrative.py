"""The prose of docs/performance.md: what each stage measures, and what its numbers say.

Every sentence that depends on the outcome is computed from the run's figures, so the
document never claims a goal the run did not meet nor explains a miss with numbers it
did not measure. Pure.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence

from bench.comparisons import (
    CPU_STAGES,
    DECODE_OVERHEAD,
    E2E_SHARE,
    LATENCY_SLACK_MS,
    PRODUCER_SHARE,
    SINK_SHARE,
    colocated_limit,
    comparisons,
    slowest_stage,
)
from bench.e2e import E2EConfig
from bench.results import Comparison, Figure, StageResult, find

NOISE = 0.10  # run-to-run spread on this shared machine: differences below it decide nothing


def commands() -> list[str]:
    return [
        "make up && make schemas          # the stack, as for everything else",
        "make bench                       # python -m bench all: every stage, this document",
        "make bench-produce               # python -m bench produce [--records 50000]",
        "make bench-stream                # python -m bench stream [--records 100000]",
        "python -m bench cassandra        # the independent write load alone [--seconds 30]",
        "BENCH_E2E_SECONDS=60 python -m bench e2e   # shorter; BENCH_E2E_RATE=records/s, 0 unpaced",
        "python -m bench cold-start       # the job's cold start, with/without class data sharing",
        "python -m bench report           # re-render this file from .stack/bench/results",
        "make bench-tools                 # latte, the Cassandra load tool (make bench builds it)",
    ]


def sections(results: Mapping[str, StageResult],
             rows: Sequence[Comparison]) -> dict[str, list[str]]:
    unmet = [c for c in rows if c.met is False]
    summary = ["Every goal was met in this run."] if not unmet else [
        f"{len(unmet)} of {sum(1 for c in rows if c.goal)} goals are not met in this run: "
        + "; ".join(f"{c.figure.label} ({c.goal.text if c.goal else ''})" for c in unmet)
        + ". Each stage's section says why, with the run's own numbers."
    ]
    return {
        "summary": [*summary, ""],
        "produce": _produce(results),
        "produce:after": _produce_after(results),
        "stream": _stream(results),
        "stream:after": _stream_after(results),
        "cassandra": _cassandra(results),
        "e2e": _e2e(results),
        "e2e:after": _e2e_after(results),
    }


def _v(results: Mapping[str, StageResult], key: str) -> float | None:
    figure = find(results, key)
    return figure.value if figure else None


def _pct(a: float, b: float) -> str:
    """How much slower ``a`` is than ``b`` (rates), as a percentage of ``b``'s time."""
    extra = b / a - 1
    if extra < NOISE / 2:
        return "nothing measurable (within the noise)"
    return f"{extra * 100:.0f}%"


# -- producer ---------------------------------------------------------------------------------


def _produce(results: Mapping[str, StageResult]) -> list[str]:
    lines = [
        "Users are fetched once from the local randomuser-compatible server (pages of 5000), "
        "then each step is timed alone. `ContractProducer` encodes with the encoder compiled "
        "from the contract (`producers/avro_encoder.py`: the same bytes as confluent-kafka's "
        "`AvroSerializer`, checked on the first record of every run) and produces with "
        "`acks=all` and idempotence; Kafka's `ProducerPerformance` sends as many records of "
        "our average serialized size with the same durability, linger, batch size and "
        "compression (its payload is random letters, not Avro: record count and size match, "
        "compressibility may not). Each sends 50,000 warm-up records first, left out of its "
        "figure (the tool's `--warmup-records`, from kafka-tools 4.2.2; ours acknowledged "
        "before the clock starts), then 200,000, unkeyed for the tool and keyed by id for "
        "ours; four interleaved runs, the order swapped every round, and the goal is judged "
        "on the worst pair. `ContractProducer` hands librdkafka 1000 records a call "
        "(`produce_batch`).",
    ]
    ours = _v(results, "produce.contract_producer")
    tool = _v(results, "produce.producer_performance")
    ser, enc = _v(results, "produce.serialize"), _v(results, "produce.encode")
    send = _v(results, "produce.send_only")
    if ser and enc:
        lines += ["", (
            f"The compiled encoder writes {enc:,.0f} records/s where `AvroSerializer` writes "
            f"{ser:,.0f} ({enc / ser:.1f}×): fastavro's general writer dispatches on the "
            "schema per field and per record, the compiled one is straight-line code for "
            "this contract."
        )]
    if ours and tool and send and ours / tool < PRODUCER_SHARE:
        lines += ["", (
            f"**Why the producer is below {PRODUCER_SHARE}× ProducerPerformance:** every "
            "record costs "
            f"{1e6 / ours:.0f} µs in `ContractProducer`; handing pre-serialized bytes to "
            f"librdkafka alone reaches {send:,.0f}/s ({send / tool:.2f}× the tool). The "
            "difference is this process's own CPU per record: the encoder (a Python function "
            "call per field, two datetime conversions), the call into librdkafka and one "
            "Python delivery callback per record, all on one thread, while the tool's payload "
            "is made once and its JVM sends from compiled code on the other core."
        )]
    fetch, run = _v(results, "produce.fetch"), _v(results, "produce.fetch_and_produce")
    if fetch and run:
        lines += ["", (
            f"The producer as the DAG runs it (`fetch_and_produce`) reaches {run:,.0f} records/s;"
            f" fetching alone reaches {fetch:,.0f}: generating and parsing 5000-user JSON pages "
            "is the producer's bottleneck. A run fetches page n+1 on a thread while page n is "
            "mapped and produced (producers/read_ahead.py); on 2 cores the server generating "
            "the pages competes with both."
        )]
    return lines


def _produce_after(results: Mapping[str, StageResult]) -> list[str]:
    result = results.get("produce")
    if result is None or not result.tunings:
        return []
    rows = result.tunings
    default = rows[0]
    best_row = max(rows, key=lambda r: r["contract_producer"])
    ours = [r["contract_producer"] for r in rows]
    sends = [r["send_only"] for r in rows]
    lines = [(
        f"`ContractProducer` stays within {min(ours):,.0f}–{max(ours):,.0f} records/s over "
        f"every tuning, the send of pre-serialized bytes within {min(sends):,.0f}–"
        f"{max(sends):,.0f} (each row is one run, so allow ±10% of noise)."
    )]
    if best_row is not default and best_row["contract_producer"] > default["contract_producer"] * (
            1 + NOISE):
        lines.append(
            f"**Choice:** `{best_row['tuning']}` beat the defaults by more than the noise "
            f"({best_row['contract_producer']:,.0f} vs {default['contract_producer']:,.0f}); "
            "worth making it `ProducerTuning`'s default after a second run confirms it."
        )
    else:
        lines.append(
            f"**Choice:** keep `ProducerTuning`'s defaults (`{default['tuning']}`): no tuning "
            "beat them by more than the run-to-run noise."
        )
    out = [""]
    for line in lines:
        out += [line, ""]
    return out


# -- streaming --------------------------------------------------------------------------------


def _stream(results: Mapping[str, StageResult]) -> list[str]:
    return [
        "The topic is filled with real contract records (each with its own id), then each "
        "variant reads all of it as a bounded batch with the streaming job's Kafka source "
        "on one SparkSession (`local[2]`), after a warm-up read and one untimed run of each "
        "variant (its generated code compiled), interleaved. `decode` is frame parsing "
        "plus our per-id `from_avro` up to the columns the table gets; the two \"of which\" "
        "rows split its cost, and the job's row work adds the row checks and the batch "
        "metrics. The decoders are compared with each other on the same frames held in "
        "Spark's memory cache (the Kafka read is then no part of either). `sink` is the "
        "job's own `BatchProcessor` on a batch as large as the job's largest micro-batch "
        "(`STREAM_MAX_OFFSETS_PER_TRIGGER` records), every check and Cassandra write "
        "included, with the job's connector settings. The connector tunings write the same "
        "decoded rows from Spark's cache, after one untimed write, each tuning twice (in "
        "order, then in reverse order; the best counts): the first tuning timed otherwise "
        "lost in every run, whatever it was.",
    ]


def _stream_after(results: Mapping[str, StageResult]) -> list[str]:
    lines: list[str] = []
    read, decode = _v(results, "stream.read"), _v(results, "stream.decode")
    frames, avro = _v(results, "stream.frames"), _v(results, "stream.from_avro")
    cached, udf = _v(results, "stream.cached_decode"), _v(results, "stream.udf")
    row = next((c for c in comparisons(results) if c.figure.key == "stream.decode"), None)
    if read and decode and row is not None and row.met is False:
        detail = ""
        if frames and avro:
            detail = (
                f" Alone, `from_avro` costs {_pct(avro, read)} over the plain read and frame "
                f"parsing {_pct(frames, read)}; the rest is the `observe` node the job needs "
                "anyway (its batch metrics; it also keeps the optimizer from running "
                "`from_avro` a second time in the \"decoded?\" filter) and which Spark runs "
                "outside its generated code, choosing the writer per row and telling "
                "decoded rows from undecodable ones."
            )
        worst = row.worst_ratio
        pairs = "" if worst is None else (
            f" The goal is judged on the worst interleaved pair: {worst:.2f}.")
        lines += ["", (
            f"**Why decoding costs more than {DECODE_OVERHEAD:.0%} over the plain read:** "
            f"{decode:,.0f} vs "
            f"{read:,.0f} rows/s at best, {_pct(decode, read)} more time.{pairs}{detail}"
        )]
    if cached and udf and cached / udf < 5:
        lines += ["", (
            f"**Why decoding is not 5× the Python UDF:** {cached / udf:.1f}× on the same "
            "cached frames."
        )]
    result = results.get("stream")
    if result and result.tunings:
        rates = [r["write rows/s"] for r in result.tunings]
        best_row = max(result.tunings, key=lambda r: r["write rows/s"])
        key = "connector settings (spark.cassandra.output.*)"
        if best_row["write rows/s"] > rates[0] * (1 + NOISE):
            lines += ["", (
                f"**A better setting for the sink:** `{best_row[key]}` wrote "
                f"{best_row['write rows/s']:,.0f} rows/s against {rates[0]:,.0f} with the "
                "job's settings (`streaming/session.py`, `cassandra_spark_conf`)."
            )]
        else:
            lines += ["", (
                "**Choice:** no connector setting beat the job's (`streaming/session.py`) by "
                "more than the noise."
            )]
    return lines


# -- Cassandra ------------------------------------------------------------------------------


def _cassandra(results: Mapping[str, StageResult]) -> list[str]:
    lines = [
        "An independent client writes the same table shape (every column of the contract's "
        "table, text as long as in real records, one new partition per row) as fast as "
        "Cassandra takes it, for a fixed time, with the whole stack running as in the other "
        "stages.",
    ]
    sink, limit = _v(results, "stream.sink"), _v(results, "cassandra.limit")
    tuned = _v(results, "stream.sink_tuned")
    if sink and limit:
        verdict = "meets" if sink / limit >= SINK_SHARE else "misses"
        lines += ["", (
            f"The job's micro-batch ({sink:,.0f} rows/s) {verdict} the {SINK_SHARE}× goal "
            "against it "
            f"({sink / limit:.2f}×)."
            + (f" With the best connector setting the same micro-batch reached {tuned:,.0f} "
               f"rows/s ({tuned / limit:.2f}×)." if tuned else "")
            + _write_share(results)
        )]
    return lines


def _write_share(results: Mapping[str, StageResult]) -> str:
    write_s = _v(results, "stream.sink_write_seconds")
    batch_s = _v(results, "stream.sink_batch_seconds")
    if not write_s or not batch_s:
        return ""
    return (f" Of the {batch_s:.1f} s the micro-batch took, {write_s:.1f} s "
            f"({write_s / batch_s:.0%}) was its one write pass: a single Spark job reading "
            "Kafka, decoding, checking and writing, which also collects the batch's counts "
            "and lag; the rest is registry look-ups and planning.")


# -- end to end -----------------------------------------------------------------------------


def _warm_up_seconds() -> float:
    return E2EConfig.warm_up_seconds


def _page_tasks() -> int:
    return E2EConfig.producers


def _e2e(results: Mapping[str, StageResult]) -> list[str]:
    return [
        "The producer code runs in a loop (`fetch_and_produce`, one page of 5000 per call, as "
        f"one DAG task does; {_page_tasks()} such page tasks at once, as many as the DAG's mapped "
        "tasks run) in "
        "two phases: first as fast as it goes (the throughput), then, once the job has "
        "caught up, paced to 70% of the rate stored end to end (the latency: at saturation "
        "a queue only grows, and any latency with it); into a sandbox topic "
        "that a streaming job of our own (`python -m bench.job`: `streaming.job.run` with the "
        "processing-time trigger) writes to Cassandra, after a warm-up load of "
        f"{_warm_up_seconds():.0f} s has gone all the way through (not measured: the first "
        "micro-batches pay for the connector's sessions, and a young Spark JVM spends ~40% of "
        "its CPU compiling hot code in its first two minutes; a long-running job does "
        "not). CPU is each process group's user + system time over the saturation phase. "
        "When the load stops the job catches "
        "up, is stopped, and every produced record is reconciled with `ops/reconcile.py` "
        "(span by span; keys are counted over the whole span). Latency runs from the "
        "record's Kafka timestamp to the row's write (Cassandra's `WRITETIME` of its "
        "`ingested_at` cell, stamped by the connector's driver as it sends the row; "
        "`ingested_at` itself is the batch's, set before any row is sent). Memory is PSS "
        "per process group (the job: its Python driver and Spark JVM), sampled every 2 s.",
    ]


def _cpu_shares(result: StageResult) -> str | None:
    """Where the cores went at saturation, from the e2e stage's ``e2e.cpu.*`` figures."""
    figures = {f.key.removeprefix("e2e.cpu."): f.value for f in result.figures
               if f.key.startswith("e2e.cpu.")}
    machine = figures.pop("machine", None)
    if not figures or machine is None:
        return None
    rate = next((f.value for f in result.figures if f.key == "e2e.produce_rate"), None)
    parts = ", ".join(
        f"{name.replace('_', ' ')} {used:.2f}"
        + (f" ({used / rate * 1e6:,.0f} µs of CPU a record)" if rate else "")
        for name, used in sorted(figures.items(), key=lambda item: -item[1])
    )
    return (f"Cores busy at saturation: {machine:.2f} in all (every process); {parts}. "
            "Each stage alone had the machine to itself; here they share it.")


def _e2e_after(results: Mapping[str, StageResult]) -> list[str]:
    result = results.get("e2e")
    if result is None:
        return []
    lines: list[str] = []
    produce, stream = _v(results, "e2e.produce_rate"), _v(results, "e2e.stream_rate")
    backlog = _v(results, "e2e.backlog")
    p95, trigger = _v(results, "e2e.latency_p95"), _v(results, "e2e.trigger")
    durations = [d for d in result.series.get("batch_duration_ms", []) if d == d]
    rows = result.series.get("batch_rows", [])
    interval_load = produce * trigger / 1000 if produce and trigger else None
    behind = backlog is not None and interval_load is not None and backlog > interval_load
    if produce and stream is not None:
        lines.append(
            f"During the load the producer delivered {produce:,.0f} records/s and the job took "
            f"{stream:,.0f} rows/s ({stream / produce:.0%})"
            + (f"; {backlog:,.0f} records were waiting when the load stopped, against "
               f"{interval_load:,.0f} produced in one trigger interval."
               if backlog is not None and interval_load is not None else ".")
        )
    median_s = None
    if durations:
        busy = [d for d, n in zip(durations, rows, strict=False) if n > 0] or durations
        median_s = statistics.median(busy) / 1000
        lines.append(
            f"Micro-batches took {median_s:.1f} s (median of those with rows), "
            f"{max(busy) / 1000:.1f} s at most."
        )
    if p95 and trigger and p95 > trigger + LATENCY_SLACK_MS and median_s is not None:
        quickest = min(durations) / 1000
        overran = median_s * 1000 >= trigger
        lines.append(
            f"**Why p95 latency exceeds the trigger interval + {LATENCY_SLACK_MS / 1000:g} s:** "
            "a record waits for the "
            f"next micro-batch to start (up to {trigger / 1000:.0f} s), then for that whole "
            f"batch; the quickest batch took {quickest:.1f} s here (one Spark job reading, "
            "decoding, checking and writing, plus the driver's planning), while the "
            "producers, the randomuser server, Kafka and Cassandra share the same two cores."
            + (f" The median batch ({median_s:.1f} s) overran the {trigger / 1000:.0f} s "
               "trigger, so batches ran back to back and a record also waited for the batch "
               "in progress when it arrived." if overran else "")
            + (" The job ended the load behind by more than one interval of load, which "
               "adds its own wait (plot below)." if behind else "")
        )
    cores = _cpu_shares(result)
    if cores:
        lines.append(cores)
    limit = _colocated(results)
    if limit:
        lines.append(limit)
    out = [""]
    for line in lines:
        out += [line, ""]
    return out if lines else []



def _colocated_cpu_us(results: Mapping[str, StageResult]) -> float | None:
    """What a record cost every pipeline process in the end-to-end run (CPU, µs)."""
    result = results.get("e2e")
    if result is None:
        return None
    costs = [f.value for f in result.figures if f.key.startswith("e2e.cpu_per_record.")
             and f.key != "e2e.cpu_per_record.machine"]
    return sum(costs) if costs else None


def _colocated(results: Mapping[str, StageResult]) -> str | None:
    """Why end to end is held against the co-located limit, with the run's figures."""
    e2e, slowest = find(results, "e2e.throughput"), slowest_stage(results)
    limit = colocated_limit(results)
    if e2e is None or limit is None:
        return None
    costs = [f for f in (find(results, key) for key in CPU_STAGES) if f is not None]
    alone_us = sum(f.value for f in costs)
    cores = _v(results, "e2e.cores") or 0
    text = (
        "**The limit end to end is held against: the co-located limit.** Each stage alone had "
        f"the machine's {cores:g} cores to itself"
        + (f" (the slowest, {_stage_name(slowest)}, {slowest.value:,.0f} records/s)"
           if slowest else "")
        + f"; end to end the randomuser server, {_page_tasks()} page tasks, Kafka, Spark and "
        "Cassandra run at once on the same cores, so the slowest stage alone is no rate they "
        "can reach together. What a record cost each stage alone, in CPU: "
        + ", ".join(f"{_cpu_name(f)} {f.value:,.0f} µs" for f in costs)
        + f", {alone_us:,.0f} µs in all, so {cores:g} cores carry at most "
        f"{cores * 1e6 / alone_us:,.0f} records/s of them together"
        + (" (above the slowest stage alone, so that is the limit)"
           if limit.value < cores * 1e6 / alone_us else "")
        + f". End to end carried {e2e.value:,.0f} records/s, {e2e.value / limit.value:.2f}× "
        "that limit"
    )
    if slowest:
        text += (f"; the slowest stage alone stays in the table as context "
                 f"({e2e.value / slowest.value:.2f}× it)")
    text += "."
    together = _colocated_cpu_us(results)
    if together:
        text += (f" In the end-to-end run the same record cost the pipeline's processes "
                 f"{together:,.0f} µs of CPU ({together / alone_us:.2f}× their cost alone)")
        text += (": sharing the cores costs CPU of its own (context switches, caches, the "
                 "JVMs' garbage collectors and JIT competing), which is what the gap to the "
                 "limit is made of." if together > alone_us * (1 + NOISE) else ".")
    if e2e.value / limit.value < E2E_SHARE:
        text += (f" **Below {E2E_SHARE}× the co-located limit** in this run: "
                 f"{e2e.value:,.0f} against {limit.value:,.0f} records/s.")
    return text


def _stage_name(figure: Figure) -> str:
    return figure.label.removeprefix("slowest stage alone: ")


def _cpu_name(figure: Figure) -> str:
    return {"produce.fetch_cpu": "fetching (client and server)", "produce.map_cpu": "mapping",
            "produce.contract_producer_cpu": "serializing and producing (client and broker)",
            "stream.sink_cpu": "a micro-batch (Spark, broker, Cassandra)"}.get(figure.key,
                                                                              figure.key)
