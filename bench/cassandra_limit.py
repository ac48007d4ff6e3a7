"""The Cassandra write limit: an independent load on the contract's table shape.

The tool is latte (crates.io ``latte-cli``; a Rust client on the ScyllaDB driver): the
workload inserts rows into the sandbox table through one prepared statement, every
column of the contract's table filled, text columns as long as in real records, each row
a new partition (a new id), as the streaming job writes them. ``make bench`` obtains latte
itself: when no binary is found it is built once with cargo into the user's tool cache
(``~/.cache/userstream/bench-tools``, kept like ``~/.m2``). Nothing weaker stands in: a
load generator slower than the sink would make any ratio against it meaningless, so
without latte the stage fails and the sink's goal is reported as not measured.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.results import Figure, StageResult
from config.settings import PROJECT_ROOT, Settings
from contract.catalog import Contract
from contract.cql import table_spec
from contract.migration import normalize_cql_type
from producers.mapping import map_users
from producers.randomuser_client import RandomUserClient, base_url_for

LATTE_ENV = "BENCH_LATTE"
# Pinned: parse_latte_report reads this version's JSON report.
LATTE_VERSION = "0.29.0"
BUILD_TIMEOUT_S = 3600
log = logging.getLogger(__name__)
INSERT = "insert"
BASE_MILLIS = 1_700_000_000_000


class LimitError(RuntimeError):
    """The load tool failed; the message shows its output."""


@dataclass(frozen=True)
class CassandraConfig:
    seconds: int = 30
    threads: int = 2  # one per core
    concurrency: int = 128  # in-flight requests per thread


def shown_path(path: Path | str) -> str:
    """``path`` relative to the checkout (or ``~``) when inside it: reports never show the
    machine's."""
    resolved = Path(path).resolve()
    if resolved.is_relative_to(PROJECT_ROOT):
        return str(resolved.relative_to(PROJECT_ROOT))
    if resolved.is_relative_to(Path.home()):
        return f"~/{resolved.relative_to(Path.home())}"
    return str(path)


def tool_cache() -> Path:
    """Where built tools live: per user, kept between checkouts and never cleaned."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "userstream" / "bench-tools"


def latte_binary(stack_home: Path) -> Path | None:
    """``BENCH_LATTE``, else ``<stack home>/bench-tools/bin/latte``, else the tool cache's,
    else latte on PATH."""
    candidates = [os.environ.get(LATTE_ENV), str(stack_home / "bench-tools" / "bin" / "latte"),
                  str(tool_cache() / "bin" / "latte"), shutil.which("latte")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate)
    return None


def cargo_binary() -> Path | None:
    found = shutil.which("cargo")
    rustup_default = Path.home() / ".cargo" / "bin" / "cargo"
    if found:
        return Path(found)
    return rustup_default if rustup_default.is_file() else None


def build_latte(progress: Callable[[str], None] = log.info) -> Path:
    """Build latte ``LATTE_VERSION`` from crates.io into the tool cache (once), saying how
    far the build is; :class:`LimitError` with the build's last lines if it fails."""
    cargo = cargo_binary()
    if cargo is None:
        raise LimitError(
            "latte, the independent Cassandra load tool, is built from crates.io with cargo, "
            "which is missing: install Rust (https://rustup.rs, or your distribution's cargo "
            f"if it is recent), or set {LATTE_ENV} to a latte binary")
    root = tool_cache()
    argv = [str(cargo), "install", "latte-cli", "--version", LATTE_VERSION, "--locked",
            "--root", str(root)]
    progress(f"building latte {LATTE_VERSION} into {root} (once; about 15 min on 2 cores)")
    tail: list[str] = []
    compiled = 0
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True) as build:
        assert build.stdout is not None
        for line in build.stdout:
            tail = (tail + [line.rstrip()])[-15:]
            if line.strip().startswith("Compiling"):
                compiled += 1
                if compiled % 50 == 0:
                    progress(f"latte: {compiled} crates compiled")
        code = build.wait(timeout=BUILD_TIMEOUT_S)
    binary = root / "bin" / "latte"
    if code != 0 or not binary.is_file():
        raise LimitError(f"building latte failed ({' '.join(argv)}: exit {code}):\n"
                         + "\n".join(tail))
    progress(f"latte built: {binary}")
    return binary


def obtain_latte(stack_home: Path, progress: Callable[[str], None] = log.info) -> Path:
    """The latte binary, built first when none is found."""
    return latte_binary(stack_home) or build_latte(progress)


def latte_version(latte: Path) -> str:
    """``latte --version``'s answer, e.g. ``latte 0.29.0``."""
    done = subprocess.run([str(latte), "--version"], capture_output=True, text=True,
                          timeout=30, check=False)
    return done.stdout.strip() or f"unknown version ({latte})"


def value_expression(cql_type: str, column_index: int, text_length: int) -> str:
    """A latte (Rune) expression generating a value of ``cql_type`` for cycle ``i``. Pure."""
    if cql_type == "uuid":
        return "latte::uuid(i)"
    if cql_type == "text":
        # A different seed per column, so columns do not repeat each other.
        return f"latte::text(i * 31 + {column_index}, {max(1, text_length)})"
    if cql_type == "timestamp":
        return f"{BASE_MILLIS} + i"
    if cql_type in ("int", "bigint"):
        return "1"
    raise LimitError(f"no latte generator for CQL type {cql_type!r}")


def latte_workload(keyspace: str, table: str, columns: Sequence[tuple[str, str]],
                   text_lengths: Mapping[str, int]) -> str:
    """A latte workload inserting one full row per cycle into ``keyspace.table``. Pure."""
    names = ", ".join(name for name, _ in columns)
    marks = ", ".join("?" for _ in columns)
    values = ", ".join(value_expression(cql, i, text_lengths.get(name, 16))
                       for i, (name, cql) in enumerate(columns))
    return (
        f'const INSERT = "{INSERT}";\n\n'
        "pub async fn prepare(db) {\n"
        f'    db.prepare(INSERT, "INSERT INTO {keyspace}.{table} ({names}) '
        f'VALUES ({marks})").await?;\n'
        "}\n\n"
        "pub async fn run(db, i) {\n"
        f"    db.execute_prepared(INSERT, [{values}]).await?\n"
        "}\n"
    )


def parse_latte_report(report: Mapping[str, Any]) -> tuple[float, int, float]:
    """(rows/s, rows written, p99 latency ms) from latte's JSON report. Pure."""
    try:
        result = report["result"]
        errors = int(result["error_count"])
        if errors:
            raise LimitError(f"latte reported {errors} errors: {result.get('errors', [])[:3]}")
        throughput = float(result["cycle_throughput"]["value"])
        cycles = int(result["cycle_count"])
        levels = [float(q) for q in report.get("percentiles", [])]
        values = result["cycle_latency"]["percentiles"]
        p99 = float(values[levels.index(99.0)]["value"]) if 99.0 in levels else float("nan")
    except (KeyError, TypeError, ValueError) as exc:
        raise LimitError(f"unexpected latte report: {exc}") from exc
    return throughput, cycles, p99


def text_lengths(records: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """The mean length of each string field of real records. Pure."""
    totals: dict[str, list[int]] = {}
    for record in records:
        for name, value in record.items():
            if isinstance(value, str):
                totals.setdefault(name, []).append(len(value))
    return {name: round(sum(v) / len(v)) for name, v in totals.items()}


def sample_records(settings: Settings, contract: Contract, count: int = 1000) -> list[dict]:
    with RandomUserClient(base_url_for(settings, "local")) as client:
        users = client.fetch_page(results=count, page=1, seed="bench-cassandra").users
    return list(map_users(users, contract).records)


def table_columns(contract: Contract) -> list[tuple[str, str]]:
    columns = table_spec(contract).stored_columns
    return [(name, normalize_cql_type(cql)) for name, cql in columns.items()]


# -- running the load -----------------------------------------------------------------------


def run_latte(latte: Path, settings: Settings, contract: Contract, lengths: Mapping[str, int],
              config: CassandraConfig) -> tuple[float, int, float]:
    script = latte_workload(contract.keyspace, contract.table, table_columns(contract), lengths)
    host = f"{settings.cassandra_host_list[0]}:{settings.cassandra_port}"
    with tempfile.TemporaryDirectory(prefix="bench-latte-") as work:
        workload = Path(work) / "write.rn"
        workload.write_text(script)
        report = Path(work) / "report.json"
        argv = [str(latte), "run", str(workload), "-d", f"{config.seconds}s", "-w", "3s",
                "-t", str(config.threads), "-p", str(config.concurrency), "-o", str(report),
                host]
        done = subprocess.run(argv, capture_output=True, text=True, cwd=work,
                              timeout=config.seconds + 120, check=False)
        if done.returncode != 0 or not report.exists():
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
            raise LimitError(f"latte exited {done.returncode}:\n{tail}")
        return parse_latte_report(json.loads(report.read_text()))


def run(settings: Settings, contract: Contract, config: CassandraConfig,
        result: StageResult) -> StageResult:
    records = sample_records(settings, contract)
    lengths = text_lengths(records)
    latte = obtain_latte(Path(settings.stack_home))
    rows_per_s, cycles, p99 = run_latte(latte, settings, contract, lengths, config)
    result.add(Figure("cassandra.limit",
                      "independent write load (latte, same table shape)", rows_per_s,
                      "rows/s", f"{cycles:,} rows in {config.seconds} s, {config.threads} "
                      f"threads x {config.concurrency} in flight; p99 {p99:.1f} ms"))
    result.notes.append(f"load tool: {latte_version(latte)} ({shown_path(latte)}), one "
                        "prepared INSERT of every column, "
                        f"text lengths from real records: {lengths}")
    return result
