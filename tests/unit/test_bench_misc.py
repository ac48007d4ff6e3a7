"""bench: the sandbox contract, plot series, machine description, result files (no services)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from bench.machine import cpu_model, jar_version, mem_total_gib
from bench.monitor import Samples, machine_busy_seconds, own_cpu_seconds
from bench.plots import batch_rates, rate_series
from bench.results import Figure, ResultError, StageResult, load, save
from bench.sandbox import write_contract
from contract.catalog import load_contract


def test_the_sandbox_contract_is_the_users_contract_under_new_names(tmp_path: Path) -> None:
    base = load_contract()
    copy = write_contract(tmp_path, base, "bench_x1", partitions=2)
    assert (copy.subject, copy.topic, copy.rejects_topic, copy.keyspace) == (
        "bench_x1-value", "bench_x1", "bench_x1.rejected", "bench_x1")
    assert copy.partitions == 2
    assert (copy.table, copy.partition_key, copy.clustering_key, copy.compatibility) == (
        base.table, base.partition_key, base.clustering_key, base.compatibility)
    assert copy.schema == base.schema


def test_rate_series_from_cumulative_samples() -> None:
    assert rate_series([0.0, 2.0, 4.0, 4.0], [0, 100, 300, 300]) == ([1.0, 3.0], [50.0, 100.0])


def test_batch_rates_use_the_time_since_the_previous_batch() -> None:
    assert batch_rates([1.0, 6.0, 11.0], [0, 500, 1000]) == ([6.0, 11.0], [100.0, 200.0])


def test_machine_facts_from_proc_files() -> None:
    assert cpu_model("processor\t: 0\nmodel name\t: AMD EPYC 7B13\n") == "AMD EPYC 7B13"
    assert cpu_model("") == "unknown"
    assert mem_total_gib("MemTotal:       24684032 kB\n") == pytest.approx(23.54, abs=0.01)


def test_jar_version_by_artifact() -> None:
    jars = [Path("/m2/spark-cassandra-connector-driver_2.12-3.5.1.jar"),
            Path("/m2/spark-cassandra-connector_2.12-3.5.1.jar")]
    assert jar_version(jars, "spark-cassandra-connector_2.12") == "3.5.1"
    assert jar_version(jars, "kafka-clients") == "unknown"


def test_results_round_trip(tmp_path: Path) -> None:
    result = StageResult("stream", "now", seconds=3.5,
                         figures=[Figure("stream.read", "read", 1.5, "rows/s", "d")],
                         tunings=[{"a": 1}], notes=["n"], series={"t": [1.0]})
    save(result, tmp_path)
    assert load(tmp_path, "stream") == result


def test_a_missing_result_names_the_command(tmp_path: Path) -> None:
    with pytest.raises(ResultError, match="python -m bench e2e"):
        load(tmp_path, "e2e")


def test_a_figure_is_replaced_not_repeated() -> None:
    result = StageResult("s", "now")
    result.add(Figure("s.a", "a", 1, "x"))
    result.add(Figure("s.a", "a", 2, "x"))
    assert [f.value for f in result.figures] == [2]


def test_cores_are_cpu_seconds_over_the_window_between_samples() -> None:
    samples = Samples(t=[0.0, 2.0, 4.0, 6.0], cpu={"kafka": [10.0, 11.0, 13.0, 19.0]})
    assert samples.cores("kafka", 0.0, 4.0) == 0.75  # 3 CPU s in 4 s
    assert samples.cores("kafka", 1.0, 6.0) == 2.0  # samples at 2 and 6: 8 CPU s in 4 s
    assert samples.cores("kafka", 5.0, 6.0) is None  # one sample: no interval
    assert samples.cores("cassandra", 0.0, 6.0) is None


def test_cpu_readings_grow_while_this_process_works() -> None:
    from stack import process

    own, group, machine = own_cpu_seconds(), process.cpu_seconds(os.getpgid(0)), \
        machine_busy_seconds()
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:  # busy on purpose: CPU time to measure
        pass
    assert own_cpu_seconds() - own >= 0.25
    assert process.cpu_seconds(os.getpgid(0)) - group >= 0.25
    assert machine_busy_seconds() - machine >= 0.25
