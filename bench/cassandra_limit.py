"""The Cassandra write limit: an independent load on the contract's table shape.

The tool is latte (``cargo install latte-cli``; a Rust client on the ScyllaDB driver): the
workload inserts rows into the sandbox table through one prepared statement, every
column of the contract's table filled, text columns as long as in real records, each row
a new partition (a new id), as the streaming job writes them. When latte is not
installed, a cassandra-driver loader (Python, ``execute_concurrent_with_args``) stands in;
the report names which one ran, since the Python client is itself the slower party.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.results import Figure, StageResult
from bench.stats import rate
from config.clients import cassandra_session
from config.settings import PROJECT_ROOT, Settings
from contract.catalog import Contract
from contract.cql import table_spec
from contract.migration import normalize_cql_type
from producers.mapping import map_users
from producers.randomuser_client import RandomUserClient, base_url_for

LATTE_ENV = "BENCH_LATTE"
INSERT = "insert"
BASE_MILLIS = 1_700_000_000_000


class LimitError(RuntimeError):
    """The load tool failed; the message shows its output."""


@dataclass(frozen=True)
class CassandraConfig:
    seconds: int = 30
    threads: int = 2  # one per core
    concurrency: int = 128  # in-flight requests per thread
    driver_rows: int = 100_000  # the fallback loader: rows to write


def shown_path(path: Path | str) -> str:
    """``path`` relative to the checkout when inside it: reports never show the machine's."""
    resolved = Path(path).resolve()
    if resolved.is_relative_to(PROJECT_ROOT):
        return str(resolved.relative_to(PROJECT_ROOT))
    return str(path)


def latte_binary(stack_home: Path) -> Path | None:
    """``BENCH_LATTE``, else ``<stack home>/bench-tools/bin/latte``, else latte on PATH."""
    candidates = [os.environ.get(LATTE_ENV), str(stack_home / "bench-tools" / "bin" / "latte"),
                  shutil.which("latte")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate)
    return None


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


def run_driver_loader(settings: Settings, contract: Contract,
                      records: Sequence[Mapping[str, Any]], config: CassandraConfig) -> float:
    """Rows/s of cassandra-driver's concurrent execution of the same insert (the fallback)."""
    # Imported here: only this fallback needs the driver, 0.6 s to import (-X importtime).
    from cassandra.concurrent import execute_concurrent_with_args

    columns = table_columns(contract)
    names = [name for name, _ in columns]
    now = datetime.now(UTC)
    rows = []
    for i in range(config.driver_rows):
        record = dict(records[i % len(records)])
        record.update(id=uuid.uuid4(), writer_schema_id=1, writer_schema_version=1,
                      ingested_at=now + timedelta(milliseconds=i))
        rows.append(tuple(record.get(n) for n in names))
    with cassandra_session(settings) as session:
        insert = session.prepare(f"INSERT INTO {contract.qualified_table} ({', '.join(names)}) "
                                 f"VALUES ({', '.join('?' for _ in names)})")
        started = time.perf_counter()
        results = execute_concurrent_with_args(session, insert, rows,
                                               concurrency=config.concurrency,
                                               raise_on_first_error=True)
        seconds = time.perf_counter() - started
    if not all(ok for ok, _ in results):
        raise LimitError("the driver loader had failed inserts")
    return rate(len(rows), seconds)


def run(settings: Settings, contract: Contract, config: CassandraConfig,
        result: StageResult) -> StageResult:
    records = sample_records(settings, contract)
    lengths = text_lengths(records)
    latte = latte_binary(Path(settings.stack_home))
    if latte is not None:
        rows_per_s, cycles, p99 = run_latte(latte, settings, contract, lengths, config)
        result.add(Figure("cassandra.limit",
                          "independent write load (latte, same table shape)", rows_per_s,
                          "rows/s", f"{cycles:,} rows in {config.seconds} s, {config.threads} "
                          f"threads x {config.concurrency} in flight; p99 {p99:.1f} ms"))
        result.notes.append(f"load tool: latte ({shown_path(latte)}), one prepared INSERT of "
                            "every column, "
                            f"text lengths from real records: {lengths}")
    else:
        rows_per_s = run_driver_loader(settings, contract, records, config)
        result.add(Figure("cassandra.limit",
                          "independent write load (cassandra-driver, Python; latte missing)",
                          rows_per_s, "rows/s",
                          f"{config.driver_rows:,} rows, {config.concurrency} in flight"))
        result.notes.append("latte was not found (BENCH_LATTE, .stack/bench-tools/bin, PATH): "
                            "the Python driver loader ran instead; it is CPU-bound in Python, "
                            "so it understates what Cassandra can take")
    return result
