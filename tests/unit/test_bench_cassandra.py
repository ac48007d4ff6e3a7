"""bench.cassandra_limit: the latte workload and its report (no services, no latte;
its build with a stand-in cargo)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench import cassandra_limit
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
    assert shown_path(Path.home() / ".cache" / "latte") == "~/.cache/latte"


def _executable(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(cassandra_limit.LATTE_ENV, raising=False)
    # PATH: the test's bin and the few tools its scripts use, so no latte or cargo of the
    # machine's is found.
    tools = tmp_path / "tools"
    tools.mkdir()
    for tool in ("seq", "sed", "mkdir", "chmod"):
        (tools / tool).symlink_to(shutil.which(tool) or f"/usr/bin/{tool}")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{tools}")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path / "cache" / "userstream" / "bench-tools"


def test_latte_is_found_in_the_tool_cache(tmp_path: Path, cache: Path) -> None:
    latte = _executable(cache / "bin" / "latte", "echo latte 0.29.0\n")
    assert cassandra_limit.obtain_latte(tmp_path / "stack") == latte
    assert cassandra_limit.latte_version(latte) == "latte 0.29.0"


def test_without_latte_it_is_built_with_cargo_at_the_pinned_version(
        tmp_path: Path, cache: Path) -> None:
    # A stand-in cargo (unit tier: the real build takes 15 min) that records its arguments.
    _executable(tmp_path / "bin" / "cargo", f"""echo "$@" > {tmp_path}/args
for i in $(seq 1 100); do echo "   Compiling crate$i v1.0"; done
root=$(echo "$@" | sed 's/.*--root //')
mkdir -p "$root/bin" && printf '#!/bin/sh\\necho latte\\n' > "$root/bin/latte"
chmod +x "$root/bin/latte"
""")
    said: list[str] = []
    latte = cassandra_limit.obtain_latte(tmp_path / "stack", said.append)
    assert latte == cache / "bin" / "latte"
    assert (tmp_path / "args").read_text().split() == [
        "install", "latte-cli", "--version", cassandra_limit.LATTE_VERSION, "--locked",
        "--root", str(cache)]
    assert "latte: 100 crates compiled" in said and said[-1].startswith("latte built")


def test_a_failed_build_shows_its_last_lines(tmp_path: Path, cache: Path) -> None:
    _executable(tmp_path / "bin" / "cargo", "echo 'error: linker cc not found'; exit 101\n")
    with pytest.raises(LimitError, match="exit 101(.|\n)*linker cc not found"):
        cassandra_limit.obtain_latte(tmp_path / "stack", lambda _: None)


def test_without_cargo_the_error_says_how_to_get_it(tmp_path: Path, cache: Path) -> None:
    with pytest.raises(LimitError, match="cargo, which is missing: install Rust"):
        cassandra_limit.obtain_latte(tmp_path / "stack", lambda _: None)
