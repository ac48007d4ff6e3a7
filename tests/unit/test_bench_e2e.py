"""bench.e2e: the job's batch log, span cutting and pacing (no services)."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from bench.cold_start import cold_start
from bench.e2e import paced_sleep, parse_job_log, sub_spans


def batch_line(**fields: object) -> str:
    record = {"ts": "2026-11-26T07:04:23.000+00:00", "event": "batch", "batch_id": 1,
              "input_rows": 10, "rows_written": 9, "dead_lettered": 1, "duration_ms": 2500,
              "lag_max_ms": 9000, "lag_p50_ms": 4000, "lag_p95_ms": 8000}
    record.update(fields)
    return json.dumps(record)


def test_batch_events_are_read_and_everything_else_skipped() -> None:
    lines = [
        "26/11/26 07:03:57 WARN Utils: Your hostname resolves to a loopback address",
        json.dumps({"ts": "2026-11-26T07:03:50.000+00:00", "event": "job_started"}),
        batch_line(),
        batch_line(input_rows=0, rows_written=0, dead_lettered=0, lag_p50_ms=None,
                   lag_p95_ms=None, lag_max_ms=None),
        '{"event": "batch", broken json',
    ]
    events = parse_job_log(lines)
    assert [(e.input_rows, e.rows_written, e.dead_lettered) for e in events] == [
        (10, 9, 1), (0, 0, 0)]
    first = events[0]
    assert (first.duration_ms, first.lag_p50_ms, first.lag_p95_ms, first.lag_max_ms) == (
        2500, 4000, 8000, 9000)
    assert first.at == pytest.approx(1795676663.0)
    assert events[1].lag_p95_ms is None


def test_spans_are_cut_per_partition_and_cover_everything() -> None:
    spans = list(sub_spans({0: 10, 1: 0}, {0: 25, 1: 4, 2: 0}, chunk=10))
    assert spans == [({0: 10}, {0: 20}), ({0: 20}, {0: 25}), ({1: 0}, {1: 4})]


def test_a_partition_missing_from_start_starts_at_zero() -> None:
    assert list(sub_spans({}, {0: 3}, chunk=100)) == [({0: 0}, {0: 3})]


def test_chunk_must_be_positive() -> None:
    with pytest.raises(ValueError):
        list(sub_spans({}, {0: 3}, chunk=0))


@pytest.mark.parametrize(
    ("produced", "target", "elapsed", "expected"),
    [
        (10_000, 0.0, 1.0, 0.0),  # unpaced
        (10_000, 4000.0, 1.0, 1.5),  # ahead of the pace: wait
        (10_000, 4000.0, 3.0, 0.0),  # behind it: go on at once
    ],
)
def test_pacing_waits_only_when_ahead(produced: int, target: float, elapsed: float,
                                      expected: float) -> None:
    assert paced_sleep(produced, target, elapsed) == pytest.approx(expected)


def _at(ts: str) -> float:
    return datetime.fromisoformat(ts).timestamp()


def test_cold_start_is_read_from_the_job_s_log() -> None:
    launched = _at("2026-11-26T07:03:30.000+00:00")
    lines = [
        "some JVM warning",
        json.dumps({"ts": "2026-11-26T07:03:50.000+00:00", "event": "job_started"}),
        batch_line(ts="2026-11-26T07:04:00.000+00:00", rows_written=0, input_rows=0),
        batch_line(ts="2026-11-26T07:04:23.000+00:00", rows_written=5000, duration_ms=9000),
    ]
    measured = cold_start(lines, launched)
    assert measured is not None
    assert (measured.started_s, measured.first_row_s, measured.first_batch_ms) == (20, 53, 9000)
    assert [f.key for f in measured.figures()] == [
        "e2e.cold_start_first_row", "e2e.cold_start_job_started", "e2e.cold_start_first_batch"]


def test_no_cold_start_before_a_batch_stored_rows() -> None:
    started = json.dumps({"ts": "2026-11-26T07:03:50.000+00:00", "event": "job_started"})
    assert cold_start([started, batch_line(rows_written=0)], 0.0) is None
    assert cold_start([batch_line(rows_written=5)], 0.0) is None


class _Exited:
    returncode = 3

    def poll(self) -> int:
        return 3


class _LogOnly:
    """A job whose log is given and whose process has exited."""

    def __init__(self, lines: list[str]) -> None:
        self._lines = lines
        self.popen = _Exited()
        self.log_path = "job.log"

    def lines(self) -> list[str]:
        return self._lines


def test_the_first_row_is_waited_for_in_the_job_s_log() -> None:
    from bench.e2e import wait_first_row

    lines = [json.dumps({"ts": "2026-11-26T07:03:50.000+00:00", "event": "job_started"}),
             batch_line(ts="2026-11-26T07:04:23.000+00:00", rows_written=5000)]
    measured = wait_first_row(_LogOnly(lines), _at("2026-11-26T07:03:30.000+00:00"),  # type: ignore[arg-type]
                              timeout=60)
    assert measured.first_row_s == 53


def test_a_job_that_exits_before_its_first_row_is_an_error() -> None:
    from bench.e2e import wait_first_row

    with pytest.raises(RuntimeError, match="exited 3 before its first row"):
        wait_first_row(_LogOnly([]), 0.0, timeout=60)  # type: ignore[arg-type]


def test_the_cold_start_variants_differ_in_class_data_sharing_only() -> None:
    from bench.e2e import cold_start_variants

    variants = cold_start_variants()
    assert variants["class data sharing"].spark_conf == ()
    before = dict(variants["no class data sharing (before)"].spark_conf)
    assert "-D" in before["spark.driver.extraJavaOptions"]
    assert "-XX:" not in before["spark.driver.extraJavaOptions"]


def test_the_stored_rate_runs_to_the_last_batch_with_rows() -> None:
    from bench.e2e import stored_rate

    events = parse_job_log([
        batch_line(ts="2026-11-26T07:00:05.000+00:00", rows_written=900, dead_lettered=100),
        batch_line(ts="2026-11-26T07:00:20.000+00:00", rows_written=1000, dead_lettered=0),
        batch_line(ts="2026-11-26T07:00:30.000+00:00", rows_written=0, dead_lettered=0),
    ])
    started = _at("2026-11-26T07:00:00.000+00:00")
    assert stored_rate(events, started, load_s=10) == 100.0  # 2,000 rows over 20 s
    assert stored_rate(events, started, load_s=40) == 50.0  # never shorter than the load
    assert stored_rate(events, started + 60, load_s=10) == 0.0
