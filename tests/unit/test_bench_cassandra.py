"""bench.cassandra_limit: the latte workload and its report (no services, no latte)."""

from __future__ import annotations

import pytest

from bench.cassandra_limit import (
    LimitError,
    latte_workload,
    parse_latte_report,
    text_lengths,
    value_expression,
)

COLUMNS = [("id", "uuid"), ("first_name", "text"), ("dob", "timestamp"),
           ("writer_schema_id", "int")]


def test_the_workload_inserts_every_column_through_one_prepared_statement() -> None:
    script = latte_workload("ks", "created_users", COLUMNS, {"first_name": 6})
    assert ('db.prepare(INSERT, "INSERT INTO ks.created_users (id, first_name, dob, '
            'writer_schema_id) VALUES (?, ?, ?, ?)").await?;') in script
    assert ("db.execute_prepared(INSERT, [latte::uuid(i), latte::text(i * 31 + 1, 6), "
            "1700000000000 + i, 1]).await?") in script
    assert "pub async fn run(db, i)" in script


@pytest.mark.parametrize(("cql", "expected"), [
    ("uuid", "latte::uuid(i)"),
    ("text", "latte::text(i * 31 + 3, 12)"),
    ("timestamp", "1700000000000 + i"),
    ("int", "1"),
])
def test_value_expressions(cql: str, expected: str) -> None:
    assert value_expression(cql, 3, 12) == expected


def test_a_type_without_generator_is_refused() -> None:
    with pytest.raises(LimitError, match="map<text, blob>"):
        value_expression("map<text, blob>", 0, 0)


def latte_report(errors: int = 0) -> dict:
    levels = [0.0, 50.0, 99.0, 100.0]
    return {
        "percentiles": levels,
        "result": {
            "error_count": errors, "errors": ["timeout"] * errors, "cycle_count": 128574,
            "cycle_throughput": {"n": 3, "value": 25709.88, "std_err": 5055.1},
            "cycle_latency": {"percentiles": [{"value": v} for v in (0.2, 1.5, 14.27, 80.2)]},
        },
    }


def test_report_gives_throughput_count_and_p99() -> None:
    assert parse_latte_report(latte_report()) == (25709.88, 128574, 14.27)


def test_errors_in_the_load_fail_the_measure() -> None:
    with pytest.raises(LimitError, match="2 errors"):
        parse_latte_report(latte_report(errors=2))


def test_an_unexpected_report_is_an_error() -> None:
    with pytest.raises(LimitError, match="unexpected latte report"):
        parse_latte_report({"result": {}})


def test_text_lengths_are_the_mean_per_string_field() -> None:
    records = [{"a": "xx", "b": None, "c": 1}, {"a": "xxxx", "b": "yyy"}]
    assert text_lengths(records) == {"a": 3, "b": 3}


def test_report_paths_are_relative_to_the_checkout() -> None:
    from bench.cassandra_limit import shown_path
    from config.settings import PROJECT_ROOT

    assert shown_path(PROJECT_ROOT / ".stack" / "bench-tools" / "bin" / "latte") == \
        ".stack/bench-tools/bin/latte"
    assert shown_path("/usr/local/bin/latte") == "/usr/local/bin/latte"
